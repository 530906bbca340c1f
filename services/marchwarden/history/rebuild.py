"""Rebuild the live picture from ClickHouse history, aggregating inside ClickHouse."""

from __future__ import annotations

import logging
import time
from typing import Any

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.decoding import EVENT_ADAPTER
from marchwarden.contracts.events import Indicator
from marchwarden.history.store import HistoryStore
from marchwarden.picture.engine import PictureEngine
from marchwarden.picture.indicators import apply_indicator
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


def section_filter(sections: set[str] | None) -> str:
    if sections is None:
        return ""
    quoted = ", ".join("'" + s.replace("'", "") + "'" for s in sorted(sections))
    return "AND section_id IN (" + (quoted or "''") + ")"


async def rebuild_engine(
    engine: PictureEngine, store: HistoryStore, sections: set[str] | None = None
) -> dict[str, Any]:
    """Reset the engine and load its state for `sections` (None: all) from history."""
    started = time.perf_counter()
    engine.reset()
    if sections is not None:
        engine.owned = set(sections)
    _, rows = await store.aquery(
        "SELECT toUnixTimestamp64Milli(max(occurred_at)), toUnixTimestamp64Milli(min(occurred_at)),"
        " count() FROM events WHERE late = 0"
    )
    max_ms, min_ms, total = rows[0]
    if not total:
        await _restore_alerts(engine, store, sections)
        return {"events": 0, "seconds": time.perf_counter() - started}
    wm = max_ms / 1000.0
    engine.max_event_time = wm
    engine.wall_at_max = engine.wall_clock()
    engine.history_start = min_ms / 1000.0
    keep_from = wm - engine.rules.allowed_lateness_s - LONGEST_WINDOW_MIN * 60 - 60
    baseline_from = wm - (engine.rules.baseline_days + 1) * 86400
    flt = section_filter(sections)
    params = {"from_ms": int(keep_from * 1000), "to_ms": int(wm * 1000) + 1}
    _, buckets = await store.aquery(MINUTE_BUCKETS_SQL.replace("{section_filter}", flt), params)
    for section, minute, *values in buckets:
        if section in engine.counters:
            engine.counters[section].add_bucket(int(minute), [int(v) for v in values])
    _, hourly = await store.aquery(
        "SELECT section_id, intDiv(toUnixTimestamp(occurred_at), 3600) AS h, count() "
        "FROM events FINAL WHERE late = 0 AND event_type = 'crossing_attempt' "
        "AND occurred_at >= fromUnixTimestamp64Milli({from_ms:Int64}) "
        f"{flt} GROUP BY section_id, h",
        {"from_ms": int(baseline_from * 1000)},
    )
    for section, hour, count in hourly:
        if section in engine.counters:
            engine.counters[section].hourly_attempts[int(hour)] = int(count)
    _, ids = await store.aquery(
        "SELECT lower(toString(event_id)), intDiv(toUnixTimestamp(occurred_at), 60) FROM events "
        f"WHERE occurred_at >= fromUnixTimestamp64Milli({{from_ms:Int64}}) {flt}",
        {"from_ms": int(keep_from * 1000)},
    )
    engine.seen = {str(event_id): int(minute) for event_id, minute in ids}
    _, indicators = await store.aquery(
        "SELECT argMax(payload, (occurred_at, ingested_at)) FROM events FINAL "
        f"WHERE event_type = 'indicator' AND late = 0 {flt} GROUP BY indicator_id"
    )
    for (payload,) in indicators:
        event = EVENT_ADAPTER.validate_json(payload)
        if isinstance(event, Indicator):
            state = apply_indicator(None, event)
            if state is not None:
                engine.indicators[event.indicator_id] = state
    await _restore_alerts(engine, store, sections)
    seconds = time.perf_counter() - started
    log.info(
        "rebuilt the picture from %d history events in %.2f s (%d minute buckets)",
        total,
        seconds,
        len(buckets),
    )
    return {"events": int(total), "seconds": seconds, "minute_buckets": len(buckets)}


async def _restore_alerts(
    engine: PictureEngine, store: HistoryStore, sections: set[str] | None
) -> None:
    _, rows = await store.aquery(
        "SELECT argMax(payload, version) FROM alerts FINAL "
        f"WHERE 1 {section_filter(sections)} GROUP BY alert_id"
    )
    states = [AlertState.model_validate_json(payload) for (payload,) in rows]
    for alert in sorted(states, key=lambda a: (a.updated_at, a.alert_id)):
        key = (alert.rule, alert.section_id)
        episode = int(alert.alert_id.rsplit(".", 1)[-1])
        engine.episodes[key] = max(engine.episodes.get(key, 0), episode)
        engine.alerts_by_id[alert.alert_id] = alert
        if alert.status != "resolved":
            engine.open_alerts[key] = alert
            engine.ledger.restore(alert.alert_id, alert.recommendation)
