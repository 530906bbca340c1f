"""What the embedded tansu broker (memory storage) supports, as observed with aiokafka.

tansu 0.6.0 (memory://) answers InitProducerId with error -1 (UnknownError), so neither an
idempotent nor a transactional producer can start: Kafka transactions, and with them Faust's
processing_guarantee="exactly_once" (which Marchwarden no longer offers), are unavailable on the
embedded default. That is why `marchwarden up` runs at_least_once and makes replays harmless
instead (docs/guarantees.md).
Plain producers, and consumer groups with committed offsets, work.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, UnknownError

from tests.support.stack import produce


@pytest.fixture(autouse=True)
def _tansu_only(broker_kind: str) -> None:
    if broker_kind != "tansu":
        pytest.skip("documents the embedded tansu broker; Apache Kafka supports transactions")


async def start_fails(producer: AIOKafkaProducer) -> BaseException:
    try:
        await asyncio.wait_for(producer.start(), 30)
    except KafkaError as exc:
        return exc
    finally:
        await producer.stop()
    raise AssertionError("producer started: tansu now grants producer ids, update the docs")


async def test_tansu_rejects_transactional_producer(bootstrap: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"probe-{uuid.uuid4().hex[:8]}"
    )
    exc = await start_fails(producer)
    assert isinstance(exc, UnknownError), repr(exc)


async def test_tansu_rejects_idempotent_producer(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    exc = await start_fails(producer)
    assert isinstance(exc, UnknownError), repr(exc)


async def test_tansu_plain_producer_and_group_offsets_work(bootstrap: str) -> None:
    """What at_least_once needs: acks=all produce and consumer-group offset commits."""
    topic, group = f"probe-{uuid.uuid4().hex[:8]}", f"probe-{uuid.uuid4().hex[:8]}"
    assert await produce(bootstrap, [(topic, b"k", b"v%d" % i) for i in range(10)]) == 10
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen: list[bytes] = []
        partitions: set[int] = set()
        async with asyncio.timeout(60):
            while len(seen) < 10:
                batch = await consumer.getmany(timeout_ms=200)
                for ms in batch.values():
                    seen.extend(m.value for m in ms)
                    partitions.update(m.partition for m in ms)
        await consumer.commit()
        assert seen == [b"v%d" % i for i in range(10)]
        assert len(partitions) == 1  # one key, one partition
        assert await consumer.committed(TopicPartition(topic, partitions.pop())) == 10
    finally:
        await consumer.stop()
