"""Fault-suite helpers: `up` with its own embedded broker, kill -9 of its parts, acked sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from marchwarden.embedded.tansu import die_with_parent, free_port, port_in_use
from tests.support.stack import TOKENS, TOPIC_OF, http, wait_until

PARTS = ("worker", "history", "broker")
# Below the kernel's ephemeral range (32768-60999): a port there can be taken at any moment
# as the local end of some outgoing connection, and the durable broker's controller binds
# the port after its client port a few seconds into its start.
LOW_PORTS = (20000, 32000)


def free_port_pair() -> int:
    """A port p below the ephemeral range with p and p + 1 both free."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(*LOW_PORTS)
        if not (port_in_use("127.0.0.1", port) or port_in_use("127.0.0.1", port + 1)):
            return port
    raise AssertionError("no free pair of ports below the ephemeral range")


def children_of(pid: int) -> dict[int, str]:
    """pid -> command line of each direct child of `pid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


@dataclass
class EmbeddedUp:
    """`marchwarden up` with no --broker: its own broker and history children, on free ports.

    The broker is tansu (memory), or with `durable` the Apache Kafka node (log on disk).
    """

    data_dir: Path
    durable: bool = False
    tansu_port: int = field(default_factory=free_port_pair)
    web_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.tansu_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARCHWARDEN_")}
        env.update(
            {
                "MARCHWARDEN_TANSU_PORT": str(self.tansu_port),
                "MARCHWARDEN_SINK_MAX_INTERVAL_S": "0.2",
                "MARCHWARDEN_TOKENS": TOKENS.env_value,
            }
        )
        if self.durable:
            env["MARCHWARDEN_DURABLE_BROKER"] = "1"
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90.0) -> float:
        """Start and wait for /health 200; returns the seconds it took."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.data_dir / f"up-{len(self.logs)}.log"
        self.logs.append(log_path)
        started = time.monotonic()
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "marchwarden.cli",
                    "up",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.web_port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                preexec_fn=die_with_parent,
            )
        wait_until(self._healthy_or_dead, timeout, f"up on :{self.web_port} to be healthy")
        if self.process.poll() is not None:
            raise AssertionError(f"up exited with {self.process.returncode}:\n{self.log()}")
        return time.monotonic() - started

    def _healthy_or_dead(self) -> bool:
        assert self.process is not None
        return self.process.poll() is not None or self.health()[0] == 200

    def health(self) -> tuple[int, Any]:
        return http("GET", self.url + "/health", timeout=2)

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def pid_of(self, part: str) -> int:
        assert self.process is not None
        if part == "worker":
            return self.process.pid
        needle = {
            "history": "history serve",
            "broker": "kafka.Kafka" if self.durable else "tansu",
        }[part]
        pids = [pid for pid, cmd in children_of(self.process.pid).items() if needle in cmd]
        assert len(pids) == 1, (part, children_of(self.process.pid))
        return pids[0]

    def kill(self, part: str) -> None:
        os.kill(self.pid_of(part), signal.SIGKILL)

    def kill_all(self) -> None:
        """kill -9 of the worker, the history process and the broker at once (a power cut of
        the processes; the kernel keeps what they had written)."""
        pids = [self.pid_of(part) for part in PARTS]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else 0
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
            raise AssertionError(f"up did not stop within {timeout:.0f} s") from None

    def post_flush(self) -> None:
        status, body = http(
            "POST", self.url + "/admin/flush", {}, token=TOKENS("admin"), timeout=60
        )
        assert status == 200, body

    def sql(self, query: str) -> list[list[Any]]:
        status, body = http(
            "POST", self.url + "/history/sql", {"sql": query}, token=TOKENS("analyst"), timeout=60
        )
        assert status == 200, body
        return list(body["rows"])


@dataclass
class AckLedger:
    """Which events the broker acknowledged (acks=all), and which sends failed."""

    acked: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    sent: int = 0
    # (topic, partition) -> the highest offset the broker acknowledged there.
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def record(self, event_id: str, topic: str, partition: int, offset: int) -> None:
        self.acked.add(event_id)
        key = (topic, partition)
        self.offsets[key] = max(offset, self.offsets.get(key, -1))


async def send_acked(
    bootstrap: str,
    docs: list[dict[str, Any]],
    ledger: AckLedger,
    stop: asyncio.Event,
    batch: int = 50,
) -> None:
    """Send events in small batches, recording each acknowledgement, until done or stopped."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, request_timeout_ms=3000
    )
    await producer.start()
    try:
        for start in range(0, len(docs), batch):
            if stop.is_set():
                break
            chunk = docs[start : start + batch]
            futures = []
            for doc in chunk:
                try:
                    futures.append(
                        (
                            doc["event_id"],
                            await producer.send(
                                TOPIC_OF[doc["event_type"]],
                                json.dumps(doc).encode(),
                                key=doc["section_id"].encode(),
                            ),
                        )
                    )
                    ledger.sent += 1
                except Exception:
                    ledger.failed.add(doc["event_id"])
            for event_id, future in futures:
                try:
                    stored = await future
                    ledger.record(event_id, stored.topic, stored.partition, stored.offset)
                except Exception:
                    ledger.failed.add(event_id)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)


async def forgotten(bootstrap: str, ledger: AckLedger, timeout: float = 30.0) -> set[str]:
    """The acknowledged events the broker's log no longer holds (read back from it).

    The log is read, not its offsets asked for: tansu's ListOffsets answer is not the log end.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    present: set[str] = set()
    try:
        parts = [TopicPartition(t, p) for t, p in ledger.offsets]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline and quiet < 5 and not ledger.acked <= present:
            batch = await consumer.getmany(timeout_ms=200)
            quiet = 0 if batch else quiet + 1
            for messages in batch.values():
                for message in messages:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        present.add(json.loads(message.value)["event_id"])
    finally:
        await consumer.stop()
    return ledger.acked - present
