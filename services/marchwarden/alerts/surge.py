"""The surge rule: attempts and persons in the last hour against max(floor, factor x baseline).

A surge is counted in people as well as in reports: five reports of a hundred people each
are a surge on any section. Floors and the baseline factor are per section (reference data,
so a quiet section is not blind behind a floor sized for the busiest one).
"""

from __future__ import annotations

from dataclasses import dataclass

from marchwarden.contracts.common import LEVEL_RANK, Level
from marchwarden.reference.models import Section
from marchwarden.settings import RuleSettings


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
