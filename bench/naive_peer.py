"""The textbook Faust pattern (group_by + tumbling windowed table per event), for comparison."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import faust

BROKER = os.environ.get("NAIVE_BROKER", "kafka://127.0.0.1:9092")
EXPECTED = int(os.environ.get("NAIVE_EXPECTED", "30000"))
RESULT = Path(os.environ.get("NAIVE_RESULT", "naive-result.json"))
DATADIR = os.environ.get("NAIVE_DATADIR", "naive-data")

app = faust.App(
    "naive-peer",
    broker=BROKER,
    store="memory://",
    datadir=DATADIR,
    topic_partitions=4,
    broker_session_timeout=6,
    broker_heartbeat_interval=1,
    consumer_auto_offset_reset="earliest",
    web_port=int(os.environ.get("NAIVE_WEB_PORT", "6099")),
    web_enabled=False,
    autodiscover=False,
)


class Event(faust.Record, serializer="json"):
    """The fields of a border event the naive peer reads (extra fields are kept as-is)."""

    event_id: str
    event_type: str
    schema_version: int
    occurred_at: str
    section_id: str
    reporter: str
    persons: int = 0
    outcome: str | None = None


events_topic = app.topic(
    "border.crossings", "border.turnbacks", "intel.indicators", value_type=Event
)
# group_by of a stream over several topics needs an explicit repartition topic.
by_section = app.topic("naive-peer-by-section", value_type=Event, partitions=4)
section_to_attempts = app.Table("section_to_attempts", default=int, partitions=4).tumbling(
    3600, expires=timedelta(days=8)
)

state: dict[str, Any] = {"count": 0, "first": None, "first_wall": None}


@app.agent(events_topic)
async def count_attempts(stream: Any) -> None:
    async for event in stream.group_by(Event.section_id, topic=by_section):
        if state["first"] is None:
            state["first"] = time.perf_counter()
            state["first_wall"] = time.time()
        if event.event_type == "crossing_attempt":
            section_to_attempts[event.section_id] += event.persons
        state["count"] += 1
        if state["count"] == EXPECTED:
            seconds = time.perf_counter() - state["first"]
            tmp = RESULT.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {"events": EXPECTED, "seconds": seconds, "first_wall": state["first_wall"]}
                )
            )
            tmp.rename(RESULT)


@app.timer(1.0)
async def progress() -> None:
    (RESULT.parent / "progress.json").write_text(json.dumps({"count": state["count"]}))


if __name__ == "__main__":
    app.main()
