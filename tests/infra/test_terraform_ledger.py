"""infra/terraform/ledger.tf, parsed with python-hcl2: the hourly seal job and its export.

No terraform binary and no provider here (tests/support/terraform.py), so these tests hold
the module to what docs/integrity-operations.md promises: Cloud Scheduler starts the Cloud
Run job through the Admin API's ``:run`` URL, hourly, as an account that may start that job
and nothing else; the job runs the seal command as its own least-privileged account; the
export bucket is locked, lives in the other project's provider, and only the job's account
is granted anything on it; and all of it is off by default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from il_audit.config.settings import ENV_BINDINGS
from il_audit.operations.ledger_export import parse_destination
from tests.support.terraform import Module, block, load, ref

ROOT = Path(__file__).resolve().parents[2]
JOB = "google_cloud_run_v2_job.ledger"
SCHEDULE = "google_cloud_scheduler_job.ledger_seal"
BUCKET = "google_storage_bucket.ledger_export"
LEDGER_SA = "serviceAccount:${google_service_account.ledger[0].email}"
SCHEDULER_SA = "serviceAccount:${google_service_account.ledger_scheduler[0].email}"
SEAL_ARGS = ["ledger", "seal", "--bigquery", "--format", "json"]


@pytest.fixture(scope="module")
def module() -> Module:
    return load()


def _members(module: Module, member: str) -> set[tuple[str, str]]:
    """(resource type, role) of every grant to ``member``, access entries included."""
    found = set()
    for address, body in module.resources.items():
        kind = address.split(".")[0]
        if body.get("member") == member or (
            kind == "google_bigquery_dataset_access"
            and member == "serviceAccount:" + str(body.get("user_by_email"))
        ):
            found.add((kind, body["role"]))
    return found


def test_the_seal_job_schedule_and_identities_exist_only_with_an_image(module: Module) -> None:
    """Off by default (ledger_image null): every ledger resource is counted on it."""
    assert module.variables["ledger_image"]["default"] is None
    assert module.locals["ledger_enabled"] == "${var.ledger_image != null}"
    for address in (
        JOB,
        SCHEDULE,
        "google_service_account.ledger",
        "google_service_account.ledger_scheduler",
        "google_bigquery_dataset_access.ledger_edits_dataset",
        "google_project_iam_member.ledger_runs_query_jobs",
        "google_cloud_run_v2_job_iam_member.scheduler_runs_ledger",
    ):
        assert module.resource(address)["count"] == "${local.ledger_enabled ? 1 : 0}", address


def test_the_job_runs_the_seal_command_as_its_own_account(module: Module) -> None:
    """One task, no retry, a timeout under the hour; the image's entry point is il-audit and
    the arguments are the seal command on BigQuery in JSON, plus --export with an export."""
    job = module.resource(JOB)
    task = block(block(job, "template"), "template")
    assert task["service_account"] == "${google_service_account.ledger[0].email}"
    assert task["max_retries"] == 0
    assert task["timeout"] == "${var.ledger_timeout_seconds}s"
    timeout_rule = block(module.variables["ledger_timeout_seconds"], "validation")["condition"]
    assert "<= 3300" in timeout_rule
    container = block(task, "containers")
    assert container["image"] == "${var.ledger_image}"
    assert container["args"] == "${local.ledger_args}"
    args = module.locals["ledger_args"]
    assert args.startswith("${concat([" + ", ".join(f'"{arg}"' for arg in SEAL_ARGS) + "]")
    assert '["--export", local.ledger_export_uri]' in args
    assert "local.ledger_export_enabled ?" in args
    dockerfile = (ROOT / "deploy" / "ledger" / "Dockerfile").read_text("utf-8")
    assert 'ENTRYPOINT ["il-audit"]\n' in dockerfile
    assert 'pip install --no-compile ".[subscriber]"' in dockerfile
    assert "USER 10001" in dockerfile


def test_the_job_s_environment_names_il_audit_settings(module: Module) -> None:
    """Project, dataset and its location, by the names il-audit reads."""
    container = block(block(block(module.resource(JOB), "template"), "template"), "containers")
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env == {
        "IL_BQ_LOGS_PROJECT": "${var.project_id}",
        "IL_BQ_AUDIT_DATASET": "${google_bigquery_dataset.audit.dataset_id}",
        "IL_BQ_AUDIT_DATASET_LOCATION": "${var.dataset_location}",
    }
    known = {name for names in ENV_BINDINGS.values() for name in names}
    assert set(env) <= known


def test_the_scheduler_starts_the_job_through_its_run_url_hourly(module: Module) -> None:
    """POST https://run.googleapis.com/v2/projects/P/locations/R/jobs/J:run with an OAuth
    token of the scheduler account, on an hourly cron in UTC."""
    schedule = module.resource(SCHEDULE)
    assert schedule["schedule"] == "${var.ledger_schedule}"
    assert schedule["time_zone"] == "Etc/UTC"
    default = module.variables["ledger_schedule"]["default"]
    minute, *rest = default.split(" ")
    assert rest == ["*", "*", "*", "*"]
    assert 0 <= int(minute) <= 59
    rule = block(module.variables["ledger_schedule"], "validation")["condition"]
    pattern = re.search(r'regex\("(.+)", var\.ledger_schedule\)', rule)
    assert pattern is not None
    hourly = re.compile(pattern.group(1).replace("\\\\", "\\"))
    assert hourly.match(default)
    assert not hourly.match("*/5 * * * *")
    assert not hourly.match("0 3 * * *")
    target = block(schedule, "http_target")
    assert target["http_method"] == "POST"
    assert target["uri"] == "${local.ledger_run_uri}"
    assert module.locals["ledger_run_uri"] == (
        "${local.ledger_enabled ? "
        '"https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}'
        '/jobs/${one(google_cloud_run_v2_job.ledger[*].name)}:run" : null}'
    )
    assert block(target, "oauth_token") == {
        "service_account_email": "${google_service_account.ledger_scheduler[0].email}",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }
    assert "oidc_token" not in target
    assert "${google_cloud_run_v2_job_iam_member.scheduler_runs_ledger}" in schedule["depends_on"]


def test_the_scheduler_account_may_start_that_job_and_nothing_else(module: Module) -> None:
    """run.invoker on the ledger job itself: no project role, no other grant."""
    assert _members(module, SCHEDULER_SA) == {
        ("google_cloud_run_v2_job_iam_member", "roles/run.invoker")
    }
    grant = module.resource("google_cloud_run_v2_job_iam_member.scheduler_runs_ledger")
    assert ref(grant["name"]) == "google_cloud_run_v2_job.ledger[0].name"
    assert grant["location"] == "${var.region}"


def test_the_job_account_holds_exactly_its_least_privilege_set(module: Module) -> None:
    """dataEditor on the audit dataset through an access entry (never a dataset IAM member,
    which would drop the analyst dataset's authorisation), jobUser on the project, and
    create and read on the export bucket."""
    assert _members(module, LEDGER_SA) == {
        ("google_bigquery_dataset_access", "roles/bigquery.dataEditor"),
        ("google_project_iam_member", "roles/bigquery.jobUser"),
        ("google_storage_bucket_iam_member", "roles/storage.objectCreator"),
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
    }
    entry = module.resource("google_bigquery_dataset_access.ledger_edits_dataset")
    assert entry["dataset_id"] == "${google_bigquery_dataset.audit.dataset_id}"
    on_audit = [
        address
        for address, body in module.resources.items()
        if address.startswith("google_bigquery_dataset_iam_")
        and body.get("dataset_id") == "${google_bigquery_dataset.audit.dataset_id}"
    ]
    assert on_audit == []


def test_the_export_bucket_is_locked_in_the_other_project(module: Module) -> None:
    """Created by the google.ledger provider in ledger_export_project_id, with a locked
    retention policy of ledger_export_retention_days, uniform access, never public, never
    force-destroyed, no versioning; only with an export project (and a job)."""
    bucket = module.resource(BUCKET)
    assert bucket["count"] == "${local.ledger_export_enabled ? 1 : 0}"
    assert module.locals["ledger_export_enabled"] == (
        "${local.ledger_enabled && var.ledger_export_project_id != null}"
    )
    assert bucket["provider"] == "${google.ledger}"
    assert bucket["project"] == "${var.ledger_export_project_id}"
    assert block(bucket, "retention_policy") == {
        "is_locked": True,
        "retention_period": "${var.ledger_export_retention_days * 86400}",
    }
    assert module.variables["ledger_export_retention_days"]["default"] == 400
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["force_destroy"] is False
    assert "versioning" not in bucket
    assert module.variables["ledger_export_project_id"]["default"] is None
    same_project = block(module.variables["ledger_export_project_id"], "validation")
    assert "var.ledger_export_project_id != var.project_id" in same_project["condition"]


def test_the_ledger_provider_is_an_alias_for_the_export_project(module: Module) -> None:
    """versions.tf declares provider google alias ledger on ledger_export_project_id."""
    providers = [body["google"] for body in module.raw["versions.tf"]["provider"]]
    ledger = [body for body in providers if body.get("alias") == "ledger"]
    assert ledger == [
        {
            "alias": "ledger",
            "project": "${coalesce(var.ledger_export_project_id, var.project_id)}",
            "region": "${var.region}",
        }
    ]


def test_only_the_job_account_is_granted_anything_on_the_bucket(module: Module) -> None:
    """Every grant naming the bucket goes to the job's account through the ledger provider;
    no admin role, no authoritative binding or policy on it."""
    on_bucket: list[tuple[str, dict[str, Any]]] = [
        (address, body)
        for address, body in module.resources.items()
        if address.startswith("google_storage_bucket_iam_")
    ]
    assert {address.split(".")[0] for address, _ in on_bucket} == {
        "google_storage_bucket_iam_member"
    }
    assert {(body["role"], body["member"]) for _, body in on_bucket} == {
        ("roles/storage.objectCreator", LEDGER_SA),
        ("roles/storage.objectViewer", LEDGER_SA),
    }
    for _, body in on_bucket:
        assert body["provider"] == "${google.ledger}"
        assert ref(body["bucket"]) == "google_storage_bucket.ledger_export[0].name"
        assert body["count"] == "${local.ledger_export_enabled ? 1 : 0}"


def test_the_export_uri_is_one_the_exporter_accepts(module: Module) -> None:
    """gs://BUCKET/PREFIX as the job's --export, rendered with the defaults, parses to the
    bucket and the prefix."""
    uri = module.locals["ledger_export_uri"]
    template = re.search(r'\? "(gs://[^"]+)" : null', uri)
    assert template is not None
    prefix = module.variables["ledger_export_prefix"]["default"]
    rendered = (
        template.group(1)
        .replace("${one(google_storage_bucket.ledger_export[*].name)}", "p2-il-audit-seals")
        .replace("${var.ledger_export_prefix}", prefix)
    )
    destination = parse_destination(rendered)
    assert (destination.bucket, destination.prefix) == ("p2-il-audit-seals", "seals")
    assert module.locals["ledger_export_bucket"] == (
        '${coalesce(var.ledger_export_bucket, "${coalesce(var.ledger_export_project_id, '
        'var.project_id)}-il-audit-seals")}'
    )


def test_cloud_run_and_cloud_scheduler_apis_are_enabled(module: Module) -> None:
    """run.googleapis.com and cloudscheduler.googleapis.com are in main.tf's list."""
    assert {"run.googleapis.com", "cloudscheduler.googleapis.com"} <= set(module.locals["apis"])


def test_the_jobs_arguments_parse_with_the_real_command() -> None:
    """What the Cloud Run job runs is a valid `il-audit` command line, with and without
    the export (parsed by the CLI itself, nothing run)."""
    from il_audit.cli import cli

    for args in (SEAL_ARGS, [*SEAL_ARGS, "--export", "gs://bucket/prefix"]):
        group = cli.make_context("il-audit", list(args), resilient_parsing=True)
        name, command, rest = cli.resolve_command(group, list(args))
        assert name == "ledger"
        ledger = command.make_context("ledger", rest, parent=group, resilient_parsing=True)
        _, seal, seal_args = command.resolve_command(ledger, rest)
        context = seal.make_context("seal", seal_args, parent=ledger)
        assert context.params["bigquery"] is True
        assert context.params["fmt"] == "json"
        assert context.params["export"] == (args[-1] if "--export" in args else None)
