"""The live picture engine: plain Python state machine fed with decoded records, no I/O.

Ingest agents hand it batches of raw records; it validates, deduplicates, updates the
per-section counters and indicator state, evaluates the rules, and collects what has to be
written (history rows, dead letters, alert states). The worker flushes those outputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

from marchwarden.alerts import lifecycle
from marchwarden.alerts.board import AlertBoard, resolved_by_operator
from marchwarden.alerts.closures import ClosureBook
from marchwarden.alerts.indicator_alerts import IndicatorAlerts
from marchwarden.alerts.operator_commands import DuplicateCommand, OperatorCommands
from marchwarden.alerts.silent import SilentRule
from marchwarden.alerts.surge import SURGE, SurgeRule
from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetterKind, bounded_dead_letter
from marchwarden.contracts.decoding import Rejection, decode_command, decode_event
from marchwarden.contracts.events import CrossingAttempt, Indicator, TurnBack
from marchwarden.engine.outputs import (
    AcceptedEvent,
    CommandOutcome,
    DecodedEvent,
    Outputs,
    Record,
)
from marchwarden.engine.snapshot import Snapshot
from marchwarden.picture.clocks import SectionClocks
from marchwarden.picture.indicators import (
    IndicatorState,
    apply_indicator,
    is_active,
    threat_level,
)
from marchwarden.picture.windows import (
    LONGEST_WINDOW_MIN,
    SectionCounters,
    minute_of,
    windowed_counts,
)
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings

# A section expected to see less than one crossing attempt a day (reference priors: the
# Russian borders and Lithuania's Belarus border) is a quiet one officers may be drawn from.
QUIET_ATTEMPTS_PER_DAY = 1.0
log = logging.getLogger(__name__)

# Events further ahead of the wall clock than this are refused as `future`: a skewed clock
# must not push a section's clock forward and hide the reports of the real last hour.
FUTURE_SKEW_S = 120.0
PartitionKey = TypeVar("PartitionKey", bound=Hashable)
_T = TypeVar("_T")


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
        self.reference_quiet = {
            s.id for s in reference.sections if s.expected_attempts_per_day < QUIET_ATTEMPTS_PER_DAY
        }
        self.owned: set[str] = set(self.country)
        self.reset()

    def reset(self) -> None:
        """Forget everything (before a rebuild from history)."""
        self.clocks = SectionClocks(self.rules.allowed_lateness_s, self.wall_clock)
        # The latest event time of any accepted report or heartbeat per section: when the
        # section last said something (its clock may move on with the wall clock regardless).
        self.last_message: dict[str, float] = {}
        self.history_start: float | None = None
        self.counters: dict[str, SectionCounters] = {s: SectionCounters() for s in self.country}
        self.seen: dict[str, int] = {}
        self.indicators: dict[str, IndicatorState] = {}
        self.board = AlertBoard(self.reference, self.rules.rearm_after_s)
        self.ledger = ClosureBook(self.reference, self.rules)
        self.indicator_alerts = IndicatorAlerts(self.reference, self.rules, self.board, self.ledger)
        self.commands = OperatorCommands(
            self.rules,
            self.board,
            self.indicator_alerts,
            self.clocks,
            frozenset(self.country),
            self.wall_clock,
        )
        # The rules, each with its own state; the engine calls them with each section's clock.
        self.surge = SurgeRule(
            self.reference,
            self.rules,
            self.board,
            self.counters,
            lambda: self.history_start,
            self.reference_quiet,
        )
        self.silent = SilentRule(self.reference, self.rules, self.board)
        self.touched: set[str] = set()
        self.outputs = Outputs()
        self.accepted = 0
        self.duplicates = 0
        self.late = 0
        self.rejected = 0

    def restore(self, snapshot: Snapshot) -> None:
        """Forget everything and load the state history holds (see history/rebuild.py)."""
        self.reset()
        if snapshot.sections is not None:
            self.owned = set(snapshot.sections)
        # Each clock is restored with the wall time its latest event was received at, as the
        # engine had it: whether that event arrived live decides whether the clock advances
        # with the wall clock (`_clock`), so a replayed history stays on event time.
        for mark in snapshot.streams:
            if mark.section not in self.counters:
                continue
            if self.clocks.restore_stream(mark.topic, mark.section, mark.latest, mark.received_at):
                self.last_message[mark.section] = mark.latest
            if self.history_start is None or mark.first < self.history_start:
                self.history_start = mark.first
        for kind in snapshot.kinds:
            if kind.section in self.counters:
                self.clocks.restore_kind(
                    kind.event_type, kind.section, kind.latest, kind.received_at
                )
        for section, minute, values in snapshot.minute_buckets:
            if section in self.counters:
                self.counters[section].add_bucket(minute, values)
        for section, hour, count, persons in snapshot.hourly:
            if section in self.counters:
                self.counters[section].hourly_attempts[hour] = count
                self.counters[section].hourly_persons[hour] = persons
        self.seen = dict(snapshot.seen)
        for event in snapshot.indicators:
            state = apply_indicator(None, event)
            if state is not None:
                self.indicators[event.indicator_id] = state
        for alert in sorted(snapshot.alerts, key=lambda a: (a.updated_at, a.alert_id)):
            self.board.restore(alert)
            # Equipment stays held by open alerts and by those resolved by hand while their
            # cause lasts (until a stand_down or the cause ends releases it).
            holds = alert.status != "resolved" or resolved_by_operator(alert)
            if holds and alert.recommendation is not None:
                for plan in alert.recommendation.arteries:
                    self.ledger.restore(plan, alert.level, [alert.alert_id])
        # Commands applied lately: a replay of one after a restart is refused as a duplicate.
        self.commands.applied = dict(snapshot.applied_commands)
        for command in snapshot.silences:
            self.apply_command(command.model_copy(update={"command_id": ""}))
        self.commands.applied.pop("", None)

    @property
    def open_alerts(self) -> dict[tuple[str, str], AlertState]:
        return self.board.open

    @property
    def alerts_by_id(self) -> dict[str, AlertState]:
        return self.board.by_id

    @property
    def episodes(self) -> dict[tuple[str, str], int]:
        return self.board.episodes

    # ------------------------------------------------------------------ time
    def watermark(self, section: str | None = None, now: float | None = None) -> float:
        """Event-time 'now' of a section (see SectionClocks.watermark)."""
        return self.clocks.watermark(section, now)

    def surge_clock(self, section: str, now: float | None = None) -> float:
        """Event-time 'now' of the surge rule (see SectionClocks.surge_clock)."""
        return self.clocks.surge_clock(section, now)

    def expiry_clock(self, section: str, now: float | None = None) -> float:
        """Event time up to which lit indicators have lapsed (SectionClocks.expiry_clock)."""
        return self.clocks.expiry_clock(section, now)

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
        merged: list[tuple[float, float, PartitionKey, DecodedEvent, Record]] = []
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
    ) -> tuple[float, DecodedEvent] | None:
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
        self, decoded: DecodedEvent, epoch: float, record: Record, now: float, received: datetime
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
        stream_mark = self.clocks.stream_watermark(stream, now)
        late = stream_mark is not None and epoch < stream_mark - self.rules.allowed_lateness_s
        if late:
            self.late += 1
        else:
            self.clocks.advance(stream, epoch, now)
            if epoch > self.last_message.get(section, float("-inf")):
                self.last_message[section] = epoch
            watermark = self.watermark(section, now)
            if self.history_start is None or epoch < self.history_start:
                # The baseline counts observed hours from the earliest accepted event,
                # as a rebuild from history (min(occurred_at)) does.
                self.history_start = epoch
                self.surge.forget_baselines()
            self.touched.add(section)
            if isinstance(decoded, CrossingAttempt):
                self._apply_attempt(decoded, event_id, epoch, watermark, now)
            elif isinstance(decoded, TurnBack):
                self.counters[section].add_turn_back(epoch, decoded.persons)
            elif isinstance(decoded, Indicator):
                self.clocks.saw_indicator(section, epoch, now)
                self._apply_indicator(decoded)
            # A sensor heartbeat only says the section is alive: it moves the clock.
        self.accepted += 1
        self.outputs.events.append(
            AcceptedEvent(decoded, self.country[section], late, record, received)
        )
        return True

    def _apply_attempt(
        self, attempt: CrossingAttempt, event_id: str, epoch: float, watermark: float, now: float
    ) -> None:
        section = attempt.section_id
        self.clocks.saw_attempt(section, epoch, now)
        owned = section in self.owned
        if owned and (SURGE, section) in self.open_alerts:
            # Settle an open surge at this attempt's time before counting it: a cool-down that
            # completed before it resolves here, whatever the batching, instead of at the
            # end of whichever batch first reached past it (with that batch's count).
            self.surge.evaluate(section, self.surge_clock(section, now))
        counters = self.counters[section]
        counters.add_attempt(epoch, attempt.persons, attempt.outcome)
        self.surge.counted(section, event_id, epoch, watermark)
        # A busy section is evaluated at once, not only at the end of the batch:
        # a compressed replay packs days into one batch, and a surge inside it
        # would otherwise be gone from the last hour before the rules ran.
        # The last two clock hours bound any 60-minute window from above, so the
        # exact sum over minute buckets runs only when the section may be busy.
        if owned and self.surge.may_surge(section, epoch):
            self.surge.evaluate(section, self.surge_clock(section, now))

    def _apply_indicator(self, event: Indicator) -> None:
        if event.section_id in self.owned:
            # The indicator stream has reached this report: settle what lapsed before it
            # first, so a renewal after valid_until resolves the old alert and raises a new
            # one, as it does when the lapse was already settled on the other streams' clock.
            self._evaluate_indicators(event.section_id, self.watermark(event.section_id))
        updated = apply_indicator(self.indicators.get(event.indicator_id), event)
        if updated is not None:
            self.indicators[event.indicator_id] = updated
            self.touched.update(updated.sections)
            # Evaluated per indicator update, so a lit-then-cleared pair in one batch still
            # raises and resolves its alert; in every owned section it names.
            for section in dict.fromkeys(updated.sections):
                if section in self.owned:
                    self._evaluate_indicators(section, self.watermark(section))

    def apply_routed_indicator(self, record: Record) -> None:
        """A copy of an indicator read by the owner of its primary section (indicator_routes).

        Only the indicator's state changes: the primary owner keeps the event, its history
        row and its deduplication key. A repeated copy changes nothing.
        """
        decoded = decode_event(record.value, self.max_bytes)
        if not isinstance(decoded, Indicator):
            return
        updated = apply_indicator(self.indicators.get(decoded.indicator_id), decoded)
        if updated is None:
            return
        self.indicators[decoded.indicator_id] = updated
        self.touched.update(updated.sections)
        for section in dict.fromkeys(updated.sections):
            if section in self.owned:
                self._evaluate_indicators(section, self.watermark(section))

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
        """Apply an operator command (already routed to the worker owning its section).

        Every decoded command goes to the audit trail (`commands` table) with its outcome.
        """
        received = _utc(self.wall_clock())
        command = decode_command(record.value, self.max_bytes)
        if isinstance(command, Rejection):
            self._dead_letter(record, command.kind, command.reason, received)
            return
        outcome: DeadLetterKind | str = "applied"
        detail = ""
        try:
            self.apply_command(command)
        except LookupError as exc:
            outcome, detail = "unknown_alert", str(exc.args[0])
        except lifecycle.InvalidTransition as exc:
            outcome, detail = "invalid_transition", str(exc)
        except DuplicateCommand as exc:
            outcome, detail = "duplicate_command", str(exc)
        except Exception as exc:
            # A fault of this code, not of the command: kept, and the worker goes on.
            log.exception("command %s[%d]@%d failed", record.topic, record.partition, record.offset)
            outcome, detail = "unprocessable", f"{type(exc).__name__}: {exc}"
        if outcome != "applied":
            self._dead_letter(record, outcome, detail, received)  # type: ignore[arg-type]
        self.outputs.commands.append(CommandOutcome(command, outcome, detail, record, received))

    def apply_command(self, command: OperatorCommand) -> AlertState | None:
        """Apply one operator command (see alerts/operator_commands.py); raises if refused."""
        return self.commands.apply(command)

    # ------------------------------------------------------------------ rules
    def evaluate(self, everything: bool = False) -> None:
        """Run the rules for sections touched since the last call (or all owned ones)."""
        if everything:
            sections = set(self.owned)
            for _, section in self.board.open:
                sections.add(section)
        else:
            sections = self.touched & self.owned
        self.touched = set()
        if not sections:
            return
        for section in sorted(sections):
            watermark = self.watermark(section)
            self.board.silences.expire(section, _utc(watermark))
            self.surge.evaluate(section, self.surge_clock(section))
            self._evaluate_indicators(section, watermark)
            self.silent.evaluate(section, watermark, self.last_message.get(section))

    def active_indicators(self, section: str, watermark: float) -> list[IndicatorState]:
        now = _utc(watermark)
        return [i for i in self.indicators.values() if section in i.sections and is_active(i, now)]

    def quiet_sections(self) -> set[str]:
        """Sections that officers may be drawn from: quiet by their reference traffic.

        Not by their live state: whether another section has an open alert at this moment
        depends on how far its partition has been read, so a plan built from it would differ
        from run to run on the same input (the same input must give the same alerts). The
        screen shows each section's live threat beside the plan.
        """
        return self.reference_quiet

    def _evaluate_indicators(self, section: str, watermark: float) -> None:
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
        self.indicator_alerts.evaluate(section, watermark, self.indicators, self.quiet_sections())

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
        for stream in self.clocks.stream_max:
            mark = self.clocks.stream_watermark(stream)
            if mark is not None:
                id_minute = minute_of(mark - self.rules.allowed_lateness_s) - 1
                oldest_id = id_minute if oldest_id is None else min(oldest_id, id_minute)
        if oldest_id is not None:
            self.seen = {k: m for k, m in self.seen.items() if m >= oldest_id}
        self.commands.prune()

    def prune_if_large(self, limit: int = 50_000) -> bool:
        """Prune when a backlog has grown the state, not only on the timer (bounded memory)."""
        buckets = sum(len(c.minutes) for c in self.counters.values())
        if len(self.seen) + buckets < limit:
            return False
        self.prune()
        return True

    def drain(self) -> Outputs:
        self.outputs.alerts.extend(self.board.drain())
        out, self.outputs = self.outputs, Outputs()
        return out

    # ------------------------------------------------------------------ queries
    def window_counts(self) -> dict[str, tuple[float, dict[str, dict[str, int]]]]:
        """Per owned section: its watermark and the counters of each window at it."""
        result = {}
        for section in sorted(self.owned):
            watermark = self.watermark(section)
            result[section] = (watermark, windowed_counts(self.counters[section], watermark))
        return result

    # ------------------------------------------------------------------ views
    def picture(self, sections: Iterable[str] | None = None) -> dict[str, Any]:
        """The situational picture per section, each at its own event-time watermark."""
        result = {}
        for section in sorted(sections or self.owned):
            watermark = self.watermark(section)
            now = self.surge.state(section, watermark)
            base = now.baseline
            lit = self.active_indicators(section, watermark)
            surge = self.board.current(SURGE, section)
            surge_reason = "surge: " + "; ".join(now.assessment.explanation) if surge else None
            level, reasons = threat_level(lit, surge.level if surge else None, surge_reason)
            last = self.last_message.get(section)
            result[section] = {
                "section_id": section,
                "name": self.reference.section(section).name,
                "watermark": _utc(watermark).isoformat(),
                "watermark_epoch": watermark,
                "last_report_at": _utc(last).isoformat() if last is not None else None,
                "silent_for_s": round(max(0.0, watermark - last), 1) if last is not None else None,
                "expected_cadence_s": self.silent.cadence_s[section],
                "counts": windowed_counts(self.counters[section], watermark),
                "baseline": {
                    "hourly_mean": round(base.hourly_mean, 4),
                    "persons_hourly_mean": round(now.persons_baseline.hourly_mean, 4),
                    "observed_hours": base.observed_hours,
                    "method": base.method,
                },
                "surge_threshold": round(now.assessment.attempts_threshold, 3),
                "surge_persons_threshold": round(now.assessment.persons_threshold, 3),
                "surge_ratio": round(now.attempts / base.hourly_mean, 3)
                if base.hourly_mean > 0
                else None,
                "indicators": [i.as_dict() for i in lit],
                "threat_level": level,
                "threat_reasons": reasons,
                "silences": [
                    x.as_dict() for x in self.board.silences.of_section(section, _utc(watermark))
                ],
                "open_alerts": [
                    a.model_dump(mode="json")
                    for (_, s), a in sorted(self.board.open.items())
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
