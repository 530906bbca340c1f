"""The baltic-2024 critical window as Kafka would deliver it: partitions, interleavings, alerts.

Shared by the determinism tests: the pure engine under shuffled partition interleavings and
batch sizes, and the real stack run several times, must give the same alert stream.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from marchwarden.contracts.alerts import AlertState
from marchwarden.engine.outputs import Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.ingest.worker import partition_of
from marchwarden.simulator import generate
from tests.support.stack import TOPIC_OF

SCENARIO = "baltic-2024"
SEED = 2024
# The July 2024 episodes: the Kaliningrad indicator on LT-RU-01 (lit 07-16, cleared 07-17
# 18:00 before it would expire on 07-19), the staging indicator on LV-BY-02 (lit 07-18, left
# to expire on 07-19 14:30) and the LV-BY-02 surge in the night of 07-18.
WINDOW = (datetime(2024, 7, 14, tzinfo=UTC), datetime(2024, 7, 21, tzinfo=UTC))
PARTITIONS = 4

Partition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Message:
    """One produced event: its event time and the bytes the broker holds."""

    epoch: float
    key: bytes
    value: bytes


def window_events() -> list[dict[str, Any]]:
    """The critical window's events, as the deterministic simulator generates them."""
    return list(generate(SCENARIO, SEED, *WINDOW))


def by_partition(
    events: Iterable[dict[str, Any]], partitions: int = PARTITIONS
) -> dict[Partition, list[Message]]:
    """Each event on its topic's partition (keyed by section, as the producer sends them)."""
    result: dict[Partition, list[Message]] = {}
    for event in events:
        where = (TOPIC_OF[event["event_type"]], partition_of(event["section_id"], partitions))
        result.setdefault(where, []).append(
            Message(
                datetime.fromisoformat(event["occurred_at"]).timestamp(),
                event["section_id"].encode(),
                json.dumps(event).encode(),
            )
        )
    return result


def interleave(
    partitions: dict[Partition, list[Message]], rng: random.Random, max_lag_s: float
) -> Iterator[tuple[Partition, int, Message]]:
    """A random delivery order: each partition in its own order, in runs of random length.

    A partition is never more than `max_lag_s` of event time ahead of the slowest partition
    that still has messages (the allowed lateness bounds how far apart they may be).
    """
    position = dict.fromkeys(partitions, 0)
    names = sorted(partitions)
    while True:
        pending = [p for p in names if position[p] < len(partitions[p])]
        if not pending:
            return
        slowest = min(partitions[p][position[p]].epoch for p in pending)
        allowed = [p for p in pending if partitions[p][position[p]].epoch <= slowest + max_lag_s]
        chosen = rng.choice(allowed)
        for _ in range(rng.randint(1, 300)):
            offset = position[chosen]
            if offset >= len(partitions[chosen]):
                break
            message = partitions[chosen][offset]
            if message.epoch > slowest + max_lag_s:
                break
            yield chosen, offset, message
            position[chosen] += 1


def in_event_time_order(
    partitions: dict[Partition, list[Message]],
) -> Iterator[tuple[Partition, int, Message]]:
    runs = [
        [(m.epoch, p, i, m) for i, m in enumerate(messages)] for p, messages in partitions.items()
    ]
    for _, partition, offset, message in heapq.merge(*runs):
        yield partition, offset, message


def run_engine(
    engine: PictureEngine,
    deliveries: Iterable[tuple[Partition, int, Message]],
    batch_sizes: Sequence[int],
    rng: random.Random,
    between_batches: Callable[[], None] = lambda: None,
) -> list[AlertState]:
    """Feed deliveries to the engine in batches, as the worker does; returns the alert states.

    After each batch the rules run (as at the end of a worker batch); now and then they run
    for every section (the worker's timer) and the state is pruned (the worker's timer).
    """
    pending = list(deliveries)
    alerts: list[AlertState] = []
    while pending:
        size = rng.choice(batch_sizes)
        batch, pending = pending[:size], pending[size:]
        records: dict[Partition, list[Record]] = {}
        for (topic, partition), offset, message in batch:
            records.setdefault((topic, partition), []).append(
                Record(topic, partition, offset, message.key, message.value)
            )
        engine.ingest_partitions(records)
        engine.evaluate()
        if rng.random() < 0.2:
            engine.evaluate(everything=True)
        if rng.random() < 0.1:
            engine.prune()
        alerts += engine.drain().alerts
        between_batches()
    engine.evaluate(everything=True)
    alerts += engine.drain().alerts
    return alerts


def alert_stream(states: Iterable[AlertState | dict[str, Any]]) -> list[dict[str, Any]]:
    """Alert states as comparable JSON, by alert id then version.

    Alerts of different sections may be published in another order from run to run (their
    sections are on different partitions); each alert's own versions may not.
    """
    rows = [s.model_dump(mode="json") if isinstance(s, AlertState) else dict(s) for s in states]
    for alert_id in {r["alert_id"] for r in rows}:
        versions = [r["version"] for r in rows if r["alert_id"] == alert_id]
        assert versions == list(range(1, len(versions) + 1)), (alert_id, versions)
    return sorted(rows, key=lambda r: (r["alert_id"], r["version"]))


def summary(stream: Iterable[dict[str, Any]]) -> list[tuple[str, int, str, str, str, Any]]:
    """One line per alert state, for readable assertions and failure messages."""
    return [
        (
            s["alert_id"],
            s["version"],
            s["status"],
            s["level"],
            s["updated_at"],
            s["evidence"].get("attempts_last_hour"),
        )
        for s in stream
    ]


async def read_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every message of `topic` up to its current end, decoded as JSON, in partition order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        # The cluster's current metadata: the consumer's cached copy is the bootstrap's, which
        # on Apache Kafka may predate the topic.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        if not partitions:
            raise AssertionError(f"topic {topic} does not exist")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {topic} to its end {ends}")
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                values += [json.loads(m.value) for m in messages]
        return values
    finally:
        await consumer.stop()
