"""The one interface of a history backend: what HistoryStore asks of a ClickHouse client.

Two backends implement it: clickhouse-connect's client (a ClickHouse server over HTTP, or chDB
in-process), wrapped so that its errors become the history's own (history/errors.py), and the
embedded history gateway's client (history/gateway_client.py), whose errors cross HTTP typed.
One contract test suite (tests/history/test_history_contract.py) runs against each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from marchwarden.history.errors import translate


class QueryAnswer(Protocol):
    """A query's result: its column names and rows."""

    @property
    def column_names(self) -> Sequence[str]: ...

    @property
    def result_rows(self) -> Sequence[Sequence[Any]]: ...


class HistoryBackend(Protocol):
    """Runs statements on one ClickHouse; raises HistoryUnavailable, HistoryRefused or
    ReadOnlyViolation, never a transport's own errors."""

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Any = None
    ) -> QueryAnswer: ...

    def command(self, sql: str, settings: Any = None) -> Any: ...

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: list[str],
        settings: Any = None,
    ) -> None: ...

    def close(self) -> None: ...


class ClickHouseConnectBackend:
    """clickhouse-connect's client (HTTP server or chDB) as a history backend."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Any = None
    ) -> QueryAnswer:
        try:
            answer: QueryAnswer = self.client.query(sql, parameters=parameters, settings=settings)
        except Exception as exc:
            raise translate(exc) from exc
        return answer

    def command(self, sql: str, settings: Any = None) -> Any:
        try:
            return self.client.command(sql, settings=settings)
        except Exception as exc:
            raise translate(exc) from exc

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: list[str],
        settings: Any = None,
    ) -> None:
        try:
            self.client.insert(table, rows, column_names=column_names, settings=settings)
        except Exception as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        self.client.close()
