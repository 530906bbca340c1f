"""Test helpers that drive real components: a worker subprocess, Kafka clients, HTTP calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from marchwarden.access.identity import ORGANISATIONS, REGIONAL_CENTRE, ROLES
from marchwarden.access.tokens import make_record
from marchwarden.embedded.tansu import die_with_parent, free_port


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll until predicate() is truthy; fail with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


async def await_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(predicate)
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def http(
    method: str,
    url: str,
    body: Any = None,
    timeout: float = 30.0,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            if not response.headers.get_content_type().endswith("json"):
                return response.status, raw.decode(errors="replace")  # the page, its scripts
            return response.status, json.loads(raw or b"null")
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload)
        except ValueError:
            return exc.code, payload.decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return 0, str(exc)


class SessionTokens:
    """One token per role and organisation for the whole test session, accepted by every
    worker the tests start (through MARCHWARDEN_TOKENS, as hashes only)."""

    def __init__(self) -> None:
        self.tokens: dict[tuple[str, str], str] = {}
        records = []
        for role in ROLES:
            for organisation in ORGANISATIONS:
                token, record = make_record(role, organisation, f"{role}-{organisation.lower()}")
                self.tokens[(role, organisation)] = token
                records.append(asdict(record))
        self.env_value = json.dumps(records)

    def __call__(self, role: str, organisation: str = REGIONAL_CENTRE) -> str:
        return self.tokens[(role, organisation)]

    def for_path(self, path: str) -> str | None:
        """The token the helpers use by default: the regional centre in the path's role."""
        if path.startswith("/health"):
            return None
        if path.startswith("/admin"):
            return self("admin")
        if path.startswith("/history"):
            return self("analyst")
        return self("operator")


TOKENS = SessionTokens()
# The lane secrets of history gateways the tests start themselves (never on argv).
GATEWAY_ENV = {
    "MARCHWARDEN_HISTORY_READ_SECRET": "test-read-" + uuid.uuid4().hex,
    "MARCHWARDEN_HISTORY_WRITE_SECRET": "test-write-" + uuid.uuid4().hex,
}


def topic_env(prefix: str) -> dict[str, str]:
    """Environment giving a worker its own topic names, so tests share one broker safely."""
    names = {
        "CROSSINGS": "border.crossings",
        "TURNBACKS": "border.turnbacks",
        "INDICATORS": "intel.indicators",
        "ALERTS": "ops.alerts",
        "COMMANDS": "ops.commands",
        "DEADLETTER": "ops.deadletter",
        "ROUTED_COMMANDS": "marchwarden.commands-by-section",
        "ROUTED_INDICATORS": "marchwarden.indicators-by-section",
        "ALERTS_FULL": "marchwarden.alerts-full",
    }
    return {f"MARCHWARDEN_TOPICS__{k}": f"{prefix}.{v}" for k, v in names.items()}


@dataclass
class WorkerProcess:
    """`marchwarden up` as a child process, with its own data dir, topics and web port."""

    bootstrap: str
    data_dir: Path
    prefix: str
    web_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(topic_env(self.prefix))
        env.update(
            {
                "MARCHWARDEN_APP_ID": f"mw-{self.prefix}",
                "MARCHWARDEN_SINK_MAX_INTERVAL_S": "0.2",
                "MARCHWARDEN_TOKENS": TOKENS.env_value,
                **GATEWAY_ENV,
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0, wait: bool = True) -> WorkerProcess:
        """Start the worker; with `wait`, return once /health says 200 (fail if it died)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"worker-{int(time.time() * 1000)}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marchwarden.cli",
                "up",
                "--broker",
                f"kafka://{self.bootstrap}",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.web_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            # Dies with the test run, even when pytest itself is killed.
            preexec_fn=die_with_parent,
        )
        log.close()
        if wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        wait_until(self.healthy_or_dead, timeout, f"worker on :{self.web_port} to be healthy")
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log()}")

    def healthy_or_dead(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            return True
        return http("GET", self.url + "/health", timeout=2)[0] == 200

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def get(self, path: str, token: str | None = None) -> Any:
        status, body = http("GET", self.url + path, token=token or TOKENS.for_path(path))
        assert status == 200, (status, body)
        return body

    def post(self, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        return http(
            "POST",
            self.url + path,
            body if body is not None else {},
            token=token or TOKENS.for_path(path),
        )

    def sql(self, query: str, token: str | None = None) -> list[list[Any]]:
        status, body = self.post("/history/sql", {"sql": query}, token=token)
        assert status == 200, body
        return list(body["rows"])

    def stored_rows(self, query: str) -> list[list[Any]]:
        """Read the stopped worker's own tables (not an analyst's views) in a child process.

        chDB allows one store per process and one process per store, so the worker must be
        stopped first and the read happens outside the test process.
        """
        assert self.process is None, "stop the worker before reading its store"
        script = (
            "import json, sys; from marchwarden.history.store import HistoryStore; "
            "s = HistoryStore(sys.argv[1]); "
            "print(json.dumps([list(r) for r in s.query(sys.argv[2])[1]], default=str))"
        )
        dsn = f"chdb://{(self.data_dir / 'history').resolve()}"
        done = subprocess.run(
            [sys.executable, "-c", script, dsn, query], capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return list(json.loads(done.stdout.decode().strip().splitlines()[-1]))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else 0
        proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
            raise AssertionError("worker did not stop within the timeout") from None


@dataclass
class ClickHouseServer:
    """tests/support/clickhouse_http.py as a child process: HTTP, a user and a password."""

    directory: Path
    port: int
    user: str = "marchwarden"
    password: str = field(default_factory=lambda: "pw-" + uuid.uuid4().hex)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "clickhouse_http.log"

    def env(self) -> dict[str, str]:
        """What a worker needs to use this server: the DSN, the user and the password."""
        return {
            "MARCHWARDEN_CLICKHOUSE_DSN": self.url,
            "MARCHWARDEN_CLICKHOUSE_USER": self.user,
            "MARCHWARDEN_CLICKHOUSE_PASSWORD": self.password,
        }

    def start(self, timeout: float = 60.0) -> None:
        env = dict(
            os.environ, CLICKHOUSE_TEST_USER=self.user, CLICKHOUSE_TEST_PASSWORD=self.password
        )
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.clickhouse_http",
                 "--path", str(self.directory / "data"), "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent,
            )  # fmt: skip

        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(self.log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as answer:
                    return bool(answer.status == 200)
            except (urllib.error.URLError, OSError):
                return False

        wait_until(up, timeout, f"the ClickHouse HTTP server on :{self.port}")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def event(
    event_type: str,
    section_id: str,
    occurred_at: datetime,
    **fields: Any,
) -> dict[str, Any]:
    """A valid border event with sensible defaults for its type."""
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "section_id": section_id,
        "reporter": section_id[:2]
        + "-"
        + {"LT": "VSAT", "LV": "VRS", "PL": "SG", "EE": "PPA"}[section_id[:2]],
    }
    if event_type == "crossing_attempt":
        base.update(persons=1, outcome="prevented")
    elif event_type == "turn_back":
        base.update(persons=1)
    elif event_type == "sensor_heartbeat":
        base.update(sensor_id=f"{section_id}-thermal-1")
    else:
        # Indicators are at schema version 2 (share_with); GREEN unless a test is about TLP.
        base.update(
            schema_version=2,
            indicator_id="ind-" + uuid.uuid4().hex[:8],
            category="military_movement",
            level="high",
            state="lit",
            confidence=0.9,
            tlp="green",
        )
    base.update(fields)
    return base


TOPIC_OF = {
    "crossing_attempt": "border.crossings",
    "turn_back": "border.turnbacks",
    "indicator": "intel.indicators",
    "sensor_heartbeat": "border.crossings",
}


async def produce(
    bootstrap: str,
    messages: Iterable[tuple[str, bytes | None, bytes | None]],
) -> int:
    """Send (topic, key, value) triples and wait until the broker has them all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        futures = [await producer.send(t, v, key=k) for t, k, v in messages]
        for f in futures:
            await f
            count += 1
    finally:
        await producer.stop()
    return count


async def produce_events(worker: WorkerProcess, events: Iterable[dict[str, Any]]) -> int:
    return await produce(
        worker.bootstrap,
        (
            (
                worker.topic(TOPIC_OF[e["event_type"]]),
                e["section_id"].encode(),
                json.dumps(e).encode(),
            )
            for e in events
        ),
    )


class TopicReader:
    """Reads a topic from the beginning and keeps what it has seen."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.messages: list[Any] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def poll(self) -> list[Any]:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=100)
        for messages in batch.values():
            self.messages.extend(messages)
        return self.messages

    async def wait_for(
        self, predicate: Callable[[list[Any]], Any], timeout: float, what: str
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await self.poll()
            result = predicate(self.messages)
            if result:
                return result
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} on {self.topic}")

    def json_values(self) -> list[Any]:
        return [json.loads(m.value) for m in self.messages]


@contextlib.contextmanager
def running_gateway(directory: Path) -> Iterator[str]:
    """`marchwarden history serve` on a chDB history in `directory`, with the test secrets;
    yields its host:port once it answers, and stops it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARCHWARDEN_")}
    env.update(GATEWAY_ENV)  # its lane secrets, which the workers get too (WorkerProcess)
    proc = subprocess.Popen(
        [sys.executable, "-m", "marchwarden.cli", "history", "serve",
         "--data-dir", str(directory), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent,
    )  # fmt: skip
    read = GATEWAY_ENV["MARCHWARDEN_HISTORY_READ_SECRET"]
    try:
        wait_until(
            lambda: (
                proc.poll() is not None
                or http("POST", f"http://127.0.0.1:{port}/ping", {}, token=read)[0] == 200
            ),
            60,
            "gateway",
        )
        assert proc.poll() is None, f"the history gateway exited with {proc.returncode}"
        yield f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
