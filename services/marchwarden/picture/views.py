"""HTTP views of the live picture: health, the situational picture, open alerts, admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faust.web import Request, Response, View

EQUIPMENT_TYPES = ("dragons_teeth", "hedgehogs", "spanish_riders", "roadblocks")

if TYPE_CHECKING:
    from marchwarden.worker import WorkerContext


def register_picture_views(ctx: WorkerContext) -> None:
    app = ctx.app

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            health = ctx.health()
            body = {"status": health.status, "reasons": health.reasons, **ctx.status()}
            return self.json(body, status=health.http_status)

    @app.page("/picture")
    class Picture(View):
        async def get(self, request: Request) -> Response:
            wanted = request.query.get("section")
            sections = [wanted] if wanted else None
            if wanted and wanted not in ctx.engine.owned:
                return self.json({"error": f"section {wanted!r} is not owned here"}, status=404)
            return self.json(ctx.engine.picture(sections))

    @app.page("/alerts")
    class Alerts(View):
        async def get(self, request: Request) -> Response:
            alerts = sorted(ctx.engine.open_alerts.values(), key=lambda a: a.alert_id)
            return self.json({"open": [a.model_dump(mode="json") for a in alerts]})

    @app.page("/parks")
    class Parks(View):
        async def get(self, request: Request) -> Response:
            ledger = ctx.engine.ledger
            parks = [
                {
                    "park_id": park.id,
                    "name": park.name,
                    "country": park.country,
                    "stock": park.stock.model_dump(),
                    "available": dict(zip(EQUIPMENT_TYPES, ledger.available(park.id), strict=True)),
                }
                for park in ctx.engine.reference.parks
            ]
            return self.json({"parks": parks})

    @app.page("/admin/flush")
    class Flush(View):
        async def post(self, request: Request) -> Response:
            await ctx.worker.checkpoint()
            return self.json({"flushed": True, "rows_written": ctx.worker.sink.rows_written})

    @app.page("/admin/replay")
    class Replay(View):
        async def post(self, request: Request) -> Response:
            result: dict[str, Any] = await ctx.replay()
            return self.json(result)

    @app.page("/admin/verify")
    class Verify(View):
        async def post(self, request: Request) -> Response:
            result: dict[str, Any] = await ctx.verify()
            return self.json(result, status=200)
