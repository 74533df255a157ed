"""The login page's beacons: 1.0.35's login-surface rule (``il_audit.beacon_auth``).

A login page posts before anyone is logged in: ``login_audit.js`` sends a
``ui.tab.viewed`` of the page and a ``ui.element.clicked`` per sign-in button,
on the ``auth_login`` surface. The rule says which batch is such a post: a
batch is a login-surface batch only when it is non-empty and **every** event

- is a ``ui.tab.viewed`` or a ``ui.element.clicked``;
- has ``surface == "auth_login"``;
- is on the login page: the Referer's path, or the event's own ``path`` (or
  that of an earlier event of the batch), is ``/login`` once the query string
  is removed;
- names the page (``element_id == "login_page"``) when it is a view, or a
  sign-in button (``google_sign_in``, ``microsoft_sign_in``) when a click.

The rule narrows what an anonymous batch may contain; it does **not**
authenticate anybody. The Referer, the paths and every field are what the
client sent, and a script can send them as well as a browser. A batch that
passes is stored without an actor and rate-limited by the client's address.

Two ways to use it: build the router with
``anonymous=login_surface(path="/login")`` (the path and the ids are
parameters), or, as a 1.0.35 host does, call
:func:`is_login_surface_beacon_request` in your own ``require_auth(request,
body)`` with ``referer_path=referer_page_path(request)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from il_audit.publisher.beacon._models import DEFAULT_EVENT_TYPE, BeaconEventItem, BeaconRequest
from il_audit.publisher.beacon._page import AUDIT_PATH_HEADER
from il_audit.publisher.beacon.errors import BeaconConfigError
from il_audit.schemas import taxonomy

if TYPE_CHECKING:
    from starlette.requests import Request

LOGIN_SURFACE: Final = "auth_login"
LOGIN_PAGE_ELEMENT_ID: Final = "login_page"
LOGIN_PROVIDER_ELEMENT_IDS: Final = frozenset({"google_sign_in", "microsoft_sign_in"})
LOGIN_SURFACE_EVENT_TYPES: Final = frozenset({taxonomy.UI_TAB_VIEWED, taxonomy.UI_ELEMENT_CLICKED})
LOGIN_PATH: Final = "/login"

__all__ = [
    "AUDIT_PATH_HEADER",
    "LOGIN_PAGE_ELEMENT_ID",
    "LOGIN_PATH",
    "LOGIN_PROVIDER_ELEMENT_IDS",
    "LOGIN_SURFACE",
    "LOGIN_SURFACE_EVENT_TYPES",
    "LoginSurface",
    "enrich_beacon_events_with_path",
    "is_login_surface_beacon_batch",
    "is_login_surface_beacon_request",
    "login_surface",
    "referer_page_path",
    "request_page_path",
]

BeaconEvent = Mapping[str, Any] | BeaconEventItem


def _field(event: BeaconEvent, name: str) -> Any:
    if isinstance(event, BeaconEventItem):
        return getattr(event, name, None)
    return event.get(name) if isinstance(event, Mapping) else None


def _pathname(value: Any) -> str | None:
    """The path without its query string (``/login?next=/x`` -> ``/login``)."""
    return value.split("?", 1)[0] if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class LoginSurface:
    """The login-surface rule for one login page (see the module); build it with
    :func:`login_surface`."""

    path: str = LOGIN_PATH
    element_ids: frozenset[str] = LOGIN_PROVIDER_ELEMENT_IDS
    page_element_id: str = LOGIN_PAGE_ELEMENT_ID
    surface: str = LOGIN_SURFACE

    def matches(self, events: Sequence[BeaconEvent], *, referer_path: str | None = None) -> bool:
        """True when ``events`` is a non-empty batch of login-page beacons only."""
        if not events:
            return False
        on_page = _pathname(referer_path) == self.path
        for event in events:
            on_page = on_page or _pathname(_field(event, "path")) == self.path
            event_type = _field(event, "event_type") or DEFAULT_EVENT_TYPE
            element_id = _field(event, "element_id")
            if not on_page or _field(event, "surface") != self.surface:
                return False
            if event_type == taxonomy.UI_TAB_VIEWED:
                if element_id != self.page_element_id:
                    return False
            elif event_type == taxonomy.UI_ELEMENT_CLICKED:
                if element_id not in self.element_ids:
                    return False
            else:
                return False
        return True

    def matches_request(self, request: Request, body: BeaconRequest) -> bool:
        """:meth:`matches` for a parsed request, with its Referer's path."""
        return self.matches(body.events, referer_path=referer_page_path(request))


def login_surface(
    path: str = LOGIN_PATH,
    *,
    element_ids: Iterable[str] = LOGIN_PROVIDER_ELEMENT_IDS,
    page_element_id: str = LOGIN_PAGE_ELEMENT_ID,
    surface: str = LOGIN_SURFACE,
) -> LoginSurface:
    """The login-surface rule for the router's ``anonymous=`` option.

    ``path`` is the login page's path (``/login``; no query string);
    ``element_ids`` the sign-in buttons' ids. Raises :class:`BeaconConfigError`
    for a path that is not one, or blank ids.
    """
    if not isinstance(path, str) or not path.startswith("/") or "?" in path or "#" in path:
        raise BeaconConfigError("login_surface(path=...) must be a path such as '/login'")
    ids = frozenset((element_ids,) if isinstance(element_ids, str) else element_ids)
    texts = (*ids, page_element_id, surface)
    if not ids or not all(isinstance(text, str) and text.strip() for text in texts):
        raise BeaconConfigError(
            "login_surface needs non-blank element_ids, page_element_id and surface"
        )
    return LoginSurface(path, ids, page_element_id, surface)


DEFAULT_LOGIN_SURFACE: Final = LoginSurface()


def referer_page_path(request: Request) -> str | None:
    """The ``Referer``'s path plus ``?query`` (path ``/`` when empty); None without one."""
    referer = (request.headers.get("referer") or "").strip()
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def request_page_path(request: Request) -> str | None:
    """The ``X-IL-Audit-Path`` header when set, else :func:`referer_page_path`."""
    header = (request.headers.get(AUDIT_PATH_HEADER) or "").strip()
    return header or referer_page_path(request)


def is_login_surface_beacon_batch(
    events: Sequence[BeaconEvent], *, referer_path: str | None = None
) -> bool:
    """1.0.35's rule, for the ``/login`` page (see the module); client-supplied, no auth."""
    return DEFAULT_LOGIN_SURFACE.matches(events, referer_path=referer_path)


def is_login_surface_beacon_request(
    body: BeaconRequest, *, referer_path: str | None = None
) -> bool:
    """:func:`is_login_surface_beacon_batch` of a request's events."""
    return DEFAULT_LOGIN_SURFACE.matches(body.events, referer_path=referer_path)


def enrich_beacon_events_with_path(
    events: Sequence[Mapping[str, Any]], *, page_path: str | None
) -> list[dict[str, Any]]:
    """Copies of ``events``, each with ``path`` set to ``page_path`` where it was blank."""
    enriched = []
    for event in events:
        item = dict(event)  # a BeaconEventItem too (a pydantic model iterates as pairs)
        current = item.get("path")
        if page_path and not (isinstance(current, str) and current.strip()):
            item["path"] = page_path
        enriched.append(item)
    return enriched
