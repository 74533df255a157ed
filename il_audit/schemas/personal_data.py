"""The personal-data inventory: which columns and payload fields can hold personal data.

One tag per column name (:data:`COLUMN_TAGS`), the same wherever the name appears (the
``events`` and ``dead_letters`` tables, the ``legacy_*`` tables a migration left, every
view), and a few per relation where a name means something else there
(:data:`RELATION_TAGS`). Most of what analysts see comes out of ``payload`` JSON paths in
the views, and those view columns are named like the payload keys they read, so the same
names tag the payload's keys too (:func:`scrub_json`).

Three readers, one inventory:

- ``docs/privacy.md`` is generated from it (which columns, stored how, under which
  setting, and what erasure does to each);
- the privacy tests: a column of any table or view without a tag fails a test, so a new
  view column must be classified before it ships;
- ``il-audit erase`` (what it removes: :attr:`PersonalData.on_erase`) and the BigQuery
  column-level access (policy tags on the personal columns, an authorised dataset of views
  without them).

A tag says what a column *can* hold. Whether it holds it depends on the settings named
in :attr:`PersonalData.setting` (question text only with ``IL_AUDIT_STORE_QUERY_TEXT``,
for example).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from il_audit.schemas.errors import UntaggedColumnError


class Category(StrEnum):
    """What kind of personal data a column can hold."""

    NONE = "none"
    """Not personal data: ids of events and activities, types, times, counts, costs."""
    IDENTIFIER = "identifier"
    """An id that points at one person (``actor_uid``, an owner's uid)."""
    CONTACT = "contact"
    """A name or e-mail address."""
    PROFILE = "profile"
    """A fact about a person: department, title, team, tenure."""
    NETWORK = "network"
    """What the network and the browser say about a person: user agent, client address."""
    BROWSING = "browsing"
    """Where a person went: page paths (which may carry ids of what they looked at)."""
    FREE_TEXT = "free_text"
    """Text a person wrote or that quotes them: questions, prompts, comments, errors."""
    FREE_FORM = "free_form"
    """JSON whose keys the caller chooses (``payload``, ``metadata``, ``before``, ``after``)."""
    DERIVED_HASH = "derived_hash"
    """A hash of personal text: still personal data (a guess can be confirmed)."""


class Stored(StrEnum):
    """How a column's personal data is stored."""

    PLAIN = "plain"
    HASHED = "hashed"
    """Plain SHA-256 (0.1.3's ``question_sha256``): a short text can be guessed back."""
    KEYED_HASH = "keyed_hash"
    """HMAC-SHA-256 under ``IL_AUDIT_HASH_KEY``; absent without a key."""
    TEXT_IF_ENABLED = "text_if_enabled"
    """The text only when its setting is on; otherwise its length and hash."""
    MIXED = "mixed"
    """JSON: each key is stored as its own name's tag says."""


class OnErase(StrEnum):
    """What ``il-audit erase`` does to a column in the rows of the person it erases."""

    KEEP = "keep"
    NULL = "null"
    PSEUDONYMISE = "pseudonymise"
    """Replaced by the erasure's pseudonym (``erased:<erasure id>``): counts of distinct
    actors still count the person once, nobody can tell who it was."""
    SCRUB = "scrub"
    """JSON: every key whose name is not tagged :attr:`Category.NONE` is removed
    (:func:`scrub_json`); keys nobody tagged are removed too."""


@dataclass(frozen=True, slots=True)
class PersonalData:
    """The tag of one column: what it can hold, how it is stored, what erasure does."""

    category: Category
    stored: Stored = Stored.PLAIN
    setting: str | None = None
    """The setting that decides whether (or how) it is stored, e.g. ``IL_AUDIT_HASH_KEY``."""
    on_erase: OnErase = OnErase.KEEP

    @property
    def personal(self) -> bool:
        """Whether the column can hold personal data."""
        return self.category is not Category.NONE


NOT_PERSONAL: Final = PersonalData(Category.NONE)
_STORE_QUERY_TEXT: Final = "IL_AUDIT_STORE_QUERY_TEXT"
_STORE_MODEL_CALL_TEXT: Final = "IL_AUDIT_STORE_MODEL_CALL_TEXT"
_HASH_KEY: Final = "IL_AUDIT_HASH_KEY"
_PSEUDONYMIZE_EMAIL: Final = "IL_AUDIT_PSEUDONYMIZE_EMAIL"


def _tags(tag: PersonalData, names: str) -> dict[str, PersonalData]:
    return dict.fromkeys(names.split(), tag)


_PERSONAL: Final[dict[str, PersonalData]] = {
    "actor_uid": PersonalData(Category.IDENTIFIER, on_erase=OnErase.PSEUDONYMISE),
    **_tags(
        PersonalData(Category.IDENTIFIER, on_erase=OnErase.NULL),
        # resource_id: on user_profile.* events the resource is the user.
        "acknowledged_by_uid file_owner_uid reporter_uid employee_ukg_id resource_id",
    ),
    "actor_email": PersonalData(
        Category.CONTACT, Stored.PLAIN, _PSEUDONYMIZE_EMAIL, on_erase=OnErase.NULL
    ),
    **_tags(
        PersonalData(Category.CONTACT, on_erase=OnErase.NULL),
        "acknowledged_by_email employee_email file_owner_email google_email recipient_email "
        "reporter_email cc_emails employee_full_name consent_operator_label",
    ),
    **_tags(
        PersonalData(Category.PROFILE, on_erase=OnErase.NULL),
        "employee_company employee_department employee_site employee_tenure_years "
        "employee_title recipient_team recipient_title reporter_team file_owner_team",
    ),
    "user_agent": PersonalData(Category.NETWORK, on_erase=OnErase.NULL),
    "client_address_hash": PersonalData(
        Category.NETWORK, Stored.KEYED_HASH, _HASH_KEY, on_erase=OnErase.NULL
    ),
    **_tags(PersonalData(Category.BROWSING, on_erase=OnErase.NULL), "path page_path target_path"),
    **_tags(
        PersonalData(
            Category.FREE_TEXT, Stored.TEXT_IF_ENABLED, _STORE_QUERY_TEXT, on_erase=OnErase.NULL
        ),
        "question retrieval_query answer_excerpt feedback_comment comment",
    ),
    **_tags(
        PersonalData(
            Category.FREE_TEXT, Stored.TEXT_IF_ENABLED, _STORE_MODEL_CALL_TEXT, OnErase.NULL
        ),
        # text: a chat.model_call.text.part event's slice of a prompt or completion.
        "prompt completion text",
    ),
    **_tags(
        PersonalData(Category.FREE_TEXT, on_erase=OnErase.NULL),
        # reason and comparison_focus: a classifier's words about a question, often quoting it.
        "conversation_title subject_summary acknowledgment_note error error_traceback issue "
        "reason comparison_focus raw_line",
    ),
    **_tags(
        # Plain SHA-256, written only while IL_AUDIT_HASH_KEY is unset (with a key, the
        # *_hmac column instead): the setting decides whether it is there.
        PersonalData(Category.DERIVED_HASH, Stored.HASHED, _HASH_KEY, OnErase.NULL),
        "question_sha256 comment_sha256 feedback_comment_sha256",
    ),
    **_tags(
        PersonalData(Category.DERIVED_HASH, Stored.KEYED_HASH, _HASH_KEY, OnErase.NULL),
        "question_hmac comment_hmac feedback_comment_hmac",
    ),
    # audit.erasure.completed (il-audit erase): who ran it, and whom it erased, by keyed
    # hash; the record is kept (an erasure must stay provable).
    "operator": PersonalData(Category.CONTACT, on_erase=OnErase.NULL),
    "subject_hash": PersonalData(Category.DERIVED_HASH, Stored.KEYED_HASH, _HASH_KEY),
    # The e-mail's pseudonym: keyed under IL_AUDIT_HASH_KEY, written only with this setting.
    "actor_email_hmac": PersonalData(
        Category.DERIVED_HASH, Stored.KEYED_HASH, _PSEUDONYMIZE_EMAIL, OnErase.NULL
    ),
    # Not personal (random bytes), but erasure removes it with the person's values: with
    # the salt gone, nobody can confirm a guessed value by re-hashing the row.
    "row_salt": PersonalData(Category.NONE, on_erase=OnErase.NULL),
    **_tags(
        PersonalData(Category.FREE_FORM, Stored.MIXED, on_erase=OnErase.SCRUB),
        "payload metadata before after after_json before_json metadata_json settings_json",
    ),
}

# Every other column name of every table and view (and payload key a view reads), classified
# one by one: a name missing from both lists fails tests/unit/schemas/test_personal_data.py.
_NOT_PERSONAL_NAMES: Final = """
accepted_events acknowledged_at action active_users actors api_cost_usd app app_version
application assistant_message_count attached_source_count attempt attributes batch_id
build_error cache_write_price_per_1m_tokens cached_input_price_per_1m_tokens cached_tokens
call_id calls candidate_id category channel_key chunk_count chunk_id chunk_row_id
chunk_text_sha256 chunks_written comment_length completion_truncated
consent_version content_department content_sha256 content_type context_mode
conversation_count conversation_id correlation_id correlation_type cost_usd day
dead_letter_id dead_lettered dead_lettered_builder_failed dead_lettered_empty_message
dead_lettered_internal_error dead_lettered_invalid_json dead_lettered_malformed_attributes
dead_lettered_malformed_data dead_lettered_malformed_message dead_lettered_other
dead_lettered_oversize dead_lettered_schema_violation dead_lettered_sink_rejected
dead_lettered_too_many_lines dead_lettered_too_many_rejects dead_lettered_undecodable
dead_lettered_unknown_event_type dead_letters deletion_requested delivery_attempt
detection_method dismissed_early document_id document_pin_count drive_file_id
drive_modified_at drive_revision_id duration_ms duration_seconds effective_from
elapsed_seconds element_id email_task_name ended_at ended_reason environment error_class
error_detail error_type escalation_level estimated_cost_usd event_category event_id
event_type events events_with_usage failed_logins failure_ratio fallback_items feedback_id
file_name files_completed files_failed finish_reason first_event_at first_failure_at
first_notified_at first_seen flag_type gcs_bytes_staged had_multi_turn history_turn_count
hour include_hidden_slides ingest_consent_version ingest_pipeline ingest_status ingested_at
ingestion_type input_price_per_1m_tokens input_tokens interaction is_negative is_reingest
items job_id keyword_rank keyword_score last_activity_at last_event_at last_failure_at
last_notified_at last_seen latency_ms latency_ms_llm latency_ms_retrieval latency_ms_total
line_index llm_model loaded_at logged_at login_provider message_count message_id mode
model_calls model_id module name next_reminder_at no_docs notification_batch_id
notification_count notification_id notification_type notified_at occurred_at operation
otherwise_asked output_price_per_1m_tokens output_tokens p50_delay_seconds p99_delay_seconds
partially_priced_events pass_id passage_index passage_pin_count passage_scope
previous_ingested_at priced_events priced_items pricing_source pricing_status pricing_tier
pricing_version prompt_source prompt_truncated publish_time quantity question_length rank
rate_effective_from rate_tier rate_version rating raw_bytes raw_sha256 raw_truncated
received_at related_id relevance_percentile relevant_year reminder_phase report_id
report_target repriced_cost_usd request_id rerank_score rerank_status resource_cost_usd
resource_type response_type result_count retrieval_hit_count rows_shown rows_total rrf_score
sample_detail schema_version score search_pass search_scope selection_id semantic_distance
semantic_rank send_id sent_at sequence service session_id signal skipped_via_new_chat source
source_file source_uri source_url sources_json sources_returned_count stage started_at
status status_after status_before stored_cost_usd stored_pricing_source stored_rate_version
succeeded successful_logins summary_scope surface temperature thinking_level thought_tokens
time_saved time_to_first_token_ms tokens_embedding tokens_estimated tokens_summary
tokens_tagging tokens_total tokens_vision total_api_cost_usd total_cost_usd
total_input_tokens total_output_tokens total_resource_cost_usd total_tokens trace_id
turn_api_cost_usd turn_count turn_id turn_index turn_input_tokens turn_output_tokens
turn_status unit unit_price unknown_fields unpriced_events unpriced_items unpriced_share
usage usage_api_cost_usd usage_id usage_items usage_resource_cost_usd usage_tokens
used_attached_only user_message_count value_bool value_label value_number value_type
visible_slide_index visit_session_id workflow
prompt_parts completion_parts part_index sources
negative feedback_comment_length text_id text_field part_count
erasure_id subject_kind pseudonym engine rows_by_table rows_pending
publisher_instance_id publisher_sequence first_sequence last_sequence expected stored missing
dropped_reported failed_reported gap last_heartbeat_at heartbeat_final accepted published
invalid failed dropped spooled drained pending final interval_seconds
row_hash erased_by
"""

COLUMN_TAGS: Final[Mapping[str, PersonalData]] = {
    **dict.fromkeys(_NOT_PERSONAL_NAMES.split(), NOT_PERSONAL),
    **_PERSONAL,
}
"""Column (or payload key) name -> its tag, wherever the name appears."""

_PLAIN_FREE_TEXT: Final = PersonalData(Category.FREE_TEXT, on_erase=OnErase.NULL)
RELATION_TAGS: Final[Mapping[tuple[str, str], PersonalData]] = {
    # 1.0.35's content_reports rows were written by the host app itself (the library had
    # no builder for them), so no il-audit setting ever governed these texts: plain.
    ("content_reports", "comment"): _PLAIN_FREE_TEXT,
    ("content_reports", "answer_excerpt"): _PLAIN_FREE_TEXT,
    ("content_reports", "question_sha256"): PersonalData(
        Category.DERIVED_HASH, Stored.HASHED, on_erase=OnErase.NULL
    ),
}
"""``(table or view, column)`` -> its tag, where a name means something else there."""


def personal_data(relation: str, column: str) -> PersonalData:
    """The tag of ``column`` in the table or view ``relation``.

    A ``legacy_<name>`` table (what a migration kept) has the tags of ``<name>``'s columns.
    Raises :class:`UntaggedColumnError` for a column nobody classified.
    """
    base = relation.removeprefix("legacy_")
    tag = RELATION_TAGS.get((base, column)) or COLUMN_TAGS.get(column)
    if tag is None:
        raise UntaggedColumnError(
            f"{relation}.{column} has no personal-data tag: classify it in "
            "il_audit/schemas/personal_data.py"
        )
    return tag


def scrub_json(value: Any) -> Any:
    """A JSON object without the keys that can hold personal data (for erasure).

    Keeps the top-level keys tagged :attr:`Category.NONE` and their values as they are;
    removes every other key, including keys nobody tagged (the safe side: an app's own
    payload fields are removed unless their names are in the inventory). Anything that is
    not an object becomes ``None``: a list or a bare string cannot be told apart.
    """
    if not isinstance(value, dict):
        return None
    return {
        key: item
        for key, item in value.items()
        if (tag := COLUMN_TAGS.get(key)) is not None and not tag.personal
    }
