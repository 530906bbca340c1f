"""A ClickHouse HTTP interface in front of chDB, with a user and password, for the tests.

This machine cannot run a current ClickHouse server: Debian bookworm ships 18.16 (too old for
clickhouse-connect, which reads ``system.settings.readonly`` on connect, and for the
migrations' DateTime64 and insert deduplication tokens), no registry it reaches carries a
server binary, and chDB's engine (ClickHouse 26.x inside the wheel) refuses to start its own
listeners in-process. So this process puts the part of ClickHouse's HTTP interface that
clickhouse-connect uses in front of chDB:

* authentication: HTTP basic auth, ``X-ClickHouse-User``/``X-ClickHouse-Key`` headers or
  ``user``/``password`` URL parameters, checked against one user (``AUTHENTICATION_FAILED``,
  code 516, otherwise; no anonymous ``default`` user);
* ``GET /ping``; queries from the URL ``query`` parameter and/or the body (or a multipart
  form), ``param_*`` bind parameters, every other URL parameter applied as a per-request
  setting (``readonly``, ``insert_deduplication_token``, ...), the trailing ``FORMAT`` or
  ``default_format`` (TabSeparated otherwise) as output format, ``database``;
* ``INSERT ... FORMAT Native`` with the data in the (chunked) body, written by chDB's own
  Native reader;
* errors as ClickHouse sends them: ``Code: N. DB::Exception: ...`` with the
  ``X-ClickHouse-Exception-Code`` header.

Every request runs on a fresh chDB connection to the same engine, so settings last one
request, as on a server. Not reproduced: sessions (``session_id`` is ignored), compression,
progress headers, TLS, users.xml profiles and quotas, and ClickHouse's own HTTP handler.
The SQL, the storage engines, deduplication and the Native encoding are ClickHouse's own.

Run: ``python -m tests.support.clickhouse_http --path DIR --port N`` with the credentials in
``CLICKHOUSE_TEST_USER`` and ``CLICKHOUSE_TEST_PASSWORD``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import logging
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import chdb
from aiohttp import web

log = logging.getLogger("clickhouse_http")
VERSION = "chDB-backed test server"
# Parameters of the HTTP interface itself; every other URL parameter is a setting.
INTERFACE_PARAMS = {
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "quota_key",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "client_protocol_version",
    "compress",
    "decompress",
    "enable_http_compression",
    "http_zlib_compression_level",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "wait_end_of_query",
    "buffer_size",
    "cancel_http_readonly_queries_on_client_close",
}
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
INSERT_WITH_DATA = re.compile(
    r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)[ \t]*\r?\n?", re.IGNORECASE | re.DOTALL
)
ERROR_CODE = re.compile(r"Code: (\d+)\.")
HTTP_STATUS = {516: 403, 164: 403, 497: 403, 60: 404, 81: 404, 62: 400, 47: 404}


class ClickHouseFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """One chDB engine; each request gets its own connection on one worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chdb")
        # Held for the server's life: closing the last connection would shut the engine down.
        self.keeper = self.executor.submit(chdb.connect, self.path).result()

    def run(
        self,
        sql: str,
        fmt: str,
        params: dict[str, str],
        settings: dict[str, str],
        database: str | None,
        data: bytes | None,
    ) -> bytes:
        conn = chdb.connect(self.path)
        try:
            if database:
                conn.query(f"USE {quote_identifier(database)}", "TabSeparated")
            # Settings first, readonly last: once readonly, a session cannot SET any more.
            for name, value in sorted(settings.items(), key=lambda kv: kv[0] == "readonly"):
                conn.query(f"SET {name} = {quote(value)}", "TabSeparated")
            if data is None:
                return bytes(conn.query(sql, fmt, params=params).bytes())
            with tempfile.NamedTemporaryFile(suffix=".data") as tmp:
                tmp.write(data)
                tmp.flush()
                match = INSERT_WITH_DATA.match(sql)
                assert match is not None
                statement = (
                    f"{match.group(1)} FROM INFILE {quote(tmp.name)} FORMAT {match.group(2)}"
                )
                conn.query(statement, "TabSeparated", params=params)
            return b""
        except Exception as exc:  # chDB raises its own error type carrying ClickHouse's text
            text = str(exc)
            start = text.find("Code: ")
            text = text[start:] if start >= 0 else text
            found = ERROR_CODE.search(text)
            raise ClickHouseFailure(int(found.group(1)) if found else 1000, text.strip()) from None
        finally:
            conn.close()


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "\\`") + "`"


def failure(code: int, message: str) -> web.Response:
    body = message if message.startswith("Code: ") else f"Code: {code}. DB::Exception: {message}"
    return web.Response(
        status=HTTP_STATUS.get(code, 500),
        text=f"{body} (version {VERSION})\n",
        headers={"X-ClickHouse-Exception-Code": str(code)},
    )


def credentials(request: web.Request) -> tuple[str, str]:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return user, password
    if "X-ClickHouse-User" in request.headers:
        return request.headers["X-ClickHouse-User"], request.headers.get("X-ClickHouse-Key", "")
    return request.query.get("user", "default"), request.query.get("password", "")


def create_app(engine: Engine, user: str, password: str) -> web.Application:
    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="Ok.\n")

    async def handle(request: web.Request) -> web.Response:
        given_user, given_password = credentials(request)
        if not (
            hmac.compare_digest(given_user, user) and hmac.compare_digest(given_password, password)
        ):
            log.warning("authentication failed for user %r", given_user)
            return failure(
                516,
                f"{given_user}: Authentication failed: password is incorrect, or there is no "
                "user with such name. (AUTHENTICATION_FAILED)",
            )
        if request.headers.get("Content-Encoding", "identity") != "identity":
            return failure(1000, "compressed requests are not supported by this test server")
        fields = dict(request.query)
        body = b""
        if request.content_type == "multipart/form-data":
            form = await request.post()
            fields.update({k: str(v) for k, v in form.items()})
        else:
            body = await request.read()
        query = fields.pop("query", "")
        data: bytes | None = None
        if query and body:
            match = INSERT_WITH_DATA.match(query)
            if match:
                data = body
            else:
                query = query + "\n" + body.decode()
        elif body:
            match = INSERT_WITH_DATA.match(body.decode("latin-1"))
            if match:
                query, data = match.group(0), body[len(match.group(0).encode("latin-1")) :]
            else:
                query = body.decode()
        if not query.strip():
            return failure(62, "Empty query. (SYNTAX_ERROR)")
        params = {k[6:]: v for k, v in fields.items() if k.startswith("param_")}
        settings = {
            k: v
            for k, v in fields.items()
            if k not in INTERFACE_PARAMS and not k.startswith("param_")
        }
        bad = [k for k in settings if not SETTING_NAME.match(k)]
        if bad:
            return failure(115, f"Unknown setting {bad[0]}. (UNKNOWN_SETTING)")
        trailing = TRAILING_FORMAT.search(query) if data is None else None
        fmt = trailing.group(1) if trailing else fields.get("default_format", "TabSeparated")
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                engine.executor,
                engine.run,
                query,
                fmt,
                params,
                settings,
                fields.get("database"),
                data,
            )
        except ClickHouseFailure as exc:
            log.info("query failed (%d): %s", exc.code, str(exc)[:300])
            return failure(exc.code, str(exc))
        return web.Response(
            body=result,
            headers={
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Server-Display-Name": "chdb-test",
                "X-ClickHouse-Summary": '{"read_rows":"0","written_rows":"0"}',
            },
        )

    app = web.Application(client_max_size=512 * 1024 * 1024)
    app.add_routes([web.get("/ping", ping), web.get("/", handle), web.post("/", handle)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    user = os.environ["CLICKHOUSE_TEST_USER"]
    password = os.environ["CLICKHOUSE_TEST_PASSWORD"]
    engine = Engine(args.path)
    log.info("ClickHouse HTTP interface for %s on 127.0.0.1:%d", args.path, args.port)
    web.run_app(create_app(engine, user, password), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
