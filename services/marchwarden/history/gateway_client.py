"""The client side of the embedded history gateway (`mwhistory://`): the store's connection
and the analysts' remote lane, speaking to `history serve` over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from marchwarden.access.sqlcheck import (
    SqlRefused,
)
from marchwarden.history.analyst import (
    AnalystQueryError,
    Answer,
    LaneBusy,
    LimitError,
    LimitExceeded,
    effective_settings,
    new_query_id,
)
from marchwarden.history.errors import (
    GatewaySecrets,
    HistoryUnavailable,
    ReadOnlyViolation,
    error_from_answer,
)
from marchwarden.history.interface import QueryAnswer
from marchwarden.settings import AnalystLimits, Settings

log = logging.getLogger(__name__)
SCHEME = "mwhistory://"


def secrets_from(settings: Settings) -> GatewaySecrets | None:
    """The lane secrets from the settings (environment), or None unless both are set."""
    read, write = settings.history_read_secret, settings.history_write_secret
    if read is None or write is None:
        return None
    return GatewaySecrets(read.get_secret_value(), write.get_secret_value())


def needs_secrets(secrets: GatewaySecrets | None) -> GatewaySecrets:
    if secrets is None:
        raise HistoryUnavailable(
            "the history gateway needs its secrets: set MARCHWARDEN_HISTORY_READ_SECRET "
            "and MARCHWARDEN_HISTORY_WRITE_SECRET"
        )
    return secrets


def _post(base: str, path: str, body: dict[str, Any], secret: str, timeout: float) -> Any:
    """One call to the gateway; HTTP errors raise urllib's HTTPError for the caller to map."""
    request = urllib.request.Request(
        base + path,
        data=orjson.dumps(body),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return orjson.loads(response.read())


def encode_value(value: Any) -> Any:
    """A JSON-safe form of one ClickHouse value; decode_value restores the Python type."""
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        # Date columns (toStartOfMonth, events_daily.day): a plain date is not JSON.
        return {"$d": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    # IPv4/IPv6 addresses and other ClickHouse types arrive as their text form.
    return str(value)


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        if "$d" in value:
            return date.fromisoformat(value["$d"])
        if "$b" in value:
            return base64.b64decode(value["$b"])
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def encode_rows(rows: Sequence[Sequence[Any]]) -> tuple[list[str | None], list[list[Any]]]:
    """Column-typed encoding for inserts: only datetime, bytes and UUID columns are converted.

    Per-value tagging would cost more than the insert itself at 10k rows/s; the kinds are
    taken from the first row, as every row of one insert has the same column types.
    """
    if not rows:
        return [], []
    kinds: list[str | None] = []
    for value in rows[0]:
        if isinstance(value, datetime):
            kinds.append("dt")
        elif isinstance(value, (bytes, bytearray)):
            kinds.append("b")
        elif isinstance(value, uuid.UUID):
            kinds.append("uuid")
        else:
            kinds.append(None)
    special = [(i, k) for i, k in enumerate(kinds) if k]
    out = []
    for row in rows:
        values = list(row)
        for i, kind in special:
            v = values[i]
            if kind == "dt":
                values[i] = v.timestamp()
            elif kind == "b":
                values[i] = base64.b64encode(v).decode()
            else:
                values[i] = str(v)
        out.append(values)
    return kinds, out


def decode_rows(kinds: list[str | None], rows: list[list[Any]]) -> list[list[Any]]:
    special = [(i, k) for i, k in enumerate(kinds) if k in ("dt", "b")]
    if not special:
        return rows
    utc = UTC
    for values in rows:
        for i, kind in special:
            v = values[i]
            values[i] = datetime.fromtimestamp(v, utc) if kind == "dt" else base64.b64decode(v)
    return rows


class _Result:
    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.column_names = columns
        self.result_rows = rows


class GatewayClient:
    """A history backend (history/interface.py) over the embedded gateway; the gateway's
    answers carry the error's kind and ClickHouse code, raised here as the same types."""

    def __init__(self, dsn: str, secrets: GatewaySecrets | None, timeout: float = 60.0) -> None:
        self.base = "http://" + dsn.removeprefix(SCHEME).rstrip("/")
        self.secrets = needs_secrets(secrets)
        self.timeout = timeout
        self._call("/ping", {}, self.secrets.read)

    def _call(self, path: str, body: dict[str, Any], secret: str) -> Any:
        try:
            return _post(self.base, path, body, secret, self.timeout)
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                answer = json.loads(payload)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                # Not the gateway's own answer: a fault of the gateway on this request (500,
                # what it was given may be at fault), or of what stands before it.
                down = exc.code in (502, 503, 504)
                answer = {
                    "error": f"{exc}: {payload[:200]!r}",
                    "kind": "unavailable" if down else "refused",
                }
            raise error_from_answer(answer, str(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise HistoryUnavailable(f"history gateway {self.base} unreachable: {exc}") from None

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Any = None
    ) -> QueryAnswer:
        body = {"sql": sql, "parameters": encode_value_map(parameters), "settings": settings}
        answer = self._call("/query", body, self.secrets.read)
        rows = [tuple(decode_value(v) for v in row) for row in answer["rows"]]
        return _Result(answer["columns"], rows)

    def command(self, sql: str, settings: Any = None) -> Any:
        body = {"sql": sql, "settings": settings}
        return self._call("/command", body, self.secrets.write)["result"]

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        column_names: list[str],
        settings: Any = None,
    ) -> None:
        kinds, encoded = encode_rows(rows)
        body = {
            "table": table,
            "columns": column_names,
            "kinds": kinds,
            "rows": encoded,
            "settings": settings,
        }
        self._call("/insert", body, self.secrets.write)

    def close(self) -> None:
        return None


def encode_value_map(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: encode_value(v) for k, v in values.items()}


# Analyst lane errors on the wire: (kind, HTTP status); the gateway's client raises them again.
LANE_ERRORS: tuple[tuple[type[Exception], str, int], ...] = (
    (LimitError, "limit", 400),
    (LimitExceeded, "limit_exceeded", 422),
    (LaneBusy, "busy", 429),
    (ReadOnlyViolation, "read_only", 403),
    (AnalystQueryError, "query", 400),
    (SqlRefused, "refused", 403),
)


class RemoteAnalystLane:
    """The analysts' lane of a history gateway: the ceilings are the gateway's, server-side.

    Calls run on threads of their own (never the writer's); a call abandoned by its caller
    is cancelled at the gateway, which kills the query.
    """

    def __init__(
        self,
        dsn: str,
        limits: AnalystLimits,
        secrets: GatewaySecrets | None,
        timeout: float = 600.0,
    ) -> None:
        self.base = "http://" + dsn.removeprefix(SCHEME).rstrip("/")
        self.secret = needs_secrets(secrets).read
        self.limits = limits
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(limits.max_concurrent + 1, thread_name_prefix="analyst")
        self._killer = ThreadPoolExecutor(1, thread_name_prefix="analyst-kill")
        self.running = 0
        self.cancelled = 0
        self.refused_busy = 0

    async def run(
        self,
        sql: str,
        parameters: dict[str, Any] | None = None,
        requested: Mapping[str, Any] | None = None,
        query_id: str | None = None,
        database: str | None = None,
    ) -> Answer:
        effective_settings(self.limits, requested)  # a clear refusal before any call
        qid = query_id or new_query_id()
        body = {
            "sql": sql,
            "parameters": encode_value_map(parameters),
            "limits": dict(requested or {}),
            "query_id": qid,
            "database": database,
        }
        loop = asyncio.get_running_loop()
        self.running += 1
        try:
            answer = await loop.run_in_executor(self._pool, self._call, "/analyst", body)
        except asyncio.CancelledError:
            self.cancelled += 1
            await loop.run_in_executor(
                self._killer, self._call, "/analyst/cancel", {"query_id": qid}
            )
            raise
        except LaneBusy:
            self.refused_busy += 1
            raise
        finally:
            self.running -= 1
        rows = [tuple(decode_value(v) for v in row) for row in answer["rows"]]
        return list(answer["columns"]), rows

    def _call(self, path: str, body: dict[str, Any]) -> Any:
        try:
            return _post(self.base, path, body, self.secret, self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read())
            except ValueError:
                answer = {"error": str(exc)}
            kinds = {name: kind for kind, name, _ in LANE_ERRORS}
            raise kinds.get(answer.get("kind"), AnalystQueryError)(answer["error"]) from None
        except (urllib.error.URLError, OSError) as exc:
            raise AnalystQueryError(f"history gateway {self.base} unreachable: {exc}") from None

    def status(self) -> dict[str, int]:
        return {
            "running": self.running,
            "cancelled": self.cancelled,
            "refused_busy": self.refused_busy,
        }

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._killer.shutdown(wait=False, cancel_futures=True)
