"""HTTP views of the live picture: health, the picture and alerts (TLP-filtered), admin, tokens.

The access middleware (access/web.py) has already checked the caller and their role; these
views apply what depends on the data: the reader's organisation for TLP. Commands are the
watch floor's (screen/commands.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.web import Request, Response, View

from marchwarden.access.tlp import redact_alert
from marchwarden.access.tokens import TokenError, create_token, revoke_tokens
from marchwarden.access.web import principal_of
from marchwarden.analysis.verify import verify_against_history
from marchwarden.context import WorkerContext
from marchwarden.picture.redaction import redact_picture

EQUIPMENT_TYPES = ("dragons_teeth", "hedgehogs", "spanish_riders", "roadblocks")


def error(view: View, status: int, message: str, **extra: Any) -> Response:
    return view.json({"error": message, **extra}, status=status)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); ValueError if it is not one."""
    if not request.body_exists:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


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
            principal = principal_of(request)  # type: ignore[arg-type]
            wanted = request.query.get("section")
            sections = [wanted] if wanted else None
            if wanted and wanted not in ctx.engine.owned:
                return self.json({"error": f"section {wanted!r} is not owned here"}, status=404)
            return self.json(redact_picture(ctx.engine.picture(sections), principal.organisation))

    @app.page("/alerts")
    class Alerts(View):
        async def get(self, request: Request) -> Response:
            principal = principal_of(request)  # type: ignore[arg-type]
            alerts = sorted(ctx.engine.open_alerts.values(), key=lambda a: a.alert_id)
            shown = [redact_alert(a, principal.organisation) for a in alerts]
            return self.json({"open": [a.model_dump(mode="json") for a in shown]})

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
            result: dict[str, Any] = await ctx.quiesced(verify_against_history)
            return self.json(result, status=200)

    @app.page("/admin/tokens")
    class Tokens(View):
        async def get(self, request: Request) -> Response:
            records = ctx.access.tokens.records()
            return self.json({"tokens": [r.public() for r in records]})

        async def post(self, request: Request) -> Response:
            """A new token, returned once in the answer; only its hash is kept."""
            try:
                body = await json_body(request)
                token, record = await asyncio.to_thread(
                    create_token,
                    ctx.settings.tokens_path,
                    str(body.get("role", "")),
                    str(body.get("organisation", "")),
                    str(body.get("name", "")),
                )
            except (TokenError, ValueError) as exc:
                return error(self, 400, str(exc))
            ctx.access.tokens.reload(force=True)
            return self.json({"token": token, **record.public()}, status=201)

    @app.page("/admin/tokens/{token_id}")
    class Token(View):
        async def delete(self, request: Request, token_id: str) -> Response:
            removed = await asyncio.to_thread(
                revoke_tokens, ctx.settings.tokens_path, token_id=token_id
            )
            ctx.access.tokens.reload(force=True)
            if not removed:
                return error(self, 404, f"no token {token_id} in {ctx.settings.tokens_path.name}")
            return self.json({"revoked": token_id})
