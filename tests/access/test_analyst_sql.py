"""Analyst SQL on real chDB: the allow-list refuses what it must, views apply the organisation."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from marchwarden.access.identity import ORGANISATIONS, analyst_database
from marchwarden.access.sqlcheck import SqlRefused
from marchwarden.analysis.reports import build_report
from marchwarden.engine.outputs import Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.analyst import AnalystLane, direct_lane
from marchwarden.history.migrations import load_migrations, migrate
from marchwarden.history.sink import HistorySink
from marchwarden.history.store import HistoryStore
from marchwarden.reference import load_reference
from marchwarden.settings import AnalystLimits, RuleSettings
from tests.support.stack import event

T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


class Fixture:
    """A RED indicator from Lithuania, a GREEN one from Latvia, and the alert they raise."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.red_id = f"red-{tag}"
        self.green_id = f"green-{tag}"
        self.red = event(
            "indicator", "LT-RU-01", T0, indicator_id=self.red_id, tlp="red", level="critical"
        )
        self.green = event(
            "indicator", "LT-RU-01", T0 + timedelta(minutes=1), indicator_id=self.green_id
        )
        self.green["reporter"] = "LV-VRS"


@pytest.fixture(scope="module")
def written(chdb_store: HistoryStore) -> Iterator[Fixture]:
    migrate(chdb_store)
    data = Fixture()
    engine = PictureEngine(
        load_reference(), RuleSettings(), wall_clock=lambda: (T0 + timedelta(hours=1)).timestamp()
    )
    engine.ingest(
        Record("intel", 0, i, b"LT-RU-01", json.dumps(doc).encode())
        for i, doc in enumerate((data.red, data.green))
    )
    engine.evaluate()
    sink = HistorySink(chdb_store, max_rows=1000, max_interval_s=60)
    sink.add(engine.drain())
    asyncio.run(sink.flush())
    yield data


@pytest.fixture(scope="module")
def lane(chdb_store: HistoryStore) -> Iterator[AnalystLane]:
    """The analysts' lane on the session's chDB, as a worker or `history sql` builds it."""
    analysts = direct_lane(chdb_store.dsn, AnalystLimits())
    yield analysts
    analysts.close()


def query(lane: AnalystLane, organisation: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    database = analyst_database(organisation)
    _, rows = asyncio.run(lane.run(sql, params or None, None, database=database))
    return rows


def test_every_organisation_has_its_analyst_views(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    for organisation in ORGANISATIONS:
        _, rows = chdb_store.query(f"SHOW TABLES FROM {analyst_database(organisation)}")
        assert {r[0] for r in rows} == {
            "events",
            "events_hourly",
            "events_daily",
            "alerts",
            "alert_audit",
            "dead_letters",
            "commands",
        }
    text = "\n".join(m.sql for m in load_migrations())
    assert all(f"'{org}'" in text for org in ORGANISATIONS), "a new organisation needs views"


def test_red_indicator_rows_reach_only_their_originator(
    lane: AnalystLane, written: Fixture
) -> None:
    sql = "SELECT indicator_id FROM events WHERE indicator_id IN ({ids:Array(String)}) ORDER BY 1"
    ids = [written.red_id, written.green_id]
    assert query(lane, "LT-VSAT", sql, ids=ids) == [(written.green_id,), (written.red_id,)]
    for other in ("LV-VRS", "PL-SG", "EE-PPA", "EU-RCC"):
        assert query(lane, other, sql, ids=ids) == [(written.green_id,)], other


def test_alert_payloads_and_audit_are_redacted_for_other_organisations(
    lane: AnalystLane, written: Fixture
) -> None:
    sql = "SELECT payload FROM alerts WHERE alert_id = 'move_equipment_to_arteries.LT-RU-01.1'"
    own = [p for (p,) in query(lane, "LT-VSAT", sql)]
    other = [p for (p,) in query(lane, "EU-RCC", sql)]
    assert own and all(written.red_id in p and written.red["event_id"] in p for p in own)
    assert other and not any(written.red_id in p or written.red["event_id"] in p for p in other)
    assert all(json.loads(p)["withheld_sources"] == 1 for p in other)
    audit = query(
        lane,
        "EU-RCC",
        "SELECT actor, to_status FROM alert_audit "
        "WHERE alert_id = 'move_equipment_to_arteries.LT-RU-01.1' ORDER BY version",
    )
    assert audit and audit[0] == ("rule:move_equipment_to_arteries", "raised")


def test_canned_reports_pass_the_allow_list(lane: AnalystLane, written: Fixture) -> None:
    for kind in ("totals", "yoy", "alerts"):
        report = build_report(kind, start=T0.date(), end=T0.date())
        _, rows = asyncio.run(
            lane.run(report.sql, report.parameters, None, database="analyst_pl_sg")
        )
        assert written.red_id not in repr(rows)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM events",
        "WITH recent AS (SELECT * FROM events WHERE late = 0) SELECT count() FROM recent",
        "SELECT 1 UNION ALL SELECT dummy FROM system.one",
        "SELECT section_id, countIf(event_type = 'indicator') FROM events GROUP BY section_id",
        "SELECT toStartOfDay(occurred_at) AS d, uniqExact(event_id) FROM events GROUP BY d",
        "SELECT JSONExtractString(payload, 'status') FROM alerts FINAL LIMIT 1",
        "SELECT * FROM analyst_pl_sg.events_daily LIMIT 1",
    ],
)
def test_ordinary_analyst_queries_are_accepted(
    chdb_store: HistoryStore, lane: AnalystLane, sql: str
) -> None:
    migrate(chdb_store)
    query(lane, "PL-SG", sql)


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT 1 INTO OUTFILE '{outfile}'", "INTO OUTFILE"),
        ("SELECT 1 INTO OUTFILE '{outfile}' APPEND", "INTO OUTFILE"),
        ("KILL QUERY WHERE 1", "read-only"),
        ("SHOW GRANTS", "read-only"),
        ("SELECT * FROM system.processes", "system.processes"),
        ("SELECT * FROM system.tables", "system.tables"),
        ("SELECT 1 WHERE 'x' IN system.users", "system.users"),
        ("SELECT * FROM file('/etc/hostname')", "table function file"),
        ("SELECT * FROM url('http://127.0.0.1:1/')", "table function url"),
        ("SELECT * FROM numbers(10)", "table function numbers"),
        ("SELECT * FROM remote('127.0.0.1', default.events)", "table function remote"),
        ("SELECT file('/etc/hostname')", "function file"),
        ("SELECT sleep(3)", "function sleep"),
        ("SELECT currentUser()", "function currentUser"),
        ("SELECT dictGet('d', 'a', 1)", "function dictGet"),
        ("SELECT count() FROM default.events", "default.events"),
        ("SELECT count() FROM analyst_lt_vsat.events", "analyst_lt_vsat.events"),
        ("SELECT count() FROM events SETTINGS max_execution_time = 100000", "SETTINGS"),
        ("SELECT 1 FORMAT JSON", "FORMAT"),
        ("INSERT INTO events (event_id) VALUES (generateUUIDv4())", "read-only"),
        ("DROP TABLE events", "read-only"),
        ("EXPLAIN SELECT 1", "read-only"),
        ("SET readonly = 0", "read-only"),
    ],
)
def test_everything_else_is_refused_with_the_reason(
    chdb_store: HistoryStore, lane: AnalystLane, tmp_path: Path, sql: str, fragment: str
) -> None:
    migrate(chdb_store)
    outfile = tmp_path / "leak.txt"
    with pytest.raises(SqlRefused, match=fragment.replace("(", r"\(")):
        query(lane, "PL-SG", sql.replace("{outfile}", str(outfile)))
    assert not outfile.exists()


@pytest.mark.parametrize(
    "sql", ["SELECT 1; SELECT 2", "SELECT 1; SELECT * FROM file('/etc/hostname')"]
)
def test_two_statements_are_refused(lane: AnalystLane, sql: str) -> None:
    # chDB itself would run both; ClickHouse's formatter refuses them first.
    with pytest.raises(SqlRefused, match="one statement at a time"):
        query(lane, "PL-SG", sql)
