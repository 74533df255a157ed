"""infra/terraform's column-level access, checked against the personal-data inventory.

Parsed with python-hcl2 (no terraform binary, no provider): the policy tags land on exactly
the personal columns of ``events`` and ``dead_letters``; nothing restricts anyone until
enforcement is switched on; readers are opt-in; the analyst views select only non-personal
columns, and their SQL runs (on DuckDB, over the same views); the dataset keeps the
documented time-travel window. The BigQuery stand-in has no policy tags, so none is used.
"""

from __future__ import annotations

import json
import re
from typing import Any

import duckdb
import pytest

from il_audit.operations import terraform_privacy as privacy
from il_audit.operations.privacy_inventory import (
    analyst_columns,
    personal_columns,
    relation_columns,
)
from il_audit.schemas.personal_data import Category, personal_data
from il_audit.schemas.tables import TABLES
from il_audit.sql import views
from il_audit.subscriber_fn.sinks.duckdb import create_table_sql, view_statements
from tests.support.terraform import MODULE, Module, block, load

FAKE_IDS = {
    category.value: f"projects/p/locations/eu/taxonomies/1/policyTags/{index}"
    for index, category in enumerate(privacy.PERSONAL_CATEGORIES)
}


@pytest.fixture(scope="module")
def module() -> Module:
    return load()


def _render(template: str, variables: dict[str, str]) -> str:
    """What templatefile() makes of a template using only ``${name}`` interpolations."""
    literal = "\0dollar\0"
    text = template.replace("$${", literal)
    text = re.sub(r"\$\{(\w+)\}", lambda match: variables[match.group(1)], text)
    assert "${" not in text
    assert "%{" not in text.replace("%%{", "")
    return text.replace(literal, "${").replace("%%{", "%{")


@pytest.mark.parametrize("table", privacy.POLICY_TAGGED_TABLES)
def test_each_personal_column_carries_its_category_s_tag_and_no_other_does(table: str) -> None:
    """The rendered template is schemas/TABLE.json plus policyTags on the personal columns."""
    template = (MODULE / "policy_tags" / f"{table}.json.tftpl").read_text("utf-8")
    rendered = json.loads(_render(template, FAKE_IDS))
    plain = json.loads((MODULE / "schemas" / f"{table}.json").read_text("utf-8"))
    assert [{k: v for k, v in f.items() if k != "policyTags"} for f in rendered] == plain
    tagged = {
        field["name"]: field["policyTags"]["names"] for field in rendered if "policyTags" in field
    }
    wanted = {
        column: [FAKE_IDS[tag.category.value]] for column, tag in personal_columns(table).items()
    }
    assert tagged == wanted


def test_the_tags_are_where_the_issue_expects_them() -> None:
    """Not vacuous: who acted, the free-form JSON and the dead letter's raw line are tagged."""
    events = privacy.tagged_schema("events")
    tags = {field["name"]: field.get("policyTags") for field in events}
    assert tags["actor_email"] == {"names": ["${contact}"]}
    assert tags["payload"] == {"names": ["${free_form}"]}
    assert tags["event_id"] is None
    assert tags["cost_usd"] is None
    assert "raw_line" in personal_columns("dead_letters")
    assert personal_columns("cost_rates") == {}


def test_only_the_tables_with_personal_columns_are_tagged(module: Module) -> None:
    """events and dead_letters take the tagged template; cost_rates its plain schema."""
    for spec in TABLES:
        schema = module.resource(f"google_bigquery_table.{spec.name}")["schema"]
        assert ("policy_tags/" in schema) == (spec.name in privacy.POLICY_TAGGED_TABLES)
        assert bool(personal_columns(spec.name)) == (spec.name in privacy.POLICY_TAGGED_TABLES)


def test_one_policy_tag_per_personal_category_in_one_taxonomy(module: Module) -> None:
    """Eight tags named for the categories, each described, under the personal_data taxonomy;
    the templates' variables are exactly their ids."""
    tags = module.of_type("google_data_catalog_policy_tag")
    personal = {category.value for category in Category if category is not Category.NONE}
    assert set(tags) == personal
    for name, body in tags.items():
        assert body["taxonomy"] == "${google_data_catalog_taxonomy.personal_data.id}"
        assert body["display_name"] == name
        assert body["description"]
    ids = module.locals["policy_tag_ids"]
    assert ids == {name: f"${{google_data_catalog_policy_tag.{name}.id}}" for name in personal}


def test_nothing_is_enforced_and_nobody_is_granted_by_default(module: Module) -> None:
    """Applying the module locks nobody out: enforcement is a switch, off; readers are empty."""
    taxonomy = module.resource("google_data_catalog_taxonomy.personal_data")
    assert taxonomy["activated_policy_types"] == (
        '${var.enforce_column_access ? ["FINE_GRAINED_ACCESS_CONTROL"] : []}'
    )
    assert taxonomy["region"] == "${lower(var.dataset_location)}"
    assert module.variables["enforce_column_access"]["default"] is False
    for name in ("personal_data_readers", "analyst_members"):
        assert module.variables[name]["default"] == []


def test_readers_get_fine_grained_reader_on_every_tag(module: Module) -> None:
    """Each named reader and analyst, on each policy tag: one grant per pair."""
    grants = module.resource("google_data_catalog_policy_tag_iam_member.fine_grained_readers")
    assert grants["for_each"] == "${local.fine_grained_readers}"
    assert grants["role"] == "roles/datacatalog.categoryFineGrainedReader"
    pairs = module.locals["fine_grained_readers"]
    assert "setproduct(keys(local.policy_tag_ids)" in pairs
    assert "concat(var.personal_data_readers, var.analyst_members)" in pairs


def test_the_analyst_dataset_is_authorised_on_the_audit_dataset(module: Module) -> None:
    """Its views (only views) read the audit dataset; analysts view the analyst dataset."""
    access = module.resource("google_bigquery_dataset_access.analyst_views")
    assert access["dataset_id"] == "${google_bigquery_dataset.audit.dataset_id}"
    authorised = block(access, "dataset")
    assert authorised["target_types"] == ["VIEWS"]
    assert block(authorised, "dataset")["dataset_id"] == (
        "${google_bigquery_dataset.analyst.dataset_id}"
    )
    assert module.locals["analyst_dataset"] == (
        '${coalesce(var.analyst_dataset, "${var.dataset}_analyst")}'
    )
    viewers = module.resource("google_bigquery_dataset_iam_member.analyst_viewers")
    assert (viewers["role"], viewers["for_each"]) == (
        "roles/bigquery.dataViewer",
        "${toset(var.analyst_members)}",
    )


def _analyst_sql(module: Module) -> dict[str, str]:
    """View name -> the analyst view's SQL with its qualifiers dropped."""
    found = {}
    for name, body in module.of_type("google_bigquery_table").items():
        if name.startswith("analyst_"):
            assert body["dataset_id"] == "${google_bigquery_dataset.analyst.dataset_id}"
            query = block(body, "view")["query"]
            found[body["table_id"]] = re.sub(
                r"`\$\{[^`]*\}\.\$\{[^`]*\}\.\$\{[^`]*\}`", "SRC", query
            )
    return found


def test_every_view_has_an_analyst_view_without_its_personal_columns(module: Module) -> None:
    """One analyst view per view with a non-personal column, selecting exactly those."""
    found = _analyst_sql(module)
    assert set(found) == {view.name for view in views() if analyst_columns(view.name)}
    assert len(found) > 30
    for name, sql in found.items():
        selected = re.findall(r"`(\w+)`", sql.split(" FROM ")[0])
        assert selected == list(analyst_columns(name)), name
        assert not [column for column in selected if personal_data(name, column).personal]
    assert "`actor_email`" not in "".join(found.values())
    # The salt would let an analyst confirm a guess at a hidden column through row_hash.
    assert "`row_hash`" in found["events_deduped"]
    assert "`row_salt`" not in "".join(found.values())


def test_the_analyst_views_run_over_the_views_they_read(module: Module) -> None:
    """Each analyst SELECT, pointed at its source view, runs on DuckDB (the same view SQL)
    and returns the columns it names."""
    found = _analyst_sql(module)
    with duckdb.connect() as connection:
        for spec in TABLES:
            connection.execute(create_table_sql(spec))
        for name, sql in view_statements():
            connection.execute(f"CREATE VIEW {name} AS {sql}")
        for name, sql in found.items():
            cursor = connection.execute(sql.replace("SRC", name).replace("`", '"') + " LIMIT 0")
            assert [column[0] for column in cursor.description] == list(analyst_columns(name))
    assert set(relation_columns()) >= set(found)


def test_the_dataset_keeps_the_documented_time_travel(module: Module) -> None:
    """max_time_travel_hours: 48 by default (BigQuery's minimum), validated to 48..168 by 24."""
    dataset = module.resource("google_bigquery_dataset.audit")
    assert dataset["max_time_travel_hours"] == "${var.max_time_travel_hours}"
    variable: dict[str, Any] = module.variables["max_time_travel_hours"]
    assert variable["default"] == privacy.DEFAULT_MAX_TIME_TRAVEL_HOURS == 48
    rule = block(variable, "validation")["condition"]
    assert ">= 48" in rule
    assert "<= 168" in rule
    assert "% 24 == 0" in rule


def test_the_data_catalog_api_is_enabled(module: Module) -> None:
    """The taxonomy needs datacatalog.googleapis.com among the enabled APIs."""
    assert "datacatalog.googleapis.com" in module.locals["apis"]


def test_no_dataset_iam_resource_fights_the_authorisation(module: Module) -> None:
    """The provider's dataset IAM resources rewrite the access list and drop authorised
    datasets: on the audit dataset, every grant is a google_bigquery_dataset_access entry."""
    on_audit = [
        address
        for address, body in module.resources.items()
        if address.startswith("google_bigquery_dataset_iam_")
        and body["dataset_id"] == "${google_bigquery_dataset.audit.dataset_id}"
    ]
    assert on_audit == []
    entries = module.of_type("google_bigquery_dataset_access")
    assert {"analyst_views", "function_edits_dataset"} <= set(entries)
