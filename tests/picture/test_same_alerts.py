"""Same input, same alerts: the baltic-2024 critical window through the real stack, run thrice."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from pathlib import Path
from typing import Any

from marchwarden.picture.engine import PictureEngine
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings
from tests.support.replay import (
    alert_stream,
    by_partition,
    in_event_time_order,
    read_topic,
    run_engine,
    summary,
    window_events,
)
from tests.support.stack import WorkerProcess, await_until, produce_events

# Each run batches differently: the worker's default, and two small getmany limits.
MAX_RECORDS = (5000, 200, 37)
START_TIMEOUT_S = 120.0
ALERT_COLUMNS = "alert_id, version, rule, level, status, section_id, raised_at, updated_at"


def in_process_stream(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = PictureEngine(load_reference(), RuleSettings())
    deliveries = in_event_time_order(by_partition(events))
    return alert_stream(run_engine(engine, deliveries, (500,), random.Random(0)))


def new_worker(bootstrap: str, directory: Path, max_records: int) -> WorkerProcess:
    return WorkerProcess(
        bootstrap=bootstrap,
        data_dir=directory,
        prefix=f"same{max_records}{uuid.uuid4().hex[:6]}",
        extra_env={"MARCHWARDEN_INGEST_MAX_RECORDS": str(max_records)},
    )


async def one_run(
    worker: WorkerProcess, events: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[list[Any]], list[dict[str, Any]]]:
    """Stream the window through a fresh worker; its alert states on ops.alerts and in history."""
    try:
        # Most of a run is the start (~15-20 s: the group join); on a loaded 2-core machine
        # it can take over a minute, hence one worker at a time and a generous timeout.
        await asyncio.to_thread(worker.start, START_TIMEOUT_S)
        await produce_events(worker, events)
        await await_until(
            lambda: worker.get("/health")["accepted"] == len(events), 60, "every event applied"
        )
        status, _ = worker.post("/admin/flush")
        assert status == 200
        rows = worker.sql(
            f"SELECT {ALERT_COLUMNS}, payload FROM alerts FINAL ORDER BY alert_id, version"
        )
    finally:
        code = worker.stop()
    assert code == 0, worker.log()[-2000:]
    # Read after the worker stopped: whatever its timers published later would show here.
    published = alert_stream(await read_topic(worker.bootstrap, worker.topic("ops.alerts")))
    table = [row[:-1] for row in rows]
    stored = alert_stream(json.loads(row[-1]) for row in rows)
    return published, table, stored


async def test_the_critical_window_gives_the_same_alerts_on_every_run(
    bootstrap: str, tmp_path: Path
) -> None:
    events = window_events()
    expected = in_process_stream(events)
    assert len(expected) >= 9, summary(expected)
    runs = []
    for size in MAX_RECORDS:
        runs.append(await one_run(new_worker(bootstrap, tmp_path / f"run-{size}", size), events))

    for published, table, stored in runs:
        assert summary(published) == summary(expected)
        assert published == expected  # evidence, plans and event ids included
        assert stored == published, "history holds the states that were published"
        assert [row[:2] for row in table] == [[a["alert_id"], a["version"]] for a in stored]
    assert all(table == runs[0][1] for _, table, _ in runs), "alerts table rows differ"
