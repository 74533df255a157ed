"""The disk spool on its own: records, order, corruption, adoption, cursor, bound."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from il_audit.publisher import _spool, _spool_records
from il_audit.publisher._spool import Spool
from il_audit.publisher._spool_records import SpoolRecord
from il_audit.publisher.spool_reader import summarize


def fill(spool: Spool, count: int, size: int = 100) -> list[bytes]:
    """Append ``count`` distinct messages and sync; returns their data."""
    datas = []
    for index in range(count):
        data = json.dumps({"event_id": f"e{index:05d}", "pad": "x" * size}).encode()
        assert spool.append(data, {"il_audit_count": "1", "n": str(index)}) is not None
        datas.append(data)
    spool.sync()
    return datas


def drain(spool: Spool) -> list[SpoolRecord]:
    """Read and confirm everything readable."""
    records = []
    while (record := spool.next_record()) is not None:
        records.append(record)
        spool.confirm(record.key)
    return records


def abandon(spool: Spool) -> None:
    """What a killed process leaves behind: files on disk, lock released."""
    spool.close()


def test_records_come_back_byte_for_byte_in_order(tmp_path: Path) -> None:
    """Data and attributes survive the round trip, oldest first."""
    spool = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(spool, 5)
    records = drain(spool)
    assert [record.data for record in records] == datas
    assert [record.attributes["n"] for record in records] == ["0", "1", "2", "3", "4"]
    assert all(record.count == 1 for record in records)


def test_written_records_are_readable_before_the_fsync_finishes(tmp_path: Path) -> None:
    """Draining never waits for the disk: a record is readable once written."""
    spool = Spool(tmp_path, 64 * 1024 * 1024)
    spool.append(b"{}", {"il_audit_count": "1"})
    assert spool.unsynced
    record = spool.next_record()
    assert record is not None
    assert record.data == b"{}"
    assert spool.sync() is True
    assert spool.sync() is False  # nothing new since


def test_a_drained_spool_leaves_nothing_behind(tmp_path: Path) -> None:
    """Drained segments are deleted, and the directory goes on close."""
    spool = Spool(tmp_path, 64 * 1024 * 1024)
    fill(spool, 3)
    drain(spool)
    spool.close()
    assert os.listdir(tmp_path) == []


def test_segments_rotate_and_read_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small segments: many files, still one ordered stream."""
    monkeypatch.setattr(_spool, "SEGMENT_MAX_BYTES", 1000)
    spool = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(spool, 30)
    own = spool.own_directory
    assert own is not None
    assert len([name for name in os.listdir(own) if name.endswith(".seg")]) > 3
    assert [record.data for record in drain(spool)] == datas


def test_an_abandoned_spool_is_adopted_and_drained(tmp_path: Path) -> None:
    """A directory whose lock is free is taken over by the next process and emptied."""
    dead = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(dead, 4)
    abandon(dead)
    heir = Spool(tmp_path, 64 * 1024 * 1024)
    assert heir.adopt() == 1
    assert [record.data for record in drain(heir)] == datas
    assert os.listdir(tmp_path) == []


def test_a_live_spool_is_not_adopted(tmp_path: Path) -> None:
    """A directory still locked by its process stays with it."""
    alive = Spool(tmp_path, 64 * 1024 * 1024)
    fill(alive, 2)
    other = Spool(tmp_path, 64 * 1024 * 1024)
    assert other.adopt() == 0
    assert summarize(tmp_path).adoptable == 0
    alive.close()
    assert summarize(tmp_path).adoptable == 1


def test_a_torn_tail_is_skipped_and_counted(tmp_path: Path) -> None:
    """A record cut short by a crash is counted as corrupt; everything before it is delivered."""
    dead = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(dead, 5)
    own = dead.own_directory
    assert own is not None
    abandon(dead)
    (segment,) = [own / name for name in os.listdir(own) if name.endswith(".seg")]
    segment.write_bytes(segment.read_bytes()[:-20])  # the last record loses its end
    heir = Spool(tmp_path, 64 * 1024 * 1024)
    heir.adopt()
    assert [record.data for record in drain(heir)] == datas[:4]
    assert heir.corrupt == 1


def test_a_corrupt_record_in_the_middle_is_skipped(tmp_path: Path) -> None:
    """A checksum mismatch skips one record; reading resumes at the next one."""
    dead = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(dead, 5)
    own = dead.own_directory
    assert own is not None
    abandon(dead)
    (segment,) = [own / name for name in os.listdir(own) if name.endswith(".seg")]
    raw = bytearray(segment.read_bytes())
    second = raw.find(_spool_records.MAGIC, 1)
    raw[second + 40] ^= 0xFF  # inside the second record's payload
    segment.write_bytes(bytes(raw))
    heir = Spool(tmp_path, 64 * 1024 * 1024)
    heir.adopt()
    assert [record.data for record in drain(heir)] == [datas[0], *datas[2:]]
    assert heir.corrupt == 1


def test_confirmed_progress_survives_a_crash(tmp_path: Path) -> None:
    """After a restart only unconfirmed records are sent again."""
    dead = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(dead, 5)
    for _ in range(2):
        record = dead.next_record()
        assert record is not None
        dead.confirm(record.key)
    abandon(dead)
    heir = Spool(tmp_path, 64 * 1024 * 1024)
    heir.adopt()
    assert [record.data for record in drain(heir)] == datas[2:]


def test_rewind_reads_unconfirmed_records_again(tmp_path: Path) -> None:
    """After a failed publish the records in flight are read again, in order."""
    spool = Spool(tmp_path, 64 * 1024 * 1024)
    datas = fill(spool, 3)
    first, second = spool.next_record(), spool.next_record()
    assert first is not None
    assert second is not None
    spool.confirm(first.key)
    spool.rewind()
    assert [record.data for record in drain(spool)] == datas[1:]


def test_the_byte_bound_covers_the_whole_directory(tmp_path: Path) -> None:
    """Past max_bytes nothing is written; other processes' files count too."""
    neighbour = Spool(tmp_path, 64 * 1024 * 1024)
    fill(neighbour, 1, size=600_000)
    spool = Spool(tmp_path, 1024 * 1024)
    assert spool.append(b"x" * 300_000, {}) is not None
    assert spool.append(b"x" * 300_000, {}) is None
    assert spool.append(b"x" * 1000, {}) is not None
