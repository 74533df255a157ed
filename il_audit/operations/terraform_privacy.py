"""The generated column-level access of the Terraform module (``infra/terraform``).

From the personal-data inventory (:mod:`il_audit.operations.privacy_inventory`):

- ``policy_tags/TABLE.json.tftpl``: the schema of ``events`` and ``dead_letters`` (the
  tables holding personal data) with a ``policyTags`` entry on each personal column, a
  ``templatefile()`` whose variables are the policy tags' ids by category. BigQuery takes
  at most one policy tag per field, and a tag goes on a leaf field: a RECORD's own
  subfields would carry it (no subfield of ``usage`` is personal, and
  :func:`tagged_schema` refuses a personal RECORD). JSON columns are leaves.
- ``privacy.tf``: a Data Catalog taxonomy with one policy tag per personal category, the
  readers' grants on them, the dataset of analyst views (each analytics view without its
  personal columns) authorised on the audit dataset, and the variables that govern them,
  including the dataset's time-travel window.

Everything here is written by :func:`il_audit.operations.terraform.write`, with the rest of
the generated module.
"""

from __future__ import annotations

import json
from typing import Any, Final

from il_audit.operations.privacy_inventory import analyst_columns, personal_columns
from il_audit.schemas.personal_data import Category
from il_audit.schemas.tables import TABLES

POLICY_TAGGED_TABLES: Final = ("events", "dead_letters")
"""The physical tables with personal columns (``cost_rates`` has none)."""
DEFAULT_MAX_TIME_TRAVEL_HOURS: Final = 48
"""The dataset's time-travel window: BigQuery's minimum (48 to 168 hours, 2 to 7 days;
the default without the setting is 168). Erased values stay readable this long."""
PERSONAL_CATEGORIES: Final = tuple(
    category for category in Category if category is not Category.NONE
)
FINE_GRAINED_READER: Final = "roles/datacatalog.categoryFineGrainedReader"
ANALYST_VIEWER: Final = "roles/bigquery.dataViewer"
CATEGORY_DESCRIPTIONS: Final = {
    Category.IDENTIFIER: "An id that points at one person (actor_uid, an owner's uid).",
    Category.CONTACT: "A name or e-mail address.",
    Category.PROFILE: "A fact about a person: department, title, team, tenure.",
    Category.NETWORK: "What the network and the browser say about a person: user agent, "
    "client address (keyed hash).",
    Category.BROWSING: "Where a person went: page paths.",
    Category.FREE_TEXT: "Text a person wrote or that quotes them: questions, prompts, "
    "comments, errors.",
    Category.FREE_FORM: "JSON whose keys the caller chooses (payload, metadata, before, after).",
    Category.DERIVED_HASH: "A hash of personal text: still personal data.",
}
"""The policy tags' descriptions (those of :class:`Category`'s members)."""


def policy_tag_id(category: Category) -> str:
    """The Terraform name (and ``templatefile`` variable) of ``category``'s policy tag."""
    return category.value


def _escape(text: str) -> str:
    # Terraform templates interpolate ${...} and run %{...}; keep any in descriptions literal.
    return text.replace("${", "$${").replace("%{", "%%{")


def tagged_schema(table: str) -> list[dict[str, Any]]:
    """``table``'s JSON schema with ``policyTags`` (a ``${category}`` placeholder) on each
    personal column."""
    spec = next(spec for spec in TABLES if spec.name == table)
    personal = personal_columns(table)
    fields: list[dict[str, Any]] = spec.schema_json()
    for field in fields:
        tag = personal.get(field["name"])
        if tag is None:
            continue
        if field["type"] in ("RECORD", "STRUCT"):
            raise ValueError(f"{table}.{field['name']}: tag its subfields, not the RECORD")
        field["policyTags"] = {"names": ["${" + policy_tag_id(tag.category) + "}"]}
    return fields


def schema_template(table: str) -> str:
    """``policy_tags/TABLE.json.tftpl``: :func:`tagged_schema` as a Terraform template."""
    text = json.dumps(tagged_schema(table), indent=2)
    # Escape the whole text, then let the placeholders interpolate again.
    escaped = _escape(text)
    for category in PERSONAL_CATEGORIES:
        placeholder = "${" + policy_tag_id(category) + "}"
        escaped = escaped.replace(_escape(placeholder), placeholder)
    return escaped + "\n"


def schema_expression(table: str) -> str:
    """What the table resource's ``schema`` is for a policy-tagged table."""
    return f'templatefile("${{path.module}}/policy_tags/{table}.json.tftpl", local.policy_tag_ids)'


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("${", "$${").replace("%{", "%%{")


def analyst_query(view: str) -> str | None:
    """The analyst view of ``view`` as an HCL string: its non-personal columns but the row
    salt (None when it has none)."""
    columns = analyst_columns(view)
    if not columns:
        return None
    selected = ", ".join(f"`{column}`" for column in columns)
    source = (
        "`${var.project_id}.${google_bigquery_dataset.audit.dataset_id}."
        f"${{google_bigquery_table.view_{view}.table_id}}`"
    )
    # Names from the inventory, not input: an HCL string of a fixed-shape SELECT.
    return '"' + f"SELECT {selected} FROM {source}" + '"'  # noqa: S608


def _block(header: str, pairs: list[tuple[str, str]], inner: list[str] | None = None) -> str:
    width = max(len(name) for name, _ in pairs)
    lines = [f"{header} {{", *(f"  {name.ljust(width)} = {value}" for name, value in pairs)]
    if inner:
        lines += ["", *inner]
    return "\n".join([*lines, "}"])


_VARIABLES: Final = (
    (
        "max_time_travel_hours",
        "Hours BigQuery keeps changed or deleted rows of the audit dataset readable (time "
        "travel; 48 to 168, in steps of 24). Erased values stay readable this long, then 7 "
        "more days in fail-safe (docs/privacy.md).",
        "number",
        str(DEFAULT_MAX_TIME_TRAVEL_HOURS),
    ),
    (
        "enforce_column_access",
        "Enforce the personal-data policy tags: only personal_data_readers and "
        "analyst_members may then read tagged columns, through views too (docs/privacy.md "
        "lists who needs it). Off: the tags classify but restrict nothing.",
        "bool",
        "false",
    ),
    (
        "personal_data_readers",
        "Members (user:, group:, serviceAccount:) granted Fine-Grained Reader on every "
        "personal-data policy tag: the people and jobs that run il-audit report, query, "
        "doctor or erase on BigQuery. The function writes without it.",
        "list(string)",
        "[]",
    ),
    (
        "analyst_dataset",
        "Dataset of the analyst views (each analytics view without its personal columns); "
        "empty: DATASET_analyst.",
        "string",
        '""',
    ),
    (
        "analyst_members",
        "Members granted dataViewer on the analyst dataset, and Fine-Grained Reader, which "
        "BigQuery checks for the user through views too (they have no access to the audit "
        "dataset itself).",
        "list(string)",
        "[]",
    ),
)
_TIME_TRAVEL_RULE: Final = (
    "var.max_time_travel_hours >= 48 && var.max_time_travel_hours <= 168 "
    "&& var.max_time_travel_hours % 24 == 0"
)


def _variables() -> list[str]:
    blocks = []
    for name, description, kind, default in _VARIABLES:
        inner = None
        if name == "max_time_travel_hours":
            inner = [
                "  validation {",
                f"    condition     = {_TIME_TRAVEL_RULE}",
                '    error_message = "max_time_travel_hours must be 48 to 168, a multiple of 24."',
                "  }",
            ]
        pairs = [("description", _quote(description)), ("type", kind), ("default", default)]
        blocks.append(_block(f'variable "{name}"', pairs, inner))
    return blocks


def _taxonomy_blocks() -> list[str]:
    blocks = [
        _block(
            'resource "google_data_catalog_taxonomy" "personal_data"',
            [
                ("project", "var.project_id"),
                # A policy tag must live in the dataset's location (lowercase: "eu", "us").
                ("region", "lower(var.dataset_location)"),
                ("display_name", '"${var.dataset} personal data"'),
                (
                    "description",
                    '"il-audit: columns that can hold personal data (docs/privacy.md)."',
                ),
                (
                    "activated_policy_types",
                    'var.enforce_column_access ? ["FINE_GRAINED_ACCESS_CONTROL"] : []',
                ),
            ],
            ["  depends_on = [google_project_service.apis]"],
        )
    ]
    for category in PERSONAL_CATEGORIES:
        blocks.append(
            _block(
                f'resource "google_data_catalog_policy_tag" "{policy_tag_id(category)}"',
                [
                    ("taxonomy", "google_data_catalog_taxonomy.personal_data.id"),
                    ("display_name", _quote(category.value)),
                    ("description", _quote(CATEGORY_DESCRIPTIONS[category])),
                ],
            )
        )
    return blocks


def _locals() -> str:
    ids = [
        f"    {policy_tag_id(category)} = google_data_catalog_policy_tag."
        f"{policy_tag_id(category)}.id"
        for category in PERSONAL_CATEGORIES
    ]
    width = max(len(line.split(" = ")[0]) for line in ids)
    aligned = [line.split(" = ")[0].ljust(width) + " = " + line.split(" = ")[1] for line in ids]
    return "\n".join(
        [
            "locals {",
            '  analyst_dataset = coalesce(var.analyst_dataset, "${var.dataset}_analyst")',
            "",
            "  # templatefile() variables of policy_tags/*.json.tftpl.",
            "  policy_tag_ids = {",
            *aligned,
            "  }",
            "",
            "  # Every (policy tag, member) pair granted Fine-Grained Reader.",
            "  fine_grained_readers = {",
            "    for pair in setproduct(keys(local.policy_tag_ids), "
            "distinct(concat(var.personal_data_readers, var.analyst_members))) :",
            '    "${pair[0]} ${pair[1]}" => '
            "{ tag = local.policy_tag_ids[pair[0]], member = pair[1] }",
            "  }",
            "}",
        ]
    )


def _access_blocks() -> list[str]:
    return [
        _block(
            'resource "google_data_catalog_policy_tag_iam_member" "fine_grained_readers"',
            [
                ("for_each", "local.fine_grained_readers"),
                ("policy_tag", "each.value.tag"),
                ("role", _quote(FINE_GRAINED_READER)),
                ("member", "each.value.member"),
            ],
        ),
        _block(
            'resource "google_bigquery_dataset" "analyst"',
            [
                ("project", "var.project_id"),
                ("dataset_id", "local.analyst_dataset"),
                ("location", "var.dataset_location"),
                (
                    "description",
                    '"il-audit analyst views: every analytics view without its personal '
                    'columns (docs/privacy.md)."',
                ),
                ("labels", "local.labels"),
            ],
            ["  depends_on = [google_project_service.apis]"],
        ),
        _block(
            'resource "google_bigquery_dataset_iam_member" "analyst_viewers"',
            [
                ("for_each", "toset(var.analyst_members)"),
                ("project", "var.project_id"),
                ("dataset_id", "google_bigquery_dataset.analyst.dataset_id"),
                ("role", _quote(ANALYST_VIEWER)),
                ("member", "each.key"),
            ],
        ),
        # The analyst dataset is authorised on the audit dataset: its views (and only views)
        # read the audit dataset with their own access, not their reader's.
        _block(
            'resource "google_bigquery_dataset_access" "analyst_views"',
            [
                ("project", "var.project_id"),
                ("dataset_id", "google_bigquery_dataset.audit.dataset_id"),
            ],
            [
                "  dataset {",
                "    dataset {",
                "      project_id = var.project_id",
                "      dataset_id = google_bigquery_dataset.analyst.dataset_id",
                "    }",
                '    target_types = ["VIEWS"]',
                "  }",
            ],
        ),
    ]


def analyst_views() -> dict[str, str]:
    """View name -> its analyst query (HCL string), for every view with a non-personal
    column."""
    from il_audit.sql import views

    queries = {view.name: analyst_query(view.name) for view in views()}
    return {name: query for name, query in queries.items() if query is not None}


def _analyst_view_blocks() -> list[str]:
    return [
        _block(
            f'resource "google_bigquery_table" "analyst_{name}"',
            [
                ("project", "var.project_id"),
                ("dataset_id", "google_bigquery_dataset.analyst.dataset_id"),
                ("table_id", _quote(name)),
                ("deletion_protection", "false"),
                ("labels", "local.labels"),
            ],
            ["  view {", f"    query          = {query}", "    use_legacy_sql = false", "  }"],
        )
        for name, query in analyst_views().items()
    ]


def privacy_tf(header: str) -> str:
    """``privacy.tf``: variables, taxonomy and policy tags, grants, the analyst dataset."""
    blocks = [
        *_variables(),
        _locals(),
        *_taxonomy_blocks(),
        *_access_blocks(),
        *_analyst_view_blocks(),
    ]
    return header + "\n" + "\n\n".join(blocks) + "\n"


def generated_files() -> dict[str, str]:
    """``privacy.tf`` is added by the caller (it needs the module's header); the templates."""
    return {
        f"policy_tags/{table}.json.tftpl": schema_template(table) for table in POLICY_TAGGED_TABLES
    }
