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
import hmac
import ipaddress
import logging
from typing import Any

import orjson
from aiohttp import web

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
    while_connected,
)
from marchwarden.history.errors import (
    GatewaySecrets,
    HistoryRefused,
    HistoryUnavailable,
    ReadOnlyViolation,
    error_answer,
)
from marchwarden.history.gateway_client import (
    LANE_ERRORS,
    decode_rows,
    decode_value,
    encode_value,
)
from marchwarden.history.store import HistoryStore
from marchwarden.messages import first_line

# What a store call may raise that the caller should hear about, typed (errors.py).
HISTORY_ERRORS = (HistoryRefused, HistoryUnavailable, ReadOnlyViolation)
log = logging.getLogger(__name__)


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


async def check_read(store: HistoryStore, sql: str, parameters: dict[str, Any] | None) -> None:
    """The read lane's shape check: one SELECT over the tables, no files, no table functions.

    readonly=1 alone still lets ClickHouse write INTO OUTFILE and run KILL QUERY, and chDB
    runs every statement of a multi-statement text, so the parse tree is judged first.
    """
    try:
        await store.aquery("SELECT formatQuery({text:String})", {"text": sql}, readonly=True)
    except HistoryRefused as exc:
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
    500, which the caller raises as HistoryRefused.
    """

    def refused(what: str, exc: Exception) -> web.Response:
        log.warning("history %s refused: %s", what, first_line(exc))
        answer, status = error_answer(exc)
        return web.json_response(answer, status=status)

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
            # The read lane's shape check: a read that would write files or kill queries.
            return refused("query", ReadOnlyViolation(str(exc)))
        except HISTORY_ERRORS as exc:
            return refused("query", exc)
        return web.json_response(
            {"columns": columns, "rows": [encode_value(list(r)) for r in rows]}
        )

    async def command(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            result = await store.acommand(body["sql"])
        except HISTORY_ERRORS as exc:
            return refused("command", exc)
        plain = result if isinstance(result, (str, int, float, type(None))) else str(result)
        return web.json_response({"result": plain})

    async def insert(request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        rows = decode_rows(body["kinds"], body["rows"])
        token = (body.get("settings") or {}).get("insert_deduplication_token")
        try:
            await store.ainsert(body["table"], rows, body["columns"], dedup_token=token)
        except HISTORY_ERRORS as exc:
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
