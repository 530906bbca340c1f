"""HTTP views for analysts: SQL by allow-list and canned reports, in the analysts' own lane.

Each query runs in the caller's organisation's analyst views (TLP applied there) and must
pass the allow-list (access/sqlcheck.py) where it executes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.web import Request, Response, View

from marchwarden.access.identity import analyst_database
from marchwarden.access.sqlcheck import SqlRefused, normalise
from marchwarden.access.web import principal_of
from marchwarden.analysis.output import plain
from marchwarden.analysis.reports import report_from_request
from marchwarden.context import WorkerContext
from marchwarden.history.analyst import (
    LaneBusy,
    LimitError,
    LimitExceeded,
    while_connected,
)
from marchwarden.history.store import ReadOnlyViolation
from marchwarden.messages import first_line

log = logging.getLogger(__name__)

# Lane errors -> HTTP status; any other refusal is a 400 with ClickHouse's first line.
STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (SqlRefused, 403),
    (ReadOnlyViolation, 403),
    (LimitError, 400),
    (LimitExceeded, 422),
    (LaneBusy, 429),
)


def _refused(exc: BaseException, status: int = 400) -> dict[str, Any]:
    reason = first_line(exc, 10_000)
    log.info("history request refused (%d): %s", status, reason[:300])
    return {"error": reason}


def register_history_views(ctx: WorkerContext) -> None:
    app = ctx.app

    async def run(
        request: Request, sql: str, parameters: dict[str, Any] | None, limits: Any
    ) -> dict[str, Any]:
        def connected() -> bool:
            transport = request.transport  # type: ignore[attr-defined]
            return transport is not None and not transport.is_closing()

        # The query runs on the analysts' own connections, in the caller's organisation's
        # views; if the caller hangs up, it is cancelled and killed in ClickHouse.
        database = analyst_database(principal_of(request).organisation)  # type: ignore[arg-type]
        columns, rows = await while_connected(
            connected, ctx.analysts.run(sql, parameters, limits or None, database=database)
        )
        return {"columns": columns, "rows": [[plain(v) for v in row] for row in rows]}

    def failure(view: View, exc: Exception) -> Response:
        status = next((s for kind, s in STATUS_OF if isinstance(exc, kind)), 400)
        return view.json(_refused(exc, status), status=status)

    # Refusals answer 400/403/422/429 with the reason (and are logged); the lane raises
    # nothing else for a query ClickHouse refused.
    @app.page("/history/sql")
    class HistorySql(View):
        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
                sql = normalise(str(body["sql"]))
            except (ValueError, KeyError, TypeError) as exc:
                return self.json(
                    _refused(ValueError(f"expected {{'sql': ...}}: {exc}")), status=400
                )
            try:
                answer = await run(request, sql, body.get("parameters"), body.get("limits"))
            except asyncio.CancelledError:
                return self.json({"error": "cancelled: the caller gave up"}, status=408)
            except Exception as exc:
                return failure(self, exc)
            return self.json(answer)

    @app.page("/history/report")
    class HistoryReport(View):
        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
                report = report_from_request(body)
            except (ValueError, KeyError, TypeError) as exc:
                return self.json(_refused(exc), status=400)
            try:
                answer = await run(request, report.sql, report.parameters, body.get("limits"))
            except asyncio.CancelledError:
                return self.json({"error": "cancelled: the caller gave up"}, status=408)
            except Exception as exc:
                return failure(self, exc)
            return self.json({"title": report.title, **answer})
