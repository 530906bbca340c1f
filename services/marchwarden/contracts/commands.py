"""Operator commands on ops.commands: acknowledge or resolve an alert."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from marchwarden.contracts.common import Contract, SchemaVersion1, Timestamp


class OperatorCommand(Contract):
    """An operator's decision about one alert; keyed by alert_id on the topic."""

    command_id: Annotated[str, Field(min_length=1, max_length=64)]
    schema_version: SchemaVersion1
    command: Literal["acknowledge", "resolve"]
    alert_id: Annotated[str, Field(min_length=1, max_length=128)]
    operator_id: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=2000)] = ""
    issued_at: Timestamp
