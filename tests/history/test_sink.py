"""The history sink writes batches idempotently and never writes a replayed late event twice."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from marchwarden.history.migrations import migrate
from marchwarden.history.sink import HistorySink
from marchwarden.history.store import HistoryStore
from marchwarden.picture.engine import Outputs, PictureEngine, Record
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings

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
