variable "project_id" {
  description = "Google Cloud project that holds the topics, the function and the dataset."
  type        = string
}

variable "region" {
  description = "Region of the function and of its source bucket."
  type        = string
  default     = "europe-west1"
}

variable "enable_apis" {
  description = "Enable the APIs the module uses (Pub/Sub, Cloud Functions, Cloud Run, Cloud Build, Artifact Registry, BigQuery, Monitoring, Storage, IAM). Never disabled on destroy."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to every resource that takes them (component = \"il-audit\" is always set)."
  type        = map(string)
  default     = {}
}

# --- Pub/Sub -----------------------------------------------------------------------

variable "topic" {
  description = "Events topic id; apps publish here (IL_AUDIT_TOPIC)."
  type        = string
  default     = "il-audit-events"
}

variable "dlq_topic" {
  description = "Dead-letter topic id (IL_AUDIT_DLQ_TOPIC); its pull subscription for `il-audit dlq` is DLQ_TOPIC-inspect."
  type        = string
  default     = "il-audit-events-dlq"
}

variable "subscription_name" {
  description = "Name of the push subscription that feeds the function; null means TOPIC-sub (the name infra apply and the local stack use)."
  type        = string
  default     = null
}

variable "topic_message_retention_seconds" {
  description = "How long the events topic keeps messages, acknowledged or not, for `il-audit subscriber seek` after a bad subscriber deploy (600 to 2678400, i.e. 10 minutes to 31 days; 0 keeps none). Pub/Sub bills the storage."
  type        = number
  default     = 604800

  validation {
    condition     = var.topic_message_retention_seconds == 0 || (var.topic_message_retention_seconds >= 600 && var.topic_message_retention_seconds <= 2678400)
    error_message = "topic_message_retention_seconds must be 0 or between 600 and 2678400 (a Pub/Sub limit)."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a message before Pub/Sub moves it to the dead-letter topic (5 to 100)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (a Pub/Sub limit)."
  }
}

variable "min_backoff_seconds" {
  description = "Retry policy: shortest wait before a failed message is delivered again (0 to 600)."
  type        = number
  default     = 10

  validation {
    condition     = var.min_backoff_seconds >= 0 && var.min_backoff_seconds <= 600
    error_message = "min_backoff_seconds must be between 0 and 600."
  }
}

variable "max_backoff_seconds" {
  description = "Retry policy: longest wait before a failed message is delivered again (0 to 600)."
  type        = number
  default     = 600

  validation {
    condition     = var.max_backoff_seconds >= 0 && var.max_backoff_seconds <= 600
    error_message = "max_backoff_seconds must be between 0 and 600."
  }
}

variable "publisher_members" {
  description = "Existing principals (e.g. \"serviceAccount:app@PROJECT.iam.gserviceaccount.com\") that may publish to the events topic, besides the publisher service account this module creates."
  type        = list(string)
  default     = []
}

# --- BigQuery ----------------------------------------------------------------------

variable "dataset" {
  description = "BigQuery dataset id (IL_BQ_AUDIT_DATASET)."
  type        = string
  default     = "intelligence_layer_logs"
}

variable "dataset_location" {
  description = "BigQuery dataset location (IL_BQ_AUDIT_DATASET_LOCATION)."
  type        = string
  default     = "europe-west1"
}

variable "partition_expiration_days" {
  description = "Default retention of events and dead letters (IL_AUDIT_RETENTION_DAYS): days a row is kept unless retention_days_by_family says otherwise. Partitions expire after the longest of all; shorter ones are daily scheduled deletes (retention.tf). null (the default) keeps everything; cost_rates is never expired."
  type        = number
  default     = null

  validation {
    condition     = var.partition_expiration_days == null ? true : var.partition_expiration_days >= 1
    error_message = "partition_expiration_days must be null or at least 1."
  }
}

variable "retention_days_by_family" {
  description = "Days per event family over partition_expiration_days (IL_AUDIT_RETENTION_DAYS_BY_FAMILY): a family is an event-type prefix on dots, the most specific winning, or dead_letters. Applied by daily scheduled queries; e.g. { \"chat.model_call\" = 30, auth = 400, dead_letters = 30 }."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for family, days in var.retention_days_by_family : can(regex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$", family)) && days >= 1])
    error_message = "retention_days_by_family: keys are dotted event-type prefixes (lowercase) or dead_letters, values at least 1."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the tables on `terraform destroy` or replacement (views are never protected)."
  type        = bool
  default     = true
}

# --- The subscriber function ---------------------------------------------------------

variable "function_name" {
  description = "Name of the Cloud Functions (2nd gen) function, and of its Cloud Run service."
  type        = string
  default     = "il-audit-subscriber"

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.function_name))
    error_message = "function_name must be lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "function_bundle_dir" {
  description = "Directory written by `il-audit function bundle --out DIR`; null means build/function-bundle at the repository root."
  type        = string
  default     = null
}

variable "function_runtime" {
  description = "Cloud Functions Python runtime."
  type        = string
  default     = "python311"
}

variable "function_memory" {
  description = "Memory of each function instance."
  type        = string
  default     = "512Mi"
}

variable "function_cpu" {
  description = "vCPUs of each function instance, e.g. \"1\"; null derives them from the memory."
  type        = string
  default     = null
}

variable "function_max_instances" {
  description = "Most function instances at once; bounds concurrent BigQuery writers and cost."
  type        = number
  default     = 20
}

variable "function_min_instances" {
  description = "Instances kept warm (0 scales to zero)."
  type        = number
  default     = 0
}

variable "function_concurrency" {
  description = "Requests one instance handles at once (above 1 needs function_cpu of at least \"1\")."
  type        = number
  default     = 1
}

variable "function_timeout_seconds" {
  description = "Function timeout, and the push subscription's ack deadline (10 to 600)."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout_seconds >= 10 && var.function_timeout_seconds <= 600
    error_message = "function_timeout_seconds must be between 10 and 600 (the longest push ack deadline)."
  }
}

variable "function_ingress" {
  description = "Ingress setting of the function (ALLOW_ALL, ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB); callers still need roles/run.invoker."
  type        = string
  default     = "ALLOW_ALL"
}

variable "function_env" {
  description = "More environment variables for the function, e.g. { IL_COST_RATES_CACHE_SECONDS = \"600\" }; they override the module's."
  type        = map(string)
  default     = {}
}

variable "cost_rates_source" {
  description = "Pricing catalog of the function: seed (bundled) or bigquery (the cost_rates table) (IL_COST_RATES_SOURCE)."
  type        = string
  default     = "seed"

  validation {
    condition     = contains(["seed", "bigquery"], var.cost_rates_source)
    error_message = "cost_rates_source must be seed or bigquery."
  }
}

variable "extra_event_types" {
  description = "Event types your apps register besides the taxonomy, \"prefix.*\" allowed (IL_AUDIT_EXTRA_EVENT_TYPES)."
  type        = list(string)
  default     = []
}

variable "source_bucket_name" {
  description = "Bucket for the function's source archives; null means PROJECT-il-audit-function-source."
  type        = string
  default     = null
}

variable "build_service_account" {
  description = "Email of the service account Cloud Build uses to build the function; null leaves the project's default."
  type        = string
  default     = null
}

# --- Identities ----------------------------------------------------------------------

variable "service_account_prefix" {
  description = "Prefix of the three service accounts: PREFIX-publisher, PREFIX-subscriber, PREFIX-push (at most 19 characters)."
  type        = string
  default     = "il-audit"

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{1,18}$", var.service_account_prefix))
    error_message = "service_account_prefix must be 2 to 19 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "pubsub_agent_token_creator" {
  description = "Grant the Pub/Sub service agent roles/iam.serviceAccountTokenCreator on the push identity. Only projects created before 2021-04-08 need it to sign push tokens."
  type        = bool
  default     = false
}

# --- Alerts --------------------------------------------------------------------------

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) the alerts go to."
  type        = list(string)
  default     = []
}

variable "oldest_unacked_age_threshold_seconds" {
  description = "Alert when the oldest undelivered event in the push subscription is older than this."
  type        = number
  default     = 600
}

variable "function_error_rate_threshold" {
  description = "Alert when this share (0 to 1) of the function's requests fail with 5xx over 5 minutes."
  type        = number
  default     = 0.05
}

variable "pull_subscription_name" {
  description = "Pull subscription an `il-audit subscriber pull` worker reads (deployed outside this module); set it to get the worker's alerts. Empty: no worker alerts."
  type        = string
  default     = ""
}

variable "pull_failed_batches_threshold" {
  description = "Alert when the pull worker fails more batches than this in a row (consecutive_failed_batches)."
  type        = number
  default     = 5
}

# --- Seals (ledger.tf) ---------------------------------------------------------------

variable "ledger_image" {
  description = "Container image of the seal job (deploy/ledger/Dockerfile, e.g. REGION-docker.pkg.dev/P/REPO/il-audit-ledger:TAG). null (the default) deploys no seal job, no schedule and no export."
  type        = string
  default     = null
}

variable "ledger_job_name" {
  description = "Name of the Cloud Run job that runs `il-audit ledger seal`; its Cloud Scheduler job is NAME-hourly."
  type        = string
  default     = "il-audit-ledger-seal"
}

variable "ledger_schedule" {
  description = "When the seal job starts (cron, UTC): hourly. Minute 45 seals each hour about 45 minutes after it closed, past the seal's 30-minute lateness margin."
  type        = string
  default     = "45 * * * *"

  validation {
    condition     = can(regex("^[0-5]?[0-9] \\* \\* \\* \\*$", var.ledger_schedule))
    error_message = "ledger_schedule must run hourly: \"M * * * *\" with M from 0 to 59."
  }
}

variable "ledger_timeout_seconds" {
  description = "Longest a seal run may take (seconds). Under an hour, so that two hourly runs never overlap."
  type        = number
  default     = 1800

  validation {
    condition     = var.ledger_timeout_seconds >= 60 && var.ledger_timeout_seconds <= 3300
    error_message = "ledger_timeout_seconds must be between 60 and 3300 (under the hourly schedule)."
  }
}

variable "ledger_memory" {
  description = "Memory limit of the seal job's container."
  type        = string
  default     = "512Mi"
}

variable "ledger_export_project_id" {
  description = "Project of the seals' export bucket: a project OTHER than project_id, administered by other people, so that the dataset's admins cannot reach the copies. null (the default) exports nothing. The identity running Terraform needs rights in both projects."
  type        = string
  default     = null

  validation {
    condition     = var.ledger_export_project_id == null ? true : var.ledger_export_project_id != var.project_id
    error_message = "ledger_export_project_id must name another project than project_id: in the same project, the dataset's admins could reach the bucket."
  }
}

variable "ledger_export_bucket" {
  description = "Name of the seals' export bucket; null means EXPORT_PROJECT-il-audit-seals."
  type        = string
  default     = null
}

variable "ledger_export_prefix" {
  description = "Object prefix in the export bucket: each seal is PREFIX/TABLE/PERIOD_START.json."
  type        = string
  default     = "seals"

  validation {
    condition     = can(regex("^[a-z0-9][-_a-z0-9/]*[a-z0-9]$", var.ledger_export_prefix))
    error_message = "ledger_export_prefix: lowercase letters, digits, '-', '_' and '/', without a leading or trailing '/'."
  }
}

variable "ledger_export_location" {
  description = "Location of the export bucket; null means dataset_location."
  type        = string
  default     = null
}

variable "ledger_export_retention_days" {
  description = "Days every exported seal is kept and cannot be deleted or replaced, by anyone: the bucket's retention policy is LOCKED, so this can later be lengthened but never shortened, and the bucket cannot be deleted before its objects are this old. 400 covers a year of audits plus a month."
  type        = number
  default     = 400

  validation {
    # Cloud Storage: a retention period is under 2,147,483,647 seconds (24,855 days).
    condition     = var.ledger_export_retention_days >= 1 && var.ledger_export_retention_days <= 24855
    error_message = "ledger_export_retention_days must be between 1 and 24855."
  }
}
