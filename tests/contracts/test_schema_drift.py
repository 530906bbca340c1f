"""The JSON Schemas in schemas/json are exactly what the models generate."""

from __future__ import annotations

from pathlib import Path

from marchwarden.contracts.schemas import render_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "json"


def test_generated_schemas_match_the_committed_files() -> None:
    rendered = render_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    assert set(committed) == set(rendered), "run `make schemas` and commit the result"
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} drifted from the models: run `make schemas`"


def test_every_contract_has_a_schema_version() -> None:
    import json

    for name, text in render_schemas().items():
        schema = json.loads(text)
        if name.startswith("border_event"):
            continue
        assert "schema_version" in schema["properties"], name
