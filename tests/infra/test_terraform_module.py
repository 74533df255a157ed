"""infra/terraform, checked without Terraform: every .tf file parsed with python-hcl2.

Terraform and the Google provider cannot be downloaded where the tests run, so
these tests hold the module to the invariants of issue 13: the resources exist,
IAM is least privilege and scoped to named resources, the subscription that
feeds the function carries the dead-letter and retry policies, and everything
derived from the package (schemas, tables, views) equals what the package says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from il_audit.cli import cli
from il_audit.config.settings import ENABLE_VARIABLES, ENV_BINDINGS, bundled_defaults
from il_audit.operations import terraform as generated
from il_audit.operations.function_bundle import ENTRY_POINT
from il_audit.operations.infra import SubscriptionPolicy
from il_audit.operations.pubsub_resources import TOPIC_MESSAGE_RETENTION_SECONDS
from il_audit.operations.terraform_privacy import POLICY_TAGGED_TABLES
from il_audit.schemas.tables import TABLES
from il_audit.sql import LEGACY_VIEW_NAMES, VIEW_NAMES, for_bigquery, views
from tests.support.terraform import MODULE, Module, block, load, parse, ref, strings

FUNCTION = "google_cloudfunctions2_function.subscriber"
PUSH = "google_pubsub_subscription.push"
INSPECT = "google_pubsub_subscription.dead_letter_inspect"
PUBLISHER_SA = "serviceAccount:${google_service_account.publisher.email}"
FUNCTION_SA = "serviceAccount:${google_service_account.function.email}"
PUSH_SA = "serviceAccount:${google_service_account.push.email}"
AGENT = "${local.pubsub_service_agent}"
RETENTION_SA = "serviceAccount:${google_service_account.retention[0].email}"
LEDGER_SA = "serviceAccount:${google_service_account.ledger[0].email}"
SCHEDULER_SA = "serviceAccount:${google_service_account.ledger_scheduler[0].email}"
PUBLISHER = "roles/pubsub.publisher"

# Every grant the module makes: (resource type, the resource it names, role, member).
EXPECTED_GRANTS = {
    # apps: publisher on the events topic only (the module's account, and any given ones)
    ("google_pubsub_topic_iam_member", "google_pubsub_topic.events.name", PUBLISHER, PUBLISHER_SA),
    ("google_pubsub_topic_iam_member", "google_pubsub_topic.events.name", PUBLISHER,
     "${each.value}"),
    # the function: dataEditor on the dataset, jobUser on the project, publisher on the DLQ
    # (an access entry, not a dataset IAM member, which would drop the authorised dataset)
    ("google_bigquery_dataset_access", "google_bigquery_dataset.audit.dataset_id",
     "roles/bigquery.dataEditor", FUNCTION_SA),
    ("google_project_iam_member", "var.project_id", "roles/bigquery.jobUser", FUNCTION_SA),
    ("google_pubsub_topic_iam_member", "google_pubsub_topic.dead_letter.name", PUBLISHER,
     FUNCTION_SA),
    # the push identity: invoker on the function's Cloud Run service
    ("google_cloud_run_service_iam_member",
     "google_cloudfunctions2_function.subscriber.service_config[0].service",
     "roles/run.invoker", PUSH_SA),
    # the Pub/Sub service agent: publisher on the DLQ, subscriber on the source subscription
    ("google_pubsub_topic_iam_member", "google_pubsub_topic.dead_letter.name", PUBLISHER, AGENT),
    ("google_pubsub_subscription_iam_member", "google_pubsub_subscription.push.name",
     "roles/pubsub.subscriber", AGENT),
    # opt-in, old projects only: token creator on the push identity itself
    ("google_service_account_iam_member", "google_service_account.push.name",
     "roles/iam.serviceAccountTokenCreator", AGENT),
    # column-level access (privacy.tf): none by default; each named member, Fine-Grained
    # Reader on each personal-data policy tag and dataViewer on the analyst dataset
    ("google_data_catalog_policy_tag_iam_member", "each.value.tag",
     "roles/datacatalog.categoryFineGrainedReader", "${each.value.member}"),
    ("google_bigquery_dataset_iam_member", "google_bigquery_dataset.analyst.dataset_id",
     "roles/bigquery.dataViewer", "${each.key}"),
    # retention (only with a retention): rows of the dataset, query jobs; the transfer
    # service agent runs the scheduled deletes as that one account
    ("google_bigquery_dataset_access", "google_bigquery_dataset.audit.dataset_id",
     "roles/bigquery.dataEditor", RETENTION_SA),
    ("google_project_iam_member", "var.project_id", "roles/bigquery.jobUser", RETENTION_SA),
    ("google_service_account_iam_member", "google_service_account.retention[0].name",
     "roles/iam.serviceAccountTokenCreator", "${local.transfer_service_agent}"),
    # seals (ledger.tf, only with ledger_image): the job edits the dataset through an access
    # entry (never a dataset IAM member) and runs query jobs; the schedule may start that job
    ("google_bigquery_dataset_access", "google_bigquery_dataset.audit.dataset_id",
     "roles/bigquery.dataEditor", LEDGER_SA),
    ("google_project_iam_member", "var.project_id", "roles/bigquery.jobUser", LEDGER_SA),
    ("google_cloud_run_v2_job_iam_member", "google_cloud_run_v2_job.ledger[0].name",
     "roles/run.invoker", SCHEDULER_SA),
    # ... and, with an export project, creates and reads objects of the export bucket only
    ("google_storage_bucket_iam_member", "google_storage_bucket.ledger_export[0].name",
     "roles/storage.objectCreator", LEDGER_SA),
    ("google_storage_bucket_iam_member", "google_storage_bucket.ledger_export[0].name",
     "roles/storage.objectViewer", LEDGER_SA),
}  # fmt: skip
# The attribute through which each IAM member resource names what it grants on.
SCOPE_ATTRIBUTE = {
    "google_pubsub_topic_iam_member": "topic",
    "google_pubsub_subscription_iam_member": "subscription",
    "google_bigquery_dataset_iam_member": "dataset_id",
    "google_cloud_run_service_iam_member": "service",
    "google_service_account_iam_member": "service_account_id",
    "google_project_iam_member": "project",
    "google_data_catalog_policy_tag_iam_member": "policy_tag",
    "google_bigquery_dataset_access": "dataset_id",
    "google_cloud_run_v2_job_iam_member": "name",
    "google_storage_bucket_iam_member": "bucket",
}


@pytest.fixture(scope="module")
def module() -> Module:
    return load()


def grants(module: Module) -> set[tuple[str, str, str, str]]:
    found = set()
    for address, body in module.resources.items():
        resource_type = address.split(".")[0]
        if "_iam_" in resource_type:
            scope = ref(body[SCOPE_ATTRIBUTE[resource_type]])
            found.add((resource_type, scope, body["role"], body["member"]))
        elif resource_type == "google_bigquery_dataset_access" and "role" in body:
            # A role for an account; the other kind authorises a dataset (privacy.tf).
            scope = ref(body[SCOPE_ATTRIBUTE[resource_type]])
            found.add(
                (resource_type, scope, body["role"], "serviceAccount:" + body["user_by_email"])
            )
    return found


def test_the_issue_s_resources_are_all_there(module: Module) -> None:
    """Topics, function, subscriptions, dataset, tables, views, alerts and identities exist."""
    required = {
        "google_pubsub_topic.events",
        "google_pubsub_topic.dead_letter",
        FUNCTION,
        PUSH,
        INSPECT,
        "google_bigquery_dataset.audit",
        *(f"google_bigquery_table.{spec.name}" for spec in TABLES),
        *(f"google_bigquery_table.view_{name}" for name in VIEW_NAMES),
        "google_monitoring_alert_policy.dead_letter_backlog",
        "google_monitoring_alert_policy.oldest_unacked_message",
        "google_monitoring_alert_policy.function_error_rate",
        "google_service_account.publisher",
        "google_service_account.function",
        "google_service_account.push",
        "google_storage_bucket_object.function_source",
    }
    assert required <= set(module.resources)
    assert "archive_file.function" in module.data


def test_iam_grants_are_exactly_the_least_privilege_set(module: Module) -> None:
    """Each role goes to one identity on one named resource, as the issue lists them."""
    assert grants(module) == EXPECTED_GRANTS


def test_the_only_project_wide_grant_is_job_user_for_the_function(module: Module) -> None:
    """Project-level IAM is jobUser alone (the function's, and the retention deletes'):
    BigQuery grants query jobs on projects only. Alert policies and enabled APIs are
    project resources that need no grant."""
    project_wide = {
        (role, member)
        for resource_type, _, role, member in grants(module)
        if resource_type == "google_project_iam_member"
    }
    assert project_wide == {
        ("roles/bigquery.jobUser", FUNCTION_SA), ("roles/bigquery.jobUser", RETENTION_SA),
        ("roles/bigquery.jobUser", LEDGER_SA),
    }  # fmt: skip
    authoritative = [
        address
        for address in module.resources
        if re.search(r"_iam_(binding|policy)$", address.split(".")[0])
        or address.startswith(("google_organization_", "google_folder_"))
    ]
    assert authoritative == []


def test_no_primitive_role_and_no_public_member_appear_anywhere(module: Module) -> None:
    """owner, editor and viewer are never granted; nothing is granted to allUsers."""
    everything = [text for parsed in module.raw.values() for text in strings(parsed)]
    assert not [text for text in everything if re.search(r"roles/(owner|editor|viewer)\b", text)]
    assert not [text for text in everything if "allUsers" in text or "allAuthenticated" in text]
    roles = {body["role"] for body in module.resources.values() if "role" in body}
    assert all(role.startswith("roles/") for role in roles)


def test_apps_publish_only_to_the_events_topic(module: Module) -> None:
    """The publisher account and var.publisher_members appear in one grant each kind."""
    apps = [grant for grant in grants(module) if grant[3] in (PUBLISHER_SA, "${each.value}")]
    assert {(scope, role) for _, scope, role, _ in apps} == {
        ("google_pubsub_topic.events.name", PUBLISHER)
    }
    extra = module.resource("google_pubsub_topic_iam_member.extra_apps_publish_events")
    assert extra["for_each"] == "${toset(var.publisher_members)}"


def test_the_pubsub_service_agent_is_the_project_s_agent(module: Module) -> None:
    """The agent member is service-PROJECT_NUMBER@gcp-sa-pubsub of this project."""
    assert module.locals["pubsub_service_agent"] == (
        "serviceAccount:service-${data.google_project.this.number}"
        "@gcp-sa-pubsub.iam.gserviceaccount.com"
    )
    token = module.resource("google_service_account_iam_member.pubsub_agent_signs_push_tokens")
    assert token["count"] == "${var.pubsub_agent_token_creator ? 1 : 0}"
    assert module.variables["pubsub_agent_token_creator"]["default"] is False


def test_the_function_is_http_triggered_and_fed_by_the_push_subscription(module: Module) -> None:
    """No Eventarc trigger: the push subscription, with an OIDC token of the push identity
    (the one holding run.invoker), delivers to the function's own URI."""
    function = module.resource(FUNCTION)
    assert "event_trigger" not in function
    push = block(module.resource(PUSH), "push_config")
    uri = "${google_cloudfunctions2_function.subscriber.service_config[0].uri}"
    assert push["push_endpoint"].startswith(uri + "/")
    assert push["push_endpoint"].endswith("/projects/${var.project_id}/topics/${var.topic}")
    oidc = block(push, "oidc_token")
    assert oidc == {
        "service_account_email": "${google_service_account.push.email}",
        "audience": uri,
    }
    assert module.resource(PUSH)["topic"] == "${google_pubsub_topic.events.id}"


def test_the_feeding_subscription_dead_letters_and_retries(module: Module) -> None:
    """Dead-letter policy to the DLQ topic after max_delivery_attempts, exponential retry."""
    subscription = module.resource(PUSH)
    dead_letter = block(subscription, "dead_letter_policy")
    assert dead_letter == {
        "dead_letter_topic": "${google_pubsub_topic.dead_letter.id}",
        "max_delivery_attempts": "${var.max_delivery_attempts}",
    }
    assert block(subscription, "retry_policy") == {
        "minimum_backoff": "${var.min_backoff_seconds}s",
        "maximum_backoff": "${var.max_backoff_seconds}s",
    }
    assert block(subscription, "expiration_policy") == {"ttl": ""}
    assert subscription["ack_deadline_seconds"] == "${var.function_timeout_seconds}"


def test_subscription_defaults_are_those_of_infra_apply(module: Module) -> None:
    """Attempts and backoff default to `il-audit infra apply`'s SubscriptionPolicy."""
    policy = SubscriptionPolicy()
    defaults = {name: module.variables[name]["default"] for name in (
        "max_delivery_attempts", "min_backoff_seconds", "max_backoff_seconds")}  # fmt: skip
    assert defaults == {
        "max_delivery_attempts": policy.max_delivery_attempts,
        "min_backoff_seconds": policy.min_backoff_seconds,
        "max_backoff_seconds": policy.max_backoff_seconds,
    }
    assert module.variables["function_timeout_seconds"]["default"] == policy.ack_deadline_seconds


def test_the_events_topic_keeps_a_week_for_a_seek(module: Module) -> None:
    """`il-audit subscriber seek` reaches back as far as the topic's retention: 7 days."""
    topic = module.resource("google_pubsub_topic.events")
    assert "var.topic_message_retention_seconds" in topic["message_retention_duration"]
    assert (
        module.variables["topic_message_retention_seconds"]["default"]
        == TOPIC_MESSAGE_RETENTION_SECONDS  # what `infra apply` sets
        == 7 * 86_400
    )


def test_the_inspect_subscription_pulls_the_dead_letter_topic(module: Module) -> None:
    """DLQ_TOPIC-inspect, pull (no push_config), 10 s ack deadline as infra apply and dev up."""
    inspect = module.resource(INSPECT)
    assert inspect["name"] == "${local.inspect_subscription_name}"
    assert module.locals["inspect_subscription_name"] == "${var.dlq_topic}-inspect"
    assert inspect["topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert inspect["ack_deadline_seconds"] == 10
    assert inspect["message_retention_duration"] == "604800s"  # 7 days
    assert "push_config" not in inspect
    assert block(inspect, "expiration_policy") == {"ttl": ""}


def test_names_default_to_the_bundled_settings(module: Module) -> None:
    """Topic, dead-letter topic, dataset and its location default as defaults.json does."""
    defaults = bundled_defaults()
    assert module.variables["topic"]["default"] == defaults["topic"]
    assert module.variables["dlq_topic"]["default"] == defaults["dlq_topic"]
    assert module.variables["dataset"]["default"] == defaults["bq_audit_dataset"]
    assert module.variables["dataset_location"]["default"] == defaults["bq_dataset_location"]


def test_the_function_is_built_from_the_bundle_with_memory_instances_and_settings(
    module: Module,
) -> None:
    """Entry point of the bundle, source archived from the bundle directory, memory and max
    instances from variables, and only environment variables il-audit reads."""
    function = module.resource(FUNCTION)
    build = block(function, "build_config")
    assert build["entry_point"] == ENTRY_POINT
    storage = block(block(build, "source"), "storage_source")
    assert storage["object"] == "${google_storage_bucket_object.function_source.name}"
    source_object = module.resource("google_storage_bucket_object.function_source")
    assert source_object["source"] == "${data.archive_file.function.output_path}"
    assert "output_md5" in source_object["name"]
    assert module.data["archive_file.function"]["source_dir"] == "${local.function_bundle_dir}"
    service = block(function, "service_config")
    assert service["available_memory"] == "${var.function_memory}"
    assert service["max_instance_count"] == "${var.function_max_instances}"
    assert service["service_account_email"] == "${google_service_account.function.email}"
    assert service["environment_variables"] == "${local.function_env}"
    assert module.locals["function_env"] == "${merge(local.function_base_env, var.function_env)}"
    base_env = module.locals["function_base_env"]
    known = {name for names in ENV_BINDINGS.values() for name in names} | set(ENABLE_VARIABLES)
    assert set(base_env) <= known
    assert base_env["IL_AUDIT_SINK"] == "bigquery"
    assert base_env["IL_AUDIT_DLQ_TOPIC"] == "${var.dlq_topic}"
    assert base_env["IL_AUDIT_EXTRA_EVENT_TYPES"] == '${join(",", var.extra_event_types)}'


@pytest.mark.parametrize("spec", TABLES, ids=lambda spec: spec.name)
def test_each_table_has_its_schema_partitioning_clustering_and_retention(
    module: Module, spec: Any
) -> None:
    """Schema from schemas/TABLE.json; DAY partitioning on the spec's column with the
    retention variable; the spec's clustering."""
    table = module.resource(f"google_bigquery_table.{spec.name}")
    if spec.name in POLICY_TAGGED_TABLES:  # the same schema with policy tags (privacy.tf)
        assert table["schema"] == (
            '${templatefile("${path.module}/policy_tags/' + spec.name + '.json.tftpl", '
            "local.policy_tag_ids)}"
        )
    else:
        assert table["schema"] == '${file("${path.module}/schemas/' + spec.name + '.json")}'
    assert table.get("clustering", []) == list(spec.clustering)
    assert table["deletion_protection"] == "${var.deletion_protection}"
    if spec.partition_field:
        assert block(table, "time_partitioning") == {
            "type": "DAY",
            "field": spec.partition_field,
            "expiration_ms": "${local.partition_expiration_ms}",
        }
    else:
        assert "time_partitioning" not in table


def test_tables_are_protected_and_views_are_not(module: Module) -> None:
    """deletion_protection defaults to true for tables; views hold no data and stay deletable."""
    assert module.variables["deletion_protection"]["default"] is True
    for name in VIEW_NAMES:
        assert module.resource(f"google_bigquery_table.view_{name}")["deletion_protection"] is False


def test_service_accounts_are_named_from_the_prefix(module: Module) -> None:
    """PREFIX-publisher, PREFIX-subscriber and PREFIX-push; the prefix defaults to il-audit."""
    accounts = module.of_type("google_service_account")
    assert {name: body["account_id"] for name, body in accounts.items()} == {
        "publisher": "${var.service_account_prefix}-publisher",
        "function": "${var.service_account_prefix}-subscriber",
        "push": "${var.service_account_prefix}-push",
        "retention": "${var.service_account_prefix}-retention",
        "ledger": "${var.service_account_prefix}-ledger",
        "ledger_scheduler": "${var.service_account_prefix}-seal-cron",
    }
    assert module.variables["service_account_prefix"]["default"] == "il-audit"


def test_the_app_environment_output_names_il_audit_settings(module: Module) -> None:
    """`terraform output app_environment` holds what apps read: project, topics, dataset."""
    value = module.outputs["app_environment"]["value"]
    known = {name for names in ENV_BINDINGS.values() for name in names}
    assert set(value) == {
        "IL_BQ_LOGS_PROJECT", "IL_AUDIT_TOPIC", "IL_AUDIT_DLQ_TOPIC", "IL_BQ_AUDIT_DATASET"
    }  # fmt: skip
    assert set(value) <= known


def test_retention_defaults_to_keeping_everything(module: Module) -> None:
    """partition_expiration_days defaults to null and no family has a retention: no partition
    expiration, and (retention.tf) no scheduled delete."""
    assert module.variables["partition_expiration_days"]["default"] is None
    assert module.variables["retention_days_by_family"]["default"] == {}
    assert module.locals["partition_expiration_ms"] == (
        "${local.partition_expiration_days == null ? null : "
        "local.partition_expiration_days * 86400000}"
    )


def test_partition_expiry_is_the_longest_retention_of_all(module: Module) -> None:
    """The outer bound: the default and every family's days, the longest (null: forever)."""
    assert module.locals["partition_expiration_days"] == (
        "${var.partition_expiration_days == null ? null : "
        "max(var.partition_expiration_days, values(var.retention_days_by_family) ...)}"
    )


def test_retention_deletes_are_daily_scheduled_queries_run_as_their_own_account(
    module: Module,
) -> None:
    """One scheduled query per family, every 24 hours, as the retention account, whose
    grants exist only when there is something to delete; the transfer API is enabled."""
    config = module.resource("google_bigquery_data_transfer_config.retention")
    assert config["for_each"] == "${local.retention_deletes}"
    assert config["data_source_id"] == "scheduled_query"
    assert config["schedule"] == "every 24 hours"
    assert config["location"] == "${var.dataset_location}"
    assert config["service_account_name"] == "${google_service_account.retention[0].email}"
    assert config["params"] == {"query": "${each.value}"}
    assert "bigquerydatatransfer.googleapis.com" in module.locals["apis"]
    for address in (
        "google_service_account.retention",
        "google_bigquery_dataset_access.retention_edits_dataset",
        "google_project_iam_member.retention_runs_query_jobs",
        "google_service_account_iam_member.transfer_agent_acts_as_retention",
    ):
        assert module.resource(address)["count"] == "${local.retention_enabled ? 1 : 0}"


def test_scheduled_deletes_are_the_statements_of_the_retention_module(module: Module) -> None:
    """retention.tf's templates are il_audit.schemas.retention's statements, with the
    family and the days as Terraform interpolations."""
    from il_audit.schemas.retention import Deletion, bigquery_cutoff_scheduled, family_match

    match = module.locals["retention_match"]
    assert family_match("zz").replace("zz", "${family}") in match
    deletes = module.locals["retention_deletes"]
    table = "`${var.project_id}.${google_bigquery_dataset.audit.dataset_id}.dead_letters`"
    expected = (
        Deletion("dead_letters", "dead_letters", "received_at", 9, None)
        .statement(table, bigquery_cutoff_scheduled(9))
        .replace("INTERVAL 8 DAY", "INTERVAL ${local.retention_dead_letter_days - 1} DAY")
    )
    assert expected in deletes


def test_committed_schemas_equal_what_schema_export_writes(tmp_path: Path) -> None:
    """infra/terraform/schemas is byte for byte the output of `il-audit schema export`."""
    result = CliRunner().invoke(cli, ["schema", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    exported = {path.name: path.read_text() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_text() for path in (MODULE / "schemas").iterdir()}
    assert committed == exported


def test_generated_files_are_up_to_date() -> None:
    """tables.tf, views.tf, views/*.sql and schemas/ equal what the package generates now;
    otherwise run `make generate`."""
    assert generated.drift(MODULE) == []


@pytest.mark.parametrize("view", views(), ids=lambda view: view.name)
def test_each_view_template_renders_to_the_sql_infra_apply_creates(view: Any) -> None:
    """views/VIEW.sql, filled in as templatefile() does, is infra apply's qualified SQL."""
    template = (MODULE / "views" / f"{view.name}.sql").read_text()
    rendered = generated.render_template(template, "my-project-1", "audit_ds")
    assert rendered == for_bigquery(view, "my-project-1", "audit_ds") + "\n"


def test_views_are_present_and_created_after_what_they_read(module: Module) -> None:
    """Every view of il_audit/sql is a standard-SQL view from its template, depending on the
    tables and views its SQL names."""
    for source in generated.view_sources():
        view = module.resource(f"google_bigquery_table.view_{source.name}")
        definition = block(view, "view")
        assert definition["use_legacy_sql"] is False
        assert f'/views/{source.name}.sql"' in definition["query"]
        wanted = {
            f"${{google_bigquery_table.{'view_' if name in VIEW_NAMES else ''}{name}}}"
            for name in source.reads
        }
        assert set(view.get("depends_on", [])) == wanted
        # The legacy-only views (no row of their own) read nothing.
        assert source.reads or source.name in LEGACY_VIEW_NAMES, f"{source.name} reads nothing"


def test_alert_policies_watch_dead_letters_unacked_age_and_function_errors(
    module: Module,
) -> None:
    """Dead-letter backlog > 0 on the inspect subscription; oldest unacked age on the push
    subscription; 5xx share of the function's requests as a ratio."""
    policies = module.of_type("google_monitoring_alert_policy")

    def threshold(name: str) -> dict[str, Any]:
        assert policies[name]["notification_channels"] == "${var.notification_channels}"
        return block(block(policies[name], "conditions"), "condition_threshold")

    backlog = threshold("dead_letter_backlog")
    assert "subscription/num_undelivered_messages" in backlog["filter"]
    assert "${google_pubsub_subscription.dead_letter_inspect.name}" in backlog["filter"]
    assert (backlog["comparison"], backlog["threshold_value"]) == ("COMPARISON_GT", 0)
    age = threshold("oldest_unacked_message")
    assert "subscription/oldest_unacked_message_age" in age["filter"]
    assert "${google_pubsub_subscription.push.name}" in age["filter"]
    assert age["threshold_value"] == "${var.oldest_unacked_age_threshold_seconds}"
    errors = threshold("function_error_rate")
    assert re.search(r'response_code_class = \\?"5xx', errors["filter"])
    assert errors["denominator_filter"] == "${local.function_requests}"
    assert "run.googleapis.com/request_count" in module.locals["function_requests"]
    assert errors["threshold_value"] == "${var.function_error_rate_threshold}"


def test_every_variable_and_output_is_described(module: Module) -> None:
    """Descriptions on all variables and outputs."""
    assert not [name for name, body in module.variables.items() if not body.get("description")]
    assert not [name for name, body in module.outputs.items() if not body.get("description")]


def test_the_tfvars_example_sets_declared_variables_and_every_required_one(
    module: Module,
) -> None:
    """terraform.tfvars.example names only variables the module declares, and all without
    a default."""
    example = parse(MODULE / "terraform.tfvars.example")
    required = {name for name, body in module.variables.items() if "default" not in body}
    assert set(example) <= set(module.variables)
    assert required <= set(example)
    assert required == {"project_id"}


def test_infra_terraform_check_fails_on_drift_and_write_repairs_it(tmp_path: Path) -> None:
    """`il-audit infra terraform --check` exits 1 on an edited or stale generated file; without
    --check it rewrites them and removes the stale one."""
    module_dir = tmp_path / "module"
    runner = CliRunner()
    assert runner.invoke(cli, ["infra", "terraform", "--module", str(module_dir)]).exit_code == 0
    (module_dir / "views" / "events_deduped.sql").write_text("SELECT 1\n")
    (module_dir / "views" / "dropped_view.sql").write_text("SELECT 2\n")
    check = runner.invoke(cli, ["infra", "terraform", "--module", str(module_dir), "--check"])
    assert check.exit_code == 1
    assert "views/events_deduped.sql" in check.output
    assert "views/dropped_view.sql" in check.output
    repair = runner.invoke(cli, ["infra", "terraform", "--module", str(module_dir)])
    assert repair.exit_code == 0
    assert generated.drift(module_dir) == []
    assert not (module_dir / "views" / "dropped_view.sql").exists()


def test_the_function_subscription_has_the_wire_contract_name(module: Any) -> None:
    """Terraform names the feeding subscription TOPIC-sub, like infra apply and the local stack."""
    from il_audit.schemas.wire import SUBSCRIPTION_SUFFIX

    assert module.locals["subscription_name"] == (
        f'${{coalesce(var.subscription_name, "${{var.topic}}{SUBSCRIPTION_SUFFIX}")}}'
    )


def test_the_pull_worker_alerts_read_its_real_log_line_and_only_exist_for_a_worker(
    module: Module,
) -> None:
    """Gated on var.pull_subscription_name; the log metric's filter and extractor find the
    count in the line the worker logs for a failed batch; oldest unacked age on its
    subscription."""
    import logging

    from il_audit.subscriber_fn.pull_worker import FAILED_BATCH_LOG

    metric = module.resource("google_logging_metric.pull_consecutive_failed_batches")
    policies = module.of_type("google_monitoring_alert_policy")
    gated = [metric, policies["pull_consecutive_failed_batches"],
             policies["pull_oldest_unacked_message"]]  # fmt: skip
    assert all(body["count"] == '${var.pull_subscription_name == "" ? 0 : 1}' for body in gated)
    # The worker's line as the CLI's logging writes it (textPayload on Cloud Run).
    record = logging.LogRecord(
        "il_audit.subscriber_fn.pull_worker", logging.WARNING, "", 0,
        FAILED_BATCH_LOG, (12, 7, "warehouse down"), None,
    )  # fmt: skip
    line = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    needle = re.fullmatch(r'textPayload:"(.+)"', metric["filter"])
    assert needle is not None
    assert needle.group(1) in line
    extractor = re.fullmatch(r'REGEXP_EXTRACT\(textPayload, "(.+)"\)', metric["value_extractor"])
    assert extractor is not None
    found = re.search(extractor.group(1), line)
    assert found is not None
    assert found.group(1) == "7"
    failing = block(block(policies["pull_consecutive_failed_batches"], "conditions"),
                    "condition_threshold")  # fmt: skip
    assert "logging.googleapis.com/user/${google_logging_metric" in failing["filter"]
    assert failing["threshold_value"] == "${var.pull_failed_batches_threshold}"
    age = block(block(policies["pull_oldest_unacked_message"], "conditions"), "condition_threshold")
    assert "subscription/oldest_unacked_message_age" in age["filter"]
    assert "${var.pull_subscription_name}" in age["filter"]


def test_views_of_seed_tables_carry_their_column_descriptions(module: Module) -> None:
    """A view standing in for a 0.1.3 or 1.0.35 table (or one of 1.0.35's helper views) has
    a schema file: its columns in order,
    each described, with the type names and NULLABLE/REPEATED modes BigQuery reports for a
    view (so the provider sees no diff); the other views have none."""
    import json

    from il_audit.schemas.descriptions import VIEW_BASES, described_columns
    from il_audit.schemas.seed_tables import LATER_TABLES, SEED_TABLES

    api_types = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}
    tables = (set(SEED_TABLES) | set(LATER_TABLES) | set(VIEW_BASES)) - {"cost_rates"}
    described = [name for name in VIEW_NAMES if name in tables]
    assert {"auth_events", "access_control_events", "notification_sends"} <= set(described)
    for name in VIEW_NAMES:
        body = module.resource(f"google_bigquery_table.view_{name}")
        if name not in tables:
            assert "schema" not in body, name
            continue
        assert f'/views/{name}.schema.json"' in body["schema"]
        fields = json.loads((MODULE / "views" / f"{name}.schema.json").read_text())
        assert [field["name"] for field in fields] == [c.name for c in described_columns(name)]
        assert all(field["description"] for field in fields), name
        assert {field["mode"] for field in fields} <= {"NULLABLE", "REPEATED"}
        assert not {field["type"] for field in fields} & set(api_types), name
    ns = json.loads((MODULE / "views" / "notification_sends.schema.json").read_text())
    assert {"name": "cc_emails", "type": "STRING", "mode": "REPEATED"}.items() <= ns[8].items()
