"""Canned analyst reports over ClickHouse history, read from the daily rollup where possible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Metric = Literal["attempts", "turn_backs"]
GroupBy = Literal["country", "section"]
_EVENT_TYPE = {"attempts": "crossing_attempt", "turn_backs": "turn_back"}


@dataclass(frozen=True)
class Report:
    title: str
    sql: str
    parameters: dict[str, Any]


def _window(start: date, end: date) -> dict[str, Any]:
    return {"start": start.isoformat(), "end": end.isoformat()}


def totals_report(metric: Metric, group_by: GroupBy, start: date, end: date) -> Report:
    """Events and persons per country or section between two dates (end inclusive)."""
    column = "country" if group_by == "country" else "section_id"
    sql = f"""
SELECT {column} AS {group_by}, sum(events) AS {metric}, sum(persons) AS persons
FROM events_daily
WHERE event_type = {{event_type:String}} AND late = 0
  AND day BETWEEN toDate({{start:String}}) AND toDate({{end:String}})
GROUP BY {column}
ORDER BY {metric} DESC, {group_by}
"""
    return Report(
        f"{metric.replace('_', '-')} per {group_by}, {start} to {end}",
        sql,
        {"event_type": _EVENT_TYPE[metric], **_window(start, end)},
    )


def year_over_year_report(metric: Metric, group_by: GroupBy, start: date, end: date) -> Report:
    """Each year's total over the same calendar window (month-day range) as start..end."""
    column = "country" if group_by == "country" else "section_id"
    sql = f"""
SELECT toYear(day) AS year, {column} AS {group_by}, sum(events) AS {metric},
       sum(persons) AS persons
FROM events_daily
WHERE event_type = {{event_type:String}} AND late = 0
  AND (toMonth(day), toDayOfMonth(day))
      BETWEEN (toMonth(toDate({{start:String}})), toDayOfMonth(toDate({{start:String}})))
          AND (toMonth(toDate({{end:String}})), toDayOfMonth(toDate({{end:String}})))
GROUP BY year, {column}
ORDER BY {column}, year
"""
    return Report(
        f"{metric.replace('_', '-')} per {group_by} and year, days {start:%d %b} to {end:%d %b}",
        sql,
        {"event_type": _EVENT_TYPE[metric], **_window(start, end)},
    )


def alerts_report(start: date, end: date) -> Report:
    """Every alert raised in the range, with its final state and its evidence."""
    sql = """
SELECT alert_id, rule, section_id, argMax(level, version) AS level,
       argMax(status, version) AS status, min(raised_at) AS first_raised_at,
       max(updated_at) AS last_updated_at, max(version) AS versions,
       JSONExtractRaw(argMax(payload, version), 'evidence') AS evidence
FROM alerts
WHERE raised_at >= toDateTime64({start:String}, 3, 'UTC')
  AND raised_at < toDateTime64({end:String}, 3, 'UTC') + INTERVAL 1 DAY
GROUP BY alert_id, rule, section_id
ORDER BY first_raised_at, alert_id
"""
    return Report(f"alerts raised {start} to {end}", sql, _window(start, end))


def report_from_request(request: dict[str, Any]) -> Report:
    """A report from its request (`kind`, `metric`, `by`, `start`, `end` as ISO dates)."""
    return build_report(
        request["kind"],
        metric=request.get("metric", "attempts"),
        by=request.get("by", "country"),
        start=date.fromisoformat(request["start"]),
        end=date.fromisoformat(request["end"]),
    )


def build_report(kind: str, **options: Any) -> Report:
    start, end = options["start"], options["end"]
    if kind == "totals":
        return totals_report(
            options.get("metric", "attempts"), options.get("by", "country"), start, end
        )
    if kind == "yoy":
        return year_over_year_report(
            options.get("metric", "attempts"), options.get("by", "country"), start, end
        )
    if kind == "alerts":
        return alerts_report(start, end)
    raise ValueError(f"unknown report {kind!r}; choose totals, yoy or alerts")
