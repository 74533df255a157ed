# Three alerts, each sent to var.notification_channels. Alert policies are project
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
