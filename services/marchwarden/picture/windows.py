"""Event-time counters per section in minute buckets, summed over 1 h, 24 h and 7 d windows."""

from __future__ import annotations

from dataclasses import dataclass, field

MINUTE = 60
HOUR = 3600
WINDOWS: dict[str, int] = {"1h": 60, "24h": 24 * 60, "7d": 7 * 24 * 60}
LONGEST_WINDOW_MIN = max(WINDOWS.values())

# Column layout of one minute bucket.
ATTEMPTS, ATTEMPT_PERSONS, PREVENTED, DETAINED, CROSSED, UNKNOWN, TURN_BACKS, TURN_BACK_PERSONS = (
    range(8)
)
COUNTERS = (
    "attempts",
    "attempt_persons",
    "prevented",
    "detained",
    "crossed",
    "unknown",
    "turn_backs",
    "turn_back_persons",
)
OUTCOME_COLUMN = {"prevented": PREVENTED, "detained": DETAINED, "crossed": CROSSED}


def minute_of(epoch_seconds: float) -> int:
    return int(epoch_seconds // MINUTE)


def window_bounds(watermark: float, minutes: int) -> tuple[int, int]:
    """Half-open minute range [start, end) a window covers at this watermark.

    The window ends with the minute holding the watermark, so the same bounds can be
    recomputed in ClickHouse from history (`verify`).
    """
    end = minute_of(watermark) + 1
    return end - minutes, end


@dataclass(slots=True)
class SectionCounters:
    """Minute buckets of one section; hourly attempt and persons totals kept longer for the
    baselines."""

    minutes: dict[int, list[int]] = field(default_factory=dict)
    hourly_attempts: dict[int, int] = field(default_factory=dict)
    hourly_persons: dict[int, int] = field(default_factory=dict)

    def add_attempt(self, epoch: float, persons: int, outcome: str) -> None:
        minute = int(epoch // MINUTE)
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = [0] * 8
        bucket[ATTEMPTS] += 1
        bucket[ATTEMPT_PERSONS] += persons
        bucket[OUTCOME_COLUMN.get(outcome, UNKNOWN)] += 1
        hour = minute // 60
        self.hourly_attempts[hour] = self.hourly_attempts.get(hour, 0) + 1
        self.hourly_persons[hour] = self.hourly_persons.get(hour, 0) + persons

    def add_turn_back(self, epoch: float, persons: int) -> None:
        minute = int(epoch // MINUTE)
        bucket = self.minutes.get(minute)
        if bucket is None:
            bucket = self.minutes[minute] = [0] * 8
        bucket[TURN_BACKS] += 1
        bucket[TURN_BACK_PERSONS] += persons

    def add_bucket(self, minute: int, values: list[int]) -> None:
        """Merge a pre-aggregated bucket (rebuild from history)."""
        bucket = self.minutes.setdefault(minute, [0] * 8)
        for i, value in enumerate(values):
            bucket[i] += value

    def attempts_in(self, start_minute: int, end_minute: int) -> int:
        minutes = self.minutes
        total = 0
        if end_minute - start_minute <= 120:
            for m in range(start_minute, end_minute):
                bucket = minutes.get(m)
                if bucket is not None:
                    total += bucket[ATTEMPTS]
            return total
        return self.window(start_minute, end_minute)["attempts"]

    def persons_in(self, start_minute: int, end_minute: int) -> int:
        """People in the crossing attempts of the minute range."""
        minutes = self.minutes
        total = 0
        for m in range(start_minute, end_minute):
            bucket = minutes.get(m)
            if bucket is not None:
                total += bucket[ATTEMPT_PERSONS]
        return total

    def window(self, start_minute: int, end_minute: int) -> dict[str, int]:
        totals = [0] * 8
        for minute, bucket in self.minutes.items():
            if start_minute <= minute < end_minute:
                for i in range(8):
                    totals[i] += bucket[i]
        return dict(zip(COUNTERS, totals, strict=True))

    def prune(self, keep_from_minute: int, keep_from_hour: int) -> None:
        for minute in [m for m in self.minutes if m < keep_from_minute]:
            del self.minutes[minute]
        for hour in [h for h in self.hourly_attempts if h < keep_from_hour]:
            del self.hourly_attempts[hour]
        for hour in [h for h in self.hourly_persons if h < keep_from_hour]:
            del self.hourly_persons[hour]


def windowed_counts(counters: SectionCounters, watermark: float) -> dict[str, dict[str, int]]:
    """Counts per window name at the watermark."""
    return {
        name: counters.window(*window_bounds(watermark, minutes))
        for name, minutes in WINDOWS.items()
    }
