"""Per-section baseline: hourly mean of attempts over the previous 28 days, or a prior estimate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Baseline:
    """Expected attempts per hour, and how it was obtained."""

    hourly_mean: float
    observed_hours: int
    method: str


def baseline_hourly(
    hourly_attempts: dict[int, int],
    current_hour: int,
    history_start_hour: int | None,
    prior_per_day: float,
    days: int = 28,
) -> Baseline:
    """Hourly mean over the `days` complete days before the current hour.

    When history covers fewer hours than that, the missing hours are filled with the
    section's prior estimate (reference data `expected_attempts_per_day` / 24), so a new
    deployment starts from a documented figure and converges on observation within 28 days.
    """
    span = days * 24
    start = current_hour - span
    if history_start_hour is None or history_start_hour >= current_hour:
        observed = 0
    else:
        observed = min(span, current_hour - max(start, history_start_hour))
    total = 0
    for hour, count in hourly_attempts.items():
        if start <= hour < current_hour:
            total += count
    prior_hourly = prior_per_day / 24.0
    if observed >= span:
        return Baseline(total / span, observed, f"observed mean over {days} days")
    blended = (total + prior_hourly * (span - observed)) / span
    return Baseline(
        blended, observed, f"{observed} h observed, rest from the section's prior estimate"
    )
