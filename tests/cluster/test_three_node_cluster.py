"""Two workers on a 3-node Apache Kafka cluster survive a worker kill -9 and a broker kill."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import (
    WorkerProcess,
    await_until,
    event,
    produce_events,
)

pytestmark = pytest.mark.cluster

SECTIONS = [
    "LT-BY-01",
    "LT-BY-03",
    "LV-BY-01",
    "LV-BY-02",
    "PL-BY-01",
    "PL-BY-03",
    "EE-RU-01",
    "LT-RU-02",
]
SURGE_SECTION = "LV-BY-02"
INDICATOR_SECTION = "LT-RU-02"


def _free_base_port() -> int:
    """A base port whose client ports (+0..+2) and controller ports (+10..+12) are all free."""
    from marchwarden.embedded.tansu import port_in_use

    for base in range(39092, 60000, 97):
        if not any(port_in_use("127.0.0.1", base + d) for d in (0, 1, 2, 10, 11, 12)):
            return base
    raise AssertionError("no free port range for the Kafka cluster")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    from tests.support.kafka_cluster import KafkaCluster, KafkaInfraError

    nodes = KafkaCluster(tmp_path / "kafka", base_port=_free_base_port())
    try:
        nodes.start()
    except KafkaInfraError:
        # Three JVMs starting on two cores can miss the ready deadline on a busy machine;
        # one fresh attempt (new folder, new ports) separates slowness from a real fault.
        nodes.stop()
        nodes = KafkaCluster(tmp_path / "kafka-retry", base_port=_free_base_port())
        nodes.start()
    try:
        yield nodes
    finally:
        nodes.stop()


def stream(t0: datetime) -> list[dict[str, Any]]:
    """2,200 attempts over 8 sections and 5.7 days, and one surge.

    The background is far below every section's surge floors (4 attempts and 10 persons an
    hour at the lowest, on the Russian borders): each section reports every 30 minutes (at
    most 3 in an hour) with 1 to 4 persons, so the one surge is the scripted one.
    """
    events = [
        event(
            "crossing_attempt",
            SECTIONS[i % len(SECTIONS)],
            t0 + timedelta(seconds=225 * i),
            persons=1 + i % 4,
        )
        for i in range(2140)
    ]
    surge_at = t0 + timedelta(hours=12)
    events += [
        event("crossing_attempt", SURGE_SECTION, surge_at + timedelta(seconds=i)) for i in range(60)
    ]
    events.sort(key=lambda e: e["occurred_at"])
    return events


async def test_two_workers_survive_worker_and_broker_failures(
    cluster: Any, gateway: str, tmp_path: Path
) -> None:
    """One history (the `gateway` fixture: one process owns chDB) for both workers."""
    env = {
        "MARCHWARDEN_PARTITIONS": "6",
        "MARCHWARDEN_REPLICATION_FACTOR": "3",
        "MARCHWARDEN_SINK_MAX_INTERVAL_S": "0.2",
    }
    common = {"bootstrap": cluster.bootstrap, "prefix": "cluster"}

    def worker(name: str) -> WorkerProcess:
        w = WorkerProcess(data_dir=tmp_path / name, extra_env=env, **common)
        w.extra_env["MARCHWARDEN_CLICKHOUSE_DSN"] = f"mwhistory://{gateway}"
        return w

    a, b = worker("a"), worker("b")
    try:
        a.start(timeout=120)
        b.start(timeout=120)
        await _exercise(cluster, a, b)
        # The survivor stops cleanly after all that (a crash on SIGTERM fails the test).
        code = b.stop(signal.SIGTERM, timeout=60)
        assert code == 0, f"the surviving worker exited with {code}:\n{b.log()[-3000:]}"
    finally:
        for w in (a, b):
            w.stop(signal.SIGKILL)


async def _exercise(cluster: Any, a: WorkerProcess, b: WorkerProcess) -> None:
    await_owned = lambda: sum(w.get("/health")["owned_sections"] for w in (a, b))  # noqa: E731
    await await_until(lambda: await_owned() == 17, 60, "the two workers to share all sections")
    assert 0 < a.get("/health")["owned_sections"] < 17, "both workers own partitions"

    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=140)
    events = stream(t0)
    indicator = event(
        "indicator",
        INDICATOR_SECTION,
        t0 + timedelta(minutes=30),
        indicator_id="kal-cluster",
        level="high",
    )
    first, second, third = events[:1000], events[1000:2000], events[2000:]

    await produce_events(a, [*first, indicator])
    await await_until(
        lambda: a.get("/health")["accepted"] + b.get("/health")["accepted"] >= 500, 60, "processing"
    )
    a.stop(signal.SIGKILL)  # a worker dies mid-stream
    await produce_events(b, second)
    cluster.kill_node(2)  # a broker dies; min ISR 2 keeps acks=all writes going
    await produce_events(b, third + first[:100])  # plus replays of already-seen events
    cluster.start_node(2)

    total = len(events) + 1
    await await_until(
        lambda: b.get("/health")["owned_sections"] == 17, 90, "the survivor to own every section"
    )
    await await_until(
        lambda: (
            b.sql("SELECT count() FROM events")[0][0] >= total and b.post("/admin/flush")[0] == 200
        ),
        120,
        "every event in history",
    )
    rows = b.sql("SELECT count(), uniqExact(event_id) FROM events")
    assert rows == [[total, total]], "every produced event is in history exactly once"

    status, verify = b.post("/admin/verify")
    assert status == 200 and verify["ok"], verify["differences"][:5]
    picture = b.get("/picture")["sections"]
    for section in SECTIONS:
        expected = sum(e["persons"] for e in events if e["section_id"] == section)
        assert picture[section]["counts"]["7d"]["attempt_persons"] == expected, section

    raised = b.sql(
        "SELECT alert_id, countIf(status = 'raised') FROM alerts FINAL GROUP BY alert_id ORDER BY alert_id"
    )
    assert raised == [
        [f"move_equipment_to_arteries.{INDICATOR_SECTION}.1", 1],
        [f"surge.{SURGE_SECTION}.1", 1],
    ]
