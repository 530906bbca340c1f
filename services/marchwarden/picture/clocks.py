"""Event-time clocks: per section, per stream (topic x section) and per report kind.

Event time is tracked per section (for windows and rules) and per stream (for lateness). A
section's events share one partition of each topic, so they arrive in order; a global
watermark would mark the events of a slower partition late whenever another partition runs
ahead (compressed replay). The surge rule runs on the attempts' own clock and indicators
lapse on their own stream's clock: other report kinds of the section may be ahead during a
replay and would age those windows.
"""

from __future__ import annotations

from collections.abc import Callable


class SectionClocks:
    """The latest event time seen per section, stream and kind, with when it was seen."""

    def __init__(self, allowed_lateness_s: float, wall_clock: Callable[[], float]) -> None:
        self.allowed_lateness_s = allowed_lateness_s
        self.wall_clock = wall_clock
        self.section_max: dict[str, float] = {}
        self.section_wall: dict[str, float] = {}
        self.attempt_max: dict[str, float] = {}
        self.attempt_wall: dict[str, float] = {}
        self.indicator_max: dict[str, float] = {}
        self.indicator_wall: dict[str, float] = {}
        self.stream_max: dict[tuple[str, str], float] = {}
        self.stream_wall: dict[tuple[str, str], float] = {}

    def clock(self, latest: float, seen_at: float, now: float) -> float:
        """Event time `latest`, advanced by the wall time since it was seen if the data is live.

        The wall clock stands in for event time only for data read as it happens, so that a
        quiet section still resolves its surge and expires its indicators. Data that was
        already more than the allowed lateness old when it arrived is a replay of history (a
        compressed scenario, a backfill): its clocks move with its events only. Advancing
        them with the wall clock made the alerts depend on how fast the replay ran and where
        the batches ended (wall seconds read as event seconds), not on the events.
        """
        if seen_at - latest > self.allowed_lateness_s:
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
        return self.clock(latest, self.section_wall[section], now)

    def surge_clock(self, section: str, now: float | None = None) -> float:
        """Event-time 'now' of the surge rule: the section's latest attempt (see `clock`)."""
        if now is None:
            now = self.wall_clock()
        latest = self.attempt_max.get(section)
        if latest is None:
            return self.watermark(section, now)
        return self.clock(latest, self.attempt_wall[section], now)

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
        others = self.watermark(section, now) - self.allowed_lateness_s
        latest = self.indicator_max.get(section)
        if latest is None:
            return others
        return max(others, self.clock(latest, self.indicator_wall[section], now))

    def stream_watermark(self, stream: tuple[str, str], now: float | None = None) -> float | None:
        """The stream's clock, None before its first event."""
        latest = self.stream_max.get(stream)
        if latest is None:
            return None
        if now is None:
            now = self.wall_clock()
        return self.clock(latest, self.stream_wall[stream], now)

    def advance(self, stream: tuple[str, str], epoch: float, now: float) -> None:
        """An on-time event of the stream: move its clock and its section's."""
        # A report a little ahead of the wall clock (within the allowed skew) is counted at
        # its own time, but no clock moves past real time: one report must not age a
        # section's windows.
        epoch = min(epoch, now)
        mark = self.stream_watermark(stream, now)
        if mark is None or epoch > mark:
            self.stream_max[stream] = epoch
            self.stream_wall[stream] = now
        section = stream[1]
        latest = self.section_max.get(section)
        if latest is None or epoch > self.clock(latest, self.section_wall[section], now):
            self.section_max[section] = epoch
            self.section_wall[section] = now

    def saw_attempt(self, section: str, epoch: float, now: float) -> None:
        if min(epoch, now) > self.attempt_max.get(section, float("-inf")):
            self.attempt_max[section] = min(epoch, now)
            self.attempt_wall[section] = now

    def saw_indicator(self, section: str, epoch: float, now: float) -> None:
        if epoch > self.indicator_max.get(section, float("-inf")):
            self.indicator_max[section] = epoch
            self.indicator_wall[section] = now

    def restore_stream(self, topic: str, section: str, latest: float, received_at: float) -> bool:
        """Load a stream's clock from history; True when it is its section's latest."""
        self.stream_max[(topic, section)] = latest
        self.stream_wall[(topic, section)] = received_at
        if latest > self.section_max.get(section, float("-inf")):
            self.section_max[section] = latest
            self.section_wall[section] = received_at
            return True
        return False

    def restore_kind(
        self, event_type: str, section: str, latest: float, received_at: float
    ) -> None:
        """Load the clock of one report kind (attempts, indicators) of a section from history."""
        if event_type == "crossing_attempt":
            self.attempt_max[section], self.attempt_wall[section] = latest, received_at
        else:
            self.indicator_max[section], self.indicator_wall[section] = latest, received_at
