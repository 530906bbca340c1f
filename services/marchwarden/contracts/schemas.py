"""Generate the JSON Schemas of every wire contract into schemas/json (drift is a test failure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.events import BorderEvent, CrossingAttempt, Indicator, TurnBack

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "crossing_attempt": CrossingAttempt,
    "turn_back": TurnBack,
    "indicator": Indicator,
    "alert": AlertState,
    "operator_command": OperatorCommand,
    "dead_letter": DeadLetter,
}


def current_version(model: type[BaseModel]) -> int:
    """The schema version a model writes: its schema_version default, else 1 (inputs)."""
    default = model.model_fields["schema_version"].default
    return default if isinstance(default, int) else 1


def render_schemas() -> dict[str, str]:
    """File name -> JSON text, deterministic."""
    out: dict[str, Any] = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(mode="validation")
        file_name = f"{name}.v{current_version(model)}.json"
        schema["$id"] = f"https://marchwarden.example/schemas/{file_name}"
        out[file_name] = schema
    union = TypeAdapter(BorderEvent).json_schema(mode="validation")
    union["$id"] = "https://marchwarden.example/schemas/border_event.v1.json"
    out["border_event.v1.json"] = union
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
