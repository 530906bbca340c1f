"""Smoke-test a running Kafka: produce/consume, transactions and (cluster) kill -9 failover."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

HERE = Path(__file__).resolve().parent


def say(msg: str) -> None:
    sys.stdout.write(f"[smoke] {msg}\n")
    sys.stdout.flush()


async def consume(
    bootstrap: str, topic: str, count: int, isolation: str = "read_committed"
) -> list[bytes]:
    """Read `count` messages from the start of `topic` (30 s timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"smoke-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        isolation_level=isolation,
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(r.value for r in records)
    finally:
        await consumer.stop()
    return got


async def basic(bootstrap: str) -> None:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        t = time.monotonic()
        # The first send auto-creates the topic.
        await asyncio.wait_for(producer.send_and_wait(topic, b"hello"), 30)
        say(f"produced to auto-created {topic} in {time.monotonic() - t:.2f}s")
    finally:
        await producer.stop()
    t = time.monotonic()
    assert await consume(bootstrap, topic, 1) == [b"hello"]
    say(f"consumed it back in {time.monotonic() - t:.2f}s")

    txn_topic = f"smoke-txn-{uuid.uuid4().hex[:8]}"
    tp = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"smoke-{uuid.uuid4().hex[:8]}"
    )
    t = time.monotonic()
    await asyncio.wait_for(tp.start(), 60)
    try:
        await tp.begin_transaction()
        await tp.send_and_wait(txn_topic, b"aborted", partition=0)
        await tp.abort_transaction()
        await tp.begin_transaction()
        await tp.send(txn_topic, b"c1", partition=0)
        await tp.send(txn_topic, b"c2", partition=0)
        await asyncio.wait_for(tp.commit_transaction(), 30)
    finally:
        await tp.stop()
    say(f"transactional producer: init + abort + commit in {time.monotonic() - t:.2f}s")
    got = await consume(bootstrap, txn_topic, 2)
    assert got == [b"c1", b"c2"], got
    say("read_committed consumer saw only the committed records")


async def run_script(*args: str, timeout_s: float = 120) -> None:
    """Run an infra/kafka script in a worker thread (keeps the event loop free)."""
    cmd = ["bash", str(HERE / args[0]), *args[1:]]
    await asyncio.to_thread(subprocess.run, cmd, check=True, timeout=timeout_s)


async def produce_all(bootstrap: str, topic: str, values: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=30000)
    await producer.start()
    t = time.monotonic()
    try:
        for v in values:
            await asyncio.wait_for(producer.send_and_wait(topic, v), 60)
    finally:
        await producer.stop()
    return time.monotonic() - t


async def failover(bootstrap: str, cluster_dir: str, victim: int) -> None:
    topic = f"smoke-rf3-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=3)])
        desc = await admin.describe_topics([topic])
        isr = sorted(len(p["isr"]) for p in desc[0]["partitions"])
        say(f"created {topic} RF=3, ISR sizes {isr}")
    finally:
        await admin.close()
    values = [f"m{i}".encode() for i in range(12)]
    dt = await produce_all(bootstrap, topic, values)
    say(f"produced 12 acks=all records in {dt:.2f}s")
    await run_script("cluster.sh", "kill-node", cluster_dir, str(victim))
    t = time.monotonic()
    more = [f"after-kill-{i}".encode() for i in range(12)]
    dt = await produce_all(bootstrap, topic, more)
    say(f"with node {victim} killed: 12 acks=all records in {dt:.2f}s (min ISR 2 holds)")
    got = await consume(bootstrap, topic, 24)
    assert sorted(got) == sorted(values + more), got
    say("consumed all 24 records with one node down")
    t = time.monotonic()
    await run_script("cluster.sh", "start-node", cluster_dir, str(victim))
    port = int(bootstrap.split(",")[0].rsplit(":", 1)[1]) + victim - 1
    await run_script("wait-ready.sh", f"127.0.0.1:{port}", "90", "--brokers", "3", timeout_s=150)
    say(f"node {victim} restarted and ready in {time.monotonic() - t:.2f}s")
    say(f"after restart: 6 records in {await produce_all(bootstrap, topic, [b'x'] * 6):.2f}s")


async def main_async(args: argparse.Namespace) -> None:
    await basic(args.bootstrap)
    if args.cluster_dir:
        await failover(args.bootstrap, args.cluster_dir, args.victim)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bootstrap", help="HOST:PORT[,HOST:PORT...]")
    parser.add_argument(
        "--cluster-dir", help="cluster.sh DIR: also run the kill -9 / restart check"
    )
    parser.add_argument("--victim", type=int, default=2, help="node to kill (1-3)")
    args = parser.parse_args()
    asyncio.run(main_async(args))
    say("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
