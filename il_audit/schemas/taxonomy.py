"""Event types: dotted strings persisted forever. Append new ones; never rename.

The constants below are the built-in taxonomy. Host apps add their own types
with :func:`register` (or ``IL_AUDIT_EXTRA_EVENT_TYPES`` in the environment,
which the subscriber must share), and check membership with :func:`is_known`.
:data:`BEACON_EVENT_TYPES` are the built-in types a browser may send; hosts add
their own under ``ui.`` with :func:`register_beacon_types`, and the beacon
router accepts exactly what :func:`is_beacon_type` says.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from il_audit.schemas.errors import InvalidEventTypeError

# --- Auth -------------------------------------------------------------------
AUTH_LOGIN_SUCCEEDED = "auth.login.succeeded"
AUTH_LOGIN_FAILED = "auth.login.failed"
AUTH_LOGOUT = "auth.logout"

# --- User profile -----------------------------------------------------------
USER_SETTINGS_UPDATED = "user.settings.updated"

# --- Config -----------------------------------------------------------------
CONFIG_PROMPT_UPDATED = "config.prompt.updated"
CONFIG_SCHEDULED_TASK_UPDATED = "config.scheduled_task.updated"
CONFIG_SCHEDULED_TASK_RUN = "config.scheduled_task.run"

# --- Ingest -----------------------------------------------------------------
INGEST_JOB_STARTED = "ingest.job.started"
INGEST_JOB_COMPLETED = "ingest.job.completed"
INGEST_JOB_FAILED = "ingest.job.failed"
INGEST_FILE_INDEXED = "ingest.file.indexed"
INGEST_FILE_FAILED = "ingest.file.failed"
INGEST_FILE_SKIPPED = "ingest.file.skipped"
INGEST_PREFLIGHT = "ingest.preflight"

# --- Drive ------------------------------------------------------------------
DRIVE_OAUTH_CONNECTED = "drive.oauth.connected"
DRIVE_OAUTH_DISCONNECTED = "drive.oauth.disconnected"
DRIVE_SELECTION_CREATED = "drive.selection.created"
DRIVE_SELECTION_DELETED = "drive.selection.deleted"
DRIVE_CONSENT_GRANTED = "drive.consent.granted"
DRIVE_PIPELINE_STATUS_CHANGED = "drive.pipeline.status_changed"
DRIVE_SYNC_EVENT = "drive.sync.event"

# --- UI beacons: the only types a browser may send ---------------------------
UI_TAB_VIEWED = "ui.tab.viewed"
UI_DRIVE_SEARCH = "ui.drive.search"
UI_CONSENT_MODAL_OPENED = "ui.consent.modal_opened"
UI_CONSENT_SUBMITTED = "ui.consent.submitted"
UI_CHAT_SESSION_STARTED = "ui.chat.session.started"
UI_CHAT_SESSION_ENDED = "ui.chat.session.ended"
UI_CHAT_SOURCE_ATTACHED = "ui.chat.source.attached"
UI_CHAT_NEW_CHAT = "ui.chat.new_chat.clicked"

# --- Chat (server side) -----------------------------------------------------
CHAT_TURN_SUCCEEDED = "chat.turn.succeeded"
CHAT_TURN_FAILED = "chat.turn.failed"
CHAT_SESSION_STARTED = "chat.session.started"
CHAT_SESSION_ENDED = "chat.session.ended"

# --- Cost usage -------------------------------------------------------------
API_USAGE_RECORDED = "cost.api.usage"
RESOURCE_USAGE_RECORDED = "cost.resource.usage"

# --- Added with the seed's 1.0 line (appended; the values above never change) --
AUTH_ACCESS_DENIED = "auth.access.denied"
AUTH_ACCESS_CONTROL_CHANGED = "auth.access_control.changed"

LIBRARY_TAG_CHANGED = "library.tag.changed"
LIBRARY_ACCESS_CHANGED = "library.access.changed"
LIBRARY_OWNERSHIP_CHANGED = "library.ownership.changed"
LIBRARY_FILE_DELETED = "library.file.deleted"
LIBRARY_CONSENT_REFRESHED = "library.consent.refreshed"
LIBRARY_REPORT_ACKNOWLEDGED = "library.report.acknowledged"

UI_CHAT_VISIT_STARTED = "ui.chat.visit.started"
UI_CHAT_VISIT_ENDED = "ui.chat.visit.ended"
UI_VISIT_STARTED = "ui.visit.started"
UI_VISIT_ENDED = "ui.visit.ended"
UI_CHAT_CONVERSATION_STARTED = "ui.chat.conversation.started"
UI_CHAT_CONVERSATION_ENDED = "ui.chat.conversation.ended"
UI_CHAT_SOURCE_OPENED = "ui.chat.source.opened"
UI_CHAT_LIBRARY_FILE_ATTACHED = "ui.chat.library.file.attached"
UI_CHAT_CONTENT_REPORTED = "ui.chat.content.reported"
UI_CHAT_FEEDBACK_SUBMITTED = "ui.chat.feedback.submitted"
UI_ELEMENT_CLICKED = "ui.element.clicked"
UI_FILTER_CHANGED = "ui.filter.changed"
UI_FORM_SUBMITTED = "ui.form.submitted"
UI_MENU_OPENED = "ui.menu.opened"
UI_NAV_EXTERNAL_CLICKED = "ui.nav.external_clicked"
UI_TOUR_STARTED = "ui.tour.started"
UI_TOUR_STEP_VIEWED = "ui.tour.step.viewed"
UI_TOUR_COMPLETED = "ui.tour.completed"
UI_TOUR_DEFERRED = "ui.tour.deferred"
UI_TOUR_PAUSED = "ui.tour.paused"

CHAT_VISIT_STARTED = "chat.visit.started"
CHAT_VISIT_ENDED = "chat.visit.ended"
CHAT_OUT_OF_SCOPE = "chat.out_of_scope"

# --- Added by il-audit (the seed's 1.0 wrote these rows without an event type) --
CHAT_MODEL_CALL_TEXT = "chat.model_call.text"
"""Prompt and completion of one model call; opt-in (IL_AUDIT_STORE_MODEL_CALL_TEXT)."""
CHAT_RETRIEVAL_CANDIDATE = "chat.retrieval.candidate"
"""One candidate document of a turn's retrieval at one stage (1.0.35's retrieval_candidates row)."""
CHAT_RETRIEVAL_CHUNK = "chat.retrieval.chunk"
"""One retrieved chunk of a turn at one stage (1.0.35's retrieval_chunks row); no chunk text."""
CHAT_RETRIEVAL_PASS = "chat.retrieval.pass"  # noqa: S105 - an event type, not a password
"""The settings of one search pass of a turn (1.0.35's retrieval_passes row)."""
CHAT_MODEL_CALL_TEXT_PART = "chat.model_call.text.part"
"""One part of a model call's text too long for its event (``text_id``, ``part_index``)."""
CHAT_FEEDBACK = "chat.feedback"
"""A user's verdict on one turn (``emit_chat_feedback``): a name and a number, boolean or label."""
UI_CHAT_FEEDBACK = "ui.chat.feedback"
"""The same verdict sent by a page through the beacon router (``turn_id``, ``name``, ``value``)."""
AUDIT_PUBLISHER_HEARTBEAT = "audit.publisher.heartbeat"
"""A publisher instance's counters, every IL_AUDIT_HEARTBEAT_SECONDS and at shutdown; the
``pipeline_completeness`` view reads them (``docs/completeness.md``)."""

# --- il-audit's own operations (written by the operator CLI, never by apps) ---
AUDIT_ERASURE_COMPLETED = "audit.erasure.completed"
"""``il-audit erase`` ran: operator, reason, rows per table and the subject's keyed hash."""

BEACON_EVENT_TYPES: frozenset[str] = frozenset(
    {
        UI_TAB_VIEWED,
        UI_DRIVE_SEARCH,
        UI_CONSENT_MODAL_OPENED,
        UI_CONSENT_SUBMITTED,
        UI_CHAT_SESSION_STARTED,
        UI_CHAT_SESSION_ENDED,
        UI_CHAT_SOURCE_ATTACHED,
        UI_CHAT_NEW_CHAT,
        UI_CHAT_VISIT_STARTED,
        UI_CHAT_VISIT_ENDED,
        UI_VISIT_STARTED,
        UI_VISIT_ENDED,
        UI_CHAT_CONVERSATION_STARTED,
        UI_CHAT_CONVERSATION_ENDED,
        UI_CHAT_SOURCE_OPENED,
        UI_CHAT_LIBRARY_FILE_ATTACHED,
        UI_CHAT_CONTENT_REPORTED,
        UI_CHAT_FEEDBACK_SUBMITTED,
        UI_ELEMENT_CLICKED,
        UI_FILTER_CHANGED,
        UI_FORM_SUBMITTED,
        UI_MENU_OPENED,
        UI_NAV_EXTERNAL_CLICKED,
        UI_TOUR_STARTED,
        UI_TOUR_STEP_VIEWED,
        UI_TOUR_COMPLETED,
        UI_TOUR_DEFERRED,
        UI_TOUR_PAUSED,
        UI_CHAT_FEEDBACK,
    }
)
"""The built-in types a browser may send through the beacon router (29)."""

BUILTIN_EVENT_TYPES: frozenset[str] = frozenset(
    value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and "." in value
)

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""Lowercase dotted names with at least two segments, e.g. ``billing.invoice.sent``."""

MAX_EVENT_TYPE_LENGTH = 128

BEACON_NAMESPACE = "ui."
"""Host beacon types live under ``ui.``: the namespace the warehouse reads as UI interactions."""

_lock = threading.Lock()
_registered: frozenset[str] = frozenset()
_registered_prefixes: tuple[str, ...] = ()
_beacon_registered: frozenset[str] = frozenset()
_beacon_prefixes: tuple[str, ...] = ()


def check_name(event_type: str) -> str:
    """Return ``event_type`` if well formed, else raise :class:`InvalidEventTypeError`."""
    if (
        not isinstance(event_type, str)
        or len(event_type) > MAX_EVENT_TYPE_LENGTH
        or not EVENT_TYPE_PATTERN.match(event_type)
    ):
        raise InvalidEventTypeError(
            f"event type {event_type!r} is not lowercase dotted "
            f"(like 'billing.invoice.sent', at most {MAX_EVENT_TYPE_LENGTH} characters)"
        )
    return event_type


def register(*event_types: str) -> None:
    """Accept host-defined event types in this process, e.g. ``register("billing.invoice.sent")``.

    A name ending in ``.*`` registers a whole prefix. Registering a built-in or an
    already registered name is harmless. The subscriber learns host types from
    ``IL_AUDIT_EXTRA_EVENT_TYPES``, so set that variable in the function too.
    """
    global _registered, _registered_prefixes
    names: set[str] = set()
    prefixes: set[str] = set()
    for event_type in event_types:
        if event_type.endswith(".*"):
            prefix = event_type[:-2]
            check_name(prefix + ".x")
            prefixes.add(prefix + ".")
        else:
            names.add(check_name(event_type))
    with _lock:
        _registered = _registered | names
        _registered_prefixes = tuple(sorted(set(_registered_prefixes) | prefixes))


def register_many(event_types: Iterable[str]) -> None:
    """Register every name of ``event_types`` (see :func:`register`)."""
    register(*event_types)


def register_beacon_types(*event_types: str) -> None:
    """Let browsers send these host types through the beacon router, e.g. ``"ui.billing.viewed"``.

    Each name must lie under ``ui.``; ``"ui.billing.*"`` accepts a whole
    namespace below it (``"ui.*"`` is refused: name the namespace you own).
    The names are also registered as known event types (:func:`register`),
    so the publisher accepts them; the subscriber learns them from
    ``IL_AUDIT_EXTRA_EVENT_TYPES`` as for any host type.
    """
    global _beacon_registered, _beacon_prefixes
    names: set[str] = set()
    prefixes: set[str] = set()
    for event_type in event_types:
        is_prefix = isinstance(event_type, str) and event_type.endswith(".*")
        stem = event_type[:-2] if is_prefix else event_type
        if not isinstance(stem, str) or not stem.startswith(BEACON_NAMESPACE):
            raise InvalidEventTypeError(
                f"beacon type {event_type!r} must lie under {BEACON_NAMESPACE!r} "
                "(like 'ui.billing.viewed' or 'ui.billing.*')"
            )
        if is_prefix:
            prefixes.add(stem + ".")
        else:
            names.add(event_type)
    register(*event_types)
    with _lock:
        _beacon_registered = _beacon_registered | names
        _beacon_prefixes = tuple(sorted(set(_beacon_prefixes) | prefixes))


def unregister_all() -> None:
    """Forget every host-registered type, beacon types included (tests)."""
    global _registered, _registered_prefixes, _beacon_registered, _beacon_prefixes
    with _lock:
        _registered = frozenset()
        _registered_prefixes = ()
        _beacon_registered = frozenset()
        _beacon_prefixes = ()


def is_known(event_type: str) -> bool:
    """True for built-in types, registered names and names under a registered prefix."""
    if event_type in BUILTIN_EVENT_TYPES or event_type in _registered:
        return True
    return any(event_type.startswith(prefix) for prefix in _registered_prefixes)


def known_event_types() -> frozenset[str]:
    """Built-in plus registered names (registered prefixes are not expanded)."""
    return BUILTIN_EVENT_TYPES | _registered


def is_beacon_type(event_type: str) -> bool:
    """True for the built-in beacon types and host types registered as beacon types."""
    if event_type in BEACON_EVENT_TYPES or event_type in _beacon_registered:
        return True
    return any(event_type.startswith(prefix) for prefix in _beacon_prefixes)


def beacon_event_types() -> frozenset[str]:
    """Built-in plus registered beacon names (registered prefixes are not expanded)."""
    return BEACON_EVENT_TYPES | _beacon_registered
