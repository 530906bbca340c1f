"""The history sink writes batches idempotently and never writes a replayed late event twice."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from marchwarden.engine.outputs import Outputs, Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.migrations import migrate
from marchwarden.history.rows import EVENT_COLUMNS, event_row
from marchwarden.history.sink import HistorySink
from marchwarden.history.store import HistoryStore
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings
from tests.support.stack import await_until

T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


def attempt(at: datetime, event_id: str | None = None) -> Record:
    doc = {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": "crossing_attempt",
        "schema_version": 1,
        "occurred_at": at.isoformat(),
        "section_id": "EE-RU-02",
        "reporter": "EE-PPA",
        "persons": 2,
        "outcome": "prevented",
    }
    return Record("sink-test", 0, 0, b"EE-RU-02", json.dumps(doc).encode())


async def test_retried_batch_and_replayed_late_event_are_written_once(
    chdb_store: HistoryStore,
) -> None:
    migrate(chdb_store)
    engine = PictureEngine(
        load_reference(), RuleSettings(), wall_clock=lambda: (T0 + timedelta(days=40)).timestamp()
    )
    sink = HistorySink(chdb_store, max_rows=1000, max_interval_s=60)
    old_id = str(uuid.uuid4())
    engine.ingest([attempt(T0, old_id)])
    outputs = engine.drain()
    sink.add(outputs)
    await sink.flush()
    sink.add(Outputs(events=list(outputs.events)))  # the same batch again: a retried flush
    await sink.flush()

    # 30 days later the worker has forgotten the id; the replay arrives late.
    fresh = PictureEngine(
        load_reference(), RuleSettings(), wall_clock=lambda: (T0 + timedelta(days=40)).timestamp()
    )
    fresh.ingest([attempt(T0 + timedelta(days=30))])
    fresh.ingest([attempt(T0, old_id)])
    assert fresh.late == 1
    sink.add(fresh.drain())
    await sink.flush()

    _, rows = chdb_store.query(
        "SELECT count() FROM events FINAL WHERE event_id = {id:UUID}", {"id": old_id}
    )
    assert rows == [(1,)]
    _, raw = chdb_store.query(
        "SELECT count() FROM events WHERE event_id = {id:UUID}", {"id": old_id}
    )
    assert raw == [(1,)], "the retried batch carried the same deduplication token"
    assert sink.replays_dropped == 1


PERSONS = EVENT_COLUMNS.index("persons")


def ingested(*records: Record) -> Outputs:
    engine = PictureEngine(load_reference(), RuleSettings())
    engine.ingest(records)
    return engine.drain()


async def test_a_row_the_store_refuses_is_dead_lettered_and_the_rest_written(
    chdb_store: HistoryStore,
) -> None:
    migrate(chdb_store)
    sink = HistorySink(chdb_store, max_rows=1000, max_interval_s=60)
    good = [attempt(T0 + timedelta(minutes=i)) for i in range(40)]
    out = ingested(*good)
    chosen = out.events[17]
    # past UInt32: the store cannot build the column (the contract bounds it; this is the
    # store's own refusal, reached past the contract)
    poisoned = chosen.event.model_copy(update={"persons": 4294967296})
    out.events[17] = replace(chosen, event=poisoned)
    assert event_row(out.events[17])[PERSONS] == 4294967296
    sink.add(out)
    letters = await sink.write(sink.take())

    (letter,) = letters
    assert letter.kind == "history_rejected"
    assert "persons" in letter.reason, letter.reason
    assert json.loads(base64.b64decode(letter.value_b64))["event_id"] == poisoned.event_id
    ids = [accepted.event.event_id for accepted in out.events]
    _, rows = chdb_store.query(
        "SELECT count() FROM events WHERE event_id IN {ids:Array(UUID)}", {"ids": ids}
    )
    assert rows == [(39,)]
    _, kept = chdb_store.query(
        "SELECT kind, reason FROM dead_letters WHERE kind = 'history_rejected'"
    )
    assert kept and "persons" in kept[-1][1]
    assert sink.failing_since is None and sink.refused == 1


async def test_reports_over_150_months_in_one_batch_are_all_written(
    chdb_store: HistoryStore,
) -> None:
    migrate(chdb_store)
    sink = HistorySink(chdb_store, max_rows=1000, max_interval_s=60, max_partitions=100)
    months = [attempt(datetime(2010 + i // 12, i % 12 + 1, 15, tzinfo=UTC)) for i in range(150)]
    out = ingested(*months)
    assert len(out.events) == 150
    sink.add(out)
    assert await sink.write(sink.take()) == []
    ids = [accepted.event.event_id for accepted in out.events]
    _, rows = chdb_store.query(
        "SELECT count(), uniqExact(toYYYYMM(occurred_at)) FROM events "
        "WHERE event_id IN {ids:Array(UUID)}",
        {"ids": ids},
    )
    assert rows == [(150, 150)]


async def test_an_unreachable_store_keeps_every_row_and_says_so() -> None:
    from marchwarden.history.sink import WriteAbandoned

    store = HistoryStore("mwhistory://127.0.0.1:9")  # nothing listens on the discard port
    sink = HistorySink(store, max_rows=1000, max_interval_s=60)
    sink.add(ingested(attempt(T0)))
    snapshot = sink.take()
    give_up = asyncio.Event()
    writing = asyncio.create_task(sink.write(snapshot, give_up))
    await await_until(lambda: sink.failing_since is not None, 30, "the failure to show")
    assert sink.pending == 1 and sink.oldest_unwritten() is not None
    give_up.set()
    with pytest.raises(WriteAbandoned):
        await writing
    store.close()
