# Three alerts for the function (and two for a pull worker, when var.pull_subscription_name is
# set), each sent to var.notification_channels. Alert policies are project
# resources; they need no IAM grant of their own.

locals {
  # The Cloud Run service behind the function (its last path segment).
  function_service_name = reverse(split("/", google_cloudfunctions2_function.subscriber.service_config[0].service))[0]
  function_requests     = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.function_service_name}\" AND metric.type = \"run.googleapis.com/request_count\""
}

# Anything in the dead-letter topic needs a human: the subscriber refused it, or
# Pub/Sub gave up after max_delivery_attempts.
resource "google_monitoring_alert_policy" "dead_letter_backlog" {
  project               = var.project_id
  display_name          = "il-audit: dead letters waiting in ${local.inspect_subscription_name}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Undelivered dead letters above 0"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter_inspect.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Dead letters are waiting. See what and why with `il-audit dlq inspect`; send them back with `il-audit dlq replay` once the cause is fixed, or archive and drop them with `il-audit dlq purge`."
  }
}

# Events are not getting through: the function fails or cannot be reached.
resource "google_monitoring_alert_policy" "oldest_unacked_message" {
  project               = var.project_id
  display_name          = "il-audit: events waiting in ${local.subscription_name}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Oldest unacked message older than ${var.oldest_unacked_age_threshold_seconds}s"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.push.name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.oldest_unacked_age_threshold_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Pub/Sub cannot deliver events to the subscriber function. Check the function's logs (errors, BigQuery outages) and that the push identity may invoke it."
  }
}

# Share of the function's requests answered with 5xx (transient failures raise, so
# Pub/Sub retries them; a sustained rate means an outage or a bad deployment).
resource "google_monitoring_alert_policy" "function_error_rate" {
  project               = var.project_id
  display_name          = "il-audit: ${var.function_name} error rate"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "5xx share above ${var.function_error_rate_threshold}"

    condition_threshold {
      filter             = "${local.function_requests} AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = local.function_requests
      comparison         = "COMPARISON_GT"
      threshold_value    = var.function_error_rate_threshold
      duration           = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }

      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The subscriber function fails more often than the threshold. Its logs carry the cause (JSON lines with severity ERROR)."
  }
}

# --- The streaming-pull worker (`il-audit subscriber pull`) -------------------------------
# The module does not deploy the worker (docs/pull-worker.md); give var.pull_subscription_name
# and these two alerts watch it. Its readiness and liveness probes deliberately ignore failed
# batches (a puller's readiness gates no traffic; a restart cannot cure a sink outage), so
# these alerts are where a stuck worker shows.

# consecutive_failed_batches, read from the worker's WARNING line
# ("... nacked for redelivery (consecutive_failed_batches=N): ..."; il-audit logs as text).
resource "google_logging_metric" "pull_consecutive_failed_batches" {
  count           = var.pull_subscription_name == "" ? 0 : 1
  project         = var.project_id
  name            = "il_audit_pull_consecutive_failed_batches"
  description     = "Batches the il-audit pull worker failed in a row (transient errors: nacked, redelivered)."
  filter          = "textPayload:\"consecutive_failed_batches=\""
  value_extractor = "REGEXP_EXTRACT(textPayload, \"consecutive_failed_batches=(\\d+)\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
  }

  bucket_options {
    linear_buckets {
      num_finite_buckets = 100
      width              = 1
      offset             = 0
    }
  }
}

resource "google_monitoring_alert_policy" "pull_consecutive_failed_batches" {
  count                 = var.pull_subscription_name == "" ? 0 : 1
  project               = var.project_id
  display_name          = "il-audit: pull worker batches failing on ${var.pull_subscription_name}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "consecutive_failed_batches above ${var.pull_failed_batches_threshold}"

    condition_threshold {
      filter          = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.pull_consecutive_failed_batches[0].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.pull_failed_batches_threshold
      duration        = "0s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_PERCENTILE_99"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The pull worker's batches keep failing (each is nacked and comes back): the sink or the dead-letter topic is unreachable. The worker's health endpoint shows `consecutive_failed_batches`; its log lines carry the cause. Poison never fails a batch (it is dead-lettered), so this is an outage or a configuration error."
  }
}

# Events are not getting through the worker: it is down, stuck, or failing every batch.
resource "google_monitoring_alert_policy" "pull_oldest_unacked_message" {
  count                 = var.pull_subscription_name == "" ? 0 : 1
  project               = var.project_id
  display_name          = "il-audit: events waiting in ${var.pull_subscription_name}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  user_labels           = local.labels

  conditions {
    display_name = "Oldest unacked message older than ${var.oldest_unacked_age_threshold_seconds}s"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${var.pull_subscription_name}\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.oldest_unacked_age_threshold_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The pull worker is not acknowledging events. Check that it runs (`/livez`, `/readyz`), its `consecutive_failed_batches`, and its logs."
  }
}
