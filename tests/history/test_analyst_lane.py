"""The analysts' lane on real chDB: ceilings, lowering, refusals, kill on cancel, no writer stall."""

from __future__ import annotations

import asyncio
from typing import Any

import clickhouse_connect
import pytest

from marchwarden.history.analyst import (
    AnalystLane,
    LaneBusy,
    LimitError,
    LimitExceeded,
    effective_settings,
    kill_statement,
)
from marchwarden.history.migrations import migrate
from marchwarden.history.store import HistoryStore, ReadOnlyViolation
from marchwarden.settings import AnalystLimits
from tests.support.stack import await_until

HEAVY = "SELECT count() FROM numbers(1e12) WHERE sipHash64(number) % 7 = 1"


def lane_for(store: HistoryStore, **limits: Any) -> AnalystLane:
    def connect(settings: dict[str, Any], database: str | None) -> Any:
        return clickhouse_connect.get_client(dsn=store.dsn, settings=settings, database=database)

    return AnalystLane(
        connect, AnalystLimits(**limits), lambda: clickhouse_connect.get_client(dsn=store.dsn)
    )


def running(store: HistoryStore, fragment: str) -> int:
    _, rows = store.query(
        "SELECT count() FROM system.processes WHERE query LIKE {f:String} "
        "AND query NOT LIKE '%system.processes%'",
        {"f": f"%{fragment}%"},
    )
    return int(rows[0][0])


def test_a_caller_may_lower_a_limit_but_not_raise_it() -> None:
    limits = AnalystLimits(max_execution_time_s=30, max_result_rows=1000)
    lowered = effective_settings(limits, {"max_execution_time": 5, "max_result_rows": 10})
    assert lowered["max_execution_time"] == 5 and lowered["max_result_rows"] == 10
    assert list(lowered)[-1] == "readonly", "read-only is applied after every other setting"
    for bad in ({"max_execution_time": 31}, {"max_result_rows": 0}, {"max_threads": True}):
        with pytest.raises(LimitError):
            effective_settings(limits, bad)
    with pytest.raises(LimitError, match="unknown limit"):
        effective_settings(limits, {"readonly": 0})


def test_kill_statements_only_take_query_ids() -> None:
    with pytest.raises(ValueError):
        kill_statement("x' OR 1 --")


async def test_limits_apply_and_writes_are_refused(chdb_store: HistoryStore) -> None:
    migrate(chdb_store)
    lane = lane_for(chdb_store, max_result_rows=50)
    try:
        columns, rows = await lane.run("SELECT number FROM numbers(10)")
        assert columns == ["number"] and len(rows) == 10
        with pytest.raises(LimitExceeded, match="Limit for result"):
            await lane.run("SELECT number FROM numbers(100)")
        with pytest.raises(LimitExceeded, match="rows"):
            await lane.run("SELECT count() FROM numbers(1e6)", requested={"max_rows_to_read": 1000})
        with pytest.raises(LimitError, match="SETTINGS in the query"):
            await lane.run("SELECT 1 SETTINGS max_execution_time = 5")
        with pytest.raises(ReadOnlyViolation):
            await lane.run("INSERT INTO dead_letters (topic) VALUES ('lane')")
        _, rows = await lane.run(
            "SELECT getSetting('os_thread_priority'), getSetting('max_threads')"
        )
        assert rows == [(19, 1)]
    finally:
        lane.close()
    # The writer's own session is untouched by the analysts' settings.
    _, rows = chdb_store.query("SELECT getSetting('readonly'), getSetting('max_result_rows')")
    assert rows == [(0, 0)]


async def test_a_saturating_query_neither_blocks_the_writer_nor_outlives_its_caller(
    chdb_store: HistoryStore,
) -> None:
    migrate(chdb_store)
    lane = lane_for(chdb_store, max_execution_time_s=120, max_rows_to_read=10**13)
    try:
        task = asyncio.create_task(lane.run(HEAVY))
        await await_until(lambda: running(chdb_store, "1e12"), 30, "the heavy query to run")
        await chdb_store.ainsert(
            "dead_letters",
            [("lane-test", 0, 1, b"", b"x", 1, "invalid", "lane test")],
            ["topic", "partition", "offset", "key", "value", "value_size", "kind", "reason"],
        )
        assert not task.done(), "the insert completed while the heavy query was running"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await await_until(lambda: not running(chdb_store, "1e12"), 30, "the query to be killed")
        assert lane.cancelled == 1
    finally:
        lane.close()


async def test_no_more_than_max_concurrent_queries_run(chdb_store: HistoryStore) -> None:
    lane = lane_for(chdb_store, max_concurrent=1, max_execution_time_s=120, max_rows_to_read=10**13)
    try:
        first = asyncio.create_task(lane.run(HEAVY))
        await await_until(lambda: running(chdb_store, "1e12"), 30, "the first query to run")
        with pytest.raises(LaneBusy):
            await lane.run("SELECT 1")
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await await_until(lambda: not running(chdb_store, "1e12"), 30, "the query to be killed")
        assert (await lane.run("SELECT 1"))[1] == [(1,)]
    finally:
        lane.close()
