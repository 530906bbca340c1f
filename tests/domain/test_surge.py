"""The surge rule: threshold, level and the raise / escalate / hold / resolve decision."""

from __future__ import annotations

import pytest

from marchwarden.alerts.surge import (
    SurgeLimits,
    assess_surge,
    decide_surge,
    decide_surge_level,
    section_limits,
    surge_level,
    surge_threshold,
)
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings

RULES = RuleSettings()
WM = 1_719_835_200.0


@pytest.mark.parametrize(
    ("baseline", "threshold"),
    [(0.0, 20.0), (0.02, 20.0), (6.0, 20.0), (20 / 3, 20.0), (7.0, 21.0), (10.0, 30.0)],
)
def test_threshold_is_max_of_minimum_and_three_times_baseline(
    baseline: float, threshold: float
) -> None:
    assert surge_threshold(baseline, RULES) == pytest.approx(threshold)


def test_threshold_follows_the_settings() -> None:
    rules = RuleSettings(surge_min_attempts=5, surge_baseline_factor=2.0)
    assert surge_threshold(1.0, rules) == 5.0
    assert surge_threshold(4.0, rules) == 8.0


@pytest.mark.parametrize(
    ("attempts", "threshold", "level"),
    [
        (0, 20.0, None),
        (19, 20.0, None),
        (20, 20.0, "medium"),
        (39, 20.0, "medium"),
        (40, 20.0, "high"),
        (79, 20.0, "high"),
        (80, 20.0, "critical"),
        (59, 30.0, "medium"),
        (60, 30.0, "high"),
        (120, 30.0, "critical"),
    ],
)
def test_level_is_medium_at_threshold_high_at_2x_critical_at_4x(
    attempts: int, threshold: float, level: str | None
) -> None:
    assert surge_level(attempts, threshold, RULES) == level


def test_nothing_open_and_below_threshold_holds() -> None:
    decision = decide_surge(19, 20.0, WM, None, None, RULES)
    assert (decision.action, decision.level, decision.below_since) == ("hold", None, None)


def test_nothing_open_and_at_threshold_raises_at_the_level() -> None:
    decision = decide_surge(45, 20.0, WM, None, None, RULES)
    assert (decision.action, decision.level) == ("raise", "high")


def test_open_alert_and_still_above_asks_to_escalate_and_clears_below_since() -> None:
    decision = decide_surge(80, 20.0, WM, "medium", WM - 1800, RULES)
    assert (decision.action, decision.level, decision.below_since) == ("escalate", "critical", None)


def test_first_dip_below_starts_the_cool_down_at_the_watermark() -> None:
    decision = decide_surge(3, 20.0, WM, "medium", None, RULES)
    assert (decision.action, decision.level, decision.below_since) == ("hold", None, WM)


def test_open_alert_holds_until_the_cool_down_has_passed_then_resolves() -> None:
    since = WM - 3599.0
    held = decide_surge(0, 20.0, WM, "high", since, RULES)
    assert (held.action, held.below_since) == ("hold", since)

    resolved = decide_surge(0, 20.0, WM + 1.0, "high", since, RULES)
    assert (resolved.action, resolved.level, resolved.below_since) == ("resolve", None, None)


def test_zero_cool_down_resolves_on_the_first_dip() -> None:
    rules = RuleSettings(surge_cooldown_s=0)
    assert decide_surge(0, 20.0, WM, "medium", None, rules).action == "resolve"


def test_a_rise_during_the_cool_down_restarts_it() -> None:
    below_since = None
    # (seconds after WM, attempts in the last hour)
    for offset, attempts in [(0, 5), (1800, 5), (2400, 25), (3000, 5), (3600, 5), (6000, 5)]:
        decision = decide_surge(attempts, 20.0, WM + offset, "medium", below_since, RULES)
        assert decision.action != "resolve", f"resolved too early at +{offset}s"
        below_since = decision.below_since
    assert below_since == WM + 3000

    assert decide_surge(5, 20.0, WM + 6600, "medium", below_since, RULES).action == "resolve"


# --- people, not reports: per-section limits on attempts and persons ---------------------


def limits_of(section_id: str) -> SurgeLimits:
    return section_limits(load_reference().section(section_id), RULES)


def test_five_reports_of_a_hundred_people_are_a_critical_surge_anywhere() -> None:
    for section_id in ("PL-BY-02", "LT-RU-01"):
        assessment = assess_surge(5, 500, 0.5, 1.2, limits_of(section_id), RULES)
        assert assessment.level == "critical", section_id
        attempts_line, persons_line = assessment.explanation
        assert attempts_line.startswith("5 attempts in the last hour")
        assert (
            persons_line.startswith("500 persons in the last hour") and "critical" in persons_line
        )


def test_a_quiet_section_is_not_blind_behind_the_busiest_sections_floor() -> None:
    # Six attempts of two people in an hour on the Kaliningrad border.
    quiet = assess_surge(6, 12, 0.01, 0.03, limits_of("LT-RU-01"), RULES)
    assert quiet.level == "medium"
    assert quiet.attempts_threshold == 4.0 and quiet.persons_threshold == 10.0
    # The same hour on the busiest Belarus section is ordinary.
    busy = assess_surge(6, 12, 0.8, 2.0, limits_of("PL-BY-02"), RULES)
    assert busy.level is None


def test_the_higher_of_the_two_measures_sets_the_level() -> None:
    limits = SurgeLimits(floor_attempts=20, floor_persons=50, factor=3.0)
    # 45 attempts (high: 2x 20) of single people (45 < 50 persons): high from attempts.
    assert assess_surge(45, 45, 0.0, 0.0, limits, RULES).level == "high"
    # 10 attempts of 11 people: 110 persons (2.2x 50): high from persons.
    assert assess_surge(10, 110, 0.0, 0.0, limits, RULES).level == "high"
    assert assess_surge(19, 49, 0.0, 0.0, limits, RULES).level is None


def test_the_baseline_factor_is_per_section() -> None:
    limits = SurgeLimits(floor_attempts=4, floor_persons=10, factor=5.0)
    # baseline 2 attempts/h: threshold max(4, 5 x 2) = 10
    assessment = assess_surge(9, 9, 2.0, 5.0, limits, RULES)
    assert (assessment.attempts_threshold, assessment.persons_threshold) == (10.0, 25.0)
    assert assessment.level is None


def test_missing_limits_fall_back_to_the_settings() -> None:
    section = (
        load_reference()
        .section("LT-RU-01")
        .model_copy(
            update={
                "surge_floor_attempts": None,
                "surge_floor_persons": None,
                "surge_baseline_factor": None,
            }
        )
    )
    rules = RuleSettings(surge_min_attempts=7, surge_min_persons=17, surge_baseline_factor=2.5)
    assert section_limits(section, rules) == SurgeLimits(7, 17, 2.5)


def test_decide_on_the_combined_level() -> None:
    assert decide_surge_level("high", WM, None, None, RULES).action == "raise"
    assert decide_surge_level(None, WM, "high", None, RULES).action == "hold"
    late = decide_surge_level(None, WM, "high", WM - RULES.surge_cooldown_s, RULES)
    assert late.action == "resolve"
