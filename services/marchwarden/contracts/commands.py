"""Operator commands on ops.commands (version 3).

Version 2 added `annotate` (a note, no status change) and `organisation`. Version 3 adds
`silence` / `unsilence` (a scope of section and optional rule, an expiry and a reason: the
only way to mute a rule) and `stand_down` (release the equipment a resolved alert still holds).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from marchwarden.contracts.alerts import AlertRule
from marchwarden.contracts.common import Contract, SchemaVersion3, SectionId, Timestamp

CommandKind = Literal["acknowledge", "resolve", "annotate", "silence", "unsilence", "stand_down"]
ALERT_COMMANDS = ("acknowledge", "resolve", "annotate", "stand_down")
"""Commands about one alert (they need its alert_id); the others are about a section."""


class OperatorCommand(Contract):
    """An operator's decision; keyed by alert_id (by section_id for a silence) on the topic.

    `organisation` is filled in by Marchwarden after checking that `operator_id` names an
    operator of an organisation covering the section; a client may omit it, and a different
    value is refused.
    """

    command_id: Annotated[str, Field(min_length=1, max_length=64)]
    schema_version: SchemaVersion3
    command: CommandKind
    alert_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    section_id: SectionId | None = Field(None, description="Scope of silence / unsilence")
    rule: AlertRule | None = Field(None, description="Scope: one rule, or every rule if absent")
    until: Timestamp | None = Field(None, description="When a silence expires")
    operator_id: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=2000)] = ""
    issued_at: Timestamp
    organisation: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{2,16}$")] | None = None

    @model_validator(mode="after")
    def _fields_of_the_command(self) -> Self:
        if self.command in ALERT_COMMANDS:
            if self.alert_id is None:
                raise ValueError(f"{self.command} needs an alert_id")
            if self.command == "annotate" and not self.note.strip():
                raise ValueError("annotate needs a note")
            return self
        if self.section_id is None:
            raise ValueError(f"{self.command} needs a section_id (its scope)")
        if self.command == "silence":
            if self.until is None or self.until <= self.issued_at:
                raise ValueError("silence needs an expiry (until) after issued_at")
            if not self.note.strip():
                raise ValueError("silence needs a reason (note)")
        return self

    @property
    def routing_section(self) -> str | None:
        """The section whose owner applies the command."""
        if self.section_id is not None:
            return self.section_id
        parts = (self.alert_id or "").split(".")
        return parts[1] if len(parts) == 3 else None
