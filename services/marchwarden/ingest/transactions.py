"""Exactly-once output on Apache Kafka without Faust's EOS: one transactional producer per
input partition, a batch's outputs and input offsets committed in one transaction.

aiokafka has no KIP-447 consumer-group metadata in `send_offsets_to_transaction`, so fencing
must come from the transactional id itself: one id per input partition
(`<app>-picture.<topic>.<partition>`). A worker that is assigned the partition opens that
producer (InitProducerId), which fences any zombie still holding it: the zombie's commit
fails with ProducerFenced and its uncommitted outputs are aborted. History inserts of the
batch carry a deduplication token made of the batch's topic, partition and offset range, so
the same batch replayed after a crash is dropped by ClickHouse (non-replicated dedup window).
On tansu, which refuses InitProducerId, the worker stays at-least-once with event-id
deduplication (docs/guarantees.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

log = logging.getLogger(__name__)

Output = tuple[str, bytes | None, bytes]
"""One record to send: topic, key, value."""


def transactional_id(app_id: str, tp: TopicPartition) -> str:
    """The transactional id owning one input partition (stable across workers and restarts)."""
    return f"{app_id}-picture.{tp.topic}.{tp.partition}"


def batch_token(ranges: Mapping[TopicPartition, tuple[int, int]]) -> str:
    """The history insert deduplication token of a batch: its topic, partition, offset ranges.

    The same records read again after a crash make the same token, so ClickHouse drops the
    repeated insert; any other range makes another token.
    """
    parts = sorted(f"{tp.topic}/{tp.partition}/{a}-{b}" for tp, (a, b) in ranges.items())
    return "batch:" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class PartitionTransactions:
    """The transactional producers of the input partitions this worker is assigned."""

    def __init__(self, app_id: str, group_id: str, **client_options: Any) -> None:
        self.app_id = app_id
        self.group_id = group_id
        self.client_options = client_options
        self.producers: dict[TopicPartition, AIOKafkaProducer] = {}

    async def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Open a producer per newly assigned partition (fencing a zombie), close the others."""
        wanted = set(partitions)
        for tp in set(self.producers) - wanted:
            await self.producers.pop(tp).stop()
        for tp in sorted(wanted - set(self.producers)):
            producer = AIOKafkaProducer(
                transactional_id=transactional_id(self.app_id, tp),
                acks="all",
                enable_idempotence=True,
                **self.client_options,
            )
            await producer.start()
            self.producers[tp] = producer

    async def commit(self, tp: TopicPartition, outputs: Iterable[Output], next_offset: int) -> None:
        """Send the batch's outputs and its next input offset in one transaction.

        If anything fails the transaction is aborted and the error raised: nothing of the
        batch is visible to read_committed readers and its offset is not committed.
        """
        producer = self.producers[tp]
        async with producer.transaction():
            for topic, key, value in outputs:
                await producer.send(topic, value, key=key)
            await producer.send_offsets_to_transaction({tp: next_offset}, self.group_id)

    async def close(self) -> None:
        for producer in self.producers.values():
            await producer.stop()
        self.producers.clear()
