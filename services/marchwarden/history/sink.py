"""Batching history sink: add() rows as they come, flush() them to ClickHouse once per checkpoint."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.history.store import HistoryStore
from marchwarden.picture.engine import ALERT_COLUMNS, DEAD_LETTER_COLUMNS, EVENT_COLUMNS, Outputs

log = logging.getLogger(__name__)
LATE_COLUMN = EVENT_COLUMNS.index("late")


def alert_row(alert: AlertState, recorded_at: datetime) -> tuple[Any, ...]:
    return (
        alert.alert_id,
        alert.version,
        alert.rule,
        alert.level,
        alert.status,
        alert.section_id,
        alert.raised_at,
        alert.updated_at,
        alert.model_dump_json(),
        recorded_at,
    )


def dead_letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    import base64

    return (
        letter.topic,
        letter.partition,
        letter.offset,
        base64.b64decode(letter.key_b64) if letter.key_b64 else b"",
        base64.b64decode(letter.value_b64),
        letter.value_size,
        letter.kind,
        letter.reason,
        letter.received_at,
    )


def _token(table: str, rows: list[tuple[Any, ...]], key_columns: int) -> str:
    """Content-based deduplication token: a retried insert of the same rows is dropped."""
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        digest.update(repr(row[:key_columns]).encode())
    return f"{table}:{len(rows)}:{digest.hexdigest()}"


class HistorySink:
    """Buffers history rows and writes them in batches bounded by size and by time.

    A failed flush keeps every row and is retried with backoff; nothing accepted is lost.
    """

    def __init__(self, store: HistoryStore, max_rows: int = 20_000, max_interval_s: float = 0.5):
        self.store = store
        self.max_rows = max_rows
        self.max_interval_s = max_interval_s
        self.events: list[tuple[Any, ...]] = []
        self.alerts: list[tuple[Any, ...]] = []
        self.dead_letters: list[tuple[Any, ...]] = []
        self.oldest: float | None = None
        self.rows_written = 0
        self.flushes = 0
        self.replays_dropped = 0
        # The last write failure while it lasts (None once a write succeeds): /health shows it.
        self.write_error: str | None = None

    def add(self, outputs: Outputs) -> None:
        if not outputs:
            return
        now = datetime.now(UTC)
        self.events.extend(outputs.events)
        self.alerts.extend(alert_row(a, now) for a in outputs.alerts)
        self.dead_letters.extend(dead_letter_row(d) for d in outputs.dead_letters)
        if self.oldest is None:
            self.oldest = time.monotonic()

    @property
    def pending(self) -> int:
        return len(self.events) + len(self.alerts) + len(self.dead_letters)

    def due(self) -> bool:
        if not self.pending:
            return False
        if self.pending >= self.max_rows:
            return True
        return self.oldest is not None and time.monotonic() - self.oldest >= self.max_interval_s

    async def flush(self, retry_forever: bool = True) -> int:
        """Write everything buffered; returns the number of rows written."""
        events, alerts, letters = self.events, self.alerts, self.dead_letters
        self.events, self.alerts, self.dead_letters, self.oldest = [], [], [], None
        events = await self._drop_known_late_events(events)
        batches = [
            ("events", events, EVENT_COLUMNS, 1),
            ("alerts", alerts, ALERT_COLUMNS, 2),
            ("dead_letters", letters, DEAD_LETTER_COLUMNS, 3),
        ]
        written = 0
        for table, rows, columns, key_columns in batches:
            if not rows:
                continue
            token = _token(table, rows, key_columns)
            delay = 0.2
            while True:
                try:
                    await self.store.ainsert(table, rows, columns, dedup_token=token)
                    self.write_error = None
                    break
                except Exception as exc:  # any store failure: logged, shown on /health, retried
                    self.write_error = f"{table}: {str(exc).strip().splitlines()[0][:300]}"
                    if not retry_forever:
                        raise
                    log.error(
                        "history write to %s failed (%s); retrying in %.1f s", table, exc, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
            written += len(rows)
        self.rows_written += written
        self.flushes += 1
        return written

    async def _drop_known_late_events(self, events: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Late events are older than the live deduplication window: check history by id.

        A replay of a months-old event would otherwise be written again, flagged late.
        """
        late_ids = [row[0] for row in events if row[LATE_COLUMN]]
        if not late_ids:
            return events
        _, rows = await self.store.aquery(
            "SELECT lower(toString(event_id)) FROM events WHERE event_id IN {ids:Array(UUID)}",
            {"ids": late_ids},
        )
        known = {r[0] for r in rows}
        if not known:
            return events
        self.replays_dropped += len(known)
        log.info("dropped %d replayed late events already in history", len(known))
        return [row for row in events if not (row[LATE_COLUMN] and str(row[0]).lower() in known)]
