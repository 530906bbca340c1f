"""The production history path: clickhouse-connect over HTTP with a user and a password.

The server is tests/support/clickhouse_http.py: ClickHouse's HTTP interface (the parts
clickhouse-connect uses) in front of the chDB engine, with one user and password. What it does
and does not reproduce of a real ClickHouse server is said there and in tests/README.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marchwarden.history.migrations import migrate
from marchwarden.history.store import HistoryStore, HistoryUnavailable, ReadOnlyViolation
from tests.support.stack import (
    ClickHouseServer,
    TopicReader,
    await_until,
    event,
    produce,
    produce_events,
)

CLI = [sys.executable, "-m", "marchwarden.cli"]
T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARCHWARDEN_")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_migrate_over_http_with_user_and_password(clickhouse_server: ClickHouseServer) -> None:
    env = clean_env(**clickhouse_server.env())
    first = run_cli("migrate", env=env)
    assert first.returncode == 0, first.stderr
    again = run_cli("migrate", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


@pytest.mark.parametrize("how", ["environment", "dsn"])
def test_a_wrong_password_is_refused_and_never_printed(
    clickhouse_server: ClickHouseServer, how: str
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    if how == "environment":
        env = clean_env(**{**clickhouse_server.env(), "MARCHWARDEN_CLICKHOUSE_PASSWORD": wrong})
    else:
        dsn = f"http://{clickhouse_server.user}:{wrong}@127.0.0.1:{clickhouse_server.port}"
        env = clean_env(MARCHWARDEN_CLICKHOUSE_DSN=dsn)
    result = run_cli("migrate", env=env)
    assert result.returncode == 1
    assert "Authentication failed" in result.stderr and "Traceback" not in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert clickhouse_server.password not in result.stdout + result.stderr


def test_the_store_writes_deduplicates_and_refuses_writes_over_http(
    clickhouse_server: ClickHouseServer,
) -> None:
    store = HistoryStore(clickhouse_server.url, clickhouse_server.user, clickhouse_server.password)
    try:
        migrate(store)
        event_id = uuid.uuid4()
        columns = ["event_id", "event_type", "occurred_at", "section_id", "persons"]
        row = (event_id, "crossing_attempt", T0, "LT-BY-01", 4)
        for _ in range(2):  # a retried insert carries the same deduplication token
            store.insert("events", [row], columns, dedup_token=f"events:{event_id}")
        _, rows = store.query(
            "SELECT count(), sum(persons), any(occurred_at) FROM events WHERE event_id = {id:UUID}",
            {"id": str(event_id)},
        )
        assert rows == [(1, 4, T0.replace(tzinfo=None))]
        before = store.query("SELECT count() FROM events")[1]
        with pytest.raises(ReadOnlyViolation):
            store.query("TRUNCATE TABLE events", readonly=True)
        assert store.query("SELECT count() FROM events")[1] == before
        _, readonly = store.query("SELECT getSetting('readonly')")
        assert readonly == [(0,)], "a refused query leaves no setting behind"
    finally:
        store.close()
    wrong = HistoryStore(clickhouse_server.url, clickhouse_server.user, "not-the-password")
    try:
        with pytest.raises(HistoryUnavailable, match="Authentication failed"):
            wrong.query("SELECT 1")
    finally:
        wrong.close()


async def test_a_worker_keeps_its_history_on_a_clickhouse_server(
    worker_factory: Any, clickhouse_server: ClickHouseServer
) -> None:
    worker = worker_factory(**clickhouse_server.env())
    assert worker.get("/health")["history"] == "clickhouse"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    events = [
        event("crossing_attempt", "PL-BY-01", t0 + timedelta(seconds=i), persons=2)
        for i in range(40)
    ]
    events.append(event("indicator", "LV-RU-01", t0, indicator_id="lv-http", level="high"))
    async with TopicReader(worker.bootstrap, worker.topic("ops.alerts")) as alerts:
        await produce_events(worker, events)
        bad = b'{"event_type": "crossing_attempt", "schema_version": 1}'
        crossings = worker.topic("border.crossings")
        await produce(worker.bootstrap, [(crossings, b"PL-BY-01", bad)])
        await alerts.wait_for(lambda m: m, 20, "the move-equipment alert")
    ids = ", ".join(f"'{e['event_id']}'" for e in events)
    await await_until(
        lambda: (
            worker.sql(f"SELECT count(), uniqExact(event_id) FROM events WHERE event_id IN ({ids})")
            == [[len(events), len(events)]]
        ),
        30,
        "every event in the ClickHouse history, once",
    )
    await await_until(
        lambda: (
            worker.sql("SELECT count() FROM dead_letters WHERE topic = '" + crossings + "'")
            == [[1]]
        ),
        30,
        "the dead letter in history",
    )
    (alert,) = [json.loads(m.value) for m in alerts.messages][:1]
    stored = worker.sql(f"SELECT status FROM alerts WHERE alert_id = '{alert['alert_id']}'")
    assert ["raised"] in stored
    status, verdict = worker.post("/admin/verify")
    assert status == 200 and verdict["ok"], verdict
    status, refused = worker.post("/history/sql", {"sql": "DROP TABLE events"})
    assert status == 403 and "read-only" in refused["error"]
    assert clickhouse_server.password not in worker.log(), "the password never reaches the log"
