"""Where an indicator must also be read: the partitions of the other sections it names.

An indicator is keyed by its primary section, so only the worker owning that section's
partition reads it. A section named only in `extra_section_ids` may belong to another
worker, which would show the wrong threat level and plan nothing for it. The worker that
reads the indicator therefore sends one copy, keyed by a named section, to each other
partition its sections fall on (the routed-indicators topic, partitioned like the inputs);
the owner of that partition applies it to the indicator's state only (history already has
the event from the primary owner). Applying a copy twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from marchwarden.contracts.decoding import Rejection, decode_event
from marchwarden.contracts.events import Indicator


def routes_for(
    primary: str, sections: Iterable[str], partition_of: Callable[[str], int]
) -> list[str]:
    """One section key per partition other than the primary's, in the order first named.

    Keyed by that section, a copy lands on the partition its owner reads; one copy per
    partition is enough, as its owner applies it to every section it owns.
    """
    home = partition_of(primary)
    covered = {home}
    keys: list[str] = []
    for section in sections:
        partition = partition_of(section)
        if partition not in covered:
            covered.add(partition)
            keys.append(section)
    return keys


def indicator_routes(
    value: bytes | None, max_bytes: int, partition_of: Callable[[str], int]
) -> list[str]:
    """The section keys an indicator record must be copied to (none for anything else).

    A record that does not decode is not routed: the engine dead-letters it on its own path.
    """
    if value is None:
        return []
    decoded = decode_event(value, max_bytes)
    if isinstance(decoded, Rejection) or not isinstance(decoded, Indicator):
        return []
    if not decoded.extra_section_ids:
        return []
    return routes_for(decoded.section_id, decoded.extra_section_ids, partition_of)
