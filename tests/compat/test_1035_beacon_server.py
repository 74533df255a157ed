"""A beacon host written for il-audit 1.0.35 runs unchanged: module paths, signatures,
constants, the login-surface rule, the visit and conversation handlers, the ui.* types.

Names, signatures, defaults and rules come from the facts sheet of 1.0.35
(`reference-api-facts.md` §5.1, 5.3, 5.8, 5.9, 5.10, 5.17 and Appendix A),
never from il-audit's code. A signature matches when every 1.0.35 parameter is
there with its kind and default, the positional ones in 1.0.35's order;
il-audit may add keyword-only parameters with defaults.
"""

from __future__ import annotations

import importlib
import inspect
import uuid
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

import il_audit
from il_audit.beacon_router import create_beacon_router
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events

P = inspect.Parameter
REQUIRED = P.empty
KW = P.KEYWORD_ONLY
POS = P.POSITIONAL_OR_KEYWORD
CTX = AuditContext(app="chat", actor_uid="u-1")

SIGNATURES: dict[str, list[tuple[str, Any, Any]]] = {
    "il_audit.beacon_auth.referer_page_path": [("request", POS, REQUIRED)],
    "il_audit.beacon_auth.request_page_path": [("request", POS, REQUIRED)],
    "il_audit.beacon_auth.is_login_surface_beacon_batch": [
        ("events", POS, REQUIRED), ("referer_path", KW, None),
    ],
    "il_audit.beacon_auth.is_login_surface_beacon_request": [
        ("body", POS, REQUIRED), ("referer_path", KW, None),
    ],
    "il_audit.beacon_auth.enrich_beacon_events_with_path": [
        ("events", POS, REQUIRED), ("page_path", KW, REQUIRED),
    ],
    "il_audit.beacon_conversation.handle_conversation_beacon_events": [
        ("context", POS, REQUIRED), ("events", POS, REQUIRED),
    ],
    "il_audit.handle_visit_session_beacon_events": [
        ("context", POS, REQUIRED), ("events", POS, REQUIRED),
    ],
    "il_audit.emit_chat_visit_session": [
        ("context", KW, "any"), ("visit_session_id", KW, REQUIRED), ("started", KW, True),
        ("metadata", KW, None), ("fields", P.VAR_KEYWORD, REQUIRED),
    ],
    "il_audit.beacon_router.create_beacon_router": [
        ("app_name", KW, REQUIRED), ("get_context", KW, REQUIRED), ("require_auth", KW, None),
        ("on_events_scheduled", KW, None),
    ],
}  # fmt: skip
"""A default of "any": 1.0.35 requires it; ours has one."""


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("path", sorted(SIGNATURES))
def test_signatures_take_1_0_35_s_parameters(path: str) -> None:
    parameters = list(inspect.signature(_resolve(path)).parameters.values())
    theirs = SIGNATURES[path]
    ours = {p.name: p for p in parameters}
    assert [p.name for p in parameters if p.kind == POS] == [n for n, k, _ in theirs if k == POS]
    for name, kind, default in theirs:
        assert name in ours, (path, name)
        assert ours[name].kind == kind, (path, name)
        if default != "any":
            assert ours[name].default == default, (path, name)
    for extra in (p for p in parameters if p.name not in {n for n, *_ in theirs}):
        assert extra.kind == KW, (path, extra.name)
        assert extra.default is not P.empty, (path, extra.name)


def test_root_names_and_module_paths() -> None:
    """§5.1's root names of this part, and the two 1.0.35 modules."""
    for name in ("emit_chat_visit_session", "handle_visit_session_beacon_events"):
        assert name in il_audit.__all__
        assert callable(getattr(il_audit, name))
    auth = importlib.import_module("il_audit.beacon_auth")
    assert auth.LOGIN_SURFACE == "auth_login"
    assert auth.LOGIN_PAGE_ELEMENT_ID == "login_page"
    assert {"google_sign_in", "microsoft_sign_in"} == auth.LOGIN_PROVIDER_ELEMENT_IDS
    assert {"ui.tab.viewed", "ui.element.clicked"} == auth.LOGIN_SURFACE_EVENT_TYPES
    assert auth.AUDIT_PATH_HEADER == "x-il-audit-path"
    conversation = importlib.import_module("il_audit.beacon_conversation")
    assert callable(conversation.handle_conversation_beacon_events)


UI_CONSTANTS = {
    "UI_CHAT_VISIT_STARTED": "ui.chat.visit.started",
    "UI_CHAT_VISIT_ENDED": "ui.chat.visit.ended",
    "UI_VISIT_STARTED": "ui.visit.started",
    "UI_VISIT_ENDED": "ui.visit.ended",
    "UI_CHAT_CONVERSATION_STARTED": "ui.chat.conversation.started",
    "UI_CHAT_CONVERSATION_ENDED": "ui.chat.conversation.ended",
    "UI_CHAT_SOURCE_OPENED": "ui.chat.source.opened",
    "UI_CHAT_LIBRARY_FILE_ATTACHED": "ui.chat.library.file.attached",
    "UI_CHAT_CONTENT_REPORTED": "ui.chat.content.reported",
    "UI_CHAT_FEEDBACK_SUBMITTED": "ui.chat.feedback.submitted",
    "UI_ELEMENT_CLICKED": "ui.element.clicked",
    "UI_FILTER_CHANGED": "ui.filter.changed",
    "UI_FORM_SUBMITTED": "ui.form.submitted",
    "UI_MENU_OPENED": "ui.menu.opened",
    "UI_NAV_EXTERNAL_CLICKED": "ui.nav.external_clicked",
    "UI_TOUR_STARTED": "ui.tour.started",
    "UI_TOUR_STEP_VIEWED": "ui.tour.step.viewed",
    "UI_TOUR_COMPLETED": "ui.tour.completed",
    "UI_TOUR_DEFERRED": "ui.tour.deferred",
    "UI_TOUR_PAUSED": "ui.tour.paused",
}
SEED_0_1_BEACON_TYPES = {
    "ui.tab.viewed", "ui.drive.search", "ui.consent.modal_opened", "ui.consent.submitted",
    "ui.chat.session.started", "ui.chat.session.ended", "ui.chat.source.attached",
    "ui.chat.new_chat.clicked",
}  # fmt: skip
BEACON_TYPES_1_0_35 = SEED_0_1_BEACON_TYPES | set(UI_CONSTANTS.values())


def test_taxonomy_constants_and_the_28_beacon_types() -> None:
    """§5.3: the ui.* and chat.visit.* constants; BEACON_EVENT_TYPES holds 1.0.35's 28
    (plus il-audit's own ui.chat.feedback, the feedback beacon)."""
    taxonomy = il_audit.taxonomy
    for name, value in {**UI_CONSTANTS, "CHAT_VISIT_STARTED": "chat.visit.started",
                        "CHAT_VISIT_ENDED": "chat.visit.ended"}.items():  # fmt: skip
        assert getattr(taxonomy, name) == value, name
        assert taxonomy.is_known(value), value
    assert len(BEACON_TYPES_1_0_35) == 28
    assert {"ui.chat.feedback"} == taxonomy.BEACON_EVENT_TYPES - BEACON_TYPES_1_0_35
    assert BEACON_TYPES_1_0_35 <= taxonomy.BEACON_EVENT_TYPES


def _router_app(**options: Any) -> TestClient:
    app = FastAPI()
    app.include_router(create_beacon_router(app_name="chat", get_context=lambda _r: CTX,
                                            **options))  # fmt: skip
    return TestClient(app)


def _login_only(request: Request, body: Any) -> None:
    """A 1.0.35 host's require_auth(request, body): the login page passes, others need a token."""
    from il_audit.beacon_auth import is_login_surface_beacon_request, referer_page_path

    if is_login_surface_beacon_request(body, referer_path=referer_page_path(request)):
        return
    if request.headers.get("authorization") != "Bearer ok":
        raise HTTPException(status_code=401, detail="Log in first")


def test_every_1_0_35_ui_type_goes_through_the_router_and_only_ui_types() -> None:
    """One batch of all 28 types is accepted; a server-side type (chat.visit.started) is a 422."""
    client = _router_app(require_auth=_login_only)
    events = [{"event_type": t, "element_id": "x"} for t in sorted(BEACON_TYPES_1_0_35)]
    with capture_events() as captured:
        ok = client.post("/api/audit/beacon", json={"events": events},
                         headers={"Authorization": "Bearer ok"})  # fmt: skip
        refused = client.post("/api/audit/beacon",
                              json={"events": [{"event_type": "chat.visit.started"}]},
                              headers={"Authorization": "Bearer ok"})  # fmt: skip
    assert ok.json() == {"status": "ok", "accepted": 28}
    assert refused.status_code == 422
    assert {e.event_type for e in captured if e.event_type.startswith("ui.")} == (
        BEACON_TYPES_1_0_35
    )


def test_a_1_0_35_login_page_posts_through_the_host_s_require_auth() -> None:
    """login_audit.js's two beacons (sendBeacon: the Referer names the page) pass the host's
    rule; the same batch from another page needs the login."""
    view = {
        "event_type": "ui.tab.viewed",
        "surface": "auth_login",
        "element_id": "login_page",
        "resource_type": "page",
        "resource_id": "login_page",
        "interaction": "view",
    }
    click = {"event_type": "ui.element.clicked", "surface": "auth_login",
             "element_id": "google_sign_in", "resource_type": "button",
             "resource_id": "google_sign_in", "interaction": "click"}  # fmt: skip
    client = _router_app(require_auth=_login_only)
    with capture_events() as captured:
        login = client.post("/api/audit/beacon", json={"events": [view, click]},
                            headers={"Referer": "http://testserver/login?next=%2F"})  # fmt: skip
        elsewhere = client.post("/api/audit/beacon", json={"events": [view]},
                                headers={"Referer": "http://testserver/chat"})  # fmt: skip
    assert login.json() == {"status": "ok", "accepted": 2}
    assert elsewhere.status_code == 401
    assert [e.payload["page_path"] for e in captured] == ["/login", "/login"]  # type: ignore[index]


def test_emit_chat_visit_session_follows_1_0_35() -> None:
    """§5.17: started / ended types, a uuid4 for a blank id, the caller's fields kept."""
    with capture_events() as captured:
        il_audit.emit_chat_visit_session(context=CTX, visit_session_id="v-1")
        il_audit.emit_chat_visit_session(context=CTX, visit_session_id=" ", started=False,
                                         ended_reason="page_unload", turn_count=2)  # fmt: skip
    start, end = captured
    assert (start.event_type, start.payload) == ("chat.visit.started", {"visit_session_id": "v-1"})
    assert end.event_type == "chat.visit.ended"
    assert end.payload is not None
    assert uuid.UUID(end.payload["visit_session_id"]).version == 4
    assert (end.payload["ended_reason"], end.payload["turn_count"]) == ("page_unload", 2)


def test_the_handlers_write_visits_and_conversations_as_5_10_says() -> None:
    """Visit ids from metadata; conversation ids from metadata, resource_id, then
    metadata.resource_id; reasons from metadata, interaction, then unknown; no id, no row."""
    from il_audit.beacon_conversation import handle_conversation_beacon_events

    with capture_events() as captured:
        il_audit.handle_visit_session_beacon_events(
            CTX,
            [
                {
                    "event_type": "ui.visit.ended",
                    "interaction": "logout",
                    "metadata": {
                        "visit_session_id": "v-1",
                        "duration_seconds": 3,
                        "turn_count": "2",
                        "conversation_count": 1,
                    },
                },
                {"event_type": "ui.visit.started", "metadata": {}},
            ],
        )
        handle_conversation_beacon_events(CTX, [
            {"event_type": "ui.chat.session.ended", "metadata": {"resource_id": "c-1",
                                                                 "turn_count": 1}},
        ])  # fmt: skip
    visit, conversation = captured
    assert visit.payload == {"visit_session_id": "v-1", "duration_seconds": 3.0,
                             "turn_count": 2, "conversation_count": 1,
                             "ended_reason": "logout"}  # fmt: skip
    assert isinstance(visit.payload["duration_seconds"], float)
    assert (conversation.event_type, conversation.session_id) == ("chat.session.ended", "c-1")
    assert conversation.payload == {"ended_reason": "unknown", "turn_count": 1,
                                    "user_message_count": 1}  # fmt: skip
