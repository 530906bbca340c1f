"""CPU per event of the pure engine (no broker, no store): baltic-2024 replayed in batches.

Runs against whichever tree is on the path, so the same script measures a tree before and
after a change (`PYTHONPATH=<tree>/services:<tree> python -m bench.engine_replay`): events are
decoded, deduplicated, counted, the rules evaluated, and the history rows encoded, as the
worker does for a batch. Reported as CPU seconds (process time), which other load on the
machine disturbs far less than wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from typing import Any

from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings
from marchwarden.simulator import generate

try:  # the engine's boundary after issue 14: its own package, typed outputs, history's rows
    from marchwarden.engine.outputs import Record
    from marchwarden.engine.picture_engine import PictureEngine
    from marchwarden.history.rows import event_row
except ImportError:  # before: the engine sat in picture/ and built the rows itself
    from marchwarden.picture.engine import (  # type: ignore[no-redef]
        PictureEngine,
        Record,  # type: ignore[attr-defined]
    )

    event_row = None  # type: ignore[assignment]
try:
    from marchwarden.ingest.worker import partition_of
except ImportError:
    from marchwarden.picture.agents import partition_of  # type: ignore[no-redef]

TOPIC_OF = {
    "crossing_attempt": "border.crossings",
    "sensor_heartbeat": "border.crossings",
    "turn_back": "border.turnbacks",
    "indicator": "intel.indicators",
}


def batches(events: list[dict[str, Any]], size: int, partitions: int) -> list[dict[Any, list[Any]]]:
    """The events in event-time order, cut into batches keyed by (topic, partition)."""
    out = []
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    ordered = sorted(events, key=lambda e: e["occurred_at"])
    for start in range(0, len(ordered), size):
        batch: dict[Any, list[Any]] = defaultdict(list)
        for event in ordered[start : start + size]:
            where = (TOPIC_OF[event["event_type"]], partition_of(event["section_id"], partitions))
            value = json.dumps(event).encode()
            batch[where].append(Record(where[0], where[1], offsets[where], b"", value))
            offsets[where] += 1
        out.append(dict(batch))
    return out


def replay_once(prepared: list[dict[Any, list[Any]]]) -> tuple[float, int, int]:
    engine = PictureEngine(load_reference(), RuleSettings(), wall_clock=lambda: 2.0e9)
    rows = alerts = 0
    began = time.process_time()
    for batch in prepared:
        engine.ingest_partitions(batch)
        engine.evaluate()
        out = engine.drain()
        encoded = [event_row(e) for e in out.events] if event_row else out.events
        rows += len(encoded)
        alerts += len(out.alerts)
    return time.process_time() - began, rows, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    events = list(generate("baltic-2024", 2024))
    prepared = batches(events, args.batch, 4)
    runs = [replay_once(prepared) for _ in range(args.runs)]
    seconds = statistics.median(r[0] for r in runs)
    print(
        json.dumps(
            {
                "events": len(events),
                "rows": runs[0][1],
                "alert_states": runs[0][2],
                "cpu_s": [round(r[0], 3) for r in runs],
                "median_cpu_s": round(seconds, 3),
                "cpu_us_per_event": round(seconds / len(events) * 1e6, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
