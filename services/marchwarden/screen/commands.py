"""POST /alerts/{alert_id}/{command}: operator commands over HTTP, sent to ops.commands.

The operator is the token's (never the body's), and must be of an organisation covering the
alert's section (403 otherwise). The command is checked against the alert's current state on
the board first, so the page and scripts get an immediate 404 or 409 instead of a dead
letter; it then takes the path every command takes (the router checks its time and its
operator again), the worker owning the section applies it, and the new alert state arrives
on the alert topics and the stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from marchwarden.alerts import lifecycle
from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.decoding import describe_validation_error
from marchwarden.contracts.upcasting import CURRENT_VERSIONS
from marchwarden.screen.board import AlertBoard
from marchwarden.screen.bodies import BodyError, read_json
from marchwarden.screen.visibility import alert_view, command_refusal, viewer_of
from marchwarden.settings import Settings

COMMANDS = ("acknowledge", "resolve", "annotate")
MAX_COMMAND_BODY = 8 * 1024
BOARD_LAG_S = 2.0


def transition_error(alert: AlertState, command: str, at: datetime) -> str | None:
    """Why the command does not apply to the alert as it stands, or None."""
    try:
        if command == "acknowledge":
            lifecycle.acknowledge(alert, at, "check", "")
        elif command == "resolve":
            lifecycle.resolve(alert, at)
    except lifecycle.InvalidTransition as exc:
        return str(exc)
    return None


class CommandDesk:
    """The handler of the HTTP commands for one worker."""

    def __init__(
        self,
        settings: Settings,
        board: AlertBoard,
        producer: Callable[[], AIOKafkaProducer | None],
    ) -> None:
        self.settings = settings
        self.board = board
        self.producer = producer

    async def handle(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        command = request.match_info["command"]
        viewer = viewer_of(request)
        if command not in COMMANDS:
            return _error(404, f"no command {command!r}; one of {', '.join(COMMANDS)}")
        section = lifecycle.section_of_alert_id(alert_id)
        refusal = command_refusal(viewer, section or "")
        if refusal is not None:
            return _error(403, refusal)
        try:
            body = await read_json(request, MAX_COMMAND_BODY, empty={})
        except BodyError as exc:
            return exc.response()
        if not isinstance(body, dict) or set(body) - {"note"}:
            return _error(400, 'the body is a JSON object with at most a "note"')
        now = datetime.now(UTC)
        # The request is checked whole before the alert is looked up: a malformed one is a
        # 400 whatever the board holds.
        try:
            order = OperatorCommand(
                command_id=str(uuid.uuid4()),
                schema_version=CURRENT_VERSIONS["command"],
                command=command,
                alert_id=alert_id,
                operator_id=viewer.subject,
                note=body.get("note", ""),
                issued_at=now,
                organisation=viewer.organisation,
            )
        except ValidationError as exc:
            return _error(400, describe_validation_error(exc))
        # A page may show an alert its stream read a moment before the board did.
        alert = await self.board.wait_for(alert_id, BOARD_LAG_S)
        if alert is None or alert_view(viewer)(alert) is None:
            return _error(404, f"no open alert {alert_id!r}")
        problem = transition_error(alert, command, now)
        if problem is not None:
            return _error(409, problem)
        producer = self.producer()
        if producer is None:
            return _error(503, "the worker is still starting")
        await producer.send_and_wait(
            self.settings.topics.commands, order.model_dump_json().encode(), key=alert_id.encode()
        )
        answer: dict[str, Any] = {
            "command": order.model_dump(mode="json"),
            "alert_version": alert.version,
        }
        return web.json_response(answer, status=202)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
