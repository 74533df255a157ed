"""What a turn's retrieval found: candidates, chunks and search passes (1.0.35's retrieval rows).

::

    search_pass = usage.next_retrieval_search_pass()
    usage.record_retrieval_pass(search_pass=search_pass, settings={"top_k": 50, "rerank": True})
    usage.record_retrieval_candidates(search_pass=search_pass, stage="hybrid_pool",
                                      candidates=[{"rank": 1, "drive_file_id": "f-1", ...}])
    usage.record_retrieval_chunks(search_pass=search_pass, stage="final", chunks=[...])

One event per item, as 1.0.35 wrote one row per item: ``chat.retrieval.candidate``,
``chat.retrieval.chunk`` and ``chat.retrieval.pass``, each with its own id, and
read back by the views ``retrieval_candidates``, ``retrieval_chunks`` and
``retrieval_passes`` in 1.0.35's columns. Small events keep the views free of
JSON-array unnesting (fragile through sqlglot on DuckDB) and no envelope near its
limit. The items of one call share the turn (``correlation_id``, correlation
type ``chat_turn``), the conversation (``session_id``), the pass and the stage.

1.0.35's rules (facts sheet §5.17): only the first word of ``stage`` is kept;
``search_pass`` is at least 1; only the item's own columns are read (its turn,
pass and stage are the call's); strings are stripped and a blank one is null;
an empty list, a blank stage or a blank turn writes nothing. Ours on top:

- a value that does not fit its column's type is null (a number is rounded
  for an INT64 column), so an item can never make an invalid event;
- chunk text is never sent: a chunk's ``text`` / ``chunk_text`` becomes its
  ``chunk_text_sha256`` (plain SHA-256 of the UTF-8 text, so it joins with
  hashes computed at indexing) unless the item gives one;
- the retrieval query follows the question rule: items have no query column,
  so an item's query is never read; a pass's ``settings`` keep their
  query-like keys (any key containing ``query``, ``queries`` or
  ``question``) only when ``IL_AUDIT_STORE_QUERY_TEXT`` is on.

Everything is gated by ``IL_AUDIT_STORE_RETRIEVAL_CANDIDATES`` (default on).
The emitters cost microseconds per item on the caller's thread (measured in
``benchmarks/retrieval_bench.py``) and never raise, unless the publisher is
strict (a test asking to hear about bad events).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import operator
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from uuid import UUID

from il_audit.publisher import emit, get_publisher
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import PublisherError
from il_audit.schemas import taxonomy as T

logger = logging.getLogger(__name__)

CHAT_TURN: Final = "chat_turn"
"""``correlation_type`` of a retrieval event: ``correlation_id`` is the turn's id."""
_INT64: Final = 2**63


def _text(value: Any) -> str | None:
    """A STRING column's value: stripped, blank is null; ids given as numbers or UUIDs
    become text."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float | UUID) and not isinstance(value, bool):
        return str(value)
    return None


def _integer(value: Any) -> int | None:
    """An INT64 column's value: whole numbers and numeric text, rounded; else null."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        try:
            number = operator.index(value)  # numpy integers
        except TypeError:
            real = _real(value)
            if real is None:
                return None
            number = round(real)
    return number if -_INT64 <= number < _INT64 else None


def _real(value: Any) -> float | None:
    """A FLOAT64 column's value: any finite number or numeric text; else null."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


Reader = Callable[[Any], Any]
Column = tuple[str, type, Reader]
"""A column's name, the type its values usually have already, and its reader for the rest."""
CANDIDATE_COLUMNS: Final[tuple[Column, ...]] = (
    ("rank", int, _integer),
    ("drive_file_id", str, _text),
    ("source_file", str, _text),
    ("rrf_score", float, _real),
    ("semantic_rank", int, _integer),
    ("keyword_rank", int, _integer),
    ("rerank_score", float, _real),
    ("rerank_status", str, _text),
    ("relevant_year", int, _integer),
    ("content_department", str, _text),
    ("content_type", str, _text),
)
"""The item columns of 1.0.35's ``retrieval_candidates``, in its order."""
CHUNK_COLUMNS: Final[tuple[Column, ...]] = (
    ("rank", int, _integer),
    ("chunk_id", str, _text),
    ("drive_file_id", str, _text),
    ("source_file", str, _text),
    ("passage_scope", str, _text),
    ("passage_index", int, _integer),
    ("visible_slide_index", int, _integer),
    ("semantic_distance", float, _real),
    ("semantic_rank", int, _integer),
    ("keyword_score", float, _real),
    ("keyword_rank", int, _integer),
    ("rrf_score", float, _real),
    ("rerank_score", float, _real),
    ("relevance_percentile", int, _integer),
    ("chunk_text_sha256", str, _text),
)
"""The item columns of 1.0.35's ``retrieval_chunks``, in its order."""
CHUNK_TEXT_KEYS: Final = ("text", "chunk_text")
"""Keys a caller may pass chunk text under: hashed into ``chunk_text_sha256``, never sent."""


def _item_fields(item: Mapping[str, Any], columns: tuple[Column, ...]) -> dict[str, Any]:
    """The item's columns that have a value, each of its column's type.

    A value of the usual type is checked inline (this runs for every column of
    every item on the caller's thread: a reader call per value made it 40 % slower); any
    other goes through the column's reader.
    """
    fields = {}
    for key, usual, read in columns:
        value: Any = item.get(key)
        if value is None:
            continue
        kind = type(value)
        if kind is not usual:
            value = read(value)
        elif usual is str:
            value = value.strip() or None
        elif usual is float:
            value = value if value - value == 0.0 else None  # NaN and infinities are not
        elif not -_INT64 <= value < _INT64:
            value = None
        if value is not None:
            fields[key] = value
    return fields


def _chunk_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    fields = _item_fields(item, CHUNK_COLUMNS)
    if "chunk_text_sha256" not in fields:
        for key in CHUNK_TEXT_KEYS:
            text = item.get(key)
            if isinstance(text, str) and text:
                fields["chunk_text_sha256"] = hashlib.sha256(
                    text.encode("utf-8", "surrogatepass")
                ).hexdigest()
                break
    return fields


def _first_word(stage: Any) -> str | None:
    words = stage.split() if isinstance(stage, str) else ()
    return words[0] if words else None


def _emit_items(
    event_type: str,
    context: AuditContext | None,
    conversation_id: str | None,
    turn_id: str,
    search_pass: int,
    stage: str,
    items: Sequence[object],
    read: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> None:
    """One event per item; an item that is not a mapping is skipped (typed apps pass none,
    but the items often come from a search client's untyped JSON)."""
    try:
        if not get_publisher().settings.store_retrieval_candidates or not items:
            return
        turn = _text(turn_id)
        first_word = _first_word(stage)
        if turn is None or first_word is None:
            return
        shared = {
            "session_id": _text(conversation_id),
            "correlation_id": turn,
            "correlation_type": CHAT_TURN,
            "search_pass": max(1, _integer(search_pass) or 1),
            "stage": first_word,
        }
        skipped = 0
        for item in items:
            if not isinstance(item, Mapping):
                skipped += 1
                continue
            emit(event_type, context=context, **shared, **read(item))
        if skipped:
            logger.warning("il-audit: skipped %d retrieval item(s) that are not mappings", skipped)
    except PublisherError:
        raise  # strict mode: the developer asked to hear about bad events
    except Exception:  # the host's retrieval must not fail because of its audit
        logger.warning("il-audit: could not record retrieval items", exc_info=True)


def emit_retrieval_candidates(
    *,
    context: AuditContext | None,
    conversation_id: str | None,
    turn_id: str,
    search_pass: int,
    stage: str,
    candidates: Sequence[Mapping[str, Any]],
) -> None:
    """Record a turn's candidate documents at one stage: one ``chat.retrieval.candidate`` each.

    ``stage`` is e.g. ``hybrid_pool``, ``after_rerank``, ``final`` (its first
    word is kept). An item's keys are ``retrieval_candidates``'s columns
    (``rank``, ``drive_file_id``, ``source_file``, ``rrf_score``,
    ``semantic_rank``, ``keyword_rank``, ``rerank_score``, ``rerank_status``,
    ``relevant_year``, ``content_department``, ``content_type``); other keys are
    ignored. Nothing is written when ``IL_AUDIT_STORE_RETRIEVAL_CANDIDATES`` is
    off, the list is empty, or the stage or turn is blank. Never raises.
    """
    _emit_items(
        T.CHAT_RETRIEVAL_CANDIDATE,
        context,
        conversation_id,
        turn_id,
        search_pass,
        stage,
        candidates,
        lambda item: _item_fields(item, CANDIDATE_COLUMNS),
    )


def emit_retrieval_chunks(
    *,
    context: AuditContext | None,
    conversation_id: str | None,
    turn_id: str,
    search_pass: int,
    stage: str,
    chunks: Sequence[Mapping[str, Any]],
) -> None:
    """Record a turn's retrieved chunks at one stage: one ``chat.retrieval.chunk`` each.

    An item's keys are ``retrieval_chunks``'s columns (``rank``, ``chunk_id``,
    ``drive_file_id``, ``source_file``, ``passage_scope``, ``passage_index``,
    ``visible_slide_index``, ``semantic_distance``, ``semantic_rank``,
    ``keyword_score``, ``keyword_rank``, ``rrf_score``, ``rerank_score``,
    ``relevance_percentile``, ``chunk_text_sha256``). Chunk text is never sent:
    given as ``text`` or ``chunk_text``, only its SHA-256 is. Same rules and
    gate as :func:`emit_retrieval_candidates`. Never raises.
    """
    _emit_items(
        T.CHAT_RETRIEVAL_CHUNK,
        context,
        conversation_id,
        turn_id,
        search_pass,
        stage,
        chunks,
        _chunk_fields,
    )


QUERY_KEY_WORDS: Final = ("query", "queries", "question")
"""A settings key containing one of these (any case) holds query text: it follows the
question rule (``IL_AUDIT_STORE_QUERY_TEXT``)."""


def _without_query_text(value: Any) -> Any:
    """``value`` with every query-like key removed, in nested mappings and lists too."""
    if isinstance(value, Mapping):
        return {
            key: _without_query_text(item)
            for key, item in value.items()
            if not any(word in str(key).lower() for word in QUERY_KEY_WORDS)
        }
    if isinstance(value, list | tuple):
        return [_without_query_text(item) for item in value]
    return value


def emit_retrieval_pass(
    *,
    context: AuditContext | None,
    conversation_id: str | None,
    turn_id: str,
    search_pass: int,
    settings: Mapping[str, Any],
) -> None:
    """Record the settings of one search pass of a turn (``chat.retrieval.pass``).

    ``settings_json`` is ``json.dumps(dict(settings), ensure_ascii=False,
    default=str)``, as 1.0.35 wrote it; with ``IL_AUDIT_STORE_QUERY_TEXT`` off,
    query-like keys (:data:`QUERY_KEY_WORDS`) are left out first. Nothing is
    written when ``IL_AUDIT_STORE_RETRIEVAL_CANDIDATES`` is off, the turn is
    blank or the settings are empty. Never raises.
    """
    try:
        publisher_settings = get_publisher().settings
        if not publisher_settings.store_retrieval_candidates or not settings:
            return
        turn = _text(turn_id)
        if turn is None:
            return
        kept = dict(settings)
        if not publisher_settings.store_query_text:
            kept = _without_query_text(kept)
        emit(
            T.CHAT_RETRIEVAL_PASS,
            context=context,
            session_id=_text(conversation_id),
            correlation_id=turn,
            correlation_type=CHAT_TURN,
            search_pass=max(1, _integer(search_pass) or 1),
            settings_json=json.dumps(kept, ensure_ascii=False, default=str),
        )
    except PublisherError:
        raise  # strict mode: the developer asked to hear about bad events
    except Exception:  # the host's retrieval must not fail because of its audit
        logger.warning("il-audit: could not record a retrieval pass", exc_info=True)


class RetrievalRecorder:
    """The tracker's retrieval methods (1.0.35's): search pass numbers and the three records.

    A mixin of :class:`~il_audit.chat.usage.ChatTurnUsage`, which provides the
    turn's ``turn_id``, ``context`` and ``conversation_session_id``. None of
    its methods raises (unless the publisher is strict).
    """

    turn_id: str
    context: AuditContext | None
    conversation_session_id: str | None

    def _search_passes(self) -> _SearchPasses:
        # The tracker's __init__ is not ours to extend: the counter is made on first use.
        passes: _SearchPasses | None = self.__dict__.get(_PASSES)
        if passes is None:
            with _CREATING:
                passes = self.__dict__.setdefault(_PASSES, _SearchPasses())
        return passes

    def next_retrieval_search_pass(self) -> int:
        """The next search pass number of the turn: 1, 2, ..."""
        return self._search_passes().next()

    def last_retrieval_search_pass(self) -> int:
        """The last search pass number issued, or 0 before the first."""
        return self._search_passes().last

    def record_retrieval_candidates(
        self, *, search_pass: int, stage: str, candidates: Sequence[Mapping[str, Any]]
    ) -> None:
        """:func:`emit_retrieval_candidates` for this turn."""
        emit_retrieval_candidates(
            context=self.context,
            conversation_id=self.conversation_session_id,
            turn_id=self.turn_id,
            search_pass=search_pass,
            stage=stage,
            candidates=candidates,
        )

    def record_retrieval_chunks(
        self, *, search_pass: int, stage: str, chunks: Sequence[Mapping[str, Any]]
    ) -> None:
        """:func:`emit_retrieval_chunks` for this turn."""
        emit_retrieval_chunks(
            context=self.context,
            conversation_id=self.conversation_session_id,
            turn_id=self.turn_id,
            search_pass=search_pass,
            stage=stage,
            chunks=chunks,
        )

    def record_retrieval_pass(self, *, search_pass: int, settings: Mapping[str, Any]) -> None:
        """:func:`emit_retrieval_pass` for this turn."""
        emit_retrieval_pass(
            context=self.context,
            conversation_id=self.conversation_session_id,
            turn_id=self.turn_id,
            search_pass=search_pass,
            settings=settings,
        )


_PASSES: Final = "_retrieval_search_passes"
_CREATING: Final = threading.Lock()
"""Held only while a tracker's pass counter is made, so two threads make one."""


class _SearchPasses:
    """A turn's search pass counter, safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last = 0

    def next(self) -> int:
        with self._lock:
            self.last += 1
            return self.last
