"""The surge rule: attempts in the last hour against max(minimum, factor x baseline)."""

from __future__ import annotations

from dataclasses import dataclass

from marchwarden.contracts.common import Level
from marchwarden.settings import RuleSettings


def surge_threshold(baseline_hourly: float, rules: RuleSettings) -> float:
    return max(float(rules.surge_min_attempts), rules.surge_baseline_factor * baseline_hourly)


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


def decide_surge(
    attempts_last_hour: int,
    threshold: float,
    watermark: float,
    open_level: Level | None,
    below_since: float | None,
    rules: RuleSettings,
) -> SurgeDecision:
    """One evaluation of the rule for one section at the event-time watermark.

    An open alert resolves only after the hourly count has stayed below the threshold
    for the cool-down, so a surge that dips for a minute is not closed and re-raised.
    """
    level = surge_level(attempts_last_hour, threshold, rules)
    if open_level is None:
        return SurgeDecision("raise" if level else "hold", level, None)
    if level is not None:
        return SurgeDecision("escalate", level, None)
    since = watermark if below_since is None else below_since
    if watermark - since >= rules.surge_cooldown_s:
        return SurgeDecision("resolve", None, None)
    return SurgeDecision("hold", None, since)
