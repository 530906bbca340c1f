"""Rebuild the live picture from ClickHouse history, aggregating inside ClickHouse."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.decoding import Rejection, decode_command, decode_event, decode_model
from marchwarden.contracts.events import Indicator
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.engine.snapshot import KindMark, Snapshot, StreamMark
from marchwarden.history.store import HistoryStore
from marchwarden.picture.windows import LONGEST_WINDOW_MIN

log = logging.getLogger(__name__)

MINUTE_BUCKETS_SQL = """
SELECT section_id, intDiv(toUnixTimestamp(occurred_at), 60) AS m,
       countIf(event_type = 'crossing_attempt') AS attempts,
       sumIf(persons, event_type = 'crossing_attempt') AS attempt_persons,
       countIf(outcome = 'prevented') AS prevented,
       countIf(outcome = 'detained') AS detained,
       countIf(outcome = 'crossed') AS crossed,
       countIf(event_type = 'crossing_attempt'
               AND outcome NOT IN ('prevented', 'detained', 'crossed')) AS unknown,
       countIf(event_type = 'turn_back') AS turn_backs,
       sumIf(persons, event_type = 'turn_back') AS turn_back_persons
FROM events FINAL
WHERE late = 0 AND event_type IN ('crossing_attempt', 'turn_back')
  AND occurred_at >= fromUnixTimestamp64Milli({from_ms:Int64})
  AND occurred_at < fromUnixTimestamp64Milli({to_ms:Int64})
  {section_filter}
GROUP BY section_id, m
"""


def quoted_sections(sections: Iterable[str]) -> str:
    """Section ids as an SQL list (ids are checked against the reference; quotes dropped)."""
    return ", ".join("'" + s.replace("'", "") + "'" for s in sorted(sections)) or "''"


def section_filter(sections: set[str] | None) -> str:
    if sections is None:
        return ""
    return f"AND section_id IN ({quoted_sections(sections)})"


def section_ranges(ranges: Mapping[str, tuple[float, float | None]]) -> str:
    """SQL: events of each section within its own [from, to) in epoch seconds (to: open)."""
    clauses = []
    for section, (start, end) in sorted(ranges.items()):
        clause = f"section_id = {quoted_sections([section])} AND occurred_at >= fromUnixTimestamp({int(start)})"
        if end is not None:
            clause += f" AND occurred_at < fromUnixTimestamp({int(end)})"
        clauses.append(f"({clause})")
    return " OR ".join(clauses)


def since_each(marks: dict[str, float], reach_s: float) -> str:
    """SQL: events of each section no older than its own mark minus `reach_s`."""
    return section_ranges({section: (mark - reach_s, None) for section, mark in marks.items()})


def naming_filter(sections: set[str] | None) -> str:
    """SQL: indicators naming one of the sections, as primary or in extra_section_ids.

    A section named only as an extra may be owned by another worker than the primary one,
    and its owner needs the indicator after a restart or a rebalance too.
    """
    if sections is None:
        return ""
    quoted = quoted_sections(sections)
    return (
        f"AND (section_id IN ({quoted}) OR hasAny(JSONExtract(payload, "
        f"'extra_section_ids', 'Array(String)'), [{quoted}]))"
    )


async def _load_indicators(
    snapshot: Snapshot, store: HistoryStore, sections: set[str] | None
) -> None:
    """The latest report of every indicator naming one of the sections."""
    _, indicators = await store.aquery(
        "SELECT argMax(payload, (occurred_at, ingested_at)) FROM events FINAL "
        f"WHERE event_type = 'indicator' AND late = 0 {naming_filter(sections)} "
        "GROUP BY indicator_id"
    )
    for (payload,) in indicators:
        # Through the upcasters: history keeps each event as it arrived (version 1 or 2).
        raw = payload.encode()
        event = decode_event(raw, max_bytes=len(raw))
        if isinstance(event, Indicator):
            snapshot.indicators.append(event)


async def rebuild_engine(
    engine: PictureEngine, store: HistoryStore, sections: set[str] | None = None
) -> dict[str, Any]:
    """Reset the engine and load its state for `sections` (None: all) from history."""
    started = time.perf_counter()
    snapshot = Snapshot(sections=None if sections is None else set(sections))
    flt = section_filter(sections)
    _, streams = await store.aquery(
        "SELECT topic, section_id, toUnixTimestamp64Milli(max(occurred_at)), "
        "toUnixTimestamp64Milli(min(occurred_at)), count(), "
        "toUnixTimestamp64Milli(argMax(ingested_at, occurred_at)) "
        f"FROM events WHERE late = 0 {flt} GROUP BY topic, section_id"
    )
    total = sum(int(r[4]) for r in streams)
    if not total:
        # A section with no events of its own may still be named by another's indicator.
        await _load_indicators(snapshot, store, sections)
        await _load_alerts(snapshot, store, sections)
        engine.restore(snapshot)
        return {"events": 0, "seconds": time.perf_counter() - started}
    now = engine.wall_clock()
    section_max: dict[str, float] = {}
    slowest: dict[str, float] = {}
    for topic, section, max_ms, min_ms, _, seen_ms in streams:
        if section not in engine.country:
            continue
        # No clock starts ahead of real time, whatever history holds (a report written
        # within the allowed skew, or by a build that allowed more).
        latest = min(max_ms / 1000.0, now)
        snapshot.streams.append(
            StreamMark(str(topic), str(section), latest, seen_ms / 1000.0, min_ms / 1000.0)
        )
        section_max[section] = max(latest, section_max.get(section, latest))
        slowest[section] = min(latest, slowest.get(section, latest))
    _, kinds = await store.aquery(
        "SELECT section_id, event_type, toUnixTimestamp64Milli(max(occurred_at)), "
        "toUnixTimestamp64Milli(argMax(ingested_at, occurred_at)) FROM events "
        f"WHERE late = 0 AND event_type IN ('crossing_attempt', 'indicator') {flt} "
        "GROUP BY section_id, event_type"
    )
    snapshot.kinds = [
        KindMark(str(section), str(event_type), min(max_ms / 1000.0, now), seen_ms / 1000.0)
        for section, event_type, max_ms, seen_ms in kinds
    ]
    # Each section needs its own reach: 7 d windows plus lateness, and 28 d for the baseline.
    reach = engine.rules.allowed_lateness_s + LONGEST_WINDOW_MIN * 60 + 60
    base_reach = (engine.rules.baseline_days + 1) * 86400 + engine.rules.allowed_lateness_s
    _, buckets = await store.aquery(
        MINUTE_BUCKETS_SQL.replace("{section_filter}", f"AND ({since_each(section_max, reach)})"),
        {"from_ms": 0, "to_ms": 10**13},
    )
    snapshot.minute_buckets = [
        (str(section), int(minute), [int(v) for v in values])
        for section, minute, *values in buckets
    ]
    _, hourly = await store.aquery(
        "SELECT section_id, intDiv(toUnixTimestamp(occurred_at), 3600) AS h, count(), "
        "sum(persons) FROM events FINAL WHERE late = 0 AND event_type = 'crossing_attempt' "
        f"AND ({since_each(section_max, base_reach)}) GROUP BY section_id, h"
    )
    snapshot.hourly = [
        (str(section), int(hour), int(count), int(persons))
        for section, hour, count, persons in hourly
    ]
    # Deduplication keys: within the lateness of each section's slowest stream.
    id_reach = engine.rules.allowed_lateness_s + 120
    _, ids = await store.aquery(
        "SELECT lower(toString(event_id)), intDiv(toUnixTimestamp(occurred_at), 60) FROM events "
        f"WHERE {since_each(slowest, id_reach)}"
    )
    snapshot.seen = {str(event_id): int(minute) for event_id, minute in ids}
    await _load_indicators(snapshot, store, sections)
    await _load_alerts(snapshot, store, sections)
    engine.restore(snapshot)
    seconds = time.perf_counter() - started
    log.info(
        "rebuilt the picture from %d history events in %.2f s (%d minute buckets)",
        total,
        seconds,
        len(buckets),
    )
    return {"events": int(total), "seconds": seconds, "minute_buckets": len(buckets)}


async def _load_alerts(snapshot: Snapshot, store: HistoryStore, sections: set[str] | None) -> None:
    _, rows = await store.aquery(
        "SELECT argMax(payload, version) FROM alerts FINAL "
        f"WHERE 1 {section_filter(sections)} GROUP BY alert_id"
    )
    for (payload,) in rows:
        raw = payload.encode()
        state = decode_model(raw, AlertState, max_bytes=len(raw))
        if isinstance(state, Rejection):
            log.error("an alert state in history is unreadable (%s); skipped", state.reason)
            continue
        snapshot.alerts.append(state)
    _, applied = await store.aquery(
        "SELECT command_id, toUnixTimestamp(max(recorded_at)) FROM alert_audit "
        "WHERE command_id != '' AND recorded_at >= now() - INTERVAL 1 DAY "
        f"{section_filter(sections)} GROUP BY command_id"
    )
    snapshot.applied_commands = {str(c): float(t) for c, t in applied}
    # The silences in force: the last applied silence or unsilence of each scope.
    _, rows = await store.aquery(
        "SELECT argMax(command, recorded_at), argMax(payload, recorded_at) FROM commands FINAL "
        "WHERE command IN ('silence', 'unsilence') AND outcome = 'applied' "
        f"{section_filter(sections)} GROUP BY section_id, rule"
    )
    for command, payload in rows:
        if command != "silence":
            continue
        decoded = decode_command(payload.encode())
        if isinstance(decoded, OperatorCommand) and decoded.command == "silence":
            snapshot.silences.append(decoded)
