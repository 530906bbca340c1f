"""When history refuses writes: no offset is committed, nothing is lost, nothing is doubled.

The workers share one chDB history through `marchwarden history serve` (the `gateway`
fixture), so the test can take the `events` table away under them (DETACH TABLE) and give it
back (ATTACH TABLE): a real ClickHouse refusal, not a mock.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from tests.support.stack import (
    GATEWAY_ENV,
    WorkerProcess,
    await_until,
    event,
    http,
    produce_events,
)

WorkerFactory = Callable[..., WorkerProcess]
SECTIONS = ["LT-BY-01", "LV-BY-01", "PL-BY-01", "EE-RU-02", "LT-BY-02", "PL-BY-03"]
FAILED_WRITE = re.compile(r"history write to events failed")


def gateway_command(gateway: str, sql: str) -> None:
    secret = GATEWAY_ENV["MARCHWARDEN_HISTORY_WRITE_SECRET"]
    status, body = http("POST", f"http://{gateway}/command", {"sql": sql}, token=secret)
    assert status == 200, body


def stream(count: int, start: datetime) -> list[dict[str, Any]]:
    return [
        event("crossing_attempt", SECTIONS[i % len(SECTIONS)], start + timedelta(seconds=11 * i),
              persons=1 + i % 3)
        for i in range(count)
    ]  # fmt: skip


async def committed(worker: WorkerProcess) -> dict[int, int]:
    """The picture consumer group's committed offsets on the crossings topic.

    Read with a consumer of the group that never subscribes (so never joins): aiokafka's admin
    client cannot decode tansu's OffsetFetch answer, its group coordinator path can.
    """
    topic = worker.topic("border.crossings")
    reader = AIOKafkaConsumer(
        bootstrap_servers=worker.bootstrap,
        group_id=f"mw-{worker.prefix}-picture",
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        partitions = await partitions_of(reader, topic)
        found = {p: await reader.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        await reader.stop()
    return {p: offset for p, offset in found.items() if offset is not None and offset > 0}


async def partitions_of(client: AIOKafkaConsumer, topic: str) -> set[int]:
    partitions = client.partitions_for_topic(topic)
    if not partitions:
        await client._client.force_metadata_update()
        partitions = client.partitions_for_topic(topic)
    assert partitions, f"no partitions for {topic}"
    return set(partitions)


def end_offsets(events: list[dict[str, Any]], partitions: int = 4) -> dict[int, int]:
    """Where each partition's log ends after `events` (fresh topics start at offset 0).

    Computed with Kafka's default partitioner rather than asked of the broker: aiokafka's
    ListOffsets answer from tansu is not the log end.
    """
    ends: dict[int, int] = {}
    for e in events:
        p = (murmur2(e["section_id"].encode()) & 0x7FFFFFFF) % partitions
        ends[p] = ends.get(p, 0) + 1
    return ends


def health(worker: WorkerProcess) -> tuple[int, Any]:
    return http("GET", worker.url + "/health")


def history_rows(worker: WorkerProcess, events: list[dict[str, Any]]) -> list[list[int]]:
    ids = ", ".join(f"'{e['event_id']}'" for e in events)
    return worker.sql(f"SELECT count(), uniqExact(event_id) FROM events WHERE event_id IN ({ids})")


def expected_persons(events: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for e in events:
        totals[e["section_id"]] = totals.get(e["section_id"], 0) + e["persons"]
    return totals


def picture_persons(workers: list[WorkerProcess]) -> dict[str, int]:
    """attempt persons over 24 h per section, from whichever worker owns the section."""
    totals: dict[str, int] = {}
    for worker in workers:
        sections = worker.get("/picture")["sections"]
        for section in SECTIONS:
            if section in sections:
                totals[section] = sections[section]["counts"]["24h"]["attempt_persons"]
    return totals


async def refuse_writes_and_wait_for_the_failure(
    worker: WorkerProcess, gateway: str, events: list[dict[str, Any]]
) -> None:
    """Take `events` away, send `events`, and wait until the worker has tried and failed."""
    gateway_command(gateway, "DETACH TABLE events")
    await produce_events(worker, events)
    await await_until(
        lambda: len(FAILED_WRITE.findall(worker.log())) >= 2, 30, "two failed history writes"
    )
    status, body = health(worker)
    assert status == 503 and body["status"] == "history_failing", body
    assert body["history_write_error"].startswith("events:"), body


@pytest.mark.parametrize("then", ["recover", "sigterm", "kill-9"])
async def test_a_failed_history_write_commits_no_offset(
    gateway: str, worker_factory: WorkerFactory, then: str
) -> None:
    worker = worker_factory(MARCHWARDEN_CLICKHOUSE_DSN=f"mwhistory://{gateway}")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    first, second = stream(30, t0), stream(48, t0 + timedelta(hours=1))
    await produce_events(worker, first)
    await await_until(lambda: history_rows(worker, first) == [[30, 30]], 30, "first in history")
    ends = end_offsets(first)
    await await_until(lambda: committed_sync(worker) == ends, 30, "first batch committed")
    before = await committed(worker)

    await refuse_writes_and_wait_for_the_failure(worker, gateway, second)
    # The failing flush holds the consume loop, so only the batches fetched so far are in.
    assert health(worker)[1]["accepted"] > len(first), "the refused rows are second's"
    assert await committed(worker) == before, "no offset moves while history refuses the rows"

    if then in ("sigterm", "kill-9"):
        code = worker.stop(signal.SIGTERM if then == "sigterm" else signal.SIGKILL, timeout=60)
        if then == "sigterm":
            # It gives history a bounded time for the last rows, then says so and exits 1.
            assert code == 1, worker.log()[-3000:]
            assert "history did not accept the last rows" in worker.log()
        gateway_command(gateway, "ATTACH TABLE events")
        worker = worker_factory(
            data_dir=worker.data_dir, MARCHWARDEN_CLICKHOUSE_DSN=f"mwhistory://{gateway}"
        )
    else:
        gateway_command(gateway, "ATTACH TABLE events")

    everything = first + second
    await await_until(
        lambda: history_rows(worker, everything) == [[78, 78]], 30, "every row exactly once"
    )
    ends = end_offsets(everything)
    await await_until(lambda: committed_sync(worker) == ends, 30, "offsets committed to the end")
    await await_until(lambda: health(worker)[0] == 200, 30, "healthy again")
    assert health(worker)[1]["history_write_error"] is None
    assert picture_persons([worker]) == expected_persons(everything)
    status, verdict = worker.post("/admin/verify")
    assert status == 200 and verdict["ok"], verdict


def committed_sync(worker: WorkerProcess) -> dict[int, int]:
    """committed() for await_until, which runs its predicate in a thread."""
    return asyncio.run(committed(worker))


async def group_state(worker: WorkerProcess) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=worker.bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_consumer_groups([f"mw-{worker.prefix}-picture"])
    finally:
        await admin.close()
    return str(description.groups[0][2])


def rebalancing(worker: WorkerProcess) -> bool:
    """The group waits on `worker`: it was told to rebalance and the group is not stable.

    Apache Kafka calls that state PreparingRebalance; tansu answers Unknown.
    """
    told = "because it is rebalancing" in worker.log()
    return told and asyncio.run(group_state(worker)) not in {"Stable", "Empty", "Dead"}


async def test_partitions_revoked_during_a_flush_lose_and_double_nothing(
    gateway: str, worker_factory: WorkerFactory
) -> None:
    dsn = f"mwhistory://{gateway}"
    first = worker_factory(MARCHWARDEN_CLICKHOUSE_DSN=dsn)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    events = stream(60, t0)
    # The first worker owns every partition and is stuck in a flush that history refuses.
    await refuse_writes_and_wait_for_the_failure(first, gateway, events)
    before = await committed(first)

    # A second worker joins: the group rebalances and asks the first to give partitions
    # up, which it can only do after its flush (it checkpoints on revocation).
    second = worker_factory(MARCHWARDEN_CLICKHOUSE_DSN=dsn, wait=False)
    await await_until(
        lambda: rebalancing(first), 30, "the rebalance to wait on the first worker's flush"
    )
    assert await committed(first) == before, "nothing committed while the flush fails"
    gateway_command(gateway, "ATTACH TABLE events")

    second.wait_healthy(60)
    await await_until(lambda: health(first)[0] == 200, 30, "the first worker healthy again")
    owned = [set(w.get("/picture")["sections"]) for w in (first, second)]
    assert owned[0] and owned[1] and not owned[0] & owned[1], owned
    await await_until(lambda: history_rows(first, events) == [[60, 60]], 30, "rows once each")
    ends = end_offsets(events)
    await await_until(lambda: committed_sync(first) == ends, 30, "every offset committed")
    assert picture_persons([first, second]) == expected_persons(events)
    # The revoked partitions were committed before the hand-over: nothing was replayed.
    assert health(second)[1]["duplicates"] == 0
    for worker in (first, second):
        status, verdict = worker.post("/admin/verify")
        assert status == 200 and verdict["ok"], verdict
