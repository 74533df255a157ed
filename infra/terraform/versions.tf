terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

# The seals' export bucket (ledger.tf) lives in a project of its own, so that the dataset's
# project admins cannot reach it. Without var.ledger_export_project_id nothing uses this.
provider "google" {
  alias   = "ledger"
  project = coalesce(var.ledger_export_project_id, var.project_id)
  region  = var.region
}
