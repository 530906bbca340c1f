"""The analysts' lane: read-only history queries on connections of their own, under ceilings.

Analyst queries never share a connection or a thread with the history writer, so a heavy
query cannot hold up an insert. Each runs read-only under ceilings on time, memory, rows
read and result size that a caller may lower but not raise, on few cores at the lowest CPU
priority, a bounded number at a time; a query whose caller gives up is killed. A query for
an organisation runs with that organisation's analyst views as its database, after the
SQL allow-list (access/sqlcheck.py) has judged it on ClickHouse's own parse tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from clickhouse_connect.driver.exceptions import ClickHouseError

from marchwarden.access.sqlcheck import (
    ONE_STATEMENT,
    SETTINGS_REFUSED,
    FunctionCatalogue,
    SqlRefused,
    check_analyst_sql,
)
from marchwarden.history.errors import ReadOnlyViolation, clickhouse_code
from marchwarden.messages import first_line
from marchwarden.settings import AnalystLimits

log = logging.getLogger(__name__)

# Limits a caller may lower, by their ClickHouse setting names.
LIMIT_NAMES = (
    "max_execution_time",
    "max_memory_usage",
    "max_rows_to_read",
    "max_result_rows",
    "max_result_bytes",
    "max_threads",
)
# ClickHouse error codes of a query stopped by one of its limits.
_LIMIT_CODES = {158, 159, 241, 396, 307}
_SETTING_REFUSED = re.compile(r"Cannot modify '(\w+)' setting in readonly mode")
_QUERY_ID = re.compile(r"^[0-9a-f]{32}$")

# connect(settings, database): a client whose session carries `settings`, with `database`
# (an organisation's analyst views) as its current one when given.
Connect = Callable[[dict[str, Any], str | None], Any]
T = TypeVar("T")
Answer = tuple[list[str], list[tuple[Any, ...]]]


class AnalystQueries(Protocol):
    """Where analyst queries run: a lane on this process's connections, or a gateway's."""

    async def run(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        requested: Mapping[str, Any] | None = None,
        query_id: str | None = None,
        database: str | None = None,
    ) -> Answer: ...

    def status(self) -> dict[str, int]: ...

    def close(self) -> None: ...


async def while_connected(
    connected: Callable[[], bool], work: Awaitable[T], poll_s: float = 0.2
) -> T:
    """Await `work`, cancelling it as soon as the caller is gone (an HTTP client hung up)."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=poll_s)
        if done:
            return task.result()
        if not connected():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise asyncio.CancelledError("the caller gave up")


class LimitError(ValueError):
    """A requested limit is malformed or above its ceiling (a caller may only lower them)."""


class LaneBusy(RuntimeError):
    """Every analyst slot is taken; the caller should retry later."""


class LimitExceeded(RuntimeError):
    """The query was stopped by one of its limits (time, rows read, memory, result size)."""


class AnalystQueryError(RuntimeError):
    """ClickHouse refused or failed the query; the message is its first line."""


def ceilings(limits: AnalystLimits) -> dict[str, int | float]:
    return {
        "max_execution_time": limits.max_execution_time_s,
        "max_memory_usage": limits.max_memory_usage_bytes,
        "max_rows_to_read": limits.max_rows_to_read,
        "max_result_rows": limits.max_result_rows,
        "max_result_bytes": limits.max_result_bytes,
        "max_threads": limits.max_threads,
    }


def effective_settings(
    limits: AnalystLimits, requested: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """ClickHouse settings of one analyst query: the ceilings, lowered where the caller asks.

    Read-only comes last: a session in readonly=1 can change no setting afterwards, and
    neither can the query's own SETTINGS clause.
    """
    values: dict[str, Any] = dict(ceilings(limits))
    for name, value in (requested or {}).items():
        if name not in values:
            raise LimitError(f"unknown limit {name!r}; limits are {', '.join(LIMIT_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise LimitError(f"limit {name} must be a positive number, got {value!r}")
        if value > values[name]:
            raise LimitError(
                f"limit {name}={value} is above this server's ceiling {values[name]}; "
                "a query may lower its limits, not raise them"
            )
        values[name] = value if name == "max_execution_time" else int(value)
    return {
        **values,
        "timeout_overflow_mode": "throw",
        "read_overflow_mode": "throw",
        "result_overflow_mode": "throw",
        "os_thread_priority": limits.nice,
        "readonly": 1,
    }


def marker(query_id: str) -> str:
    return f"mw-analyst:{query_id}"


def kill_statement(query_id: str) -> str:
    if not _QUERY_ID.match(query_id):
        raise ValueError("query ids are 32 hex digits")
    # The KILL statement's own text holds the marker too: it must not match itself.
    return (
        f"KILL QUERY WHERE query LIKE '%{marker(query_id)}%' AND query NOT LIKE 'KILL QUERY%' ASYNC"
    )


def new_query_id() -> str:
    return uuid.uuid4().hex


def classify(exc: BaseException) -> Exception:
    """The lane's error for a ClickHouse error: read-only, limit, or a plain query error."""
    text = str(exc).strip()
    first = first_line(exc, 400)
    refused = _SETTING_REFUSED.search(text)
    if refused:
        return LimitError(
            f"SETTINGS in the query cannot change {refused.group(1)}; pass it as a limit "
            "of the request instead (a query may lower its limits, not raise them)"
        )
    if "readonly mode" in text or "READONLY" in text:
        return ReadOnlyViolation("refused: history queries are read-only (ClickHouse readonly=1)")
    if clickhouse_code(text) in _LIMIT_CODES:
        return LimitExceeded(first)
    return AnalystQueryError(first)


class SqlGuard:
    """The allow-list, asked of ClickHouse through one analyst connection (catalogue cached)."""

    def __init__(self) -> None:
        self.catalogue: FunctionCatalogue | None = None
        self._lock = threading.Lock()

    def check(
        self, client: Any, sql: str, parameters: dict[str, Any] | None, database: str
    ) -> None:
        """Raise SqlRefused unless `sql` is one allowed SELECT over `database`'s views."""

        def explain(text: str) -> list[str]:
            # chDB would run every statement of a multi-statement text; ClickHouse's
            # formatter refuses them, so one statement is established before anything else.
            try:
                client.query("SELECT formatQuery({text:String})", parameters={"text": text})
            except ClickHouseError as exc:
                if "Multi-statements" in str(exc):
                    raise SqlRefused(ONE_STATEMENT) from None
                raise
            try:
                result = client.query("EXPLAIN AST " + text, parameters=parameters)
            except ClickHouseError as exc:
                # A SETTINGS clause is applied even to EXPLAIN, and refused in readonly mode.
                if _SETTING_REFUSED.search(str(exc)):
                    raise SqlRefused(SETTINGS_REFUSED) from None
                raise
            return [str(row[0]) for row in result.result_rows]

        check_analyst_sql(sql, database, explain, self._catalogue(client))

    def _catalogue(self, client: Any) -> FunctionCatalogue:
        with self._lock:
            if self.catalogue is None:
                rows = client.query(
                    "SELECT name, categories, is_aggregate, alias_to FROM system.functions"
                ).result_rows
                by_name = {str(n): (str(c), bool(a)) for n, c, a, _ in rows}
                for name, _, _, target in rows:
                    if target and target in by_name:
                        by_name[str(name)] = by_name[str(target)]
                self.catalogue = FunctionCatalogue(by_name)
            return self.catalogue


class AnalystLane:
    """Runs analyst queries on their own threads and connections (chDB or a ClickHouse server).

    `connect(settings, database)` opens a client whose session carries `settings`
    (clickhouse-connect's get_client(settings=...)); one is opened per query, so the writer's
    session never sees an analyst's settings, and closed after it. `control()` opens a client
    for KILL QUERY. A query given a `database` (an organisation's analyst views, as every
    HTTP and command-line query is) must first pass the SQL allow-list.
    """

    def __init__(self, connect: Connect, limits: AnalystLimits, control: Callable[[], Any]) -> None:
        self.connect = connect
        self.limits = limits
        self._control_factory = control
        self._control: Any = None
        self._pool = ThreadPoolExecutor(limits.max_concurrent, thread_name_prefix="analyst")
        self._killer = ThreadPoolExecutor(1, thread_name_prefix="analyst-kill")
        self._busy = 0
        self.refused_busy = 0
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self.cancelled = 0
        self.guard = SqlGuard()

    async def run(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        requested: Mapping[str, Any] | None = None,
        query_id: str | None = None,
        database: str | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one query; cancelling the awaiting task kills the query in ClickHouse."""
        settings = effective_settings(self.limits, requested)
        qid = query_id or new_query_id()
        kill_statement(qid)  # validates the id before anything runs
        with self._lock:
            if self._busy >= self.limits.max_concurrent:
                self.refused_busy += 1
                raise LaneBusy(
                    f"{self._busy} analyst queries are running (the most at once); retry later"
                )
            self._busy += 1
            self._running.add(qid)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._pool, self._run, sql, parameters, settings, qid, database
        )
        try:
            return await future
        except asyncio.CancelledError:
            self.cancelled += 1
            log.info("analyst query %s abandoned by its caller; killing it", qid)
            await loop.run_in_executor(self._killer, self._kill, qid)
            raise

    def _run(
        self,
        sql: str,
        parameters: dict[str, Any] | None,
        settings: dict[str, Any],
        qid: str,
        database: str | None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            client = self.connect(settings, database)
            try:
                if database is not None:
                    self.guard.check(client, sql, parameters, database)
                # The marker names the query in system.processes, for KILL QUERY.
                result = client.query(f"/* {marker(qid)} */ {sql}", parameters=parameters)
                return list(result.column_names), [tuple(r) for r in result.result_rows]
            finally:
                client.close()
        except ClickHouseError as exc:
            raise classify(exc) from exc
        finally:
            with self._lock:
                self._busy -= 1
                self._running.discard(qid)

    def _kill(self, qid: str) -> None:
        try:
            if self._control is None:
                self._control = self._control_factory()
            self._control.command(kill_statement(qid))
        except Exception as exc:  # the query may have finished meanwhile
            log.warning("could not kill analyst query %s: %s", qid, exc)

    def status(self) -> dict[str, int]:
        return {
            "running": self._busy,
            "cancelled": self.cancelled,
            "refused_busy": self.refused_busy,
        }

    async def cancel(self, qid: str) -> None:
        await asyncio.get_running_loop().run_in_executor(self._killer, self._kill, qid)

    def close(self) -> None:
        """Kill what still runs, then release the threads and the control connection."""
        with self._lock:
            running = list(self._running)
        for qid in running:
            self._killer.submit(self._kill, qid).result()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._control is not None:
            self._killer.submit(self._control.close).result()
        self._killer.shutdown(wait=True)


def direct_lane(
    dsn: str, limits: AnalystLimits, username: str | None = None, password: str | None = None
) -> AnalystLane:
    """A lane on ClickHouse itself: chdb://path in this process, or a server over HTTP."""
    import clickhouse_connect

    def client(settings: dict[str, Any] | None, database: str | None = None) -> Any:
        kwargs: dict[str, Any] = {"dsn": dsn}
        if settings:
            kwargs["settings"] = settings
        if database is not None:
            kwargs["database"] = database
        if not dsn.startswith("chdb:"):
            kwargs.update(connect_timeout=5, compress=False)
            if username:
                kwargs["username"] = username
            if password:
                kwargs["password"] = password
        return clickhouse_connect.get_client(**kwargs)

    return AnalystLane(client, limits, lambda: client(None))
