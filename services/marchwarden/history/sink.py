"""Batching history sink: rows are buffered as they come and written in snapshots.

A snapshot is written whole or not at all, except for rows the store refuses on their own:
those are isolated (history.isolation) and come back as dead letters with the store's error,
so one bad row never blocks the rest. Unreachable stores are retried with backoff until the
caller gives up; nothing accepted is dropped, and the failure is visible (failing_since).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from marchwarden.contracts.deadletters import DeadLetter, bounded_dead_letter
from marchwarden.engine.outputs import Outputs
from marchwarden.history.isolation import (
    RefusedRow,
    Row,
    insert_isolating,
    partition_chunks,
)
from marchwarden.history.rows import (
    ALERT_COLUMNS,
    COMMAND_COLUMNS,
    DEAD_LETTER_COLUMNS,
    EVENT_COLUMNS,
    alert_row,
    command_row,
    dead_letter_row,
    event_row,
)
from marchwarden.history.store import HistoryRefused, HistoryStore, HistoryUnavailable
from marchwarden.messages import first_line

log = logging.getLogger(__name__)
LATE_COLUMN = EVENT_COLUMNS.index("late")
OCCURRED_COLUMN = EVENT_COLUMNS.index("occurred_at")
_EVENT = {name: EVENT_COLUMNS.index(name) for name in ("topic", "partition", "offset", "payload")}


class WriteAbandoned(RuntimeError):
    """The caller stopped waiting for a history write that kept failing."""


def refused_event_letter(refused: RefusedRow, max_letter_bytes: int) -> DeadLetter:
    """The dead letter of an event row the store refused: its original bytes, the store's error."""
    row = refused.row
    payload = row[_EVENT["payload"]]
    received = row[-1] if isinstance(row[-1], datetime) else datetime.now(UTC)
    return bounded_dead_letter(
        topic=str(row[_EVENT["topic"]]),
        partition=int(row[_EVENT["partition"]]),
        offset=int(row[_EVENT["offset"]]),
        key=None,
        value=payload.encode() if isinstance(payload, str) else bytes(payload),
        kind="history_rejected",
        reason=f"the history store refused the row: {refused.error}",
        # The row's own time: a retried write makes the same letter (same dedup token).
        received_at=received,
        keep_bytes=max_letter_bytes,
        prefix_bytes=4096,
        max_letter_bytes=max_letter_bytes,
    )


# ClickHouse error codes that say the store (not a row) is at fault: a missing table or
# database, no memory or disk, a timeout, read-only or a network failure. Rows are never
# dead-lettered for these; the write is retried. Any other refusal may be a row's.
SYSTEMIC_CODES = frozenset(
    {16, 47, 60, 81, 159, 164, 173, 202, 203, 209, 210, 218, 236, 241, 242, 243, 252, 394,
     425, 439, 497, 516, 1000, 1001, 1002}
)  # fmt: skip


def is_refusal(exc: BaseException) -> bool:
    """True when the store refused what it was given; False when it could not take anything."""
    if isinstance(exc, (HistoryUnavailable, OSError)):
        return False
    if not isinstance(exc, HistoryRefused) or exc.code is None:
        return True  # refused before the server (a value the client cannot encode)
    if exc.code == 252 and "partitions for single INSERT block" in str(exc):
        return True  # bisection splits the months apart
    return exc.code not in SYSTEMIC_CODES


def _describe(exc: BaseException) -> str:
    return first_line(exc, 500)


def _token(table: str, rows: list[tuple[Any, ...]], key_columns: int) -> str:
    """Content-based deduplication token: a retried insert of the same rows is dropped."""
    digest = hashlib.blake2b(digest_size=16)
    for row in rows:
        digest.update(repr(row[:key_columns]).encode())
    return f"{table}:{len(rows)}:{digest.hexdigest()}"


def _month(row: Row) -> Any:
    occurred = row[OCCURRED_COLUMN]
    return (occurred.year, occurred.month) if isinstance(occurred, datetime) else occurred


@dataclass
class Snapshot:
    """Rows taken from the buffer together, to be written together."""

    events: list[Row] = field(default_factory=list)
    alerts: list[Row] = field(default_factory=list)
    dead_letters: list[Row] = field(default_factory=list)
    commands: list[Row] = field(default_factory=list)
    oldest: float | None = None

    def __len__(self) -> int:
        return len(self.events) + len(self.alerts) + len(self.dead_letters) + len(self.commands)


class HistorySink:
    """Buffers history rows and writes them in snapshots bounded by size and by time."""

    def __init__(
        self,
        store: HistoryStore,
        max_rows: int = 20_000,
        max_interval_s: float = 0.5,
        max_partitions: int = 100,
        max_letter_bytes: int = 512 * 1024,
    ):
        self.store = store
        self.max_rows = max_rows
        self.max_interval_s = max_interval_s
        self.max_partitions = max_partitions
        self.max_letter_bytes = max_letter_bytes
        self.buffer = Snapshot()
        self.in_flight: Snapshot | None = None
        self.rows_written = 0
        self.flushes = 0
        self.replays_dropped = 0
        self.refused = 0
        self.failing_since: float | None = None
        self.last_error = ""
        self._table = ""

    def add(self, outputs: Outputs) -> None:
        if not outputs:
            return
        now = datetime.now(UTC)
        self.buffer.events.extend(event_row(e) for e in outputs.events)
        self.buffer.alerts.extend(alert_row(a, now) for a in outputs.alerts)
        self.buffer.dead_letters.extend(dead_letter_row(d) for d in outputs.dead_letters)
        self.buffer.commands.extend(command_row(c) for c in outputs.commands)
        if self.buffer.oldest is None:
            self.buffer.oldest = time.monotonic()

    @property
    def pending(self) -> int:
        """Rows accepted and not yet written (buffered, or in a write under way)."""
        return len(self.buffer) + (len(self.in_flight) if self.in_flight else 0)

    def oldest_unwritten(self) -> float | None:
        """Monotonic time the oldest row not yet written was accepted."""
        times = [s.oldest for s in (self.in_flight, self.buffer) if s and s.oldest is not None]
        return min(times) if times else None

    def due(self) -> bool:
        if not self.buffer:
            return False
        if len(self.buffer) >= self.max_rows:
            return True
        oldest = self.buffer.oldest
        return oldest is not None and time.monotonic() - oldest >= self.max_interval_s

    def take(self) -> Snapshot:
        snapshot, self.buffer = self.buffer, Snapshot()
        return snapshot

    async def flush(self, retry_forever: bool = True) -> int:
        """Write everything buffered now; returns the number of rows written."""
        snapshot = self.take()
        before = self.rows_written
        give_up = asyncio.Event()
        if not retry_forever:
            give_up.set()
        await self.write(snapshot, give_up)
        return self.rows_written - before

    async def write(
        self, snapshot: Snapshot, stopping: asyncio.Event | None = None
    ) -> list[DeadLetter]:
        """Write a snapshot, retrying while the store cannot be reached.

        Returns the dead letters of rows the store refused (already written to the
        dead_letters table). Raises WriteAbandoned if `stopping` is set while the store
        keeps failing; the snapshot is then not written.
        """
        stopping = stopping or asyncio.Event()
        self.in_flight = snapshot
        delay = 0.2
        try:
            while True:
                try:
                    letters = await self._write_once(snapshot)
                except Exception as exc:  # any store failure: logged, shown on /health, retried
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
                    self.last_error = f"{self._table}: {_describe(exc)}"
                    if stopping.is_set():
                        raise WriteAbandoned(self.last_error) from exc
                    log.error(
                        "history write to %s failed (%s); retrying in %.1f s",
                        self._table,
                        _describe(exc),
                        delay,
                    )
                    await self._pause(delay, stopping)
                    delay = min(delay * 2, 10.0)
                    continue
                self.failing_since = None
                self.last_error = ""
                self.flushes += 1
                return letters
        finally:
            self.in_flight = None

    @staticmethod
    async def _pause(seconds: float, stopping: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), seconds)

    @property
    def write_error(self) -> str | None:
        """The last write failure while it lasts (None once a write succeeds)."""
        return self.last_error if self.failing_since is not None else None

    async def _write_once(self, snapshot: Snapshot) -> list[DeadLetter]:
        self._table = "events"
        events = await self._drop_known_late_events(snapshot.events)
        refused_events: list[RefusedRow] = []
        for chunk in partition_chunks(events, _month, self.max_partitions):
            refused_events += await self._insert("events", chunk, EVENT_COLUMNS, 1)
        refused_alerts = await self._insert("alerts", snapshot.alerts, ALERT_COLUMNS, 2)
        letters = [refused_event_letter(r, self.max_letter_bytes) for r in refused_events]
        letter_rows = snapshot.dead_letters + [dead_letter_row(d) for d in letters]
        refused_letters = await self._insert("dead_letters", letter_rows, DEAD_LETTER_COLUMNS, 3)
        refused_letters += await self._insert("commands", snapshot.commands, COMMAND_COLUMNS, 1)
        for refused in refused_alerts + refused_letters:
            # Alert states and dead letters are on their topics already; history lost one.
            log.error("history refused a row it cannot keep: %s (%r)", refused.error, refused.row)
        refused_count = len(refused_events) + len(refused_alerts) + len(refused_letters)
        self.refused += refused_count
        self.rows_written += (
            len(events) + len(snapshot.alerts) + len(letter_rows) + len(snapshot.commands)
        )
        self.rows_written -= refused_count
        return letters

    async def _insert(
        self, table: str, rows: list[Row], columns: tuple[str, ...], key_columns: int
    ) -> list[RefusedRow]:
        if not rows:
            return []
        self._table = table

        async def insert(batch: list[Row]) -> None:
            token = _token(table, batch, key_columns)
            await self.store.ainsert(table, batch, columns, dedup_token=token)

        refused = await insert_isolating(rows, insert, is_refusal=is_refusal, describe=_describe)
        for r in refused:
            log.warning("history refused a %s row: %s", table, r.error)
        return refused

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
