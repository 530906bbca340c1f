"""Faust's exactly_once guarantee on Apache Kafka, under a SIGKILL mid-stream and a restart.

The worker (tests/kafka/eos_app.py) forwards inputs to an output topic and counts them in a
table, in Kafka transactions. The test shows the transactions at work (aborted records only a
read_uncommitted reader sees) and measures how close to exactly once faust-streaming 0.15.3
gets: see the assertions at the end and docs/guarantees.md for what it does not guarantee.

Run with ``.venv/bin/pytest --broker=kafka tests/kafka -m kafka``.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.stack import produce

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(480)]

EOS_APP = Path(__file__).with_name("eos_app.py")
REPO_ROOT = Path(__file__).resolve().parents[2]

PARTITIONS = 4
KEYS = 16
N_INPUTS = 3000
# Stretches processing (~6 s of sleeps per 3000 records) so the kill lands mid-stream.
DELAY_MS = "2"
KILL_AFTER = 400
"""Committed outputs to see before the first worker is killed."""
START_TIMEOUT_S = 120.0
"""EOS start-up on 2 cores: group join, one InitProducerId per partition, table recovery."""
FINISH_TIMEOUT_S = 270.0
STALL_S = 45.0
"""No change in the group's lag for this long after the restart counts as a stall."""
MAX_STALLS = 3


@dataclass
class EosWorker:
    """tests/kafka/eos_app.py as a child process."""

    bootstrap: str
    app_id: str
    input_topic: str
    output_topic: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self) -> EosWorker:
        env = dict(os.environ)
        env.update(
            EOS_BROKER=self.bootstrap,
            EOS_APP_ID=self.app_id,
            EOS_INPUT=self.input_topic,
            EOS_OUTPUT=self.output_topic,
            EOS_PARTITIONS=str(PARTITIONS),
            EOS_GUARANTEE="exactly_once",
            EOS_DELAY_MS=DELAY_MS,
        )
        env.update(self.extra_env)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"eos-worker-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(EOS_APP), "worker", "-l", "info", "--without-web"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.log_dir,
                env=env,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """SIGKILL: no commit, no abort, no leave-group; the broker keeps the open transactions."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL: an EOS worker closes its loop but may not exit on its own."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


class Reader:
    """Reads one topic from the beginning with a chosen isolation level."""

    def __init__(self, bootstrap: str, topic: str, isolation_level: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level=isolation_level,
        )
        self.topic = topic
        self.messages: list[Any] = []

    async def __aenter__(self) -> Reader:
        await self.consumer.start()
        tps = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> int:
        batch = await self.consumer.getmany(timeout_ms=200)
        for messages in batch.values():
            self.messages.extend(messages)
        return len(self.messages)

    async def read_to_end(self, timeout: float) -> list[Any]:
        """Read up to the end offsets (the last stable offset for read_committed) as of now."""
        tps = list(self.consumer.assignment())
        ends = await self.consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while True:
            positions = {tp: await self.consumer.position(tp) for tp in tps}
            if all(positions[tp] >= ends[tp] for tp in tps):
                return self.messages
            assert time.monotonic() < deadline, f"read {self.topic} to {positions}, not {ends}"
            await self.poll()


async def create_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=PARTITIONS, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


async def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Input records not yet covered by the group's committed offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await probe.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await probe.end_offsets(tps)
        return sum(
            ends[tp] - max(committed[tp].offset, 0) if tp in committed else ends[tp] for tp in tps
        )
    finally:
        await probe.stop()
        await admin.close()


async def settled(bootstrap: str, *topics: str) -> bool:
    """True when no partition of `topics` has an open transaction (LSO == high watermark)."""
    tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
    ends = {}
    for level in ("read_committed", "read_uncommitted"):
        probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level=level)
        await probe.start()
        try:
            ends[level] = await probe.end_offsets(tps)
        finally:
            await probe.stop()
    return ends["read_committed"] == ends["read_uncommitted"]


def latest_by_key(messages: list[Any]) -> dict[Any, Any]:
    latest: dict[Any, Any] = {}
    for m in messages:
        latest[json.loads(m.key)] = json.loads(m.value)
    return latest


async def test_exactly_once_survives_sigkill(bootstrap: str, tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    app_id = f"eos-{run}"
    input_topic, output_topic = f"eos-{run}.in", f"eos-{run}.out"
    changelog_topic = f"{app_id}-key_to_count-changelog"
    await create_topics(bootstrap, input_topic, output_topic)

    inputs = [(f"k{i % KEYS:02d}".encode(), f"{i:05d}".encode()) for i in range(N_INPUTS)]
    sent = await produce(bootstrap, ((input_topic, k, v) for k, v in inputs))
    assert sent == N_INPUTS
    expected = {v + b"|processed" for _, v in inputs}
    per_key = collections.Counter(k.decode() for k, _ in inputs)

    worker = EosWorker(bootstrap, app_id, input_topic, output_topic, tmp_path / "w1")
    restarted = EosWorker(bootstrap, app_id, input_topic, output_topic, tmp_path / "w2")
    workers = [worker, restarted]
    stalls: list[tuple[int, int]] = []
    t0 = time.monotonic()
    try:
        async with Reader(bootstrap, output_topic, "read_committed") as committed:
            worker.start()

            async def first_commits() -> bool:
                assert worker.alive(), f"worker 1 died:\n{worker.log()[-4000:]}"
                return await committed.poll() >= KILL_AFTER

            await await_until_async(
                first_commits,
                START_TIMEOUT_S,
                lambda: f"{KILL_AFTER} committed outputs (got {len(committed.messages)})",
            )
            first_output_s = time.monotonic() - t0
            worker.kill()
            at_kill = len(committed.messages)
            assert at_kill < N_INPUTS, "the kill came after the whole input was processed"

            t1 = time.monotonic()
            restarted.start()
            lag: list[int] = []
            progress = {"lag": -1, "at": time.monotonic()}

            async def all_committed() -> bool:
                nonlocal restarted
                assert restarted.alive(), f"worker 2 died:\n{restarted.log()[-4000:]}"
                await committed.poll()
                lag.append(await group_lag(bootstrap, app_id, input_topic))
                if lag[-1] != progress["lag"]:
                    progress.update(lag=lag[-1], at=time.monotonic())
                elif lag[-1] and time.monotonic() - progress["at"] > STALL_S:
                    # Observed in ~1 of 3 runs: after the restart faust 0.15.3 commits a few
                    # transactions and then idles with input left (see docs/guarantees.md).
                    # Crash-restart it again, as a supervisor would; EOS must survive that too.
                    stalls.append((lag[-1], len(committed.messages)))
                    assert len(stalls) <= MAX_STALLS, f"restarted worker stalled: {stalls}"
                    restarted.kill()
                    restarted = EosWorker(
                        bootstrap,
                        app_id,
                        input_topic,
                        output_topic,
                        tmp_path / f"w{2 + len(stalls)}",
                    ).start()
                    workers.append(restarted)
                    progress["at"] = time.monotonic()
                # Offsets commit with the transaction, but the coordinator writes the commit
                # markers to the output and changelog partitions afterwards: also wait until
                # no transaction is open there (last stable offset == high watermark).
                return lag[-1] == 0 and await settled(bootstrap, output_topic, changelog_topic)

            await await_until_async(
                all_committed,
                FINISH_TIMEOUT_S,
                lambda: (
                    f"input offsets committed (lag {lag[-3:]}, outputs {len(committed.messages)})"
                ),
            )
            recovery_s = time.monotonic() - t1
            seen_committed = await committed.read_to_end(60)

        async with Reader(bootstrap, output_topic, "read_uncommitted") as uncommitted:
            seen_uncommitted = await uncommitted.read_to_end(60)
        async with Reader(bootstrap, changelog_topic, "read_committed") as changelog:
            changelog_committed = await changelog.read_to_end(60)
        async with Reader(bootstrap, changelog_topic, "read_uncommitted") as changelog_raw:
            changelog_uncommitted = await changelog_raw.read_to_end(60)
    finally:
        for w in workers:
            w.stop()

    values = [m.value for m in seen_committed]
    changelog_counts = latest_by_key(changelog_committed)
    count_errors = {
        k: changelog_counts.get(k, 0) - n
        for k, n in per_key.items()
        if changelog_counts.get(k, 0) != n
    }
    duplicates = [v for v, n in collections.Counter(values).items() if n > 1]
    raw_counts = collections.Counter(m.value for m in seen_uncommitted)
    print(
        f"\nEOS: {N_INPUTS} inputs; first {KILL_AFTER}+ committed outputs after {first_output_s:.1f} s;"
        f" killed at {at_kill} committed; restart to fully committed {recovery_s:.1f} s;"
        f" total {time.monotonic() - t0:.1f} s\n"
        f"output read_committed: {len(values)} records, {len(set(values))} distinct;"
        f" read_uncommitted: {len(seen_uncommitted)} records, {len(raw_counts)} distinct,"
        f" {sum(n - 1 for n in raw_counts.values())} extra\n"
        f"changelog read_committed: {len(changelog_committed)} records;"
        f" read_uncommitted: {len(changelog_uncommitted)} records;"
        f" keys with a wrong final count: {len(count_errors)};"
        f" stalled restarts (lag, committed outputs): {stalls}"
    )

    missing = sorted(expected - set(values))
    if duplicates or missing or count_errors:
        print(
            f"EOS anomalies: duplicates {duplicates[:10]}, missing {missing[:10]},"
            f" table count errors {count_errors}"
        )
    # Transactions were in use: the killed worker's open transaction was aborted, so a
    # read_uncommitted reader sees records that read_committed readers never get.
    assert len(seen_uncommitted) > len(values)
    assert set(raw_counts) >= set(values)
    key_of = {v + b"|processed": k for k, v in inputs}
    assert all(m.key == key_of[m.value] for m in seen_committed)
    assert set(changelog_counts) == set(per_key)
    # Exactly once itself is reported as an expected failure when it does not hold:
    # faust-streaming 0.15.3 does not deliver it across a SIGKILL (docs/guarantees.md). It
    # snapshots the offsets to commit before taking the transaction lock while the agent keeps
    # sending into the open transaction, changelog writes go through a buffer that can land in
    # the next transaction, and a restarted worker sometimes stalls. Observed over 6 runs:
    # 3 with 1-2 duplicates and none lost, 1 with a lost output, 1 (after a stall) with 818
    # duplicates and 18 lost outputs, 1 stalled before stalls were handled.
    if duplicates or missing or count_errors:
        pytest.xfail(
            f"faust-streaming exactly_once not exact after SIGKILL: {len(duplicates)} duplicated,"
            f" {len(missing)} missing outputs, {len(count_errors)} keys miscounted"
        )


async def await_until_async(predicate: Any, timeout: float, what: Any) -> None:
    """await_until for coroutine predicates (stack.await_until runs sync ones in a thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what()}")
