# Least privilege: every grant names one resource, except jobUser, which BigQuery only
# grants on a project (the function queries cost_rates). No basic roles anywhere.

resource "google_service_account" "publisher" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-publisher"
  display_name = "il-audit publisher (apps)"
  description  = "Apps that emit audit events: publish to ${var.topic}, nothing else."
}

resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-subscriber"
  display_name = "il-audit subscriber function"
  description  = "Runs ${var.function_name}: writes ${var.dataset}, publishes to ${var.dlq_topic}."
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.service_account_prefix}-push"
  display_name = "il-audit push identity"
  description  = "OIDC identity of the ${local.subscription_name} push subscription: invokes ${var.function_name}."
}

# Apps: publisher on the events topic only.
resource "google_pubsub_topic_iam_member" "apps_publish_events" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.publisher.email}"
}

# Identities of existing apps (their own service accounts), same single grant.
resource "google_pubsub_topic_iam_member" "extra_apps_publish_events" {
  for_each = toset(var.publisher_members)

  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

# The function: data editor on the dataset (rows, and tables created on first use) ...
# A dataset access entry, not google_bigquery_dataset_iam_member: the provider's dataset IAM
# resources rewrite the dataset's access list, fight with google_bigquery_dataset_access and
# drop authorised views and datasets (its docs say so), and privacy.tf authorises the
# analyst dataset on this one.
resource "google_bigquery_dataset_access" "function_edits_dataset" {
  project       = var.project_id
  dataset_id    = google_bigquery_dataset.audit.dataset_id
  role          = "roles/bigquery.dataEditor"
  user_by_email = google_service_account.function.email
}

# ... query jobs in the project (reading cost_rates; BigQuery has no narrower scope) ...
resource "google_project_iam_member" "function_runs_query_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.function.email}"
}

# ... and publisher on the dead-letter topic (its own rejects).
resource "google_pubsub_topic_iam_member" "function_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function.email}"
}

# The push identity: invoker on the function's Cloud Run service only.
resource "google_cloud_run_service_iam_member" "push_invokes_function" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.subscriber.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# The Pub/Sub service agent: publishes exhausted messages to the dead-letter topic ...
resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

# ... and must be a subscriber of the subscription it dead-letters from.
resource "google_pubsub_subscription_iam_member" "pubsub_agent_subscribes_push" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# Only for projects created before 2021-04-08, whose Pub/Sub service agent cannot yet
# sign OIDC tokens: token creator on the push identity alone (off by default).
resource "google_service_account_iam_member" "pubsub_agent_signs_push_tokens" {
  count = var.pubsub_agent_token_creator ? 1 : 0

  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
