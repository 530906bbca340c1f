"""HTTP views for analysts: read-only SQL and canned reports through the running worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

from marchwarden.analysis.reports import report_from_request
from marchwarden.history.store import ReadOnlyViolation

if TYPE_CHECKING:
    from marchwarden.worker import WorkerContext


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def register_history_views(ctx: WorkerContext) -> None:
    app = ctx.app

    async def run(sql: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
        columns, rows = await ctx.store.aquery(sql, parameters, readonly=True)
        return {"columns": columns, "rows": [[_jsonable(v) for v in row] for row in rows]}

    @app.page("/history/sql")
    class HistorySql(View):
        async def post(self, request: Request) -> Response:
            body = await request.json()
            try:
                return self.json(await run(str(body["sql"]), body.get("parameters")))
            except ReadOnlyViolation as exc:
                return self.json({"error": str(exc)}, status=403)
            except Exception as exc:
                return self.json({"error": str(exc).strip().splitlines()[0]}, status=400)

    @app.page("/history/report")
    class HistoryReport(View):
        async def post(self, request: Request) -> Response:
            body = await request.json()
            try:
                report = report_from_request(body)
                return self.json(
                    {"title": report.title, **await run(report.sql, report.parameters)}
                )
            except Exception as exc:
                return self.json({"error": str(exc).strip().splitlines()[0]}, status=400)
