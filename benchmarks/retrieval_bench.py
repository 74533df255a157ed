"""Retrieval logging: what one chat turn's retrieval costs the caller's thread.

One turn, as a RAG app records it through the tracker: a search pass number,
the pass's settings, 50 candidates and 20 chunks (each chunk with 1.5 KB of
text, hashed and dropped): 71 events. Timed with ``perf_counter_ns`` around
the whole turn, on the caller's thread, while the publisher's thread encodes
and sends the events meanwhile (competing for the GIL, as in an app). Three
variants, interleaved and rotated:

- **on**: the emitters as shipped (read each item's columns, type them,
  hash chunk text, one ``emit()`` per item);
- **plain emit()**: the same 71 events' fields, prepared beforehand, handed
  to ``emit()`` directly: the publisher's own share of the cost;
- **gate off**: ``IL_AUDIT_STORE_RETRIEVAL_CANDIDATES=false``, the floor.

The events go to the in-memory transport (no network: the caller's cost does
not depend on it), with a queue large enough that nothing is dropped (checked).

    python benchmarks/retrieval_bench.py [--turns 300] [--reps 3] [--write] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import Summary, facts_line, interleaved, percentile
from _readme import write_section

from il_audit.chat import ChatTurnUsage
from il_audit.config.settings import AuditSettings
from il_audit.publisher import AuditContext, AuditPublisher, emit, set_publisher
from il_audit.schemas import taxonomy as T

CANDIDATES = 50
CHUNKS = 20
EVENTS_PER_TURN = 1 + CANDIDATES + CHUNKS
WARM_UP_TURNS = 20
CONTEXT = AuditContext(
    app="chat", actor_uid="user-4242", trace_id="0af7651916cd43dd8448eb211c80319c"
)
SETTINGS = {
    "top_k": 50,
    "rerank_top_n": 20,
    "rrf_k": 60,
    "hybrid_alpha": 0.6,
    "filters": {"year": 2026, "department": "HR"},
    "rerank_model": "semantic-ranker-512",
}
CHUNK_TEXT = "Les congés annuels se calculent au prorata du temps de présence. " * 24
VARIANTS = ("on", "plain", "off")
LABELS = {
    "on": "retrieval logging on (`record_retrieval_*`)",
    "plain": "the same 71 events through `emit()` directly",
    "off": "`IL_AUDIT_STORE_RETRIEVAL_CANDIDATES=false`",
}


def candidates() -> list[dict[str, Any]]:
    """50 candidates as a hybrid search returns them (every column of the table set)."""
    return [
        {"rank": n, "drive_file_id": f"1AbC{n:04d}xYz", "source_file": f"policies/hr-{n}.pdf",
         "rrf_score": 1 / (60 + n), "semantic_rank": n, "keyword_rank": 51 - n,
         "rerank_score": 1 - n / 100, "rerank_status": "ran", "relevant_year": 2026,
         "content_department": "HR", "content_type": "policy", "snippet": "..."}
        for n in range(1, CANDIDATES + 1)
    ]  # fmt: skip


def chunks() -> list[dict[str, Any]]:
    """20 chunks with their text (hashed by the emitter, never sent)."""
    return [
        {"rank": n, "chunk_id": f"1AbC{n:04d}xYz:{n}", "drive_file_id": f"1AbC{n:04d}xYz",
         "source_file": f"policies/hr-{n}.pdf", "passage_scope": "page", "passage_index": n,
         "semantic_distance": 0.2 + n / 100, "semantic_rank": n, "keyword_score": 12.5 - n / 2,
         "keyword_rank": n, "rrf_score": 1 / (60 + n), "rerank_score": 1 - n / 50,
         "relevance_percentile": 100 - n, "text": f"{n} {CHUNK_TEXT}"}
        for n in range(1, CHUNKS + 1)
    ]  # fmt: skip


def plain_events(items: list[dict[str, Any]], pieces: list[dict[str, Any]]) -> list[Any]:
    """(event type, fields) of the same 71 events, built beforehand (what the emitters send)."""
    shared = {"session_id": "conv-1", "correlation_id": "turn-1", "correlation_type": "chat_turn",
              "search_pass": 1}  # fmt: skip
    events: list[Any] = [(T.CHAT_RETRIEVAL_PASS, {**shared, "settings_json": str(SETTINGS)})]
    for item in items:
        fields = {k: v for k, v in item.items() if k != "snippet"}
        events.append((T.CHAT_RETRIEVAL_CANDIDATE, {**shared, "stage": "hybrid_pool", **fields}))
    for piece in pieces:
        fields = {k: v for k, v in piece.items() if k != "text"}
        fields["chunk_text_sha256"] = hashlib.sha256(piece["text"].encode()).hexdigest()
        events.append((T.CHAT_RETRIEVAL_CHUNK, {**shared, "stage": "final", **fields}))
    return events


def run(variant: str, turns: int) -> tuple[list[float], int]:
    """Per-turn caller-thread microseconds of ``turns`` turns, and the events published."""
    settings = AuditSettings.from_env(
        {
            "IL_AUDIT_TRANSPORT": "memory",
            "IL_AUDIT_WRITE_QUEUE_MAX_SIZE": "1000000",
            "IL_AUDIT_STORE_RETRIEVAL_CANDIDATES": "false" if variant == "off" else "true",
        }
    )
    publisher = AuditPublisher(settings)
    previous = set_publisher(publisher)
    items, pieces = candidates(), chunks()
    prepared = plain_events(items, pieces)
    timings = []
    try:
        for turn in range(WARM_UP_TURNS + turns):
            usage = ChatTurnUsage(f"turn-{turn}", CONTEXT, conversation_session_id="conv-1")
            started = time.perf_counter_ns()
            if variant == "plain":
                for event_type, fields in prepared:
                    emit(event_type, context=CONTEXT, **fields)
            else:
                search_pass = usage.next_retrieval_search_pass()
                usage.record_retrieval_pass(search_pass=search_pass, settings=SETTINGS)
                usage.record_retrieval_candidates(
                    search_pass=search_pass, stage="hybrid_pool", candidates=items
                )
                usage.record_retrieval_chunks(search_pass=search_pass, stage="final", chunks=pieces)
            elapsed = time.perf_counter_ns() - started
            if turn >= WARM_UP_TURNS:
                timings.append(elapsed / 1000)
        if not publisher.flush(60).complete:
            raise SystemExit(f"{variant}: the publisher did not flush within 60 s")
        stats = publisher.stats()
        if stats.dropped or stats.invalid or stats.failed:
            raise SystemExit(f"{variant}: events were lost or invalid: {stats}")
        return timings, stats.published
    finally:
        set_publisher(previous)
        publisher.shutdown(10)


def measure(turns: int, reps: int) -> tuple[dict[str, dict[str, Summary]], dict[str, int]]:
    """{variant: {p50, p99, per_event}} over the interleaved repetitions, and events published."""
    results: dict[str, dict[str, Summary]] = {
        v: {"p50": Summary(), "p99": Summary(), "per_event": Summary()} for v in VARIANTS
    }
    published: dict[str, int] = {}
    for _rep, variant in interleaved(VARIANTS, reps):
        gc.collect()
        timings, count = run(variant, turns)
        ordered = sorted(timings)
        results[variant]["p50"].values.append(percentile(ordered, 0.5))
        results[variant]["p99"].values.append(percentile(ordered, 0.99))
        results[variant]["per_event"].values.append(percentile(ordered, 0.5) / EVENTS_PER_TURN)
        published[variant] = count
    return results, published


def render(results: dict[str, dict[str, Summary]], turns: int, reps: int) -> str:
    """The README section."""
    lines = [
        facts_line(
            f"{reps} interleaved repetition(s) of {turns:,} turns after {WARM_UP_TURNS} warm-up "
            "turns, each variant in a fresh publisher; each cell is the median with the min–max "
            "of the repetitions. A short run on a 2-core machine shared with other engineers' "
            "sessions: read the ratios, not the absolute numbers."
        ),
        "",
        f"**Caller-thread time of one turn's retrieval logging** ({CANDIDATES} candidates, "
        f"{CHUNKS} chunks with 1.5 KB of text each, 1 search pass: {EVENTS_PER_TURN} events; "
        "in-memory transport, the publisher's thread encoding meanwhile).",
        "",
        "| variant | p50 per turn | p99 per turn | p50 per event |",
        "|---|---|---|---|",
    ]
    for variant in VARIANTS:
        row = results[variant]
        lines.append(
            f"| {LABELS[variant]} | {row['p50'].show(unit=' µs')} | "
            f"{row['p99'].show(unit=' µs')} | {row['per_event'].show('{:,.2f}', ' µs')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure, print the table, and write it into benchmarks/README.md with --write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="timed turns per repetition")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions (>= 3)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/README.md")
    parser.add_argument("--quick", action="store_true", help="20 turns, one repetition")
    args = parser.parse_args()
    if args.quick:
        if args.write:
            raise SystemExit("--quick never writes benchmarks/README.md")
        args.turns, args.reps = 20, 1
    elif args.reps < 3:
        raise SystemExit("--reps must be at least 3 (medians of interleaved repetitions)")
    results, published = measure(args.turns, args.reps)
    expected = (WARM_UP_TURNS + args.turns) * EVENTS_PER_TURN
    if published["on"] != expected or published["plain"] != expected or published["off"] != 0:
        raise SystemExit(f"published {published}, expected {expected} for on and plain, 0 off")
    text = render(results, args.turns, args.reps)
    print(text)
    if args.write:
        write_section("retrieval", text)


if __name__ == "__main__":
    main()
