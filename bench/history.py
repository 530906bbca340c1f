"""History benchmarks on chDB: rebuild of the live picture, inserts from Python, canned reports."""

from __future__ import annotations

import asyncio
import multiprocessing
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import TOPIC_OF, log, make_events, median
from marchwarden.history.rows import EVENT_COLUMNS

SECTION_IDS = (
    "EE-RU-01", "EE-RU-02", "LT-BY-01", "LT-BY-02", "LT-BY-03", "LT-BY-04", "LT-RU-01",
    "LT-RU-02", "LV-BY-01", "LV-BY-02", "LV-RU-01", "LV-RU-02", "PL-BY-01", "PL-BY-02",
    "PL-BY-03", "PL-RU-01", "PL-RU-02",
)  # fmt: skip
YEAR_MS = 365 * 86400 * 1000


def events_insert_sql(start: int, count: int, span_ms: int, end_ms: int) -> str:
    """An INSERT ... SELECT generating `count` events inside ClickHouse (numbers start..)."""
    sections = "[" + ",".join(f"'{s}'" for s in SECTION_IDS) + "]"
    return f"""
INSERT INTO events
SELECT
    generateUUIDv4(number) AS event_id,
    if(h % 100 < 85, 'crossing_attempt', 'turn_back') AS event_type,
    1 AS schema_version,
    fromUnixTimestamp64Milli(toInt64({end_ms} - (cityHash64(number, 2) % {span_ms})), 'UTC')
        AS occurred_at,
    {sections}[1 + cityHash64(number, 1) % {len(SECTION_IDS)}] AS section_id,
    splitByChar('-', section_id)[1] AS country,
    transform(country, ['LT', 'LV', 'PL', 'EE'], ['LT-VSAT', 'LV-VRS', 'PL-SG', 'EE-PPA'], 'XX-X')
        AS reporter,
    toUInt32(1 + bitShiftRight(h, 8) % 5) AS persons,
    if(event_type = 'crossing_attempt',
       ['prevented', 'prevented', 'prevented', 'detained', 'crossed', 'unknown'][1 + bitShiftRight(h, 16) % 6],
       '') AS outcome,
    '' AS indicator_id,
    '' AS level,
    '' AS state,
    0 AS late,
    concat('{{"persons":', toString(persons), ',"outcome":"', outcome, '","source":"',
           ['patrol', 'camera', 'thermal', 'radar'][1 + bitShiftRight(h, 24) % 4], '"}}') AS payload,
    if(event_type = 'crossing_attempt', 'border.crossings', 'border.turnbacks') AS topic,
    toUInt32(bitShiftRight(h, 32) % 4) AS partition,
    number AS offset,
    occurred_at + toIntervalMillisecond(200 + bitShiftRight(h, 40) % 2000) AS ingested_at
FROM (SELECT number, cityHash64(number, 0) AS h FROM numbers({start}, {count}))
"""


def alerts_insert_sql(count: int, span_ms: int, end_ms: int) -> str:
    """`count` alerts with three versions each (raised, acknowledged, resolved)."""
    sections = "[" + ",".join(f"'{s}'" for s in SECTION_IDS) + "]"
    return f"""
INSERT INTO alerts
SELECT
    concat(rule, '.', section_id, '.', toString(intDiv(number, 3))) AS alert_id,
    toUInt32(number % 3 + 1) AS version,
    if(cityHash64(intDiv(number, 3)) % 3 = 0, 'move_equipment_to_arteries', 'surge') AS rule,
    ['medium', 'high', 'critical'][1 + cityHash64(intDiv(number, 3), 1) % 3] AS level,
    ['raised', 'acknowledged', 'resolved'][number % 3 + 1] AS status,
    {sections}[1 + cityHash64(intDiv(number, 3), 2) % {len(SECTION_IDS)}] AS section_id,
    fromUnixTimestamp64Milli(toInt64({end_ms} - cityHash64(intDiv(number, 3), 3) % {span_ms}), 'UTC')
        AS raised_at,
    raised_at + toIntervalSecond(600 * (number % 3)) AS updated_at,
    concat('{{"alert_id":"', alert_id, '","status":"', status,
           '","evidence":{{"attempts_last_hour":', toString(20 + number % 50),
           ',"indicator_ids":[],"event_ids":[]}}}}') AS payload,
    updated_at AS recorded_at
FROM numbers({count * 3})
"""


def _open(path: Path) -> Any:
    from marchwarden.history.migrations import migrate
    from marchwarden.history.store import HistoryStore

    store = HistoryStore(f"chdb://{path}")
    migrate(store)
    return store


def _du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=False)
    return float(out.stdout.split()[0]) if out.stdout else float("nan")


def _generate(store: Any, start: int, count: int, span_ms: int, end_ms: int, chunk: int) -> float:
    began = time.perf_counter()
    done = 0
    while done < count:
        step = min(chunk, count - done)
        store.command(events_insert_sql(start + done, step, span_ms, end_ms))
        done += step
        log(f"history: generated {start + done:,} events ({time.perf_counter() - began:.0f} s)")
    return time.perf_counter() - began


# ------------------------------------------------------------------ rebuild
def _rebuild_in_child(n: int, runs: int) -> list[dict[str, Any]]:
    from marchwarden.engine.picture_engine import PictureEngine
    from marchwarden.history.rebuild import rebuild_engine
    from marchwarden.reference import load_reference
    from marchwarden.settings import RuleSettings

    path = Path(tempfile.mkdtemp(prefix="mw-bench-rebuild-"))
    store = _open(path / "history")
    try:
        end_ms = int(time.time() * 1000) - 60_000
        gen_s = _generate(store, 0, n, YEAR_MS, end_ms, chunk=10_000_000)
        _, rows = store.query("SELECT count() FROM events")
        disk = _du_mb(path)
        log(f"rebuild: {rows[0][0]:,} events in {gen_s:.1f} s, {disk:.0f} MB on disk")
        out = []
        for i in range(runs):
            engine = PictureEngine(load_reference(), RuleSettings())
            began = time.perf_counter()
            info = asyncio.run(rebuild_engine(engine, store))
            seconds = time.perf_counter() - began
            log(f"rebuild: run {i + 1}/{runs}: {seconds:.2f} s ({info})")
            out.append(
                {
                    "seconds": round(seconds, 3),
                    "events": int(info["events"]),
                    "minute_buckets": int(info.get("minute_buckets", 0)),
                    "dedup_keys": len(engine.seen),
                    "generate_s": round(gen_s, 1),
                    "disk_mb": disk,
                }
            )
        return out
    finally:
        store.close()
        shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------ inserts + reports
def _python_rows(n: int, seed: int) -> list[tuple[Any, ...]]:
    """Rows shaped like history.rows.event_row's, from realistic events."""
    import json

    country = dict(zip(SECTION_IDS, (s.split("-")[0] for s in SECTION_IDS), strict=True))
    received = datetime.now(UTC)
    rows = []
    for offset, e in enumerate(make_events(n, seed=seed)):
        indicator = e["event_type"] == "indicator"
        rows.append(
            (
                e["event_id"],
                e["event_type"],
                1,
                datetime.fromisoformat(e["occurred_at"]),
                e["section_id"],
                country[e["section_id"]],
                e["reporter"],
                e.get("persons", 0),
                e.get("outcome", ""),
                e.get("indicator_id", "") if indicator else "",
                e.get("level", "") if indicator else "",
                e.get("state", "") if indicator else "",
                0,
                json.dumps(e, separators=(",", ":")),
                TOPIC_OF[e["event_type"]],
                offset % 4,
                offset,
                received,
            )
        )
    return rows


def _reports(store: Any, repeat: int) -> dict[str, dict[str, Any]]:
    from marchwarden.analysis.reports import build_report

    today = datetime.now(UTC).date()
    cases: dict[str, Any] = {
        "totals/country": build_report(
            "totals", metric="attempts", by="country", start=date(today.year, 1, 1), end=today
        ),
        "totals/section": build_report(
            "totals", metric="turn_backs", by="section", start=date(today.year, 1, 1), end=today
        ),
        "yoy/country": build_report(
            "yoy",
            metric="attempts",
            by="country",
            start=date(today.year, 1, 1),
            end=date(today.year, 7, 26),
        ),
        "alerts": build_report("alerts", start=today - timedelta(days=365), end=today),
    }
    out = {}
    for name, report in cases.items():
        store.query(report.sql, report.parameters, readonly=True)  # warm-up
        times = []
        rows = 0
        for _ in range(repeat):
            began = time.perf_counter()
            _, result = store.query(report.sql, report.parameters, readonly=True)
            times.append((time.perf_counter() - began) * 1000)
            rows = len(result)
        out[name] = {
            "median_ms": round(median(times), 1),
            "runs_ms": [round(t, 1) for t in times],
            "rows": rows,
        }
        log(f"history: {name}: {out[name]['median_ms']} ms ({rows} rows)")
    return out


def _history_in_child(sizes: Sequence[int], insert_rows: int, runs: int) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="mw-bench-history-"))
    store = _open(path / "history")
    try:
        inserts = []
        batch = 20_000
        for i in range(runs):
            rows = _python_rows(insert_rows, seed=100 + i)
            store.command("TRUNCATE TABLE events")
            store.command("TRUNCATE TABLE events_hourly")
            began = time.perf_counter()
            for j in range(0, len(rows), batch):
                store.insert("events", rows[j : j + batch], EVENT_COLUMNS)
            seconds = time.perf_counter() - began
            _, got = store.query("SELECT count() FROM events")
            inserts.append(
                {"rows": len(rows), "seconds": round(seconds, 3), "rows_per_s": len(rows) / seconds}
            )
            log(f"history: insert run {i + 1}: {len(rows) / seconds:,.0f} rows/s ({got[0][0]})")
        store.command("TRUNCATE TABLE events")
        store.command("TRUNCATE TABLE events_hourly")
        end_ms = int(time.time() * 1000) - 60_000
        span_ms = 5 * YEAR_MS
        generated = 0
        reports = {}
        for size in sizes:
            gen_s = _generate(store, generated, size - generated, span_ms, end_ms, 10_000_000)
            store.command("TRUNCATE TABLE alerts")
            store.command(alerts_insert_sql(size // 1000, span_ms, end_ms))
            generated = size
            _, parts = store.query(
                "SELECT table, count(), sum(rows) FROM system.parts WHERE active "
                "AND database = currentDatabase() GROUP BY table"
            )
            disk = _du_mb(path)
            log(f"history: {size:,} events ({gen_s:.0f} s to generate), {disk:.0f} MB on disk")
            reports[str(size)] = {
                "generate_s": round(gen_s, 1),
                "disk_mb": disk,
                "parts": {t: [int(c), int(r)] for t, c, r in parts},
                "reports": _reports(store, max(5, runs)),
            }
        return {"inserts": inserts, "sizes": reports}
    finally:
        store.close()
        shutil.rmtree(path, ignore_errors=True)


def _in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """chDB allows one session per process: each history workload gets a fresh process."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def rebuild_runs(n: int, runs: int) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _in_child(_rebuild_in_child, n, runs)
    return result


def history_runs(
    sizes: Sequence[int], insert_rows: int, runs: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    raw: dict[str, Any] = _in_child(_history_in_child, list(sizes), insert_rows, runs)
    summary: dict[str, Any] = {
        "insert_rows_per_s": median([r["rows_per_s"] for r in raw["inserts"]]),
        "reports_ms": {
            size: {name: r["median_ms"] for name, r in info["reports"].items()}
            for size, info in raw["sizes"].items()
        },
        "disk_mb": {size: info["disk_mb"] for size, info in raw["sizes"].items()},
    }
    return [raw], summary
