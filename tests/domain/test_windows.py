"""Minute-bucket counters and the half-open windows summed over them."""

from __future__ import annotations

import pytest

from marchwarden.picture.windows import (
    COUNTERS,
    HOUR,
    MINUTE,
    SectionCounters,
    window_bounds,
    windowed_counts,
)

# An arbitrary whole hour, far from epoch 0, as epoch seconds.
BASE = 1_719_835_200  # 2024-07-01T12:00:00Z
BASE_MIN = BASE // MINUTE


def test_attempt_is_counted_with_persons_and_outcome_in_its_minute_bucket() -> None:
    counters = SectionCounters()
    counters.add_attempt(BASE + 5, 3, "detained")
    counters.add_attempt(BASE + 59.9, 2, "crossed")

    assert list(counters.minutes) == [BASE_MIN]
    totals = counters.window(BASE_MIN, BASE_MIN + 1)
    assert totals["attempts"] == 2
    assert totals["attempt_persons"] == 5
    assert (totals["detained"], totals["crossed"], totals["prevented"]) == (1, 1, 0)


@pytest.mark.parametrize(
    ("outcome", "column"),
    [
        ("prevented", "prevented"),
        ("detained", "detained"),
        ("crossed", "crossed"),
        ("unknown", "unknown"),
        ("something-new", "unknown"),
    ],
)
def test_each_outcome_lands_in_its_column(outcome: str, column: str) -> None:
    counters = SectionCounters()
    counters.add_attempt(BASE, 1, outcome)
    totals = counters.window(BASE_MIN, BASE_MIN + 1)
    outcome_columns = ("prevented", "detained", "crossed", "unknown")
    assert {c: totals[c] for c in outcome_columns} == {c: int(c == column) for c in outcome_columns}


def test_attempts_feed_the_hourly_totals_used_by_the_baseline() -> None:
    counters = SectionCounters()
    counters.add_attempt(BASE, 1, "prevented")
    counters.add_attempt(BASE + HOUR - 1, 1, "prevented")
    counters.add_attempt(BASE + HOUR, 1, "prevented")

    hour = BASE // HOUR
    assert counters.hourly_attempts == {hour: 2, hour + 1: 1}


def test_turn_back_counts_turn_backs_but_not_attempts() -> None:
    counters = SectionCounters()
    counters.add_turn_back(BASE, 4)

    totals = counters.window(BASE_MIN, BASE_MIN + 1)
    assert (totals["turn_backs"], totals["turn_back_persons"]) == (1, 4)
    assert totals["attempts"] == 0
    assert counters.hourly_attempts == {}


def test_add_bucket_merges_into_an_existing_minute() -> None:
    counters = SectionCounters()
    counters.add_attempt(BASE, 2, "prevented")
    counters.add_bucket(BASE_MIN, [3, 7, 1, 1, 1, 0, 2, 9])

    assert counters.minutes[BASE_MIN] == [4, 9, 2, 1, 1, 0, 2, 9]


def test_window_is_half_open_on_minutes() -> None:
    counters = SectionCounters()
    counters.add_attempt(BASE, 1, "prevented")  # minute BASE_MIN
    counters.add_attempt(BASE + 60 * MINUTE, 1, "prevented")  # minute BASE_MIN + 60

    assert counters.attempts_in(BASE_MIN, BASE_MIN + 60) == 1
    assert counters.attempts_in(BASE_MIN + 1, BASE_MIN + 61) == 1
    assert counters.attempts_in(BASE_MIN, BASE_MIN + 61) == 2
    assert counters.window(BASE_MIN, BASE_MIN + 60)["attempts"] == 1


def test_attempts_in_a_long_range_agrees_with_window() -> None:
    counters = SectionCounters()
    for minutes_later in (0, 100, 121, 500, 1000):
        counters.add_attempt(BASE + minutes_later * MINUTE, 1, "prevented")

    # > 120 minutes takes the other code path; both must agree.
    assert counters.attempts_in(BASE_MIN, BASE_MIN + 1000) == 4
    assert counters.attempts_in(BASE_MIN, BASE_MIN + 1001) == 5
    assert counters.attempts_in(BASE_MIN + 1, BASE_MIN + 122) == 2


@pytest.mark.parametrize("seconds_into_minute", [0.0, 30.0, 59.999])
def test_window_bounds_end_with_the_watermark_minute(seconds_into_minute: float) -> None:
    watermark = BASE + 10 * MINUTE + seconds_into_minute
    assert window_bounds(watermark, 60) == (BASE_MIN + 11 - 60, BASE_MIN + 11)
    assert window_bounds(watermark, 1) == (BASE_MIN + 10, BASE_MIN + 11)


def test_window_at_watermark_includes_its_own_minute_and_excludes_an_hour_before() -> None:
    counters = SectionCounters()
    watermark = BASE + 90 * MINUTE + 45
    counters.add_attempt(watermark, 1, "prevented")
    counters.add_attempt(watermark - 59 * MINUTE, 1, "prevented")
    counters.add_attempt(watermark - 60 * MINUTE, 1, "prevented")

    assert counters.attempts_in(*window_bounds(watermark, 60)) == 2


def test_prune_drops_minutes_and_hours_before_the_cut() -> None:
    counters = SectionCounters()
    for hours_later in range(4):
        counters.add_attempt(BASE + hours_later * HOUR, 1, "prevented")
    base_hour = BASE // HOUR

    counters.prune(keep_from_minute=BASE_MIN + 120, keep_from_hour=base_hour + 1)

    assert sorted(counters.minutes) == [BASE_MIN + 120, BASE_MIN + 180]
    assert sorted(counters.hourly_attempts) == [base_hour + 1, base_hour + 2, base_hour + 3]


def test_windowed_counts_sums_each_named_window() -> None:
    counters = SectionCounters()
    watermark = BASE + 30
    for age_s in (30 * MINUTE, 2 * HOUR, 2 * 24 * HOUR, 8 * 24 * HOUR):
        counters.add_attempt(watermark - age_s, 2, "prevented")
    counters.add_turn_back(watermark, 5)

    counts = windowed_counts(counters, watermark)

    assert set(counts) == {"1h", "24h", "7d"}
    assert {name: c["attempts"] for name, c in counts.items()} == {"1h": 1, "24h": 2, "7d": 3}
    assert counts["7d"]["attempt_persons"] == 6
    assert all(c["turn_back_persons"] == 5 for c in counts.values())
    assert all(set(c) == set(COUNTERS) for c in counts.values())
