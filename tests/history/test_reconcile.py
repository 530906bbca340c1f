"""The rollups are topped up on start when a crash cut the last writes between `events` and them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from marchwarden.history.migrations import migrate
from marchwarden.history.reconcile import reconcile_on_open, reconcile_rollups
from marchwarden.history.rows import EVENT_COLUMNS, event_row
from marchwarden.history.store import HistoryStore
from tests.history.test_history_contract import engine_outputs

SECTION = "EE-RU-01"


def rollups(store: HistoryStore) -> tuple[int, int, int, int]:
    where = f"WHERE section_id = '{SECTION}' AND event_type = 'crossing_attempt'"
    daily = store.query(f"SELECT sum(events), sum(persons) FROM events_daily {where}")[1][0]
    hourly = store.query(f"SELECT sum(events), sum(persons) FROM events_hourly {where}")[1][0]
    return int(daily[0] or 0), int(daily[1] or 0), int(hourly[0] or 0), int(hourly[1] or 0)


def test_events_the_rollups_missed_are_added_once(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    accepted = engine_outputs(SECTION).drain().events
    now = datetime.now(UTC)
    rows = [(*event_row(e)[:-1], now) for e in accepted]  # written just now
    before = rollups(chdb_store)
    chdb_store.command("DETACH TABLE events_daily_mv")
    chdb_store.command("DETACH TABLE events_hourly_mv")
    try:
        chdb_store.insert("events", rows, EVENT_COLUMNS)  # the crash: the views never ran
    finally:
        chdb_store.command("ATTACH TABLE events_daily_mv")
        chdb_store.command("ATTACH TABLE events_hourly_mv")
    assert rollups(chdb_store) == before

    added = reconcile_rollups(chdb_store)
    assert added["events_daily"] >= 1 and added["events_hourly"] >= 1
    persons = sum(e.event.persons for e in accepted)  # type: ignore[union-attr]
    assert rollups(chdb_store) == (
        before[0] + len(rows),
        before[1] + persons,
        before[2] + len(rows),
        before[3] + persons,
    )
    assert reconcile_rollups(chdb_store) == {"events_hourly": 0, "events_daily": 0}


def test_a_history_that_cannot_be_reconciled_still_opens(
    chdb_store: HistoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A detached `events` (history refusing) must not keep a worker from starting."""
    migrate(chdb_store)
    chdb_store.command("DETACH TABLE events")
    try:
        with caplog.at_level(logging.ERROR, logger="marchwarden.history.reconcile"):
            reconcile_on_open(chdb_store)  # no events table: a new history, nothing to do
        chdb_store.command("ATTACH TABLE events")
        chdb_store.command("DETACH TABLE events_hourly")
        with caplog.at_level(logging.ERROR, logger="marchwarden.history.reconcile"):
            reconcile_on_open(chdb_store)  # the query fails: logged, not raised
        assert "could not reconcile the rollups" in caplog.text
    finally:
        chdb_store.command("ATTACH TABLE IF NOT EXISTS events")
        chdb_store.command("ATTACH TABLE IF NOT EXISTS events_hourly")
    assert reconcile_rollups(chdb_store) == {"events_hourly": 0, "events_daily": 0}
