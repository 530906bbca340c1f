"""Bring the rollups back in line with the last events written before a crash.

A materialized view is not written atomically with its source: when the history process
stops between the two (kill -9, or `up` killed and the history process stopped with it), the
last events are in `events` but not in `events_hourly` / `events_daily`. They are never
written again (they are in history, so the restarted worker treats them as duplicates), and
the reports would stay short. On start, the rollups of the hours and days that the last
writes touched are compared with `events` and topped up by the difference (the rollups are
SummingMergeTree: readers sum, so an added row corrects the total).

Only the process that owns an embedded chDB history does this, once, when it opens the
history and before anything writes to it: a row being written meanwhile would be counted
twice (once topped up, once by the view). A ClickHouse server finishes its own inserts
whatever happens to its clients, so nothing is reconciled there.
"""

from __future__ import annotations

import logging
from typing import Any

from marchwarden.history.store import HistoryStore

log = logging.getLogger(__name__)

# Writes this close to the last one may have been cut short by the crash.
RECENT_S = 600
ROLLUPS = {
    "events_hourly": ("hour", "toStartOfHour(occurred_at)"),
    "events_daily": ("day", "toDate(occurred_at)"),
}
KEYS = "section_id, country, event_type, late"

_MISSING = """
SELECT t.k, {keys}, t.events - r.events, greatest(t.persons, r.persons) - r.persons
FROM
(
    SELECT {expr} AS k, {keys}, count() AS events, sum(persons) AS persons
    FROM events FINAL
    WHERE {expr} IN (SELECT {expr} FROM events WHERE ingested_at >= {since})
    GROUP BY k, {keys}
) AS t
LEFT JOIN
(
    SELECT {column} AS k, {keys}, sum(events) AS events, sum(persons) AS persons
    FROM {table}
    WHERE {column} IN (SELECT {expr} FROM events WHERE ingested_at >= {since})
    GROUP BY k, {keys}
) AS r
USING (k, {keys})
WHERE t.events > r.events
"""


def reconcile_rollups(store: HistoryStore, recent_s: int = RECENT_S) -> dict[str, int]:
    """Top up each rollup where it counts fewer events than `events`; rows added per table."""
    since = f"(SELECT max(ingested_at) FROM events) - INTERVAL {int(recent_s)} SECOND"
    added: dict[str, int] = {}
    for table, (column, expr) in ROLLUPS.items():
        sql = _MISSING.format(keys=KEYS, expr=expr, column=column, table=table, since=since)
        _, rows = store.query(sql)
        corrections: list[tuple[Any, ...]] = [tuple(row) for row in rows]
        if corrections:
            columns = [column, *KEYS.split(", "), "events", "persons"]
            store.insert(table, corrections, columns)
            log.warning(
                "%s was short of %d events from the last writes before a crash; topped up",
                table,
                sum(int(row[5]) for row in corrections),
            )
        added[table] = len(corrections)
    return added


def reconcile_on_open(store: HistoryStore) -> None:
    """Reconcile an embedded history just opened; a failure is logged, never fatal.

    A history that cannot be reconciled (a table detached, a query refused) must not keep the
    watch from starting: the rollups then stay short until the next start, and the log says so.
    """
    if not store.embedded:
        return
    try:
        _, rows = store.query(
            "SELECT count() FROM system.tables "
            "WHERE database = currentDatabase() AND name = 'events'"
        )
        if not rows or int(rows[0][0]) == 0:
            return  # a new history: nothing was written yet
        reconcile_rollups(store)
    except Exception as exc:
        log.error(
            "could not reconcile the rollups with events (%s); reports may count fewer events "
            "for the last writes before a crash until the next start",
            str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
        )
