"""Same input, same alerts: the baltic-2024 critical window through the real stack, run thrice."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marchwarden.access.tlp import redact_alert
from marchwarden.contracts.alerts import AlertState
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings, Settings, TopicNames
from marchwarden.topics import ensure_topics
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

START_TIMEOUT_S = 120.0
ALERT_COLUMNS = "alert_id, version, rule, level, status, section_id, raised_at, updated_at"


@dataclass(frozen=True)
class Run:
    """How the window reaches the worker: streamed while it runs, or waiting as a backlog."""

    backlog: bool
    poll_ms: int


# A backlog is what a compressed demo turns into whenever the worker falls behind: the
# consumer then holds many records of several partitions at once (this is how an indicator
# came to expire before its clear was read, or before it was lit).
RUNS = (Run(False, 20), Run(True, 20), Run(True, 250))


def in_process_stream(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = PictureEngine(load_reference(), RuleSettings())
    deliveries = in_event_time_order(by_partition(events))
    return alert_stream(run_engine(engine, deliveries, (500,), random.Random(0)))


def new_worker(bootstrap: str, directory: Path, run: Run) -> WorkerProcess:
    return WorkerProcess(
        bootstrap=bootstrap,
        data_dir=directory,
        prefix=f"same{uuid.uuid4().hex[:8]}",
        extra_env={"MARCHWARDEN_INGEST_POLL_MS": str(run.poll_ms)},
    )


async def create_topics(worker: WorkerProcess) -> None:
    defaults = TopicNames()
    names = {field: worker.topic(getattr(defaults, field)) for field in TopicNames.model_fields}
    settings = Settings(broker_url=f"kafka://{worker.bootstrap}", topics=TopicNames(**names))
    await ensure_topics(settings)


async def one_run(
    worker: WorkerProcess, run: Run, events: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[list[Any]], list[dict[str, Any]]]:
    """The window through a fresh worker; its alert states on ops.alerts and in history."""
    try:
        if run.backlog:
            await create_topics(worker)
            await produce_events(worker, events)
        # Most of a run is the start (~15-20 s: the group join); on a loaded 2-core machine
        # it can take over a minute, hence one worker at a time and a generous timeout.
        await asyncio.to_thread(worker.start, START_TIMEOUT_S)
        if not run.backlog:
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
    # The internal topic carries the full states; ops.alerts the view every organisation may
    # see (TLP), which must be exactly the shared view of those full states.
    full = alert_stream(await read_topic(worker.bootstrap, worker.topic(TopicNames().alerts_full)))
    shared = alert_stream(await read_topic(worker.bootstrap, worker.topic("ops.alerts")))
    assert shared == shared_view(full), "ops.alerts carries the shared TLP view"
    table = [row[:-1] for row in rows]
    stored = alert_stream(json.loads(row[-1]) for row in rows)
    return full, table, stored


def shared_view(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return alert_stream(redact_alert(AlertState.model_validate(a), None) for a in stream)


async def test_the_critical_window_gives_the_same_alerts_on_every_run(
    bootstrap: str, tmp_path: Path
) -> None:
    events = window_events()
    expected = in_process_stream(events)
    assert len(expected) >= 9, summary(expected)
    assert any(a["withheld_sources"] for a in shared_view(expected)), "an AMBER source is in it"
    runs = []
    for n, run in enumerate(RUNS):
        runs.append(await one_run(new_worker(bootstrap, tmp_path / f"run-{n}", run), run, events))

    for published, table, stored in runs:
        assert summary(published) == summary(expected)
        assert published == expected  # evidence, plans and event ids included
        assert stored == published, "history holds the full states that were published"
        assert [row[:2] for row in table] == [[a["alert_id"], a["version"]] for a in stored]
    assert all(table == runs[0][1] for _, table, _ in runs), "alerts table rows differ"
