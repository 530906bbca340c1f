"""POST /sections/{section_id}/silence and /unsilence: deliberate muting over HTTP.

A silence is the only way to mute a rule (an announced exercise, a sensor known to be
down): it has a scope (a section, one rule or every rule), an expiry and a reason, and it is
an operator command like any other. The operator is the token's, of an organisation covering
the section (403 otherwise); the request is checked whole here, so a person gets a 400 with
the reason at once instead of a dead letter; the worker owning the section then applies it
from ops.commands, and `/picture?section=` shows the silences in force.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from marchwarden.contracts.alerts import ALERT_RULES
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.common import known_section_ids
from marchwarden.contracts.decoding import describe_validation_error
from marchwarden.contracts.upcasting import CURRENT_VERSIONS
from marchwarden.screen.bodies import BodyError, read_json
from marchwarden.screen.visibility import command_refusal, viewer_of
from marchwarden.settings import Settings

SECTION_COMMANDS = ("silence", "unsilence")
MAX_SILENCE_BODY = 8 * 1024
FIELDS = {"silence": {"rule", "until", "for_minutes", "note"}, "unsilence": {"rule", "note"}}


class SilenceRequestError(ValueError):
    """A silence request a person must correct (answered 400 with this text)."""


def silence_until(body: dict[str, Any], now: datetime) -> datetime | None:
    """The expiry a silence request asks for: `until` (RFC 3339) or `for_minutes` from now.

    None when neither is given (the contract then says a silence needs an expiry).
    """
    if "until" in body and "for_minutes" in body:
        raise SilenceRequestError('give "until" or "for_minutes", not both')
    minutes = body.get("for_minutes")
    if minutes is None:
        return None  # "until", if any, is checked by the contract itself
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not math.isfinite(minutes)
        or minutes <= 0
    ):
        raise SilenceRequestError('"for_minutes" is a positive number of minutes')
    if minutes > 100 * 365 * 24 * 60:
        raise SilenceRequestError('"for_minutes" is far beyond any silence')  # no overflow
    return now + timedelta(minutes=minutes)


class SilenceDesk:
    """The handler of the section-scoped commands (silence, unsilence) for one worker."""

    def __init__(self, settings: Settings, producer: Callable[[], AIOKafkaProducer | None]) -> None:
        self.settings = settings
        self.producer = producer

    async def handle(self, request: web.Request) -> web.Response:
        section = request.match_info["section_id"]
        command = request.match_info["command"]
        if command not in SECTION_COMMANDS:
            return _error(404, f"no command {command!r}; one of {', '.join(SECTION_COMMANDS)}")
        if section not in known_section_ids():
            return _error(404, f"no section {section!r}; see /reference.geojson")
        refusal = command_refusal(viewer_of(request), section)
        if refusal is not None:
            return _error(403, refusal)
        try:
            body = await read_json(request, MAX_SILENCE_BODY, empty={})
        except BodyError as exc:
            return exc.response()
        if not isinstance(body, dict) or set(body) - FIELDS[command]:
            allowed = ", ".join(f'"{f}"' for f in sorted(FIELDS[command]))
            return _error(400, f"the body is a JSON object with at most {allowed}")
        rule = body.get("rule")
        if rule is not None and rule not in ALERT_RULES:
            return _error(400, f"no rule {rule!r}; one of {', '.join(ALERT_RULES)}")
        now = datetime.now(UTC)
        try:
            until = silence_until(body, now)
            order = self._command(request, command, section, body, until, now)
        except SilenceRequestError as exc:
            return _error(400, str(exc))
        except ValidationError as exc:
            return _error(400, describe_validation_error(exc))
        if order.until is not None and (order.until - now).total_seconds() > (
            self.settings.rules.silence_max_s
        ):
            hours = self.settings.rules.silence_max_s / 3600
            return _error(400, f"a silence may last at most {hours:g} h")
        producer = self.producer()
        if producer is None:
            return _error(503, "the worker is still starting")
        await producer.send_and_wait(
            self.settings.topics.commands, order.model_dump_json().encode(), key=section.encode()
        )
        return web.json_response({"command": order.model_dump(mode="json")}, status=202)

    def _command(
        self,
        request: web.Request,
        command: str,
        section: str,
        body: dict[str, Any],
        until: datetime | None,
        now: datetime,
    ) -> OperatorCommand:
        viewer = viewer_of(request)
        fields: dict[str, Any] = {
            "command_id": str(uuid.uuid4()),
            "schema_version": CURRENT_VERSIONS["command"],
            "command": command,
            "section_id": section,
            "rule": body.get("rule"),
            "operator_id": viewer.subject,
            "note": body.get("note", ""),
            "issued_at": now,
            "organisation": viewer.organisation,
        }
        if command == "silence":
            fields["until"] = until if until is not None else body.get("until")
        # Validated as it would be from the topic (strict RFC 3339 `until`, a reason).
        return OperatorCommand.model_validate(fields)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
