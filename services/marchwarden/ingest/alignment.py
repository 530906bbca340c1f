"""Event-time alignment of input partitions: pause the ones that run ahead of the others.

The engine keeps one clock per section, fed by three topics. When a backlog is replayed
(a restart, a compressed scenario) Kafka hands out whole runs of one partition, so one topic
can be days of event time ahead of another and the slower one's reports would look late.
Like Kafka Streams' timestamp synchronisation, the worker pauses partitions whose head is
more than `slack_s` ahead of the slowest partition that still has data.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

Partition = Hashable


@dataclass
class EventTimeAligner:
    """Tracks each partition's head (latest event time) and decides which to pause."""

    slack_s: float = 600.0
    heads: dict[Partition, float] = field(default_factory=dict)
    delivered: set[Partition] = field(default_factory=set)

    def advanced(self, partition: Partition, head: float | None) -> None:
        """Record a batch from `partition`; head is its latest event time (None: no valid event)."""
        self.delivered.add(partition)
        if head is not None and head > self.heads.get(partition, float("-inf")):
            self.heads[partition] = head

    def forget(self, partitions: Iterable[Partition]) -> None:
        for p in partitions:
            self.heads.pop(p, None)
            self.delivered.discard(p)

    def to_pause(
        self, pending: Iterable[Partition], assigned: Iterable[Partition]
    ) -> set[Partition]:
        """Partitions to pause, given those that still have unread data (`pending`).

        A pending partition that has delivered nothing yet holds every other back (its data
        could be older than anything seen); it is never paused itself, so it delivers next.
        The slowest pending partition is never paused, so there is always progress.
        """
        lagging = list(pending)
        if not lagging:
            return set()
        if any(p not in self.delivered for p in lagging):
            frontier = float("-inf")
        else:
            known = [self.heads[p] for p in lagging if p in self.heads]
            if not known:
                return set()
            frontier = min(known)
        return {p for p in assigned if p in self.heads and self.heads[p] > frontier + self.slack_s}
