"""A history gateway: one process owns chDB and serves it to several workers over HTTP.

chDB allows one process per data directory. Several workers on one machine (the 3-node
Kafka test, or a multi-worker embedded deployment) share one history by pointing their
ClickHouse DSN at `mwhistory://host:port`; production uses a ClickHouse server instead.

It is not an open door: it listens on loopback only, and every call carries one of two
secrets, given to it and to its workers through the environment (never argv, which `ps`
shows). The read secret opens the read lane: `/query` (always read-only) and `/analyst`
(the analysts' lane: their organisation's views, the SQL allow-list, the ceilings); the
write secret opens `/command` and `/insert`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
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
from aiohttp import web
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError

from marchwarden.access.identity import ANALYST_DATABASE
from marchwarden.access.sqlcheck import (
    ONE_STATEMENT,
    AnyFunction,
    SqlRefused,
    check_tree,
    parse_explain_ast,
)
from marchwarden.history.analyst import (
    AnalystLane,
    AnalystQueryError,
    Answer,
    LaneBusy,
    LimitError,
    LimitExceeded,
    effective_settings,
    new_query_id,
    while_connected,
)
from marchwarden.history.store import (
    GatewaySecrets,
    HistoryStore,
    HistoryUnavailable,
    ReadOnlyViolation,
)
from marchwarden.settings import AnalystLimits, Settings

log = logging.getLogger(__name__)
SCHEME = "mwhistory://"


class GatewayNotSecured(ValueError):
    """The gateway was asked to run without its secrets or off loopback."""


def check_loopback(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise GatewayNotSecured(f"the history gateway listens on loopback only, not {host!r}")


def secrets_from(settings: Settings) -> GatewaySecrets | None:
    """The lane secrets from the settings (environment), or None unless both are set."""
    read, write = settings.history_read_secret, settings.history_write_secret
    if read is None or write is None:
        return None
    return GatewaySecrets(read.get_secret_value(), write.get_secret_value())


def needs_secrets(secrets: GatewaySecrets | None) -> GatewaySecrets:
    if secrets is None:
        raise DatabaseError(
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
    """The subset of clickhouse-connect's client that HistoryStore uses, over the gateway."""

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
                detail = json.loads(payload).get("error", str(exc))
            except ValueError:
                detail = f"{exc}: {payload[:200]!r}"
            raise DatabaseError(detail) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DatabaseError(f"history gateway {self.base} unreachable: {exc}") from None

    def query(
        self, sql: str, parameters: dict[str, Any] | None = None, settings: Any = None
    ) -> _Result:
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


async def check_read(store: HistoryStore, sql: str, parameters: dict[str, Any] | None) -> None:
    """The read lane's shape check: one SELECT over the tables, no files, no table functions.

    readonly=1 alone still lets ClickHouse write INTO OUTFILE and run KILL QUERY, and chDB
    runs every statement of a multi-statement text, so the parse tree is judged first.
    """
    try:
        await store.aquery("SELECT formatQuery({text:String})", {"text": sql}, readonly=True)
    except ClickHouseError as exc:
        if "Multi-statements" in str(exc):
            raise SqlRefused(ONE_STATEMENT) from None
        raise
    # Without readonly: the driver would add it as a SETTINGS clause to the explained query;
    # EXPLAIN AST only parses, it runs nothing.
    _, rows = await store.aquery("EXPLAIN AST " + sql, parameters)
    check_tree(parse_explain_ast([str(r[0]) for r in rows]), "default", AnyFunction())


_LANES = {
    "/ping": "any",
    "/query": "read",
    "/analyst": "read",
    "/analyst/cancel": "read",
    "/command": "write",
    "/insert": "write",
}


def authorised(path: str, authorization: str, secrets: GatewaySecrets) -> bool:
    """Whether the presented secret opens the lane of `path` (compared in constant time)."""
    presented = authorization.removeprefix("Bearer ").encode()
    read = hmac.compare_digest(presented, secrets.read.encode())
    write = hmac.compare_digest(presented, secrets.write.encode())
    lane = _LANES.get(path)
    return (
        (lane == "read" and read)
        or (lane == "write" and write)
        or (lane == "any" and (read or write))
    )


def create_gateway_app(
    store: HistoryStore, secrets: GatewaySecrets, lane: AnalystLane | None = None
) -> web.Application:
    """aiohttp app exposing one chDB store; every call runs on the store's thread.

    Every call must carry the secret of its lane (401 otherwise); /query is read-only.

    Analyst queries (/analyst) run in `lane`: connections and threads of their own, under
    the ceilings, so they never wait on or hold up the writer's thread. ClickHouse's
    refusals (bad SQL, a missing table) go back to the caller as 400 with the reason, and
    into this process's log; anything else is a bug: aiohttp logs the traceback and answers
    500, which the caller raises as a DatabaseError.
    """

    def refused(what: str, exc: Exception) -> web.Response:
        log.warning("history %s refused: %s", what, str(exc).strip().splitlines()[0][:300])
        return web.json_response({"error": str(exc)}, status=400)

    @web.middleware
    async def check_secret(request: web.Request, handler: Any) -> web.StreamResponse:
        if not authorised(request.path, request.headers.get("Authorization", ""), secrets):
            return web.json_response({"error": "not authorised for this lane"}, status=401)
        answer: web.StreamResponse = await handler(request)
        return answer

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def query(request: web.Request) -> web.Response:
        body = await request.json()
        params = body.get("parameters")
        params = {k: decode_value(v) for k, v in params.items()} if params else None
        try:
            # The read lane writes nothing, whatever the caller asks for.
            await check_read(store, body["sql"], params)
            columns, rows = await store.aquery(body["sql"], params, readonly=True)
        except SqlRefused as exc:
            return web.json_response({"error": str(exc), "refused": True}, status=403)
        except ReadOnlyViolation as exc:
            return web.json_response(
                {"error": f"Cannot execute query in readonly mode: {exc}"}, status=403
            )
        except (ClickHouseError, HistoryUnavailable) as exc:
            return refused("query", exc)
        return web.json_response(
            {"columns": columns, "rows": [encode_value(list(r)) for r in rows]}
        )

    async def command(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            result = await store.acommand(body["sql"])
        except (ClickHouseError, HistoryUnavailable) as exc:
            return refused("command", exc)
        plain = result if isinstance(result, (str, int, float, type(None))) else str(result)
        return web.json_response({"result": plain})

    async def insert(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        rows = decode_rows(body["kinds"], body["rows"])
        token = (body.get("settings") or {}).get("insert_deduplication_token")
        try:
            await store.ainsert(body["table"], rows, body["columns"], dedup_token=token)
        except (ClickHouseError, HistoryUnavailable) as exc:
            return refused(f"insert into {body['table']}", exc)
        return web.json_response({"inserted": len(rows)})

    async def analyst(request: web.Request) -> web.Response:
        if lane is None:
            return web.json_response({"error": "no analyst lane", "kind": "query"}, status=404)
        body = orjson.loads(await request.read())
        database = body.get("database")
        if database is not None and not ANALYST_DATABASE.match(str(database)):
            return web.json_response(
                {"error": "not an analyst database", "kind": "query"}, status=400
            )
        params = body.get("parameters")
        params = {k: decode_value(v) for k, v in params.items()} if params else None
        work = lane.run(
            body["sql"], params, body.get("limits"), body.get("query_id"), database=database
        )

        def connected() -> bool:
            return request.transport is not None and not request.transport.is_closing()

        try:
            columns, rows = await while_connected(connected, work)
        except asyncio.CancelledError:
            return web.json_response({"error": "cancelled", "kind": "query"}, status=408)
        except Exception as exc:
            for kind, name, status in LANE_ERRORS:
                if isinstance(exc, kind):
                    return web.json_response({"error": str(exc), "kind": name}, status=status)
            return web.json_response({"error": str(exc), "kind": "query"}, status=400)
        return web.json_response(
            {"columns": columns, "rows": [encode_value(list(r)) for r in rows]}
        )

    async def analyst_cancel(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        if lane is not None:
            await lane.cancel(str(body["query_id"]))
        return web.json_response({"cancelled": True})

    app = web.Application(client_max_size=256 * 1024 * 1024, middlewares=[check_secret])
    app.add_routes(
        [
            web.post("/analyst", analyst),
            web.post("/analyst/cancel", analyst_cancel),
            web.post("/ping", ping),
            web.post("/query", query),
            web.post("/command", command),
            web.post("/insert", insert),
        ]
    )
    return app
