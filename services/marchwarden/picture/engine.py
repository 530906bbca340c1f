"""The live picture engine: plain Python state machine fed with decoded records, no I/O.

Ingest agents hand it batches of raw records; it validates, deduplicates, updates the
per-section counters and indicator state, evaluates the rules, and collects what has to be
written (history rows, dead letters, alert states). The worker flushes those outputs.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

from marchwarden.alerts import lifecycle
from marchwarden.alerts.equipment import StockLedger, allocate
from marchwarden.alerts.surge import decide_surge, surge_threshold
from marchwarden.contracts.alerts import AlertEvidence, AlertRule, AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.common import LEVEL_RANK, Level
from marchwarden.contracts.deadletters import DeadLetter, DeadLetterKind, bounded_dead_letter
from marchwarden.contracts.decoding import Rejection, decode_command, decode_event
from marchwarden.contracts.events import CrossingAttempt, Indicator, SensorHeartbeat, TurnBack
from marchwarden.picture.baseline import Baseline, baseline_hourly
from marchwarden.picture.indicators import (
    IndicatorState,
    apply_indicator,
    effective_level,
    is_active,
    threat_level,
)
from marchwarden.picture.windows import (
    LONGEST_WINDOW_MIN,
    SectionCounters,
    minute_of,
    window_bounds,
    windowed_counts,
)
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

log = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "section_id",
    "country",
    "reporter",
    "persons",
    "outcome",
    "indicator_id",
    "level",
    "state",
    "late",
    "payload",
    "topic",
    "partition",
    "offset",
    "ingested_at",
)
ALERT_COLUMNS = (
    "alert_id",
    "version",
    "rule",
    "level",
    "status",
    "section_id",
    "raised_at",
    "updated_at",
    "payload",
    "recorded_at",
    "shared_payload",
    "org_payloads",
)
DEAD_LETTER_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "key",
    "value",
    "value_size",
    "kind",
    "reason",
    "received_at",
)
SURGE: AlertRule = "surge"
MOVE_EQUIPMENT: AlertRule = "move_equipment_to_arteries"
EQUIPMENT_LEVELS = ("high", "critical")
EVIDENCE_EVENT_IDS = 20
# Events further ahead of the wall clock than this are refused as `future`: a skewed clock
# must not push a section's clock forward and hide the reports of the real last hour.
FUTURE_SKEW_S = 120.0
RESOLVED_ALERTS_KEPT = 10_000
BorderEvent = CrossingAttempt | TurnBack | Indicator | SensorHeartbeat
PartitionKey = TypeVar("PartitionKey", bound=Hashable)
_T = TypeVar("_T")
# Applied command ids are remembered this long; the router refuses commands issued longer
# ago than its clock skew, so an older replay never reaches the engine.
COMMAND_IDS_KEPT_S = 86400.0


class DuplicateCommand(ValueError):
    """A command whose command_id was applied before (a replay)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka message as the engine sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Outputs:
    """What the engine produced since the last drain."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[AlertState] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.dead_letters or self.alerts)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(round(epoch, 3), UTC)


class PictureEngine:
    """All live state of the sections this worker owns."""

    def __init__(
        self,
        reference: ReferenceData,
        rules: RuleSettings,
        *,
        max_bytes: int = 64 * 1024,
        wall_clock: Callable[[], float] = time.time,
        future_skew_s: float = FUTURE_SKEW_S,
        letter_prefix_bytes: int = 4096,
        letter_max_bytes: int = 512 * 1024,
    ) -> None:
        self.reference = reference
        self.rules = rules
        self.max_bytes = max_bytes
        self.wall_clock = wall_clock
        self.future_skew_s = future_skew_s
        self.letter_prefix_bytes = letter_prefix_bytes
        self.letter_max_bytes = letter_max_bytes
        self.country = {s.id: s.country for s in reference.sections}
        self.prior_per_day = {s.id: s.expected_attempts_per_day for s in reference.sections}
        self.owned: set[str] = set(self.country)
        self.reset()

    def reset(self) -> None:
        """Forget everything (before a rebuild from history)."""
        # Event time is tracked per section (for windows and rules) and per stream, i.e.
        # topic x section (for lateness). A section's events share one partition of each
        # topic, so they arrive in order; a global watermark would mark the events of a
        # slower partition late whenever another partition runs ahead (compressed replay).
        self.section_max: dict[str, float] = {}
        self.section_wall: dict[str, float] = {}
        # The surge rule counts crossing attempts, so it runs on the attempts' own clock: other
        # report kinds of the section may be ahead during a replay and would age the window.
        self.attempt_max: dict[str, float] = {}
        self.attempt_wall: dict[str, float] = {}
        # Indicators lapse on their own stream's clock (see `expiry_clock`).
        self.indicator_max: dict[str, float] = {}
        self.indicator_wall: dict[str, float] = {}
        self.stream_max: dict[tuple[str, str], float] = {}
        self.stream_wall: dict[tuple[str, str], float] = {}
        self.history_start: float | None = None
        self.counters: dict[str, SectionCounters] = {s: SectionCounters() for s in self.country}
        self.seen: dict[str, int] = {}
        self.indicators: dict[str, IndicatorState] = {}
        self.open_alerts: dict[tuple[str, str], AlertState] = {}
        self.alerts_by_id: dict[str, AlertState] = {}
        self.applied_commands: dict[str, float] = {}
        self.episodes: dict[tuple[str, str], int] = {}
        self.below_since: dict[str, float] = {}
        self.last_above: dict[str, int] = {}
        self.latched: set[tuple[str, str]] = set()
        self.recent_attempts: dict[str, deque[str]] = {
            s: deque(maxlen=EVIDENCE_EVENT_IDS) for s in self.country
        }
        self.baseline_cache: dict[str, tuple[int, Baseline]] = {}
        self.touched: set[str] = set()
        self.ledger = StockLedger(self.reference)
        self.outputs = Outputs()
        self.accepted = 0
        self.duplicates = 0
        self.late = 0
        self.rejected = 0

    # ------------------------------------------------------------------ time
    def _clock(self, latest: float, seen_at: float, now: float) -> float:
        """Event time `latest`, advanced by the wall time since it was seen if the data is live.

        The wall clock stands in for event time only for data read as it happens, so that a
        quiet section still resolves its surge and expires its indicators. Data that was
        already more than the allowed lateness old when it arrived is a replay of history (a
        compressed scenario, a backfill): its clocks move with its events only. Advancing
        them with the wall clock made the alerts depend on how fast the replay ran and where
        the batches ended (wall seconds read as event seconds), not on the events.
        """
        if seen_at - latest > self.rules.allowed_lateness_s:
            return latest
        return latest + max(0.0, now - seen_at)

    def watermark(self, section: str | None = None, now: float | None = None) -> float:
        """Event-time 'now' of a section: its latest event time (advanced by wall time if live).

        A section with no event yet runs on the wall clock: another section's clock (ahead
        in a replay, say) must never age its windows. Without a section: the latest of all
        sections (for display).
        """
        if now is None:
            now = self.wall_clock()
        if section is None:
            marks = [self.watermark(s, now) for s in self.section_max]
            return max(marks) if marks else now
        latest = self.section_max.get(section)
        if latest is None:
            return now
        return self._clock(latest, self.section_wall[section], now)

    def surge_clock(self, section: str, now: float | None = None) -> float:
        """Event-time 'now' of the surge rule: the section's latest attempt (see `_clock`)."""
        if now is None:
            now = self.wall_clock()
        latest = self.attempt_max.get(section)
        if latest is None:
            return self.watermark(section, now)
        return self._clock(latest, self.attempt_wall[section], now)

    def expiry_clock(self, section: str, now: float | None = None) -> float:
        """Event time up to which the section's lit indicators are known to have lapsed.

        An indicator lapses at valid_until unless a report of its own stream (indicators x
        section: one partition, in order) cleared or renewed it before then. Once that stream
        has passed valid_until, no such report can come any more. The section's other streams
        (crossings, turn-backs: other partitions) say so only when they are a full allowed
        lateness past it, since a report may arrive that far behind them; expiring on their
        clock alone made a clear that arrived after a crossing from later in the day lose to
        the expiry (LT-RU-01 in baltic-2024: resolved at valid_until instead of at the clear).
        """
        if now is None:
            now = self.wall_clock()
        others = self.watermark(section, now) - self.rules.allowed_lateness_s
        latest = self.indicator_max.get(section)
        if latest is None:
            return others
        return max(others, self._clock(latest, self.indicator_wall[section], now))

    def _stream_watermark(self, stream: tuple[str, str], now: float | None = None) -> float | None:
        latest = self.stream_max.get(stream)
        if latest is None:
            return None
        if now is None:
            now = self.wall_clock()
        return self._clock(latest, self.stream_wall[stream], now)

    def _advance(self, stream: tuple[str, str], epoch: float, now: float) -> None:
        # A report a little ahead of the wall clock (within the allowed skew) is counted at
        # its own time, but no clock moves past real time: one report must not age a
        # section's windows.
        epoch = min(epoch, now)
        mark = self._stream_watermark(stream, now)
        if mark is None or epoch > mark:
            self.stream_max[stream] = epoch
            self.stream_wall[stream] = now
        section = stream[1]
        latest = self.section_max.get(section)
        if latest is None or epoch > self._clock(latest, self.section_wall[section], now):
            self.section_max[section] = epoch
            self.section_wall[section] = now

    # ------------------------------------------------------------------ ingest
    def ingest(
        self, records: Iterable[Record], received_at: datetime | None = None
    ) -> float | None:
        """Apply the records of one partition in order; returns their latest event time, if any."""
        return self.ingest_partitions({0: records}, received_at)[0]

    def ingest_partitions(
        self, batch: Mapping[PartitionKey, Iterable[Record]], received_at: datetime | None = None
    ) -> dict[PartitionKey, float | None]:
        """Apply the records of several partitions merged by event time, each partition in order.

        Returns the latest event time applied from each partition (None: no valid event).
        Applied one partition after the other, a batch let one stream of a section run far
        ahead of the section's other streams (a 5,000-record batch of a compressed replay
        spans weeks of event time): the rules saw that much time pass before the other
        streams' reports of the same hours were read, and which partition came first in the
        batch decided the alerts. Merged, the streams of a batch advance together.
        """
        # One wall-clock reading per batch: its advance within a batch is negligible.
        now = self.wall_clock()
        received = received_at or _utc(now)
        merged: list[tuple[float, float, PartitionKey, BorderEvent, Record]] = []
        for key, records in batch.items():
            running = float("-inf")
            for record in records:
                decoded = self._guarded(self._decode, record, received, record, now, received)
                if decoded is not None:
                    epoch, event = decoded
                    if epoch > running:
                        running = epoch
                    merged.append((running, epoch, key, event, record))
        # A stable sort on each partition's running latest event time interleaves the
        # partitions by event time and keeps each one's own order (an out-of-order report
        # stays behind its predecessors, as lateness is judged in stream order).
        merged.sort(key=itemgetter(0))
        heads: dict[PartitionKey, float | None] = dict.fromkeys(batch)
        for _, epoch, key, event, record in merged:
            if self._guarded(self._apply, record, received, event, epoch, record, now, received):
                head = heads[key]
                if head is None or epoch > head:
                    heads[key] = epoch
        return heads

    def _guarded(
        self, step: Callable[..., _T], record: Record, received: datetime, *args: Any
    ) -> _T | None:
        """Run one step for one record; a fault of this code dead-letters the record only."""
        try:
            return step(*args)
        except Exception as exc:
            # A fault of this code, not of the input: the record is kept as a dead letter
            # and the rest of the batch goes on (no input may stop the worker).
            log.exception("record %s[%d]@%d failed", record.topic, record.partition, record.offset)
            self._dead_letter(record, "unprocessable", f"{type(exc).__name__}: {exc}", received)
            return None

    def _decode(
        self, record: Record, now: float, received: datetime
    ) -> tuple[float, BorderEvent] | None:
        """The record's event time and event, or None after dead-lettering it."""
        decoded = decode_event(record.value, self.max_bytes)
        if isinstance(decoded, Rejection):
            self._dead_letter(record, decoded.kind, decoded.reason, received)
            return None
        epoch = decoded.occurred_at.timestamp()
        if epoch > now + self.future_skew_s:
            self._dead_letter(
                record,
                "future",
                f"occurred_at {decoded.occurred_at.isoformat()} is more than "
                f"{self.future_skew_s:.0f} s ahead of the wall clock",
                received,
            )
            return None
        return epoch, decoded

    def _apply(
        self, decoded: BorderEvent, epoch: float, record: Record, now: float, received: datetime
    ) -> bool:
        """Apply one decoded event; False for a duplicate."""
        event_id = decoded.event_id.lower()
        if event_id in self.seen:
            self.duplicates += 1
            return False
        self.seen[event_id] = int(epoch // 60)
        section = decoded.section_id
        stream = (record.topic, section)
        # Lateness is judged per stream (topic x section) against the latest event time
        # seen on that stream: those events share a partition and arrive in order, so a
        # partition that another one outruns is never mistaken for late reports.
        stream_mark = self._stream_watermark(stream, now)
        late = stream_mark is not None and epoch < stream_mark - self.rules.allowed_lateness_s
        if late:
            self.late += 1
        else:
            self._advance(stream, epoch, now)
            watermark = self.watermark(section, now)
            if self.history_start is None or epoch < self.history_start:
                # The baseline counts observed hours from the earliest accepted event,
                # as a rebuild from history (min(occurred_at)) does.
                self.history_start = epoch
                self.baseline_cache.clear()
            self.touched.add(section)
            if isinstance(decoded, CrossingAttempt):
                self._apply_attempt(decoded, event_id, epoch, watermark, now)
            elif isinstance(decoded, TurnBack):
                self.counters[section].add_turn_back(epoch, decoded.persons)
            elif isinstance(decoded, Indicator):
                if epoch > self.indicator_max.get(section, float("-inf")):
                    self.indicator_max[section] = epoch
                    self.indicator_wall[section] = now
                self._apply_indicator(decoded)
            # A sensor heartbeat only says the section is alive: it moves the clock.
        self.accepted += 1
        self.outputs.events.append(self._history_row(decoded, record, late, received))
        return True

    def _apply_attempt(
        self, attempt: CrossingAttempt, event_id: str, epoch: float, watermark: float, now: float
    ) -> None:
        section = attempt.section_id
        if min(epoch, now) > self.attempt_max.get(section, float("-inf")):
            self.attempt_max[section] = min(epoch, now)
            self.attempt_wall[section] = now
        owned = section in self.owned
        if owned and (SURGE, section) in self.open_alerts:
            # Settle an open surge at this attempt's time before counting it: a cool-down that
            # completed before it resolves here, whatever the batching, instead of at the
            # end of whichever batch first reached past it (with that batch's count).
            self._evaluate_surge(section, self.surge_clock(section, now))
        counters = self.counters[section]
        counters.add_attempt(epoch, attempt.persons, attempt.outcome)
        self.recent_attempts[section].append(event_id)
        if epoch < (minute_of(watermark) // 60) * 3600:
            self.baseline_cache.pop(section, None)
        # A busy section is evaluated at once, not only at the end of the batch:
        # a compressed replay packs days into one batch, and a surge inside it
        # would otherwise be gone from the last hour before the rules ran.
        # The last two clock hours bound any 60-minute window from above, so the
        # exact sum over minute buckets runs only when the section may be busy.
        hour = int(epoch // 3600)
        hourly = counters.hourly_attempts
        floor = self.rules.surge_min_attempts
        if hourly.get(hour, 0) + hourly.get(hour - 1, 0) >= floor:
            end = int(epoch // 60) + 1
            if owned and counters.attempts_in(end - 60, end) >= floor:
                self._evaluate_surge(section, self.surge_clock(section, now))

    def _apply_indicator(self, event: Indicator) -> None:
        if event.section_id in self.owned:
            # The indicator stream has reached this report: settle what lapsed before it
            # first, so a renewal after valid_until resolves the old alert and raises a new
            # one, as it does when the lapse was already settled on the other streams' clock.
            self._evaluate_equipment(event.section_id, self.watermark(event.section_id))
        updated = apply_indicator(self.indicators.get(event.indicator_id), event)
        if updated is not None:
            self.indicators[event.indicator_id] = updated
            self.touched.update(updated.sections)
            # Evaluated per indicator update, so a lit-then-cleared pair in one batch still
            # raises and resolves its alert.
            if updated.section_id in self.owned:
                self._evaluate_equipment(updated.section_id, self.watermark(updated.section_id))

    def _history_row(
        self,
        event: CrossingAttempt | TurnBack | Indicator | SensorHeartbeat,
        record: Record,
        late: bool,
        received: datetime,
    ) -> tuple[Any, ...]:
        extra: tuple[str, str, str] = ("", "", "")
        persons, outcome = 0, ""
        if isinstance(event, Indicator):
            extra = (event.indicator_id, event.level, event.state)
        elif isinstance(event, CrossingAttempt):
            persons, outcome = event.persons, event.outcome
        elif isinstance(event, TurnBack):
            persons = event.persons
        else:
            extra = ("", "", event.status)
        payload = record.value.decode() if record.value else ""
        return (
            event.event_id,
            event.event_type,
            event.schema_version,
            event.occurred_at,
            event.section_id,
            self.country[event.section_id],
            event.reporter,
            persons,
            outcome,
            *extra,
            1 if late else 0,
            payload,
            record.topic,
            record.partition,
            record.offset,
            received,
        )

    def _dead_letter(
        self, record: Record, kind: DeadLetterKind, reason: str, received: datetime
    ) -> None:
        self.rejected += 1
        self.outputs.dead_letters.append(
            bounded_dead_letter(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                kind=kind,
                reason=reason,
                received_at=received,
                keep_bytes=self.max_bytes,
                prefix_bytes=self.letter_prefix_bytes,
                max_letter_bytes=self.letter_max_bytes,
            )
        )

    def reject(self, record: Record, kind: DeadLetterKind, reason: str) -> None:
        """Turn a record refused outside the ingest path into a dead letter."""
        self._dead_letter(record, kind, reason, _utc(self.wall_clock()))

    # ------------------------------------------------------------------ commands
    def apply_command_record(self, record: Record) -> None:
        """Apply an operator command (already routed to the worker owning its section)."""
        received = _utc(self.wall_clock())
        command = decode_command(record.value, self.max_bytes)
        if isinstance(command, Rejection):
            self._dead_letter(record, command.kind, command.reason, received)
            return
        try:
            self.apply_command(command)
        except LookupError as exc:
            self._dead_letter(record, "unknown_alert", str(exc.args[0]), received)
        except lifecycle.InvalidTransition as exc:
            self._dead_letter(record, "invalid_transition", str(exc), received)
        except DuplicateCommand as exc:
            self._dead_letter(record, "duplicate_command", str(exc), received)
        except Exception as exc:
            # A fault of this code, not of the command: kept, and the worker goes on.
            log.exception("command %s[%d]@%d failed", record.topic, record.partition, record.offset)
            self._dead_letter(record, "unprocessable", f"{type(exc).__name__}: {exc}", received)

    def apply_command(self, command: OperatorCommand) -> AlertState:
        if command.alert_id is None or command.command == "stand_down":
            raise lifecycle.InvalidTransition(f"{command.command} is not applied by this worker")
        alert = self.alerts_by_id.get(command.alert_id)
        if alert is None:
            raise LookupError(f"no alert {command.alert_id!r} is known to this worker")
        if command.command_id in self.applied_commands:
            raise DuplicateCommand(f"command {command.command_id!r} was applied before")
        new = lifecycle.apply_command(alert, command)
        if command.command == "resolve":
            # The rule stays quiet for this section until its condition clears once.
            self.latched.add((alert.rule, alert.section_id))
        self.applied_commands[command.command_id] = self.wall_clock()
        self._publish(new)
        return new

    # ------------------------------------------------------------------ rules
    def evaluate(self, everything: bool = False) -> None:
        """Run the rules for sections touched since the last call (or all owned ones)."""
        if everything:
            sections = set(self.owned)
            for _, section in self.open_alerts:
                sections.add(section)
        else:
            sections = self.touched & self.owned
        self.touched = set()
        if not sections:
            return
        for section in sorted(sections):
            watermark = self.watermark(section)
            self._evaluate_surge(section, self.surge_clock(section))
            self._evaluate_equipment(section, watermark)

    def baseline(self, section: str, watermark: float) -> Baseline:
        hour = minute_of(watermark) // 60
        cached = self.baseline_cache.get(section)
        if cached is not None and cached[0] == hour:
            return cached[1]
        start = None if self.history_start is None else int(self.history_start // 3600)
        value = baseline_hourly(
            self.counters[section].hourly_attempts,
            hour,
            start,
            self.prior_per_day[section],
            self.rules.baseline_days,
        )
        self.baseline_cache[section] = (hour, value)
        return value

    def surge_state(self, section: str, watermark: float) -> tuple[int, Baseline, float]:
        attempts = self.counters[section].attempts_in(*window_bounds(watermark, 60))
        base = self.baseline(section, watermark)
        return attempts, base, surge_threshold(base.hourly_mean, self.rules)

    def _evaluate_surge(self, section: str, watermark: float) -> None:
        attempts, base, threshold = self.surge_state(section, watermark)
        if attempts >= threshold:
            self.last_above[section] = minute_of(watermark) + 1
        key = (SURGE, section)
        current = self.open_alerts.get(key)
        if key in self.latched:
            if attempts < threshold:
                self.latched.discard(key)
            return
        below_since = self.below_since.get(section)
        if current is not None and attempts < threshold and below_since is None:
            below_since = self._dropped_below_at(section, threshold, watermark)
        decision = decide_surge(
            attempts,
            threshold,
            watermark,
            current.level if current else None,
            below_since,
            self.rules,
        )
        if decision.below_since is None:
            self.below_since.pop(section, None)
        else:
            self.below_since[section] = decision.below_since
        at = _utc(watermark)
        if decision.action == "raise" and decision.level is not None:
            evidence = self._surge_evidence(section, attempts, base.hourly_mean, threshold)
            self._raise(SURGE, section, decision.level, at, evidence)
        elif decision.action == "escalate" and current and decision.level is not None:
            evidence = self._surge_evidence(section, attempts, base.hourly_mean, threshold)
            escalated = lifecycle.escalate(current, decision.level, at, evidence)
            if escalated is not None:
                self._publish(escalated)
        elif decision.action == "resolve" and current is not None:
            # Stamped when the cool-down completed, even if the rule runs later (a quiet
            # section is only evaluated when its next report arrives or on the timer), and
            # with the evidence of that moment: the hour before it. The count at the time
            # the rule ran depended on where the batch ended (1 or 2 attempts in baltic-2024).
            done = watermark if below_since is None else below_since + self.rules.surge_cooldown_s
            resolved = min(watermark, done)
            start, end = window_bounds(resolved - 1, 60)
            then = self.counters[section].attempts_in(start, end)
            base_then = self.baseline(section, resolved - 1).hourly_mean
            evidence = self._surge_evidence(
                section, then, base_then, surge_threshold(base_then, self.rules)
            )
            self._publish(lifecycle.resolve(current, _utc(resolved), evidence))

    def _surge_evidence(
        self, section: str, attempts: int, baseline: float, threshold: float
    ) -> AlertEvidence:
        return AlertEvidence(
            attempts_last_hour=attempts,
            threshold=round(threshold, 3),
            baseline_hourly=round(baseline, 4),
            surge_ratio=round(attempts / baseline, 2) if baseline > 0 else None,
            event_ids=list(self.recent_attempts[section]),
        )

    def _dropped_below_at(self, section: str, threshold: float, watermark: float) -> float:
        """Event time at which the hourly count last fell below the threshold.

        Computed from the minute buckets, so the cool-down does not depend on how events
        were batched or how often the rules ran.
        """
        counters = self.counters[section]
        end = minute_of(watermark) + 1
        horizon = int(self.rules.surge_cooldown_s // 60) + 2
        for e in range(end - 1, end - 1 - horizon, -1):
            if counters.attempts_in(e - 60, e) >= threshold:
                return float(e * 60)
        # Long quiet: the drop came within an hour after the last window seen above it.
        last = self.last_above.get(section)
        if last is not None:
            for e in range(min(last + 61, end - 1), last - 1, -1):
                if counters.attempts_in(e - 60, e) >= threshold:
                    return float(e * 60)
        return watermark - self.rules.surge_cooldown_s - 60.0

    def active_indicators(self, section: str, watermark: float) -> list[IndicatorState]:
        now = _utc(watermark)
        return [i for i in self.indicators.values() if section in i.sections and is_active(i, now)]

    def _evaluate_equipment(self, section: str, watermark: float) -> None:
        key = (MOVE_EQUIPMENT, section)
        now = _utc(watermark)
        # Expire this section's indicators whose valid_until has passed, on the section's own
        # expiry clock (another section may be far ahead in event time during a replay, and
        # so may the section's other streams: see `expiry_clock`).
        lapsed = _utc(self.expiry_clock(section))
        for ind in self.indicators.values():
            if (
                ind.section_id == section
                and ind.state == "lit"
                and ind.valid_until is not None
                and ind.valid_until <= lapsed
            ):
                ind.state = "expired"
        triggering = [
            i
            for i in self.indicators.values()
            if i.section_id == section
            and i.state == "lit"
            and effective_level(i) in EQUIPMENT_LEVELS
        ]
        current = self.open_alerts.get(key)
        if key in self.latched:
            if not triggering:
                self.latched.discard(key)
            return
        if not triggering:
            if current is not None:
                evidence = current.evidence.model_copy(update={"indicator_ids": []})
                # The sources stay: they mark who may read the resolved alert's history.
                self._publish(lifecycle.resolve(current, self._ended_at(current, now), evidence))
            return
        level: Level = max((effective_level(i) for i in triggering), key=LEVEL_RANK.__getitem__)
        # Stamped with the event time of the indicator report that caused it, not the time
        # the rule ran: another topic may be ahead of the indicators in a replay.
        cause_at = min(now, max(i.updated_at for i in triggering)).astimezone(UTC)
        # The plan covers the arteries of every section the indicators name.
        covered = sorted({s for i in triggering for s in i.sections if s in self.country})
        ordered = sorted(triggering, key=lambda i: i.indicator_id)
        evidence = AlertEvidence(
            indicator_ids=[i.indicator_id for i in ordered],
            event_ids=[i.event_id for i in ordered],
            sources=[i.source_ref() for i in ordered],
        )
        if current is None:
            episode = self.episodes.get(key, 0) + 1
            alert_id = lifecycle.alert_id_for(MOVE_EQUIPMENT, section, episode)
            plan = allocate(self.ledger, alert_id, covered, level, self.rules)
            self._raise(MOVE_EQUIPMENT, section, level, cause_at, evidence, plan)
        elif LEVEL_RANK[level] > LEVEL_RANK[current.level]:
            plan = allocate(self.ledger, current.alert_id, covered, level, self.rules)
            escalated = lifecycle.escalate(current, level, cause_at, evidence, plan)
            if escalated is not None:
                self._publish(escalated)

    def _ended_at(self, alert: AlertState, now: datetime) -> datetime:
        """When the last of the alert's indicators was cleared or expired (event time)."""
        ends = []
        for indicator_id in alert.evidence.indicator_ids:
            ind = self.indicators.get(indicator_id)
            if ind is None:
                continue
            if ind.state == "expired" and ind.valid_until is not None:
                ends.append(ind.valid_until)
            elif ind.state == "cleared":
                ends.append(ind.updated_at)
        return min(now, max(ends)).astimezone(UTC) if ends else now

    def _raise(
        self,
        rule: AlertRule,
        section: str,
        level: Level,
        at: datetime,
        evidence: AlertEvidence,
        recommendation: Any = None,
    ) -> None:
        key = (rule, section)
        episode = self.episodes.get(key, 0) + 1
        self.episodes[key] = episode
        playbook = self.reference.playbook_for_rule(rule).id
        self._publish(
            lifecycle.raise_alert(
                rule, section, episode, level, at, evidence, recommendation, playbook=playbook
            )
        )

    def _publish(self, alert: AlertState) -> None:
        key = (alert.rule, alert.section_id)
        self.alerts_by_id[alert.alert_id] = alert
        if alert.status == "resolved":
            self.open_alerts.pop(key, None)
            self.ledger.release(alert.alert_id)
            if len(self.alerts_by_id) > RESOLVED_ALERTS_KEPT:
                for alert_id in [
                    a.alert_id for a in self.alerts_by_id.values() if a.status == "resolved"
                ][: len(self.alerts_by_id) - RESOLVED_ALERTS_KEPT]:
                    del self.alerts_by_id[alert_id]
        else:
            self.open_alerts[key] = alert
        self.outputs.alerts.append(alert)

    # ------------------------------------------------------------------ upkeep
    def prune(self) -> None:
        """Drop buckets and dedup keys that no window, baseline or lateness can reach."""
        oldest_id = None
        for section, counters in self.counters.items():
            watermark = self.watermark(section)
            keep_minute = minute_of(watermark - self.rules.allowed_lateness_s) - LONGEST_WINDOW_MIN
            # Hourly totals feed the baseline at the attempts' clock, which may trail the
            # section's clock by up to the allowed lateness: keep as far back as for minutes,
            # or pruning (on a wall-clock timer) would change a later baseline.
            oldest = minute_of(watermark - self.rules.allowed_lateness_s) // 60
            keep_hour = oldest - self.rules.baseline_days * 24 - 1
            counters.prune(keep_minute, keep_hour)
        # Ids are needed only within each stream's lateness: anything older is late anyway,
        # and the history sink checks late events against history by id before writing.
        for stream in self.stream_max:
            mark = self._stream_watermark(stream)
            if mark is not None:
                id_minute = minute_of(mark - self.rules.allowed_lateness_s) - 1
                oldest_id = id_minute if oldest_id is None else min(oldest_id, id_minute)
        if oldest_id is not None:
            self.seen = {k: m for k, m in self.seen.items() if m >= oldest_id}
        horizon = self.wall_clock() - COMMAND_IDS_KEPT_S
        self.applied_commands = {c: t for c, t in self.applied_commands.items() if t >= horizon}

    def prune_if_large(self, limit: int = 50_000) -> bool:
        """Prune when a backlog has grown the state, not only on the timer (bounded memory)."""
        buckets = sum(len(c.minutes) for c in self.counters.values())
        if len(self.seen) + buckets < limit:
            return False
        self.prune()
        return True

    def drain(self) -> Outputs:
        out, self.outputs = self.outputs, Outputs()
        return out

    # ------------------------------------------------------------------ views
    def picture(self, sections: Iterable[str] | None = None) -> dict[str, Any]:
        """The situational picture per section, each at its own event-time watermark."""
        result = {}
        for section in sorted(sections or self.owned):
            watermark = self.watermark(section)
            attempts, base, threshold = self.surge_state(section, watermark)
            lit = self.active_indicators(section, watermark)
            surge = self.open_alerts.get((SURGE, section))
            surge_reason = (
                f"surge: {attempts} attempts in the last hour against a threshold of "
                f"{threshold:.0f}"
                if surge
                else None
            )
            level, reasons = threat_level(lit, surge.level if surge else None, surge_reason)
            result[section] = {
                "section_id": section,
                "name": self.reference.section(section).name,
                "watermark": _utc(watermark).isoformat(),
                "watermark_epoch": watermark,
                "last_report_at": _utc(self.section_max[section]).isoformat()
                if section in self.section_max
                else None,
                "counts": windowed_counts(self.counters[section], watermark),
                "baseline": {
                    "hourly_mean": round(base.hourly_mean, 4),
                    "observed_hours": base.observed_hours,
                    "method": base.method,
                },
                "surge_threshold": round(threshold, 3),
                "surge_ratio": round(attempts / base.hourly_mean, 3)
                if base.hourly_mean > 0
                else None,
                "indicators": [i.as_dict() for i in lit],
                "threat_level": level,
                "threat_reasons": reasons,
                "open_alerts": [
                    a.model_dump(mode="json")
                    for (_, s), a in sorted(self.open_alerts.items())
                    if s == section
                ],
            }
        latest = self.watermark()
        return {
            "watermark": _utc(latest).isoformat(),
            "watermark_epoch": latest,
            "sections": result,
            "stats": {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "late": self.late,
                "rejected": self.rejected,
            },
        }
