"""Alert latency while analysts saturate the history, against the same load without them."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import (
    WORKER_ENV,
    free_port,
    get_json,
    log,
    percentile,
    spawn,
    stop,
    tansu,
    wait_healthy,
    worker_command,
)
from bench.latency import _offer
from marchwarden.access.identity import REGIONAL_CENTRE
from marchwarden.access.tokens import make_record

# One core's worth of hashing for minutes unless something stops it (issue 9's query used
# numbers(2e10); table functions are refused by the analysts' allow-list, so the rows come
# from two array joins instead: 1e10 pairs, read from system.one).
HEAVY_SQL = (
    "SELECT count() FROM (SELECT arrayJoin(range(100000)) AS a FROM system.one) AS x "
    "CROSS JOIN (SELECT arrayJoin(range(100000)) AS b FROM system.one) AS y "
    "WHERE sipHash64(a, b) % 7 = 1"
)
# Raised so the query saturates its lane for the whole measurement, the worst case.
HEAVY_ALLOWED = {
    "MARCHWARDEN_ANALYST__MAX_EXECUTION_TIME_S": "600",
    "MARCHWARDEN_ANALYST__MAX_ROWS_TO_READ": str(10**13),
}
# The analyst asking: a token of the regional centre, given to the worker as its hash.
ANALYST_TOKEN, _ANALYST_RECORD = make_record("analyst", REGIONAL_CENTRE, "bench-analyst")
TOKEN_ENV = {"MARCHWARDEN_TOKENS": json.dumps([asdict(_ANALYST_RECORD)])}


class Analysts:
    """Keeps `concurrent` heavy queries in flight through /history/sql until stopped."""

    def __init__(self, web_port: int, concurrent: int, give_up_s: float) -> None:
        self.url = f"http://127.0.0.1:{web_port}/history/sql"
        self.concurrent = concurrent
        self.give_up_s = give_up_s
        self.outcomes: Counter[str] = Counter()
        self.seconds: list[float] = []
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, daemon=True) for _ in range(concurrent)
        ]

    def __enter__(self) -> Analysts:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(self.give_up_s + 5)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            request = urllib.request.Request(
                self.url,
                data=json.dumps({"sql": HEAVY_SQL}).encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {ANALYST_TOKEN}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.give_up_s) as response:
                    self.outcomes[f"http {response.status}"] += 1
            except urllib.error.HTTPError as exc:
                self.outcomes[f"http {exc.code}"] += 1
                if exc.code == 429:
                    time.sleep(0.5)
            except Exception as exc:  # the caller gave up (timeout) or the worker is gone
                self.outcomes[type(exc).__name__] += 1
            self.seconds.append(time.monotonic() - started)


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase's figures from its interleaved slices."""
    latencies = [v for p in parts for v in p["latencies_ms"]]
    return {
        "offered_per_s": sum(p["offered_per_s"] for p in parts) / len(parts),
        "indicators": sum(p["indicators"] for p in parts),
        "matched": sum(p["matched"] for p in parts),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else float("nan"),
        "latencies_ms": latencies,
    }


def analyst_run(
    rate: int, seconds: float, concurrent: int, give_up_s: float, slices: int = 3
) -> dict[str, Any]:
    """A fresh broker and worker: the load alone and with heavy queries, interleaved.

    The phases alternate in `slices` slices each (quiet, heavy, quiet, heavy, ...), so a
    change in the machine's other load during the run falls on both alike.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="mw-bench-analyst-"))
    proc = None
    tag = uuid.uuid4().hex[:6]
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "concurrent": concurrent}
    phases: dict[str, list[dict[str, Any]]] = {"quiet": [], "heavy": []}
    outcomes: Counter[str] = Counter()
    query_seconds: list[float] = []
    try:
        with tansu() as (port, _):
            web_port = free_port()
            proc = spawn(
                worker_command(port, data_dir, web_port),
                {**WORKER_ENV, **HEAVY_ALLOWED, **TOKEN_ENV},
                data_dir / "worker.log",
            )
            wait_healthy(web_port, proc, timeout=120)
            time.sleep(1.0)
            part = seconds / slices
            for i in range(slices):
                phases["quiet"].append(asyncio.run(_offer(port, rate, part, f"{tag}q{i}")))
                with Analysts(web_port, concurrent, part + 5) as analysts:
                    time.sleep(2.0)  # the queries are running before the measured load starts
                    phases["heavy"].append(asyncio.run(_offer(port, rate, part, f"{tag}h{i}")))
                    status, health = get_json(f"http://127.0.0.1:{web_port}/health", 5.0)
                outcomes.update(analysts.outcomes)
                query_seconds += analysts.seconds
                out["health_during_heavy"] = {"status": status, "body": health}
            stop(proc)
    finally:
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
    out["quiet"], out["heavy"] = _merge(phases["quiet"]), _merge(phases["heavy"])
    out["queries"] = dict(outcomes)
    out["query_seconds_p50"] = round(percentile(query_seconds, 50), 1)
    quiet, heavy = out["quiet"], out["heavy"]
    for q in ("p50_ms", "p99_ms"):
        out[f"ratio_{q.removesuffix('_ms')}"] = (
            round(heavy[q] / quiet[q], 2) if quiet[q] else float("nan")
        )
    log(
        f"analyst @ {rate}/s: quiet p50 {quiet['p50_ms']} / p99 {quiet['p99_ms']} ms, "
        f"heavy p50 {heavy['p50_ms']} / p99 {heavy['p99_ms']} ms "
        f"({heavy['matched']}/{heavy['indicators']} alerts), queries {out['queries']}"
    )
    return out
