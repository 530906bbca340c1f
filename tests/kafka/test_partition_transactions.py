"""Transactional output per input partition on Apache Kafka (issue 13, point 3, the primitive).

A batch's outputs and its next input offset commit together or not at all; a worker that
takes the partition over fences the zombie that held it, whose later commit fails and whose
outputs a read_committed reader never sees.
"""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from marchwarden.ingest.transactions import PartitionTransactions, batch_token, transactional_id


def test_transactional_id_and_batch_token_name_the_partition_and_range() -> None:
    tp = TopicPartition("border.crossings", 3)
    assert transactional_id("mw", tp) == "mw-picture.border.crossings.3"
    one = batch_token({tp: (10, 19)})
    assert one == batch_token({tp: (10, 19)})
    assert one != batch_token({tp: (10, 20)})
    assert one != batch_token({TopicPartition("border.crossings", 2): (10, 19)})
    two = {tp: (10, 19), TopicPartition("intel.indicators", 0): (4, 4)}
    assert batch_token(two) == batch_token(dict(reversed(list(two.items()))))


async def read_committed(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        group_id=None,
    )
    await consumer.start()
    try:
        seen: list[bytes] = []
        # read_committed stops at the last stable offset: an empty fetch after one that
        # returned data means everything committed has been read.
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            got = [m.value for ms in batch.values() for m in ms]
            seen.extend(got)
            end = await consumer.end_offsets([TopicPartition(topic, 0)])
            position = await consumer.position(TopicPartition(topic, 0))
            if not got and position >= end[TopicPartition(topic, 0)]:
                break
        return seen
    finally:
        await consumer.stop()


async def committed_offset(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


@pytest.mark.kafka
async def test_a_takeover_fences_the_zombie_and_only_committed_batches_are_seen(
    bootstrap: str,
) -> None:
    run = uuid.uuid4().hex[:8]
    source, out = f"in-{run}", f"out-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(source, 1, 1), NewTopic(out, 1, 1)])
    finally:
        await admin.close()
    tp = TopicPartition(source, 0)
    group = f"mw-{run}-picture"
    zombie = PartitionTransactions(f"mw-{run}", group, bootstrap_servers=bootstrap)
    heir = PartitionTransactions(f"mw-{run}", group, bootstrap_servers=bootstrap)
    try:
        await zombie.assign([tp])
        await zombie.commit(tp, [(out, b"k", b"batch-1")], 10)

        # A batch that fails half-way leaves nothing behind.
        with pytest.raises(RuntimeError):
            async with zombie.producers[tp].transaction():
                await zombie.producers[tp].send(out, b"half", key=b"k")
                raise RuntimeError("crash mid-batch")

        await heir.assign([tp])  # the partition moved: the old holder is now a zombie
        with pytest.raises(KafkaError):
            await zombie.commit(tp, [(out, b"k", b"zombie-batch-2")], 20)
        await heir.commit(tp, [(out, b"k", b"batch-2")], 20)

        assert await read_committed(bootstrap, out) == [b"batch-1", b"batch-2"]
        assert await committed_offset(bootstrap, group, tp) == 20
    finally:
        await zombie.close()
        await heir.close()
