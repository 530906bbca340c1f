"""Kafka positions in Server-Sent Event ids: encode, parse, and decide how a reconnect resumes.

An event id is a JSON array with one object per partition of ops.alerts, in the KafkaSSE
shape: `[{"topic": "ops.alerts", "partition": 0, "offset": 17}, ...]`. `offset` is the next
offset to read on that partition (Kafka's committed-offset meaning): every message below it
has been delivered to the client, or withheld from it by its access rights. A client that
reconnects with `Last-Event-ID` resumes exactly there: nothing lost, nothing repeated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

MAX_EVENT_ID_CHARS = 16 * 1024
MAX_PARTITIONS = 1024

Positions = dict[int, int]
"""partition -> next offset to read."""


class BadEventId(ValueError):
    """A Last-Event-ID that is not a position this stream wrote; the text says why."""


def encode_event_id(topic: str, positions: Mapping[int, int]) -> str:
    """The SSE id for a stream that has delivered everything below `positions`."""
    return json.dumps(
        [{"topic": topic, "partition": p, "offset": positions[p]} for p in sorted(positions)],
        separators=(",", ":"),
    )


def parse_event_id(text: str, topic: str) -> Positions:
    """Positions from an id this stream wrote; BadEventId for anything else."""
    if len(text) > MAX_EVENT_ID_CHARS:
        raise BadEventId(f"the event id is {len(text)} characters, over {MAX_EVENT_ID_CHARS}")
    try:
        document = json.loads(text)
    except ValueError:
        raise BadEventId("the event id is not JSON") from None
    if not isinstance(document, list) or not 0 < len(document) <= MAX_PARTITIONS:
        raise BadEventId("the event id is not a list of partition positions")
    positions: Positions = {}
    for item in document:
        if not isinstance(item, dict) or set(item) != {"topic", "partition", "offset"}:
            raise BadEventId("each position needs exactly topic, partition and offset")
        if item["topic"] != topic:
            raise BadEventId(f"the event id is a position on {item['topic']!r}, not {topic!r}")
        partition, offset = item["partition"], item["offset"]
        if not _natural(partition) or not _natural(offset):
            raise BadEventId("partition and offset must be non-negative integers")
        if partition in positions:
            raise BadEventId(f"partition {partition} appears twice")
        positions[partition] = offset
    return positions


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True, slots=True)
class Resume:
    """Continue from these positions (every partition of the topic has one)."""

    positions: Positions


@dataclass(frozen=True, slots=True)
class Reset:
    """The position cannot be honoured; the client must start again from a snapshot."""

    reason: str


def plan_resume(requested: Positions, beginning: Positions, end: Positions) -> Resume | Reset:
    """Where a reconnecting client continues, given the topic's retained range per partition.

    A partition the id does not name (added to the topic since) is read from its beginning.
    A position below the retained range has aged out: the messages in between are gone, so
    only a fresh snapshot is truthful. A position beyond the end belongs to another topic
    (recreated, or another cluster).
    """
    unknown = sorted(set(requested) - set(end))
    if unknown:
        return Reset(f"partition {unknown[0]} does not exist on the topic")
    positions: Positions = {}
    for partition in sorted(end):
        first, last = beginning.get(partition, 0), end[partition]
        wanted = requested.get(partition, first)
        if wanted < first:
            return Reset(
                f"position {wanted} on partition {partition} has aged out "
                f"(the topic keeps offsets {first} to {last})"
            )
        if wanted > last:
            return Reset(
                f"position {wanted} on partition {partition} is beyond the end of the topic "
                f"({last}); was the topic recreated?"
            )
        positions[partition] = wanted
    return Resume(positions)
