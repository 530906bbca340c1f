"""A ClickHouse connection (server over HTTP, or chDB in-process) used from one worker thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import clickhouse_connect

from marchwarden.history.errors import (
    GatewaySecrets,
    HistoryRefused,
    HistoryUnavailable,
    ReadOnlyViolation,
    redact_dsn,
)
from marchwarden.history.gateway_client import GatewayClient
from marchwarden.history.interface import ClickHouseConnectBackend, HistoryBackend
from marchwarden.messages import first_line

__all__ = [
    "GatewaySecrets",
    "HistoryRefused",
    "HistoryStore",
    "HistoryUnavailable",
    "ReadOnlyViolation",
    "redact_dsn",
]

log = logging.getLogger(__name__)


class HistoryStore:
    """Owns one clickhouse-connect client; every call runs on one dedicated thread.

    chDB is not safe to share between threads and its calls block, so the event loop hands
    work to a single-thread executor and never waits on ClickHouse itself. The client is a
    history backend (history/interface.py): clickhouse-connect's, or the embedded gateway's.
    """

    def __init__(
        self,
        dsn: str,
        username: str | None = None,
        password: str | None = None,
        *,
        gateway: GatewaySecrets | None = None,
    ) -> None:
        self.dsn = dsn
        self._username = username
        self._password = password
        self._gateway = gateway
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._client: HistoryBackend | None = None

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb:")

    @property
    def supports_access_control(self) -> bool:
        """A ClickHouse server has users and grants; chDB (directly or via the gateway) not."""
        return not (self.embedded or self.dsn.startswith("mwhistory://"))

    def _connect(self) -> HistoryBackend:
        if self._client is None and self.dsn.startswith("mwhistory://"):
            try:
                self._client = GatewayClient(self.dsn, self._gateway)
            except Exception as exc:
                raise HistoryUnavailable(
                    f"cannot reach the history gateway {self.dsn}: {exc}"
                ) from exc
        if self._client is None:
            kwargs: dict[str, Any] = {"dsn": self.dsn}
            if not self.embedded:
                if self._username:
                    kwargs["username"] = self._username
                if self._password:
                    kwargs["password"] = self._password
                kwargs["connect_timeout"] = 5
                kwargs["compress"] = False
            try:
                self._client = ClickHouseConnectBackend(clickhouse_connect.get_client(**kwargs))
            except Exception as exc:
                raise HistoryUnavailable(
                    f"cannot open ClickHouse at {redact_dsn(self.dsn)}: {first_line(exc)}"
                ) from exc
        return self._client

    def _on_thread(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return self._executor.submit(fn, *args, **kwargs).result()

    # -- synchronous API (CLI, tests, migrations); each call hops onto the store's thread.
    def command(self, sql: str, settings: dict[str, Any] | None = None) -> Any:
        return self._on_thread(self._command, sql, settings)

    def query(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        *,
        readonly: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        result: tuple[list[str], list[tuple[Any, ...]]] = self._on_thread(
            self._query, sql, parameters, readonly, settings
        )
        return result

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        dedup_token: str | None = None,
    ) -> None:
        self._on_thread(self._insert, table, rows, column_names, dedup_token)

    # -- asynchronous API (the worker): never blocks the event loop.
    async def aquery(
        self, sql: str, parameters: dict[str, Any] | None = None, *, readonly: bool = False
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._query, sql, parameters, readonly, None
        )

    async def acommand(self, sql: str) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._command, sql, None)

    async def ainsert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        dedup_token: str | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self._executor, self._insert, table, rows, column_names, dedup_token
        )

    def close(self) -> None:
        def _close() -> None:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None

        try:
            self._on_thread(_close)
        finally:
            self._executor.shutdown(wait=True)

    # -- implementations, always on the store's thread.
    def _command(self, sql: str, settings: dict[str, Any] | None) -> Any:
        return self._connect().command(sql, settings=settings or None)

    def _query(
        self,
        sql: str,
        parameters: dict[str, Any] | None,
        readonly: bool,
        settings: dict[str, Any] | None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        merged = dict(settings or {})
        if readonly:
            merged["readonly"] = 1
        try:
            result = self._connect().query(sql, parameters=parameters, settings=merged or None)
        except (HistoryRefused, ReadOnlyViolation):
            if readonly and self.embedded:
                self._unstick_readonly()
            raise
        return list(result.column_names), [tuple(r) for r in result.result_rows]

    def _unstick_readonly(self) -> None:
        """Reopen chDB if a refused read-only query left its session read-only.

        clickhouse-connect's chDB backend applies per-query settings with SET and restores
        them afterwards, but a session in readonly=1 cannot change settings any more, so a
        refused write would otherwise make every later insert fail.
        """
        try:
            stuck = self._connect().query("SELECT getSetting('readonly')").result_rows[0][0]
        except (HistoryRefused, ReadOnlyViolation):
            stuck = 1
        if stuck and self._client is not None:
            log.info("resetting the chDB session after a refused read-only query")
            self._client.close()
            self._client = None
            self._connect()

    def _insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: Sequence[str],
        dedup_token: str | None,
    ) -> None:
        if not rows:
            return
        settings: dict[str, Any] | None = None
        if dedup_token:
            # A retry whose first attempt wrote the table but not its rollups still reaches
            # the rollups (migration 012), and only once.
            settings = {
                "insert_deduplication_token": dedup_token,
                "deduplicate_blocks_in_dependent_materialized_views": 1,
            }
        self._connect().insert(table, rows, column_names=list(column_names), settings=settings)
