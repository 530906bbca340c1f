"""Reports on two timelines: as it happened (late arrivals included and flagged) and as it was
known at a time (only what had arrived by then), on a real chDB history."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marchwarden.alerts.lifecycle import raise_alert, resolve
from marchwarden.analysis.reports import build_report, parse_known_at
from marchwarden.contracts.alerts import AlertEvidence
from marchwarden.engine.outputs import Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.migrations import migrate
from marchwarden.history.rows import ALERT_COLUMNS, alert_row
from marchwarden.history.sink import HistorySink
from marchwarden.history.store import HistoryStore
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings

SECTION = "PL-RU-01"
DAY1 = datetime(2019, 3, 10, tzinfo=UTC)
DAY3 = DAY1 + timedelta(days=2)
W1 = DAY1 + timedelta(hours=12)  # the first reports arrive
W2 = DAY3 + timedelta(hours=12)  # a newer report, then one 2 days old: late


def attempt(at: datetime, persons: int = 2) -> Record:
    doc = {
        "event_id": str(uuid.uuid4()),
        "event_type": "crossing_attempt",
        "schema_version": 1,
        "occurred_at": at.isoformat(),
        "section_id": SECTION,
        "reporter": "PL-SG",
        "persons": persons,
        "outcome": "prevented",
    }
    return Record("timeline-test", 0, 0, SECTION.encode(), json.dumps(doc).encode())


def run(store: HistoryStore, kind: str, **options: Any) -> list[dict[str, Any]]:
    report = build_report(kind, start=DAY1.date(), end=DAY3.date(), **options)
    columns, rows = store.query(report.sql, report.parameters, readonly=True)
    return [dict(zip(columns, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def history(chdb_store: HistoryStore) -> HistoryStore:
    migrate(chdb_store)
    clock = [W1.timestamp()]
    engine = PictureEngine(load_reference(), RuleSettings(), wall_clock=lambda: clock[0])
    sink = HistorySink(chdb_store, max_rows=1000, max_interval_s=60)
    engine.ingest([attempt(DAY1 + timedelta(hours=h)) for h in (1, 2, 3)])
    clock[0] = W2.timestamp()
    engine.ingest([attempt(DAY3 + timedelta(hours=10), persons=4)])
    engine.ingest([attempt(DAY1 + timedelta(hours=8), persons=5)])
    assert engine.late == 1
    sink.add(engine.drain())
    asyncio.run(sink.flush())
    # An alert raised at W1 and resolved by hand at W2, as the centre saw it.
    alert = raise_alert(
        "surge", SECTION, 1, "medium", DAY1, AlertEvidence(attempts_last_hour=5),
        playbook="border_guard_reinforcement",
    )  # fmt: skip
    done = resolve(alert, DAY3, operator_id="op-1", note="handled")
    chdb_store.insert("alerts", [alert_row(alert, W1), alert_row(done, W2)], ALERT_COLUMNS)
    return chdb_store


def test_as_it_happened_includes_the_late_report_and_flags_it(history: HistoryStore) -> None:
    (row,) = [r for r in run(history, "totals", by="section") if r["section"] == SECTION]
    assert (row["attempts"], row["persons"], row["arrived_late"]) == (5, 15, 1)


def test_as_known_at_a_time_counts_only_what_had_arrived(history: HistoryStore) -> None:
    def known(at: datetime) -> tuple[int, int, int]:
        rows = [
            r for r in run(history, "totals", by="section", known_at=at) if r["section"] == SECTION
        ]
        return (
            (rows[0]["attempts"], rows[0]["persons"], rows[0]["arrived_late"])
            if rows
            else (0, 0, 0)
        )

    assert known(W1 - timedelta(minutes=1)) == (0, 0, 0)
    assert known(W1) == (3, 6, 0)
    assert known(W2 - timedelta(seconds=1)) == (3, 6, 0)
    assert known(W2) == (5, 15, 1)


def test_year_over_year_on_both_timelines(history: HistoryStore) -> None:
    happened = [r for r in run(history, "yoy", by="section") if r["section"] == SECTION]
    known = [r for r in run(history, "yoy", by="section", known_at=W1) if r["section"] == SECTION]
    assert [(r["year"], r["attempts"]) for r in happened] == [(2019, 5)]
    assert [(r["year"], r["attempts"]) for r in known] == [(2019, 3)]


def test_alerts_as_the_centre_saw_them(history: HistoryStore) -> None:
    def state(**options: Any) -> tuple[str, int]:
        (row,) = [r for r in run(history, "alerts", **options) if r["section_id"] == SECTION]
        assert row["playbook"] == "border_guard_reinforcement"
        return row["status"], row["versions"]

    assert state() == ("resolved", 2)
    assert state(known_at=W1) == ("raised", 1)
    assert state(known_at=W2) == ("resolved", 2)


def test_known_at_needs_an_offset() -> None:
    with pytest.raises(ValueError, match="needs an offset"):
        parse_known_at("2024-07-18T22:00")
    assert parse_known_at("2024-07-18T22:00+03:00") == datetime(2024, 7, 18, 19, tzinfo=UTC)
