"""The README's "one of each" event examples are valid, current contracts (a newcomer copies them)."""

from __future__ import annotations

from pathlib import Path

from marchwarden.contracts.decoding import decode_event
from marchwarden.contracts.events import CrossingAttempt, Indicator, SensorHeartbeat, TurnBack

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    text = README.read_text()
    start = text.index("```json", text.index("## Feeding it"))
    block = text[start + len("```json") : text.index("```", start + 7)]
    return [line for line in block.splitlines() if line.startswith("{")]


def test_each_event_type_has_a_valid_example() -> None:
    decoded = [decode_event(line.encode()) for line in examples()]
    kinds = {type(d) for d in decoded}
    assert kinds == {CrossingAttempt, TurnBack, Indicator, SensorHeartbeat}, decoded
