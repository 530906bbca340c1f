"""GET /alerts/stream: Server-Sent Events of the alert states on ops.alerts, resumable.

Each connection reads ops.alerts with its own consumer (no group: assign, then seek), so a
reconnect resumes at the exact Kafka position its `Last-Event-ID` names. Without one it
starts with a snapshot of the open alerts from the board, then continues from the position
that snapshot is true at. Events: `snapshot`, `alert` (one alert state), `heartbeat`, and
`reset` when the position cannot be honoured (a snapshot follows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer

from marchwarden.contracts.alerts import AlertState
from marchwarden.screen.board import AlertBoard, decode_alert, start_alert_reader
from marchwarden.screen.positions import (
    BadEventId,
    Positions,
    Reset,
    Resume,
    encode_event_id,
    parse_event_id,
    plan_resume,
)
from marchwarden.screen.visibility import AlertView, alert_view, may_watch, viewer_of
from marchwarden.settings import Settings

log = logging.getLogger(__name__)

RETRY_MS = 2000
"""How long a browser waits before it reconnects on its own (the SSE `retry` field)."""
POLL_MS = 250
BOARD_WAIT_S = 10.0
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def sse_frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One Server-Sent Event; the data is one line of JSON (it escapes newlines)."""
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n\n").encode()


def newest_first(alerts: list[AlertState]) -> list[AlertState]:
    return sorted(alerts, key=lambda a: (a.updated_at, a.alert_id), reverse=True)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class AlertStreams:
    """The open streams of one worker; closed together when the web server stops."""

    def __init__(self, settings: Settings, board: AlertBoard) -> None:
        self.settings = settings
        self.board = board
        # The full states (the board reads the same topic); each viewer's view is applied
        # to every state sent, so the event ids are positions of this topic.
        self.topic = settings.topics.alerts_full
        self.open = 0
        self.closing = asyncio.Event()

    async def close_all(self, app: web.Application) -> None:
        """aiohttp on_shutdown: streams end, so stopping the server does not wait on them."""
        self.closing.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        viewer = viewer_of(request)
        if not may_watch(viewer):
            return _error(403, "the alert stream needs role operator")
        if self.open >= self.settings.stream_max_clients:
            return _error(503, f"{self.open} streams are open, the most this worker serves")
        if not await self.board.wait_ready(BOARD_WAIT_S):
            return _error(503, "the alert board is still reading the alerts; retry shortly")
        requested = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
        try:
            consumer = await start_alert_reader(self.settings, f"{self.settings.app_id}-sse")
        except Exception as exc:
            log.warning("alert stream could not read %s: %s", self.topic, exc)
            return _error(503, f"cannot read {self.topic}: {type(exc).__name__}")
        self.open += 1
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            positions = await self._start(consumer, response, requested, alert_view(viewer))
            await self._follow(consumer, response, positions, alert_view(viewer), request)
        except ConnectionError:
            pass  # the client went away
        finally:
            self.open -= 1
            with contextlib.suppress(Exception):
                await consumer.stop()
        return response

    async def _start(
        self,
        consumer: AIOKafkaConsumer,
        response: web.StreamResponse,
        requested: str | None,
        view: AlertView,
    ) -> Positions:
        """Seek to the client's position, or send a snapshot and seek to where it is true."""
        tps = sorted(consumer.assignment())
        beginning = {tp.partition: o for tp, o in (await consumer.beginning_offsets(tps)).items()}
        end = {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        plan: Resume | Reset | None = None
        if requested:
            try:
                plan = plan_resume(parse_event_id(requested, self.topic), beginning, end)
            except BadEventId as exc:
                plan = Reset(str(exc))
        if isinstance(plan, Resume):
            positions = plan.positions
        else:
            if isinstance(plan, Reset):
                await response.write(sse_frame("reset", {"reason": plan.reason}))
            alerts, positions = self.board.snapshot()
            for partition, first in beginning.items():
                positions.setdefault(partition, first)
            shown = [a for a in (view(a) for a in newest_first(alerts)) if a is not None]
            data = {
                "alerts": [a.model_dump(mode="json") for a in shown],
                "heartbeat_s": self.settings.stream_heartbeat_s,
            }
            await response.write(
                sse_frame("snapshot", data, encode_event_id(self.topic, positions))
            )
        for tp in tps:
            consumer.seek(tp, positions[tp.partition])
        return positions

    async def _follow(
        self,
        consumer: AIOKafkaConsumer,
        response: web.StreamResponse,
        positions: Positions,
        view: AlertView,
        request: web.Request,
    ) -> None:
        heartbeat = self.settings.stream_heartbeat_s
        last_write = time.monotonic()
        while not self.closing.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            batch = await consumer.getmany(timeout_ms=POLL_MS)
            for tp in sorted(batch):
                for message in batch[tp]:
                    positions[tp.partition] = message.offset + 1
                    alert = decode_alert(message.value, self.settings.max_message_bytes)
                    shown = view(alert) if alert is not None else None
                    if shown is None:
                        continue
                    event_id = encode_event_id(self.topic, positions)
                    await response.write(
                        sse_frame("alert", shown.model_dump(mode="json"), event_id)
                    )
                    last_write = time.monotonic()
            if time.monotonic() - last_write >= heartbeat:
                now = datetime.now(UTC).isoformat()
                data = {"at": now, "heartbeat_s": heartbeat}
                await response.write(sse_frame("heartbeat", data))
                last_write = time.monotonic()
