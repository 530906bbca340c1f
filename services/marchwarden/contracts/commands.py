"""Operator commands on ops.commands: acknowledge, resolve or annotate an alert (version 2)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from marchwarden.contracts.common import Contract, SchemaVersion2, Timestamp

CommandKind = Literal["acknowledge", "resolve", "annotate"]


class OperatorCommand(Contract):
    """An operator's decision about one alert; keyed by alert_id on the topic.

    Version 2 adds `annotate` (a note, no status change) and `organisation`, which Marchwarden
    fills in after checking that `operator_id` names an operator of an organisation covering
    the alert's section; a client may omit it, and a different value is refused.
    """

    command_id: Annotated[str, Field(min_length=1, max_length=64)]
    schema_version: SchemaVersion2
    command: CommandKind
    alert_id: Annotated[str, Field(min_length=1, max_length=128)]
    operator_id: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=2000)] = ""
    issued_at: Timestamp
    organisation: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{2,16}$")] | None = None

    @model_validator(mode="after")
    def _annotation_has_a_note(self) -> OperatorCommand:
        if self.command == "annotate" and not self.note.strip():
            raise ValueError("annotate needs a note")
        return self
