"""Whatever a careless caller passes to ``emit()``, the event settles and the counts add up.

After a flush (no spool): ``pending == 0`` and ``accepted == published + failed``, with invalid
events counted inside ``published`` (they are published to be dead-lettered). And the
subscriber's core, run over what was published, rejects exactly the events the publisher
counted invalid: the publisher's cheap checks never pass what the envelope model refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from il_audit.publisher import AuditContext, AuditPublisher, MemoryTransport
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import ENVELOPE_FIELDS, MAX_ENVELOPE_BYTES
from il_audit.subscriber_fn.core import MessageMeta, process_message
from il_audit.subscriber_fn.pricing import seed_catalog
from tests.support.factories import make_settings


class Hostile:
    """A value whose every conversion raises: ``__str__``, ``__repr__``, ``==``, ``bool``."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")

    __hash__ = object.__hash__


HUGE = "h" * (MAX_ENVELOPE_BYTES + 10)
ODD_VALUES: list[Any] = [
    None, True, 0, 1, 2, -1, 2**70, 1.5, float("nan"), float("inf"), "", "text", "\ud800",
    "x" * 300, HUGE, b"\xff\x00", {"a"}, (1, 2), [1, [2, {"k": None}]], {"nested": {"n": 1}},
    {1: "non-str key"}, Decimal("1.5"), datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC),
    Hostile(), object(), AuditContext(app="as a value"),
]  # fmt: skip
EVENT_TYPES: list[Any] = [
    T.AUTH_LOGOUT, T.UI_TAB_VIEWED, "billing.not.registered", "Not.A.Type", "", "a" * 200,
    None, 42, Hostile(), ["auth.logout"],
]  # fmt: skip
CONTEXTS: list[Any] = [
    None, AuditContext(app="a", actor_uid="u-1"), AuditContext(app="x" * 300),
    AuditContext(app=42), AuditContext(app="a", actor_uid=Hostile()), {"app": "x"}, "ctx",
    Hostile(),
]  # fmt: skip
# Envelope fields and payload names; not emit()'s own parameters (a Python TypeError).
NAMES = [*sorted(ENVELOPE_FIELDS - {"event_type"}), "question", "n", "blob"]

calls = st.tuples(
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(CONTEXTS),
    st.dictionaries(st.sampled_from(NAMES), st.sampled_from(ODD_VALUES), max_size=4),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(calls, min_size=1, max_size=4))
def test_every_call_settles_and_the_counts_add_up(
    batch: list[tuple[Any, Any, dict[str, Any]]],
) -> None:
    """No argument wedges the queue or vanishes; rejects downstream equal invalid here."""
    transport = MemoryTransport(max_messages=None)
    publisher = AuditPublisher(make_settings(retry_initial_seconds=0.01), transport=transport)
    try:
        for event_type, context, fields in batch:
            publisher.emit(event_type, context=context, **fields)
        assert publisher.flush(10).complete
        stats = publisher.stats()
        assert stats.pending == 0
        assert stats.accepted == len(batch)
        assert stats.accepted == stats.published + stats.failed
        assert stats.failed == 0  # the memory transport refuses nothing
        rows = rejects = 0
        for message in transport.messages:
            assert len(message.data) <= MAX_ENVELOPE_BYTES + 1024
            result = process_message(message.data, MessageMeta(), seed_catalog(), datetime.now(UTC))
            rows += len(result.rows)
            rejects += len(result.rejects)
        assert rows + rejects == len(batch)
        assert rejects == stats.invalid
    finally:
        publisher.shutdown(1)


def _published_through_the_core(
    calls: list[tuple[Any, Any, dict[str, Any]]],
) -> tuple[Any, list[Any]]:
    """Emit ``calls``, flush, and run what was published through the subscriber's core."""
    transport = MemoryTransport(max_messages=None)
    publisher = AuditPublisher(make_settings(), transport=transport)
    try:
        for event_type, context, fields in calls:
            publisher.emit(event_type, context=context, **fields)
        assert publisher.flush(10).complete
        stats = publisher.stats()
    finally:
        publisher.shutdown(1)
    rejects = [
        reject
        for message in transport.messages
        for reject in process_message(
            message.data, MessageMeta(), seed_catalog(), datetime.now(UTC)
        ).rejects
    ]
    return stats, rejects


def test_a_context_of_the_wrong_type_is_dead_lettered_not_lost() -> None:
    """emit(..., context={"app": "x"}) once wedged the queue; now it is an invalid stand-in."""
    stats, rejects = _published_through_the_core([(T.AUTH_LOGOUT, {"app": "x"}, {})])
    assert (stats.accepted, stats.published, stats.invalid, stats.pending) == (1, 1, 1, 0)
    assert [reject.error_class.value for reject in rejects] == ["schema_violation"]
    assert "unencodable: AttributeError" in rejects[0].error_detail
    assert rejects[0].event_type == T.AUTH_LOGOUT


def test_a_payload_that_is_not_an_object_keeps_both_and_is_invalid() -> None:
    """payload="s" with another payload keyword: nothing is dropped, the payload is named."""
    stats, rejects = _published_through_the_core(
        [(T.AUTH_LOGOUT, AuditContext(app="a"), {"payload": "s", "extra": 1})]
    )
    assert (stats.published, stats.invalid) == (1, 1)
    assert len(rejects) == 1
    assert "payload" in rejects[0].error_detail
    raw = rejects[0].raw.decode()
    assert '"payload":"s"' in raw
    assert '"extra":1' in raw


def test_an_app_name_with_a_lone_surrogate_is_published_and_dead_lettered() -> None:
    """A lone surrogate in a field that becomes a message attribute once failed the whole
    publish for good; now the attribute is left out and the event is dead-lettered."""
    stats, rejects = _published_through_the_core([(T.AUTH_LOGOUT, None, {"app": "\ud800"})])
    assert (stats.published, stats.failed, stats.invalid) == (1, 0, 1)
    assert len(rejects) == 1
