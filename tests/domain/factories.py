"""Builders shared by the domain tests: event documents, records, commands, a clocked engine."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from marchwarden.contracts.alerts import AlertState
from marchwarden.engine.outputs import Outputs, Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.history.rows import EVENT_COLUMNS
from tests.support.stack import TOPIC_OF, event

T0 = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
COMMANDS_TOPIC = "ops.commands"
LATE = EVENT_COLUMNS.index("late")


def event_doc(event_type: str, section_id: str, occurred_at: datetime, **fields: Any) -> dict:
    """A valid border event as docs/contracts.md describes it, with defaults for its type."""
    # The offset is kept as given (the shared builder would normalise it to UTC).
    doc = event(event_type, section_id, occurred_at)
    doc["occurred_at"] = occurred_at.isoformat()
    doc.update(fields)
    return doc


def command_doc(
    alert_id: str,
    command: str = "acknowledge",
    operator_id: str = "op-riga-1",
    note: str = "",
    issued_at: datetime = T0,
    organisation: str | None = None,
) -> dict:
    doc = {
        "command_id": str(uuid.uuid4()),
        "schema_version": 2,
        "command": command,
        "alert_id": alert_id,
        "operator_id": operator_id,
        "note": note,
        "issued_at": issued_at.isoformat(),
    }
    if organisation is not None:
        doc["organisation"] = organisation
    return doc


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@dataclass
class EngineHarness:
    """A PictureEngine with a wall clock the test controls and helpers to feed it."""

    engine: PictureEngine
    clock: list[float]
    offsets: Iterator[int] = field(default_factory=itertools.count)

    def record(
        self, value: bytes | None, topic: str = "border.crossings", key: bytes | None = None
    ):
        return Record(topic, 0, next(self.offsets), key, value)

    def send(self, *docs: dict) -> list[dict]:
        self.engine.ingest(
            self.record(encode(d), TOPIC_OF[d["event_type"]], d["section_id"].encode())
            for d in docs
        )
        return list(docs)

    def send_raw(self, *values: bytes | None, topic: str = "border.crossings") -> list[Record]:
        records = [self.record(v, topic, b"raw-key") for v in values]
        self.engine.ingest(records)
        return records

    def attempts(
        self, section: str, count: int, start: datetime = T0, step_s: float = 20.0, **fields: Any
    ) -> list[dict]:
        docs = [
            event_doc("crossing_attempt", section, start + timedelta(seconds=i * step_s), **fields)
            for i in range(count)
        ]
        return self.send(*docs)

    def indicator(self, section: str, occurred_at: datetime, **fields: Any) -> dict:
        return self.send(event_doc("indicator", section, occurred_at, **fields))[0]

    def command(self, alert_id: str, command: str = "acknowledge", **fields: Any) -> Record:
        record = self.record(encode(command_doc(alert_id, command, **fields)), COMMANDS_TOPIC)
        self.engine.apply_command_record(record)
        return record

    def advance(self, seconds: float) -> None:
        self.clock[0] += seconds

    def step(self, everything: bool = False) -> Outputs:
        """Evaluate the rules and drain what the engine produced."""
        self.engine.evaluate(everything=everything)
        return self.engine.drain()

    def alerts(self, everything: bool = False) -> list[AlertState]:
        return self.step(everything).alerts

    def section_picture(self, section: str) -> dict:
        return self.engine.picture([section])["sections"][section]
