"""The surge rule: attempts and persons in the last hour against max(floor, factor x baseline).

A surge is counted in people as well as in reports: five reports of a hundred people each
are a surge on any section. Floors and the baseline factor are per section (reference data,
so a quiet section is not blind behind a floor sized for the busiest one).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from marchwarden.alerts import lifecycle
from marchwarden.alerts.board import AlertBoard
from marchwarden.alerts.playbooks import reinforcement_recommendation
from marchwarden.contracts.alerts import AlertEvidence, AlertRule, Recommendation
from marchwarden.contracts.common import LEVEL_RANK, Level
from marchwarden.picture.baseline import Baseline, baseline_hourly
from marchwarden.picture.windows import SectionCounters, minute_of, window_bounds
from marchwarden.reference.models import ReferenceData, Section
from marchwarden.settings import RuleSettings

SURGE: AlertRule = "surge"
EVIDENCE_EVENT_IDS = 20
"""The ids of the latest attempts an alert carries as evidence."""


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(round(epoch, 3), UTC)


@dataclass(frozen=True, slots=True)
class SurgeLimits:
    """A section's surge floors (per hour) and baseline factor."""

    floor_attempts: int
    floor_persons: int
    factor: float


def section_limits(section: Section, rules: RuleSettings) -> SurgeLimits:
    """The section's limits from the reference data; the settings fill what it leaves out."""
    return SurgeLimits(
        section.surge_floor_attempts or rules.surge_min_attempts,
        section.surge_floor_persons or rules.surge_min_persons,
        section.surge_baseline_factor or rules.surge_baseline_factor,
    )


def surge_threshold(
    baseline_hourly: float,
    rules: RuleSettings,
    floor: float | None = None,
    factor: float | None = None,
) -> float:
    """max(floor, factor x baseline); floor and factor default to the settings'."""
    low = float(rules.surge_min_attempts if floor is None else floor)
    return max(low, (rules.surge_baseline_factor if factor is None else factor) * baseline_hourly)


def surge_level(attempts_last_hour: int, threshold: float, rules: RuleSettings) -> Level | None:
    """medium at the threshold, high at 2x, critical at 4x (multiples from settings)."""
    if attempts_last_hour >= threshold * rules.surge_critical_multiple:
        return "critical"
    if attempts_last_hour >= threshold * rules.surge_high_multiple:
        return "high"
    if attempts_last_hour >= threshold:
        return "medium"
    return None


@dataclass(frozen=True, slots=True)
class SurgeDecision:
    """What the rule wants: raise/escalate to `level`, resolve, or nothing."""

    action: str  # "raise" | "escalate" | "resolve" | "hold"
    level: Level | None
    below_since: float | None


@dataclass(frozen=True, slots=True)
class SurgeAssessment:
    """The surge level of a section now, from attempts and from persons, with the reasons."""

    level: Level | None
    attempts_threshold: float
    persons_threshold: float
    explanation: tuple[str, ...]

    @property
    def above(self) -> bool:
        return self.level is not None


def _describe(
    count: int,
    unit: str,
    threshold: float,
    floor: int,
    factor: float,
    baseline: float,
    level: Level | None,
) -> str:
    verdict = f"{level}" if level else "below"
    return (
        f"{count} {unit} in the last hour against a threshold of {threshold:.0f} "
        f"(the larger of the section's floor {floor} and {factor:g} x its baseline "
        f"{baseline:.2f}/h): {verdict}"
    )


def assess_surge(
    attempts: int,
    persons: int,
    attempts_baseline: float,
    persons_baseline: float,
    limits: SurgeLimits,
    rules: RuleSettings,
) -> SurgeAssessment:
    """The higher of the attempts level and the persons level (each: medium at its threshold,
    high at 2x, critical at 4x), and one sentence per measure saying why."""
    a_threshold = surge_threshold(attempts_baseline, rules, limits.floor_attempts, limits.factor)
    p_threshold = surge_threshold(persons_baseline, rules, limits.floor_persons, limits.factor)
    a_level = surge_level(attempts, a_threshold, rules)
    p_level = surge_level(persons, p_threshold, rules)
    level: Level | None = None
    for candidate in (a_level, p_level):
        if candidate is not None and (level is None or LEVEL_RANK[candidate] > LEVEL_RANK[level]):
            level = candidate
    explanation = (
        _describe(
            attempts,
            "attempts",
            a_threshold,
            limits.floor_attempts,
            limits.factor,
            attempts_baseline,
            a_level,
        ),
        _describe(
            persons,
            "persons",
            p_threshold,
            limits.floor_persons,
            limits.factor,
            persons_baseline,
            p_level,
        ),
    )
    return SurgeAssessment(level, a_threshold, p_threshold, explanation)


def decide_surge(
    attempts_last_hour: int,
    threshold: float,
    watermark: float,
    open_level: Level | None,
    below_since: float | None,
    rules: RuleSettings,
) -> SurgeDecision:
    """One evaluation of the rule on the attempts alone (see `decide_surge_level`)."""
    level = surge_level(attempts_last_hour, threshold, rules)
    return decide_surge_level(level, watermark, open_level, below_since, rules)


def decide_surge_level(
    level: Level | None,
    watermark: float,
    open_level: Level | None,
    below_since: float | None,
    rules: RuleSettings,
) -> SurgeDecision:
    """One evaluation of the rule for one section at the event-time watermark.

    An open alert resolves only after the level has stayed below medium (every measure
    below its threshold) for the cool-down, so a surge that dips for a minute is not closed
    and re-raised.
    """
    if open_level is None:
        return SurgeDecision("raise" if level else "hold", level, None)
    if level is not None:
        return SurgeDecision("escalate", level, None)
    since = watermark if below_since is None else below_since
    if watermark - since >= rules.surge_cooldown_s:
        return SurgeDecision("resolve", None, None)
    return SurgeDecision("hold", None, since)


class SurgeNow(NamedTuple):
    """The surge measures of a section at a watermark."""

    attempts: int
    persons: int
    baseline: Baseline
    persons_baseline: Baseline
    assessment: SurgeAssessment


class SurgeRule:
    """The surge rule's own state (cool-down, last window above, evidence, baselines) and its
    evaluation; the engine counts the events and calls it with each section's clock."""

    def __init__(
        self,
        reference: ReferenceData,
        rules: RuleSettings,
        board: AlertBoard,
        counters: Mapping[str, SectionCounters],
        history_start: Callable[[], float | None],
        quiet_sections: set[str],
    ) -> None:
        self.reference = reference
        self.rules = rules
        self.board = board
        self.counters = counters
        # The baseline counts observed hours from the earliest accepted event (the engine's).
        self.history_start = history_start
        self.quiet_sections = quiet_sections
        self.limits = {s.id: section_limits(s, rules) for s in reference.sections}
        self.prior_per_day = {s.id: s.expected_attempts_per_day for s in reference.sections}
        self.prior_persons_per_day = {s.id: s.expected_persons_per_day for s in reference.sections}
        self.below_since: dict[str, float] = {}
        self.last_above: dict[str, int] = {}
        self.recent_attempts: dict[str, deque[str]] = {
            s.id: deque(maxlen=EVIDENCE_EVENT_IDS) for s in reference.sections
        }
        self.baseline_cache: dict[str, tuple[int, Baseline, Baseline]] = {}

    def counted(self, section: str, event_id: str, epoch: float, watermark: float) -> None:
        """An attempt was counted: it is evidence, and it may change the cached baseline."""
        self.recent_attempts[section].append(event_id)
        if epoch < (minute_of(watermark) // 60) * 3600:
            self.baseline_cache.pop(section, None)

    def forget_baselines(self) -> None:
        """The history's start moved: every baseline is computed again."""
        self.baseline_cache.clear()

    def may_surge(self, section: str, epoch: float) -> bool:
        """Whether the last 60 minutes may reach the section's floors (attempts or persons).

        The last two clock hours bound any 60-minute window from above, so the exact sum over
        minute buckets runs only when the section may be busy.
        """
        counters = self.counters[section]
        hour = int(epoch // 3600)
        limits = self.limits[section]
        attempts, persons = counters.hourly_attempts, counters.hourly_persons
        busy = attempts.get(hour, 0) + attempts.get(hour - 1, 0) >= limits.floor_attempts
        crowded = persons.get(hour, 0) + persons.get(hour - 1, 0) >= limits.floor_persons
        if not (busy or crowded):
            return False
        end = int(epoch // 60) + 1
        return (
            counters.attempts_in(end - 60, end) >= limits.floor_attempts
            or counters.persons_in(end - 60, end) >= limits.floor_persons
        )

    def baseline(self, section: str, watermark: float) -> Baseline:
        """Expected attempts (reports) per hour."""
        return self.baselines(section, watermark)[0]

    def baselines(self, section: str, watermark: float) -> tuple[Baseline, Baseline]:
        """Expected attempts and expected persons per hour."""
        hour = minute_of(watermark) // 60
        cached = self.baseline_cache.get(section)
        if cached is not None and cached[0] == hour:
            return cached[1], cached[2]
        history_start = self.history_start()
        start = None if history_start is None else int(history_start // 3600)
        counters = self.counters[section]
        days = self.rules.baseline_days
        attempts = baseline_hourly(
            counters.hourly_attempts, hour, start, self.prior_per_day[section], days
        )
        persons = baseline_hourly(
            counters.hourly_persons, hour, start, self.prior_persons_per_day[section], days
        )
        self.baseline_cache[section] = (hour, attempts, persons)
        return attempts, persons

    def state(self, section: str, watermark: float) -> SurgeNow:
        """The section's counts, baselines and assessment at the watermark."""
        bounds = window_bounds(watermark, 60)
        counters = self.counters[section]
        attempts, persons = counters.attempts_in(*bounds), counters.persons_in(*bounds)
        base, persons_base = self.baselines(section, watermark)
        assessment = assess_surge(
            attempts,
            persons,
            base.hourly_mean,
            persons_base.hourly_mean,
            self.limits[section],
            self.rules,
        )
        return SurgeNow(attempts, persons, base, persons_base, assessment)

    def evaluate(self, section: str, watermark: float) -> None:
        """Raise, escalate or resolve the section's surge alert at the watermark."""
        now = self.state(section, watermark)
        level = now.assessment.level
        if level is not None:
            self.last_above[section] = minute_of(watermark) + 1
        current = self.board.current(SURGE, section)
        at = _utc(watermark)
        if current is None:
            self.below_since.pop(section, None)
            gate = self.board.gate(SURGE, section, level, watermark, at)
            if gate.open and level is not None:
                self.board.raise_alert(
                    SURGE,
                    section,
                    level,
                    at,
                    self._surge_evidence(section, now),
                    self._reinforcement(section, level),
                    gate,
                )
            return
        below_since = self.below_since.get(section)
        if level is None and below_since is None:
            below_since = self._dropped_below_at(section, now.assessment, watermark)
        decision = decide_surge_level(level, watermark, current.level, below_since, self.rules)
        if decision.below_since is None:
            self.below_since.pop(section, None)
        else:
            self.below_since[section] = decision.below_since
        if decision.action == "escalate" and decision.level is not None:
            if LEVEL_RANK[decision.level] > LEVEL_RANK[current.level]:
                self.board.publish(
                    lifecycle.revise(
                        current,
                        decision.level,
                        at,
                        self._surge_evidence(section, now),
                        self._reinforcement(section, decision.level),
                    )
                )
        elif decision.action == "resolve":
            # Stamped when the cool-down completed, even if the rule runs later (a quiet
            # section is only evaluated when its next report arrives or on the timer), and
            # with the evidence of that moment: the hour before it. The count at the time
            # the rule ran depended on where the batch ended (1 or 2 attempts in baltic-2024).
            done = watermark if below_since is None else below_since + self.rules.surge_cooldown_s
            resolved = min(watermark, done)
            evidence = self._surge_evidence(section, self.state(section, resolved - 1))
            evidence = evidence.model_copy(
                update={
                    "explanation": [
                        *evidence.explanation,
                        "resolved: below both thresholds for the cool-down "
                        f"({self.rules.surge_cooldown_s / 60:g} min)",
                    ]
                }
            )
            self.board.publish(lifecycle.resolve(current, _utc(resolved), evidence))

    def _surge_evidence(self, section: str, now: SurgeNow) -> AlertEvidence:
        base = now.baseline.hourly_mean
        return AlertEvidence(
            attempts_last_hour=now.attempts,
            threshold=round(now.assessment.attempts_threshold, 3),
            baseline_hourly=round(base, 4),
            surge_ratio=round(now.attempts / base, 2) if base > 0 else None,
            persons_last_hour=now.persons,
            persons_threshold=round(now.assessment.persons_threshold, 3),
            persons_baseline_hourly=round(now.persons_baseline.hourly_mean, 4),
            event_ids=list(self.recent_attempts[section]),
            sections=[section],
            explanation=list(now.assessment.explanation),
        )

    def _reinforcement(self, section: str, level: str) -> Recommendation:
        playbook = self.reference.playbook_for_rule(SURGE)
        return reinforcement_recommendation(
            self.reference, playbook, section, level, self.quiet_sections
        )

    def _dropped_below_at(
        self, section: str, assessment: SurgeAssessment, watermark: float
    ) -> float:
        """Event time at which the hourly counts last fell below both thresholds.

        Computed from the minute buckets, so the cool-down does not depend on how events
        were batched or how often the rules ran.
        """
        counters = self.counters[section]
        a_threshold, p_threshold = assessment.attempts_threshold, assessment.persons_threshold

        def above(e: int) -> bool:
            return (
                counters.attempts_in(e - 60, e) >= a_threshold
                or counters.persons_in(e - 60, e) >= p_threshold
            )

        end = minute_of(watermark) + 1
        horizon = int(self.rules.surge_cooldown_s // 60) + 2
        for e in range(end - 1, end - 1 - horizon, -1):
            if above(e):
                return float(e * 60)
        # Long quiet: the drop came within an hour after the last window seen above it.
        last = self.last_above.get(section)
        if last is not None:
            for e in range(min(last + 61, end - 1), last - 1, -1):
                if above(e):
                    return float(e * 60)
        return watermark - self.rules.surge_cooldown_s - 60.0
