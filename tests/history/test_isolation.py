"""Bisecting a refused batch and bounding partitions per insert (plain functions, a plain store)."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from marchwarden.history.isolation import (
    Row,
    SystemicRefusal,
    insert_isolating,
    partition_chunks,
)


class Unreachable(ConnectionError):
    pass


class Refused(ValueError):
    pass


class ListStore:
    """A store as a list: refuses any batch holding a row for which `refuses(row)` is true."""

    def __init__(self, refuses=lambda row: False, max_partitions: int | None = None) -> None:
        self.refuses = refuses
        self.max_partitions = max_partitions
        self.rows: list[Row] = []
        self.calls = 0
        self.down = False

    async def insert(self, batch: list[Row]) -> None:
        self.calls += 1
        if self.down:
            raise Unreachable("store is down")
        bad = [row for row in batch if self.refuses(row)]
        if bad:
            raise Refused(f"cannot take value {bad[0][1]}")
        if self.max_partitions and len({row[2] for row in batch}) > self.max_partitions:
            raise Refused("Too many partitions for single INSERT block")
        self.rows.extend(batch)


def rows(n: int) -> list[Row]:
    return [(i, i, i % 12) for i in range(n)]


def is_refusal(exc: BaseException) -> bool:
    return isinstance(exc, Refused)


async def test_a_batch_the_store_takes_is_written_in_one_insert() -> None:
    store = ListStore()
    assert await insert_isolating(rows(100), store.insert, is_refusal=is_refusal) == []
    assert store.rows == rows(100) and store.calls == 1


@pytest.mark.parametrize("poison", [[0], [999], [17, 500, 501, 998], list(range(0, 1000, 97))])
async def test_refused_rows_are_isolated_and_every_other_row_is_written(poison: list[int]) -> None:
    store = ListStore(refuses=lambda row: row[0] in poison)
    refused = await insert_isolating(rows(1000), store.insert, is_refusal=is_refusal)
    assert [r.row[0] for r in refused] == poison
    assert all(r.error == f"cannot take value {r.row[1]}" for r in refused)
    assert sorted(store.rows) == [r for r in rows(1000) if r[0] not in poison]
    # Bisection, not row by row: about 2 log2(n) inserts per refused row.
    assert store.calls <= 1 + len(poison) * 2 * 10


async def test_an_unreachable_store_is_not_a_refusal_and_isolates_nothing() -> None:
    store = ListStore()
    store.down = True
    with pytest.raises(Unreachable):
        await insert_isolating(rows(10), store.insert, is_refusal=is_refusal)
    assert store.calls == 1


async def test_a_store_refusing_every_row_is_systemic_not_a_pile_of_dead_letters() -> None:
    store = ListStore(refuses=lambda row: True)
    with pytest.raises(SystemicRefusal, match="refused 16 rows one by one"):
        await insert_isolating(rows(1000), store.insert, is_refusal=is_refusal)
    assert store.rows == []


async def test_a_small_batch_of_only_refused_rows_is_still_isolated() -> None:
    store = ListStore(refuses=lambda row: True)
    refused = await insert_isolating(rows(3), store.insert, is_refusal=is_refusal)
    assert len(refused) == 3


def test_partition_chunks_bound_the_partitions_of_each_insert() -> None:
    spread = [(i, i, i) for i in range(150)]  # 150 rows over 150 partitions
    chunks = partition_chunks(spread, lambda row: row[2], 100)
    assert [len({r[2] for r in c}) for c in chunks] == [100, 50]
    assert sorted(r for c in chunks for r in c) == spread
    again = partition_chunks(list(reversed(spread)), lambda row: row[2], 100)
    assert [{r[2] for r in c} for c in again] == [{r[2] for r in c} for c in chunks]


def test_partition_chunks_keep_a_narrow_batch_whole() -> None:
    assert partition_chunks(rows(50), lambda row: row[2], 12) == [rows(50)]
    assert partition_chunks([], lambda row: row[2], 12) == []
    with pytest.raises(ValueError):
        partition_chunks(rows(1), lambda row: row[2], 0)


async def test_chunked_inserts_pass_a_store_that_limits_partitions() -> None:
    store = ListStore(max_partitions=100)
    spread = [(i, i, i) for i in range(150)]
    for chunk in partition_chunks(spread, lambda row: row[2], 100):
        assert await insert_isolating(chunk, store.insert, is_refusal=is_refusal) == []
    assert sorted(store.rows) == spread


def test_store_failures_are_not_row_refusals() -> None:
    from marchwarden.history.errors import HistoryRefused, HistoryUnavailable, translate
    from marchwarden.history.sink import is_refusal

    def refused(text: str) -> Exception:
        # As every backend raises it: clickhouse-connect's error, translated with its code.
        return translate(DatabaseError(text))

    assert not is_refusal(ConnectionRefusedError("refused"))
    assert not is_refusal(refused("Code: 60. DB::Exception: Table default.events does not exist"))
    assert not is_refusal(refused("Code: 241. DB::Exception: Memory limit exceeded"))
    assert not is_refusal(refused("Code: 252. DB::Exception: Too many parts (300)"))
    assert not is_refusal(HistoryUnavailable("history gateway http://x unreachable: timed out"))
    assert is_refusal(RuntimeError("Unable to create native array for column 'persons'"))
    assert is_refusal(HistoryRefused("the gateway could not decode a value", None))
    assert is_refusal(
        refused("Code: 252. DB::Exception: Too many partitions for single INSERT block")
    )
    assert is_refusal(refused("Code: 321. DB::Exception: Value is out of range"))
