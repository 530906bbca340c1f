"""Write what the store takes and isolate what it refuses: bisect failed batches, bound partitions.

A row the store cannot take (a value out of its column's range, say) fails the whole insert it
is in. Retrying that insert forever freezes ingest, so a refused batch is split in halves until
the refused rows stand alone; every other row is written, and the caller dead-letters the rest
with the store's own error. These are plain functions over an `insert` callable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

Row = tuple[Any, ...]
Insert = Callable[[list[Row]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RefusedRow:
    """A row the store refused on its own, with the store's reason."""

    row: Row
    error: str


class SystemicRefusal(RuntimeError):
    """Every row tried so far was refused: the store, not the rows, is at fault; retry later."""


def partition_chunks(
    rows: Sequence[Row], partition_of: Callable[[Row], Hashable], max_partitions: int
) -> list[list[Row]]:
    """Split rows so no chunk spans more than `max_partitions` partitions of the table.

    ClickHouse refuses an insert whose block touches more partitions than
    max_partitions_per_insert_block (100 by default): 150 reports spread over 150 months
    in one batch would otherwise be refused forever. Chunks are deterministic for the same
    rows (partitions in sorted order), so a retried flush sends the same chunks again and
    their deduplication tokens match.
    """
    if max_partitions < 1:
        raise ValueError("max_partitions must be at least 1")
    groups: dict[Hashable, list[Row]] = {}
    for row in rows:
        groups.setdefault(partition_of(row), []).append(row)
    if len(groups) <= max_partitions:
        return [list(rows)] if rows else []
    keys = sorted(groups, key=repr)
    chunks = []
    for start in range(0, len(keys), max_partitions):
        chunk: list[Row] = []
        for key in keys[start : start + max_partitions]:
            chunk.extend(groups[key])
        chunks.append(chunk)
    return chunks


async def insert_isolating(
    rows: Sequence[Row],
    insert: Insert,
    *,
    is_refusal: Callable[[BaseException], bool],
    describe: Callable[[BaseException], str] = lambda exc: str(exc),
    systemic_after: int = 16,
) -> list[RefusedRow]:
    """Insert `rows`, bisecting any refused batch; returns the rows refused on their own.

    An error for which `is_refusal` is false (the store is unreachable) is raised as it is:
    nothing is isolated and the caller retries everything. If `systemic_after` single rows
    were refused before any insert succeeded, SystemicRefusal is raised instead of
    returning them: a store that refuses every row (a full disk, a dropped table) must
    not turn good reports into dead letters.
    """
    refused: list[RefusedRow] = []
    written = 0
    pending: list[list[Row]] = [list(rows)] if rows else []
    while pending:
        batch = pending.pop()
        try:
            await insert(batch)
        except Exception as exc:
            if not is_refusal(exc):
                raise
            if len(batch) > 1:
                middle = len(batch) // 2
                # Popped from the end: the first half is tried first, keeping row order.
                pending.append(batch[middle:])
                pending.append(batch[:middle])
                continue
            refused.append(RefusedRow(batch[0], describe(exc)))
            if not written and len(refused) >= systemic_after:
                raise SystemicRefusal(
                    f"the store refused {len(refused)} rows one by one and took none: "
                    f"{describe(exc)}"
                ) from exc
            continue
        written += len(batch)
    return refused
