"""Backlog throughput: the raw aiokafka+pydantic limit, the real worker, and a naive Faust peer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    RESULTS,
    TOPIC_OF,
    WORKER_ENV,
    bench_messages,
    cpu_seconds,
    free_port,
    get_json,
    log,
    peak_rss_mb,
    preproduce,
    spawn,
    stop,
    tansu,
    tree_cpu_seconds,
    tree_peak_rss_mb,
    worker_command,
)

INPUT_TOPICS = sorted(set(TOPIC_OF.values()))


# ------------------------------------------------------------------ limit
async def _consume_decode(port: int, n: int, timeout: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from marchwarden.contracts.decoding import Rejection, decode_event

    consumer = AIOKafkaConsumer(
        bootstrap_servers=f"127.0.0.1:{port}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        parts = []
        for topic in INPUT_TOPICS:
            for p in consumer.partitions_for_topic(topic) or ():
                parts.append(TopicPartition(topic, p))
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        count = rejected = 0
        first = None
        deadline = time.monotonic() + timeout
        while count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"limit: consumed {count} of {n}")
            batch = await consumer.getmany(timeout_ms=500, max_records=100_000)
            for messages in batch.values():
                if first is None and messages:
                    first = time.perf_counter()
                for m in messages:
                    if isinstance(decode_event(m.value), Rejection):
                        rejected += 1
                    count += 1
        assert first is not None
        seconds = time.perf_counter() - first
    finally:
        await consumer.stop()
    return {"events": count, "rejected": rejected, "seconds": seconds, "events_per_s": n / seconds}


def limit_run(n: int) -> dict[str, Any]:
    messages = bench_messages(n)
    with tansu() as (port, _):
        preproduce(port, messages)
        result = asyncio.run(_consume_decode(port, n, timeout=300))
    log(f"limit: {result['events_per_s']:,.0f} events/s")
    return result


# ------------------------------------------------------------------ pipeline
def pipeline_run(n: int, profile: Path | None = None, timeout: float = 600) -> dict[str, Any]:
    """Pre-produce N events, start the worker, time it until everything is in history."""
    messages = bench_messages(n)
    data_dir = Path(tempfile.mkdtemp(prefix="mw-bench-pipe-"))
    proc = spy = None
    try:
        with tansu() as (port, tansu_pid):
            preproduce(port, messages)
            web_port = free_port()
            tansu_cpu0 = cpu_seconds(tansu_pid)
            started = time.monotonic()
            proc = spawn(
                worker_command(port, data_dir, web_port), WORKER_ENV, data_dir / "worker.log"
            )
            url = f"http://127.0.0.1:{web_port}/health"
            samples: list[tuple[float, int, int, int, float]] = []
            ready_s: float | None = None
            first_t = first_cpu = first_tansu = None
            first_accepted = 0
            done_accept_t = None
            deadline = time.monotonic() + timeout
            body: dict[str, Any] = {}
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"pipeline: {body}")
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited with code {proc.returncode}")
                status, got = get_json(url, 2.0)
                now = time.monotonic()
                if got is None:
                    time.sleep(0.05)
                    continue
                body = got
                cpu = sum(tree_cpu_seconds(proc.pid).values())
                if status == 200 and ready_s is None:
                    ready_s = now - started
                    if profile is not None:
                        spy = start_py_spy(proc.pid, profile)
                accepted = int(body["accepted"])
                samples.append(
                    (now - started, accepted, int(body["history_rows_written"]), status, cpu)
                )
                if accepted > 0 and first_t is None:
                    first_t, first_cpu, first_tansu = now, cpu, cpu_seconds(tansu_pid)
                    first_accepted = accepted
                if accepted + int(body["duplicates"]) + int(body["rejected"]) >= n:
                    done_accept_t = done_accept_t or now
                    if int(body["history_rows_pending"]) == 0 and (
                        int(body["history_rows_written"]) >= accepted
                    ):
                        break
                time.sleep(0.05)
            assert first_t is not None and first_cpu is not None and first_tansu is not None
            end_t = time.monotonic()
            cpu_tree = tree_cpu_seconds(proc.pid)
            cpu_end = sum(cpu_tree.values())
            rss_tree = tree_peak_rss_mb(proc.pid)
            rss = rss_tree.get(proc.pid, float("nan"))
            tansu_cpu = cpu_seconds(tansu_pid) - first_tansu
            if spy is not None:
                spy.send_signal(2)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    spy.wait(30)
            stopping = time.monotonic()
            stop(proc, timeout=20)
            stop_s = time.monotonic() - stopping
        seconds = end_t - first_t
        assert done_accept_t is not None and ready_s is not None
        result = {
            "events": n,
            "accepted": int(body["accepted"]),
            "duplicates": int(body["duplicates"]),
            "rejected": int(body["rejected"]),
            "late": int(body["late"]),
            "history_rows_written": int(body["history_rows_written"]),
            "ready_s": round(ready_s, 2),
            "first_accept_s": round(first_t - started, 2),
            "seconds": round(seconds, 3),
            "accept_seconds": round(done_accept_t - first_t, 3),
            "events_per_s": (n - first_accepted) / seconds,
            "accepted_at_first_sample": first_accepted,
            "stop_s": round(stop_s, 2),
            "worker_cpu_s": round(cpu_end - first_cpu, 2),
            "worker_cpu_total_s": round(cpu_end, 2),
            "worker_cpu_util": round((cpu_end - first_cpu) / seconds, 2),
            "tansu_cpu_s": round(tansu_cpu, 2),
            "tansu_cpu_before_s": round(tansu_cpu0, 2),
            "peak_rss_mb": round(rss, 1),
            "processes": len(rss_tree),
            "peak_rss_tree_mb": round(sum(rss_tree.values()), 1),
            "samples": len(samples),
        }
        log(
            f"pipeline: {result['events_per_s']:,.0f} events/s, "
            f"cpu {result['worker_cpu_s']} s, rss {result['peak_rss_mb']} MB"
        )
        return result
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)


def start_py_spy(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy record (speedscope) on a running process, stopped with SIGINT."""
    return subprocess.Popen(
        [
            str(Path(PYTHON).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--format",
            "speedscope",
            "--rate",
            "100",
            "--output",
            str(output),
            "--nonblocking",
            "--subprocesses",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ------------------------------------------------------------------ naive Faust peer
def naive_run(n: int, timeout: float = 300) -> dict[str, Any]:
    messages = bench_messages(n)
    workdir = Path(tempfile.mkdtemp(prefix="mw-bench-naive-"))
    result_file = workdir / "result.json"
    proc = None
    try:
        with tansu() as (port, _):
            preproduce(port, messages)
            started = time.monotonic()
            proc = spawn(
                [PYTHON, "-m", "bench.naive_peer", "worker", "-l", "warn"],
                {
                    "NAIVE_BROKER": f"kafka://127.0.0.1:{port}",
                    "NAIVE_EXPECTED": str(n),
                    "NAIVE_RESULT": str(result_file),
                    "NAIVE_DATADIR": str(workdir / "faust"),
                    "NAIVE_WEB_PORT": str(free_port()),
                },
                workdir / "naive.log",
            )
            deadline = started + timeout
            while not result_file.exists():
                if time.monotonic() > deadline:
                    progress = workdir / "progress.json"
                    seen = progress.read_text() if progress.exists() else "nothing"
                    raise TimeoutError(f"naive peer did not finish within {timeout} s: {seen}")
                if proc.poll() is not None:
                    tail = (workdir / "naive.log").read_text()[-2000:]
                    raise RuntimeError(f"naive peer exited {proc.returncode}: {tail}")
                time.sleep(0.2)
            time.sleep(0.1)
            body = json.loads(result_file.read_text())
            rss = peak_rss_mb(proc.pid)
        body["startup_to_first_event_s"] = round(body["first_wall"] - started_wall(started), 2)
        body["events_per_s"] = n / body["seconds"]
        body["peak_rss_mb"] = round(rss, 1)
        log(f"naive: {body['events_per_s']:,.0f} events/s")
        return body
    finally:
        stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def started_wall(monotonic_start: float) -> float:
    """Wall-clock time of a monotonic instant (for comparing with the child's time.time())."""
    return time.time() - (time.monotonic() - monotonic_start)


__all__ = ["RESULTS", "limit_run", "naive_run", "pipeline_run"]
