"""HTTP views for analysts: read-only SQL and canned reports through the running worker."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.exceptions import ClickHouseError
from faust.web import Request, Response, View

from marchwarden.analysis.reports import report_from_request
from marchwarden.history.store import HistoryUnavailable, ReadOnlyViolation

if TYPE_CHECKING:
    from marchwarden.worker import WorkerContext

log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def _refused(exc: BaseException, status: int = 400) -> dict[str, Any]:
    reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    log.info("history request refused (%d): %s", status, reason[:300])
    return {"error": reason}


def register_history_views(ctx: WorkerContext) -> None:
    app = ctx.app

    async def run(sql: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
        columns, rows = await ctx.store.aquery(sql, parameters, readonly=True)
        return {"columns": columns, "rows": [[_jsonable(v) for v in row] for row in rows]}

    # Expected refusals answer 400/403 with the reason (and are logged); anything else is a
    # bug, which Faust's web server logs with its traceback and answers with 500.
    @app.page("/history/sql")
    class HistorySql(View):
        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
                sql = str(body["sql"])
            except (ValueError, KeyError, TypeError) as exc:
                return self.json(
                    _refused(ValueError(f"expected {{'sql': ...}}: {exc}")), status=400
                )
            try:
                return self.json(await run(sql, body.get("parameters")))
            except ReadOnlyViolation as exc:
                return self.json(_refused(exc, 403), status=403)
            except (ClickHouseError, HistoryUnavailable) as exc:
                return self.json(_refused(exc), status=400)

    @app.page("/history/report")
    class HistoryReport(View):
        async def post(self, request: Request) -> Response:
            try:
                body = await request.json()
                report = report_from_request(body)
            except (ValueError, KeyError, TypeError) as exc:
                return self.json(_refused(exc), status=400)
            try:
                return self.json(
                    {"title": report.title, **await run(report.sql, report.parameters)}
                )
            except (ClickHouseError, HistoryUnavailable) as exc:
                return self.json(_refused(exc), status=400)
