resource "google_pubsub_topic" "events" {
  project = var.project_id
  name    = var.topic
  labels  = local.labels

  # Kept after acknowledgement too, so that `il-audit subscriber seek --to TIME` can
  # redeliver what a bad subscriber deploy acknowledged (docs/operations.md).
  message_retention_duration = var.topic_message_retention_seconds > 0 ? "${var.topic_message_retention_seconds}s" : null

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = var.dlq_topic
  labels  = local.labels

  depends_on = [google_project_service.apis]
}

# The subscription that feeds the function: Pub/Sub pushes each message to the
# function's HTTPS endpoint with an OIDC token of the push identity; Cloud Run
# checks it (roles/run.invoker). A non-2xx answer is retried with backoff and,
# after max_delivery_attempts, the message goes to the dead-letter topic.
resource "google_pubsub_subscription" "push" {
  project = var.project_id
  name    = local.subscription_name
  topic   = google_pubsub_topic.events.id
  labels  = local.labels

  # For push delivery the ack deadline is also the request timeout.
  ack_deadline_seconds = var.function_timeout_seconds

  push_config {
    # The topic in the path makes functions-framework give the CloudEvent the
    # same source Eventarc would (//pubsub.googleapis.com/projects/P/topics/T).
    push_endpoint = "${google_cloudfunctions2_function.subscriber.service_config[0].uri}/projects/${var.project_id}/topics/${var.topic}"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloudfunctions2_function.subscriber.service_config[0].uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "${var.min_backoff_seconds}s"
    maximum_backoff = "${var.max_backoff_seconds}s"
  }

  expiration_policy {
    ttl = "" # never expires, however quiet the apps are
  }

  depends_on = [
    google_cloud_run_service_iam_member.push_invokes_function,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
  ]
}

# Where `il-audit dlq inspect|replay|purge` read the dead-letter topic. The short ack
# deadline matches `il-audit infra apply`: what a crashed dlq run held comes back fast.
resource "google_pubsub_subscription" "dead_letter_inspect" {
  project = var.project_id
  name    = local.inspect_subscription_name
  topic   = google_pubsub_topic.dead_letter.id
  labels  = local.labels

  ack_deadline_seconds       = 10
  message_retention_duration = "604800s" # 7 days, the most a subscription keeps

  expiration_policy {
    ttl = ""
  }
}
