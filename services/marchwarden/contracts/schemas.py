"""Generate the JSON Schemas of every wire contract into schemas/json (drift is a test failure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.events import (
    BorderEvent,
    CrossingAttempt,
    Indicator,
    SensorHeartbeat,
    TurnBack,
)

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "crossing_attempt": CrossingAttempt,
    "turn_back": TurnBack,
    "indicator": Indicator,
    "sensor_heartbeat": SensorHeartbeat,
    "alert": AlertState,
    "operator_command": OperatorCommand,
    "dead_letter": DeadLetter,
}


def schema_version_of(model: type[BaseModel]) -> int:
    """The version a model writes: its schema_version default, else its Literal's (inputs)."""
    field = model.model_fields["schema_version"]
    if isinstance(field.default, int):
        return field.default
    return max(int(v) for v in get_args(field.annotation) if isinstance(v, int))


def render_schemas() -> dict[str, str]:
    """File name (name.vN.json) -> JSON text, deterministic."""
    out: dict[str, Any] = {}
    for name, model in SCHEMA_MODELS.items():
        file_name = f"{name}.v{schema_version_of(model)}.json"
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://marchwarden.example/schemas/{file_name}"
        out[file_name] = schema
    # The union accepts each event type at its current version; it is versioned as a whole.
    union = TypeAdapter(BorderEvent).json_schema(mode="validation")
    union["$id"] = "https://marchwarden.example/schemas/border_event.v3.json"
    out["border_event.v3.json"] = union
    return {name: json.dumps(s, indent=2, sort_keys=True) + "\n" for name, s in out.items()}


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
