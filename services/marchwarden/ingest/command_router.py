"""Faust agents for operator commands: validate, check who and when, route to the section owner."""

from __future__ import annotations

from typing import Any

import faust

from marchwarden.access.commands import CommandGate
from marchwarden.contracts.decoding import Rejection, decode_command
from marchwarden.engine.outputs import Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.settings import Settings


def register_command_agents(
    app: faust.App, engine: PictureEngine, settings: Settings, gate: CommandGate
) -> None:
    """The router agent on `app`: commands rejected go to `engine` as dead letters."""
    topics = settings.topics
    commands_topic = app.topic(topics.commands, key_serializer="raw", value_serializer="raw")
    routed_topic = app.topic(topics.routed_commands, key_serializer="raw", value_serializer="raw")

    @app.agent(commands_topic, name="route_operator_commands")
    async def route_operator_commands(stream: Any) -> None:
        """ops.commands is keyed by alert_id; re-key by section so the owner applies it."""
        async for event in stream.events():
            message = event.message
            record = Record(
                message.topic, message.partition, message.offset, message.key, message.value
            )
            command = decode_command(record.value, settings.max_message_bytes)
            if isinstance(command, Rejection):
                engine.reject(record, command.kind, command.reason)
                continue
            # Alert commands go to the owner of the alert's section; a silence to its section's.
            section = command.routing_section
            if section is None or section not in engine.country:
                engine.reject(
                    record, "unknown_alert", f"alert id {command.alert_id!r} names no known section"
                )
                continue
            checked = gate.check(command, section)
            if isinstance(checked, Rejection):
                engine.reject(record, checked.kind, checked.reason)
                continue
            await routed_topic.send(key=section.encode(), value=checked.model_dump_json().encode())
