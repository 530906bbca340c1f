"""Run the benchmarks: `python -m bench.run [workload ...] [--runs 3] [--quick]`."""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS, loadavg, log, machine, median, percentile

WORKLOADS = ("limit", "pipeline", "naive", "latency", "analyst", "startup", "rebuild", "history")


def _repeat(name: str, runs: int, fn: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i in range(runs):
        log(f"{name}: run {i + 1}/{runs} (load {loadavg()})")
        result = fn()
        result["load_after"] = loadavg()
        out.append(result)
    return out


def run_workload(name: str, runs: int, quick: bool, profile: bool) -> dict[str, Any]:
    """Run one workload `runs` times; returns its result document."""
    params: dict[str, Any]
    summary: dict[str, Any]
    if name in ("limit", "pipeline", "naive"):
        from bench import throughput

        if name == "limit":
            n = 50_000 if quick else 200_000
            params = {"events": n}
            raw = _repeat(name, runs, lambda: throughput.limit_run(n))
        elif name == "pipeline":
            n = 50_000 if quick else 200_000
            params = {"events": n}
            raw = _repeat(name, runs, lambda: throughput.pipeline_run(n))
            if profile:
                path = RESULTS / "pipeline-profile.speedscope.json"
                log(f"pipeline: extra run under py-spy -> {path}")
                extra = throughput.pipeline_run(n, profile=path)
                params["profiled_run"] = extra
                from bench.profile import summarise

                params["profile_top"] = summarise(path)
        else:
            n = 10_000 if quick else 30_000
            params = {"events": n}
            raw = _repeat(name, runs, lambda: throughput.naive_run(n))
        summary = {"events_per_s": median([r["events_per_s"] for r in raw])}
        if name == "pipeline":
            for key in ("worker_cpu_s", "peak_rss_mb", "worker_cpu_util", "ready_s"):
                summary[key] = median([r[key] for r in raw])
            summary["peak_rss_tree_mb"] = median(
                [r.get("peak_rss_tree_mb", r["peak_rss_mb"]) for r in raw]
            )
            summary["cpu_us_per_event"] = summary["worker_cpu_s"] / n * 1e6
    elif name == "latency":
        from bench import latency

        rates = (1000, 2000) if quick else (1000, 5000, 10000)
        seconds = 8.0 if quick else 20.0
        params = {"rates": list(rates), "seconds_per_rate": seconds}
        raw = _repeat(name, runs, lambda: latency.latency_run(rates, seconds))
        summary = {}
        for rate in rates:
            per = [r["rates"][str(rate)] for r in raw]
            pooled = [v for p in per for v in p["latencies_ms"]]
            summary[str(rate)] = {
                "pooled_p50_ms": percentile(pooled, 50),
                "pooled_p99_ms": percentile(pooled, 99),
                "samples": len(pooled),
                "p50_ms": median([p["p50_ms"] for p in per]),
                "p99_ms": median([p["p99_ms"] for p in per]),
                "max_ms": median([p["max_ms"] for p in per]),
                "offered_per_s": median([p["offered_per_s"] for p in per]),
                "alerts_matched": median([p["matched"] for p in per]),
                "indicators_sent": median([p["indicators"] for p in per]),
            }
    elif name == "analyst":
        from bench import analyst

        rate = 1000
        seconds = 12.0 if quick else 30.0
        params = {"rate": rate, "seconds_per_phase": seconds, "slices": 3, "heavy_queries": 2}
        raw = _repeat(name, runs, lambda: analyst.analyst_run(rate, seconds, 2, seconds))
        summary = {}
        for phase in ("quiet", "heavy"):
            pooled = [v for r in raw for v in r[phase]["latencies_ms"]]
            summary[phase] = {
                "pooled_p50_ms": percentile(pooled, 50),
                "pooled_p99_ms": percentile(pooled, 99),
                "samples": len(pooled),
                "matched": sum(r[phase]["matched"] for r in raw),
                "indicators": sum(r[phase]["indicators"] for r in raw),
            }
        summary["ratio_p50"] = summary["heavy"]["pooled_p50_ms"] / summary["quiet"]["pooled_p50_ms"]
        summary["ratio_p99"] = summary["heavy"]["pooled_p99_ms"] / summary["quiet"]["pooled_p99_ms"]
    elif name == "startup":
        from bench import startup

        params = {"demo": "--scenario smoke --duration 5"}
        raw = _repeat(name, runs, startup.startup_run)
        summary = {
            "up_to_health_s": median([r["up_to_health_s"] for r in raw]),
            "demo_wall_s": median([r["demo_wall_s"] for r in raw]),
        }
    elif name == "rebuild":
        from bench import history

        n = 1_000_000 if quick else 10_000_000
        params = {"events": n}
        raw = history.rebuild_runs(n, runs)
        summary = {"seconds": median([r["seconds"] for r in raw])}
    elif name == "history":
        from bench import history

        sizes = (1_000_000, 3_000_000) if quick else (10_000_000, 100_000_000)
        insert_rows = 50_000 if quick else 200_000
        params = {"sizes": list(sizes), "insert_rows": insert_rows, "insert_batch": 20_000}
        raw, summary = history.history_runs(sizes, insert_rows, runs)
    else:
        raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    return {
        "workload": name,
        "quick": quick,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": params,
        "summary": summary,
        "runs": raw,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(WORKLOADS)} (all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, to iterate")
    parser.add_argument("--profile", action="store_true", help="py-spy one extra pipeline run")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite the docs")
    args = parser.parse_args(argv)
    chosen = args.workloads or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    facts = machine()
    failed = []
    for name in chosen:
        load_before = loadavg()
        started = time.monotonic()
        try:
            doc = run_workload(name, args.runs, args.quick, args.profile)
        except Exception:
            traceback.print_exc()
            log(f"{name}: FAILED")
            failed.append(name)
            continue
        doc["load_before"] = load_before
        doc["load_after"] = loadavg()
        doc["wall_s"] = round(time.monotonic() - started, 1)
        doc["machine"] = facts
        suffix = "-quick" if args.quick else ""
        path = RESULTS / f"{name}{suffix}.json"
        path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        log(f"{name}: done in {doc['wall_s']} s -> {path.relative_to(RESULTS.parent.parent)}")
    if not args.no_report:
        from bench.report import write_report

        write_report(quick=args.quick)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
