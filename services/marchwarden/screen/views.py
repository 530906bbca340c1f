"""Wires the watch floor into a worker's web server: page, assets, stream, commands, intake."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from faust.web.base import BlueprintManager

from marchwarden.context import WorkerContext
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.screen.board import AlertBoard
from marchwarden.screen.commands import CommandDesk
from marchwarden.screen.geography import reference_geojson
from marchwarden.screen.intake import EventIntake
from marchwarden.screen.openapi import openapi_document
from marchwarden.screen.silences import SilenceDesk
from marchwarden.screen.stream import AlertStreams

STATIC = Path(__file__).parent / "static"
NO_STORE = {"Cache-Control": "no-cache"}


def _package_version() -> str:
    try:
        return version("marchwarden")
    except PackageNotFoundError:
        return "0"


def register_screen(ctx: WorkerContext) -> AlertBoard:
    """Add the screen's routes to the worker's aiohttp application; returns the alert board."""
    settings = ctx.settings
    board = AlertBoard(settings, loop=ctx.app.loop, beacon=ctx.app.beacon)
    ctx.app.add_dependency(board)

    def producer() -> AIOKafkaProducer | None:
        return ctx.worker.producer

    def dead_letters(letters: Sequence[DeadLetter]) -> None:
        # Published and written to history by the worker, with the engine's own dead letters.
        ctx.engine.outputs.dead_letters.extend(letters)

    streams = AlertStreams(settings, board)
    desk = CommandDesk(settings, board, producer)
    silences = SilenceDesk(settings, producer)
    intake = EventIntake(settings, producer, dead_letters)
    geojson = reference_geojson(ctx.engine.reference)
    document = openapi_document(_package_version())

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers=NO_STORE)

    async def reference(request: web.Request) -> web.Response:
        return web.json_response(geojson, content_type="application/geo+json")

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    # Faust's built-in pages (its index at "/", router, tables, statistics) are internals
    # outside the documented API, and its index would take the page's address.
    faust_web: Any = ctx.app.web  # the aiohttp driver; Faust types it as its base class
    faust_web.blueprints = BlueprintManager([])
    web_app: web.Application = faust_web.web_app
    router = web_app.router
    router.add_get("/", page)
    router.add_static("/static/", STATIC, append_version=False)
    router.add_get("/reference.geojson", reference)
    router.add_get("/openapi.json", openapi)
    router.add_get("/alerts/stream", streams.handle)
    router.add_post("/alerts/{alert_id}/{command}", desk.handle)
    router.add_post("/sections/{section_id}/{command}", silences.handle)
    router.add_post("/events", intake.handle)
    web_app.on_shutdown.append(streams.close_all)
    return board
