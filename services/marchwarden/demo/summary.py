"""The end-of-demo summary: queries over the history, as tables and a chart."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

Query = Callable[[str], list[list[Any]]]

PER_SECTION_SQL = """
SELECT section_id,
       sumIf(events, event_type = 'crossing_attempt') AS attempts,
       sumIf(persons, event_type = 'crossing_attempt') AS attempt_persons,
       sumIf(events, event_type = 'turn_back') AS turn_backs,
       sumIf(persons, event_type = 'turn_back') AS turned_back_persons
FROM events_hourly
GROUP BY section_id ORDER BY section_id
"""
PEAK_HOUR_SQL = """
SELECT section_id, argMax(hour, events) AS peak_hour, max(events) AS peak_attempts
FROM (SELECT section_id, hour, sum(events) AS events FROM events_hourly
      WHERE event_type = 'crossing_attempt' GROUP BY section_id, hour)
GROUP BY section_id
"""
ALERTS_SQL = """
SELECT section_id, rule, count() AS alerts, groupArray(level) AS levels
FROM (SELECT alert_id, any(section_id) AS section_id, any(rule) AS rule,
             argMax(level, version) AS level FROM alerts GROUP BY alert_id)
GROUP BY section_id, rule ORDER BY section_id, rule
"""
SPAN_SQL = "SELECT min(hour), max(hour) FROM events_hourly"
SERIES_SQL = """
SELECT {bucket}(hour) AS t, country, sum(events) AS attempts
FROM events_hourly WHERE event_type = 'crossing_attempt'
GROUP BY t, country ORDER BY t, country
"""
ALERT_TIMES_SQL = "SELECT alert_id, min(raised_at) FROM alerts GROUP BY alert_id"


def summarise(query: Query) -> dict[str, Any]:
    sections = {r[0]: r for r in query(PER_SECTION_SQL)}
    peaks = {r[0]: (r[1], r[2]) for r in query(PEAK_HOUR_SQL)}
    alerts: dict[str, int] = {}
    for section, _rule, count, _levels in query(ALERTS_SQL):
        alerts[section] = alerts.get(section, 0) + int(count)
    return {"sections": sections, "peaks": peaks, "alerts": alerts}


def print_summary(console: Console, data: dict[str, Any]) -> None:
    sections, peaks, alerts = data["sections"], data["peaks"], data["alerts"]
    borders: dict[str, list[int]] = {}
    for section, row in sections.items():
        border = section[:5]
        totals = borders.setdefault(border, [0, 0, 0, 0, 0])
        totals[0] += int(row[1])
        totals[1] += int(row[2])
        totals[2] += int(row[3])
        totals[3] += int(row[4])
        totals[4] += alerts.get(section, 0)
    table = Table(title="Per border (country → neighbour)")
    for col in ("border", "attempts", "persons", "turn-backs", "turned back", "alerts"):
        table.add_column(col, justify="right" if col != "border" else "left")
    for border, t in sorted(borders.items()):
        table.add_row(border, *(f"{v:,}" for v in t))
    console.print(table)

    table = Table(title="Per section")
    for col in ("section", "attempts", "turn-backs", "alerts", "peak hour (UTC)", "attempts then"):
        table.add_column(col, justify="left" if col in ("section", "peak hour (UTC)") else "right")
    for section, row in sorted(sections.items()):
        hour, count = peaks.get(section, (None, 0))
        table.add_row(
            section,
            f"{int(row[1]):,}",
            f"{int(row[3]):,}",
            str(alerts.get(section, 0)),
            str(hour)[:16] if hour else "-",
            f"{int(count):,}",
        )
    console.print(table)
    if peaks:
        section, (hour, count) = max(peaks.items(), key=lambda kv: kv[1][1])
        console.print(
            f"Peak hour overall: [bold]{str(hour)[:16]} UTC[/] on {section}, {int(count)} attempts"
        )


def draw_chart(query: Query, path: Path) -> Path | None:
    """Monthly attempts per country with alert markers, as a PNG; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    (first, last), *_ = query(SPAN_SQL)
    days = (last - first).days if first and last else 0
    bucket, unit = ("toStartOfMonth", "month") if days > 120 else ("toStartOfDay", "day")
    series: dict[str, tuple[list[Any], list[int]]] = {}
    for t, country, attempts in query(SERIES_SQL.format(bucket=bucket)):
        xs, ys = series.setdefault(country, ([], []))
        xs.append(t)
        ys.append(int(attempts))
    fig, (ax, counts_ax) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 6.5), dpi=110, gridspec_kw={"height_ratios": [3, 1]}
    )
    for country, (xs, ys) in sorted(series.items()):
        ax.plot(xs, ys, marker=".", label=country)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.8)
    # Surges can be many (one per busy night): counted per bucket below. The rarer alerts
    # that move equipment or people are drawn as lines, labelled, on the attempts.
    per_bucket: dict[str, Counter[Any]] = defaultdict(Counter)
    for alert_id, raised in query(ALERT_TIMES_SQL):
        rule, section, _ = alert_id.split(".")
        start = raised.date().replace(day=1) if unit == "month" else raised.date()
        per_bucket[rule][start] += 1
        if rule == "surge":
            continue
        ax.axvline(raised, color="crimson", alpha=0.5, linestyle="--")
        ax.text(
            raised,
            0.98,
            f"{rule.replace('_', ' ')} {section}",
            rotation=90,
            fontsize=7,
            color="crimson",
            va="top",
            ha="right",
            transform=ax.get_xaxis_transform(),
        )
    width = 25 if unit == "month" else 0.8
    bottom: Counter[Any] = Counter()
    for rule, counts in sorted(per_bucket.items()):
        xs = sorted(counts)
        counts_ax.bar(
            xs,
            [counts[x] for x in xs],
            width=width,
            bottom=[bottom[x] for x in xs],
            align="edge",
            label=rule.replace("_", " "),
        )
        bottom.update(counts)
    counts_ax.set_ylabel(f"alerts raised per {unit}")
    counts_ax.legend(loc="upper left", fontsize=7)
    counts_ax.grid(alpha=0.3)
    ax.set_title(f"Crossing attempts per {unit} and country, and the alerts raised")
    ax.set_ylabel(f"attempts per {unit} (log)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
