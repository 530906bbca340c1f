"""Two workers, one history: an indicator reaches a section named only as an extra section
and owned by the other worker (issue 13, point 2), and survives that worker's kill -9."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from marchwarden.ingest.worker import partition_of
from tests.support.stack import TopicReader, WorkerProcess, await_until, event, produce_events

PARTITIONS = 4


def owned(worker: WorkerProcess) -> set[str]:
    return set(worker.get("/picture")["sections"])


def pick_pair(first: set[str], second: set[str]) -> tuple[str, str]:
    """A primary section of the first worker and an extra one of the second, on other partitions."""
    for primary in sorted(first):
        for extra in sorted(second):
            if partition_of(primary, PARTITIONS) != partition_of(extra, PARTITIONS):
                return primary, extra
    raise AssertionError(f"no pair of sections on different partitions: {first} / {second}")


async def test_an_indicator_reaches_the_extra_section_of_the_other_worker(
    bootstrap: str, gateway: str, tmp_path: Path
) -> None:
    prefix = f"two{tmp_path.name[-6:].replace('_', '')}"
    env = {
        "MARCHWARDEN_PARTITIONS": str(PARTITIONS),
        "MARCHWARDEN_CLICKHOUSE_DSN": f"mwhistory://{gateway}",
    }

    def worker(name: str) -> WorkerProcess:
        return WorkerProcess(bootstrap, tmp_path / name, prefix, extra_env=dict(env))

    a, b, c = worker("a"), worker("b"), worker("c")
    try:
        a.start(timeout=90)
        b.start(timeout=90)

        def shared() -> bool:
            mine, theirs = owned(a), owned(b)
            return bool(mine) and bool(theirs) and not mine & theirs and len(mine | theirs) == 17

        await await_until(shared, 90, "the two workers to share the sections")
        primary, extra = pick_pair(owned(a), owned(b))
        t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        indicator = event(
            "indicator",
            primary,
            t0,
            indicator_id="ind-two-workers",
            level="high",
            confidence=1.0,
            extra_section_ids=[extra],
        )
        async with TopicReader(bootstrap, a.topic("ops.alerts")) as alerts:
            await produce_events(a, [indicator])

            def extra_level(w: WorkerProcess) -> str:
                return str(w.get("/picture")["sections"].get(extra, {}).get("threat_level"))

            await await_until(lambda: extra_level(b) == "high", 60, f"{extra} high on b")
            picture = b.get("/picture")["sections"][extra]
            assert [i["indicator_id"] for i in picture["indicators"]] == ["ind-two-workers"]
            # The plan is the primary's alert on a, covering the extra section's arteries.
            raised = await alerts.wait_for(lambda m: m, 30, "the primary's alert")
            alert = json.loads(raised[0].value)
            assert alert["section_id"] == primary
            assert sorted(alert["evidence"]["sections"]) == sorted([primary, extra])

        # The event is in history once, written by the primary's owner only.
        await await_until(
            lambda: (
                b.post("/admin/flush")[0] == 200
                and b.sql("SELECT count() FROM events WHERE event_type = 'indicator'") == [[1]]
            ),
            60,
            "the indicator in history",
        )

        # b dies; whichever worker takes the extra section back rebuilds it from history
        # (a fresh worker c joins, so the partitions are dealt out again).
        b.stop(signal.SIGKILL)
        c.start(timeout=90)

        def owner_of_extra() -> WorkerProcess | None:
            for w in (a, c):
                if extra in owned(w):
                    return w
            return None

        await await_until(
            lambda: (w := owner_of_extra()) is not None and extra_level(w) == "high",
            90,
            f"{extra} high again after b's kill -9",
        )
        rows = a.sql("SELECT count() FROM events WHERE event_type = 'indicator'")
        assert rows == [[1]], "the copy never became a second history row"
    finally:
        for w in (a, b, c):
            w.stop(signal.SIGKILL)
