"""Baseline: hourly mean over the previous 28 days, blended with the prior when history is short."""

from __future__ import annotations

import pytest

from marchwarden.picture.baseline import baseline_hourly

NOW_HOUR = 480_000
SPAN = 28 * 24


def test_full_28_days_of_history_gives_the_observed_mean() -> None:
    hourly = {h: 2 for h in range(NOW_HOUR - SPAN, NOW_HOUR)}
    hourly[NOW_HOUR - 1] = 2 + SPAN  # one busy hour adds exactly 1 to the mean

    base = baseline_hourly(hourly, NOW_HOUR, NOW_HOUR - 5000, prior_per_day=240.0)

    assert base.hourly_mean == pytest.approx(3.0)
    assert base.observed_hours == SPAN
    assert base.method == "observed mean over 28 days"


def test_hours_outside_the_28_days_and_the_current_hour_are_ignored() -> None:
    hourly = {
        NOW_HOUR - SPAN - 1: 10_000,  # just too old
        NOW_HOUR - SPAN: SPAN,  # oldest hour that counts
        NOW_HOUR: 10_000,  # the current, incomplete hour
        NOW_HOUR + 3: 10_000,
    }

    base = baseline_hourly(hourly, NOW_HOUR, NOW_HOUR - SPAN, prior_per_day=0.0)

    assert base.hourly_mean == pytest.approx(1.0)
    assert base.observed_hours == SPAN


def test_short_history_fills_missing_hours_with_the_prior() -> None:
    # 24 observed hours with 48 attempts; prior 24/day = 1 per hour for the other 648 hours.
    hourly = {h: 2 for h in range(NOW_HOUR - 24, NOW_HOUR)}

    base = baseline_hourly(hourly, NOW_HOUR, NOW_HOUR - 24, prior_per_day=24.0)

    assert base.observed_hours == 24
    assert base.hourly_mean == pytest.approx((48 + 1.0 * (SPAN - 24)) / SPAN)
    assert base.method == "24 h observed, rest from the section's prior estimate"


@pytest.mark.parametrize("history_start", [None, NOW_HOUR, NOW_HOUR + 2])
def test_without_past_history_the_baseline_is_the_prior(history_start: int | None) -> None:
    base = baseline_hourly({NOW_HOUR: 50}, NOW_HOUR, history_start, prior_per_day=6.0)

    assert base.observed_hours == 0
    assert base.hourly_mean == pytest.approx(6.0 / 24)


def test_quiet_observed_hours_pull_the_baseline_below_the_prior() -> None:
    # A week of observed silence replaces a week of the prior.
    base = baseline_hourly({}, NOW_HOUR, NOW_HOUR - 7 * 24, prior_per_day=48.0)

    assert base.observed_hours == 7 * 24
    assert base.hourly_mean == pytest.approx(2.0 * 21 / 28)


def test_days_parameter_changes_the_span() -> None:
    hourly = {h: 1 for h in range(NOW_HOUR - 48, NOW_HOUR)}
    hourly[NOW_HOUR - 49] = 1000  # outside a 2-day span

    base = baseline_hourly(hourly, NOW_HOUR, NOW_HOUR - 100, prior_per_day=0.0, days=2)

    assert base.hourly_mean == pytest.approx(1.0)
    assert base.observed_hours == 48
    assert base.method == "observed mean over 2 days"
