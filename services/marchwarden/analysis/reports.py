"""Canned analyst reports over ClickHouse history, on either of two timelines.

* **As it happened** (the default): every event by its event time, late ones included, with
  how many of them arrived late (``late``: more than the allowed lateness after newer
  reports of their stream; they never changed the live picture). Read from the daily rollup.
* **As it was known at T** (``known_at``): only what had arrived by T (``ingested_at``), and
  each alert in the last state recorded by T: what the operations centre saw then, for an
  after-action review. Read from the events and alerts tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

Metric = Literal["attempts", "turn_backs"]
GroupBy = Literal["country", "section"]
_EVENT_TYPE = {"attempts": "crossing_attempt", "turn_backs": "turn_back"}


@dataclass(frozen=True)
class Report:
    title: str
    sql: str
    parameters: dict[str, Any]


def _window(start: date, end: date, known_at: datetime | None) -> dict[str, Any]:
    window: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat()}
    if known_at is not None:
        window["known_at"] = known_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return window


def _timeline(known_at: datetime | None) -> str:
    if known_at is None:
        return "as it happened (event time, late arrivals included)"
    return f"as known at {known_at.astimezone(UTC).isoformat()} (by arrival time)"


# Events of one type between two days; the source is the daily rollup (as it happened) or
# the events that had arrived by `known_at`. Columns: the grouping, day, year, events,
# persons, late (events that arrived late).
_HAPPENED = """
SELECT country, section_id, day, toYear(day) AS year, events, persons, late
FROM events_daily
WHERE event_type = {event_type:String}
  AND day BETWEEN toDate({start:String}) AND toDate({end:String})
"""
_KNOWN = """
SELECT country, section_id, toDate(occurred_at) AS day, toYear(day) AS year,
       1 AS events, persons, late
FROM events FINAL
WHERE event_type = {event_type:String}
  AND toDate(occurred_at) BETWEEN toDate({start:String}) AND toDate({end:String})
  AND ingested_at <= toDateTime64({known_at:String}, 3, 'UTC')
"""
_KNOWN_YEARS = """
SELECT country, section_id, toDate(occurred_at) AS day, toYear(day) AS year,
       1 AS events, persons, late
FROM events FINAL
WHERE event_type = {event_type:String}
  AND (toMonth(day), toDayOfMonth(day))
      BETWEEN (toMonth(toDate({start:String})), toDayOfMonth(toDate({start:String})))
          AND (toMonth(toDate({end:String})), toDayOfMonth(toDate({end:String})))
  AND ingested_at <= toDateTime64({known_at:String}, 3, 'UTC')
"""
_HAPPENED_YEARS = """
SELECT country, section_id, day, toYear(day) AS year, events, persons, late
FROM events_daily
WHERE event_type = {event_type:String}
  AND (toMonth(day), toDayOfMonth(day))
      BETWEEN (toMonth(toDate({start:String})), toDayOfMonth(toDate({start:String})))
          AND (toMonth(toDate({end:String})), toDayOfMonth(toDate({end:String})))
"""


def totals_report(
    metric: Metric, group_by: GroupBy, start: date, end: date, known_at: datetime | None = None
) -> Report:
    """Events and persons per country or section between two dates (end inclusive)."""
    column = "country" if group_by == "country" else "section_id"
    source = _HAPPENED if known_at is None else _KNOWN
    sql = f"""
SELECT {column} AS {group_by}, sum(events) AS {metric}, sum(persons) AS persons,
       sumIf(events, late = 1) AS arrived_late
FROM ({source})
GROUP BY {column}
ORDER BY {metric} DESC, {group_by}
"""
    return Report(
        f"{metric.replace('_', '-')} per {group_by}, {start} to {end}, {_timeline(known_at)}",
        sql,
        {"event_type": _EVENT_TYPE[metric], **_window(start, end, known_at)},
    )


def year_over_year_report(
    metric: Metric, group_by: GroupBy, start: date, end: date, known_at: datetime | None = None
) -> Report:
    """Each year's total over the same calendar window (month-day range) as start..end."""
    column = "country" if group_by == "country" else "section_id"
    source = _HAPPENED_YEARS if known_at is None else _KNOWN_YEARS
    sql = f"""
SELECT year, {column} AS {group_by}, sum(events) AS {metric}, sum(persons) AS persons,
       sumIf(events, late = 1) AS arrived_late
FROM ({source})
GROUP BY year, {column}
ORDER BY {column}, year
"""
    return Report(
        f"{metric.replace('_', '-')} per {group_by} and year, days {start:%d %b} to {end:%d %b}, "
        f"{_timeline(known_at)}",
        sql,
        {"event_type": _EVENT_TYPE[metric], **_window(start, end, known_at)},
    )


def alerts_report(start: date, end: date, known_at: datetime | None = None) -> Report:
    """Every alert raised in the range with its last state (recorded by ``known_at``, if given)."""
    known = (
        "" if known_at is None else "AND recorded_at <= toDateTime64({known_at:String}, 3, 'UTC')"
    )
    sql = f"""
SELECT alert_id, rule, section_id,
       JSONExtractString(argMax(payload, version), 'playbook') AS playbook,
       argMax(level, version) AS level, argMax(status, version) AS status,
       min(raised_at) AS first_raised_at, max(updated_at) AS last_updated_at,
       max(version) AS versions,
       JSONExtractRaw(argMax(payload, version), 'evidence') AS evidence
FROM alerts
WHERE raised_at >= toDateTime64({{start:String}}, 3, 'UTC')
  AND raised_at < toDateTime64({{end:String}}, 3, 'UTC') + INTERVAL 1 DAY
  {known}
GROUP BY alert_id, rule, section_id
ORDER BY first_raised_at, alert_id
"""
    return Report(
        f"alerts raised {start} to {end}, {_timeline(known_at)}",
        sql,
        _window(start, end, known_at),
    )


def report_from_request(request: dict[str, Any]) -> Report:
    """A report from its request (`kind`, `metric`, `by`, `start`, `end` as ISO dates, and
    optionally `known_at`, an ISO timestamp with an offset)."""
    known_at = request.get("known_at")
    return build_report(
        request["kind"],
        metric=request.get("metric", "attempts"),
        by=request.get("by", "country"),
        start=date.fromisoformat(request["start"]),
        end=date.fromisoformat(request["end"]),
        known_at=None if known_at is None else parse_known_at(str(known_at)),
    )


def parse_known_at(text: str) -> datetime:
    """An ISO timestamp; one without an offset is refused (it would be ambiguous)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"known_at {text!r} needs an offset, e.g. 2024-07-18T22:00+00:00")
    return value


def build_report(kind: str, **options: Any) -> Report:
    start, end = options["start"], options["end"]
    known_at = options.get("known_at")
    if kind == "totals":
        return totals_report(
            options.get("metric", "attempts"), options.get("by", "country"), start, end, known_at
        )
    if kind == "yoy":
        return year_over_year_report(
            options.get("metric", "attempts"), options.get("by", "country"), start, end, known_at
        )
    if kind == "alerts":
        return alerts_report(start, end, known_at)
    raise ValueError(f"unknown report {kind!r}; choose totals, yoy or alerts")
