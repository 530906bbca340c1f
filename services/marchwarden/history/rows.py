"""History's own rows: the ClickHouse columns and the encoders from the engine's outputs."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from marchwarden.access.tlp import shared_and_organisation_views
from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.events import CrossingAttempt, Indicator, TurnBack
from marchwarden.engine.outputs import AcceptedEvent, CommandOutcome

EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "section_id",
    "country",
    "reporter",
    "persons",
    "outcome",
    "indicator_id",
    "level",
    "state",
    "late",
    "payload",
    "topic",
    "partition",
    "offset",
    "ingested_at",
)
ALERT_COLUMNS = (
    "alert_id",
    "version",
    "rule",
    "level",
    "status",
    "section_id",
    "raised_at",
    "updated_at",
    "payload",
    "recorded_at",
    "shared_payload",
    "org_payloads",
)
COMMAND_COLUMNS = (
    "command_id",
    "command",
    "alert_id",
    "section_id",
    "rule",
    "until",
    "operator_id",
    "note",
    "issued_at",
    "outcome",
    "detail",
    "payload",
    "recorded_at",
)
DEAD_LETTER_COLUMNS = (
    "topic",
    "partition",
    "offset",
    "key",
    "value",
    "value_size",
    "kind",
    "reason",
    "received_at",
)


def _text(value: bytes | None) -> str:
    """A message value as history keeps it (the raw payload, as text)."""
    return value.decode("utf-8", "replace") if value else ""


def event_row(accepted: AcceptedEvent) -> tuple[Any, ...]:
    """An accepted event as a row of `events` (EVENT_COLUMNS), its raw payload included."""
    event, record = accepted.event, accepted.record
    extra: tuple[str, str, str] = ("", "", "")
    persons, outcome = 0, ""
    if isinstance(event, Indicator):
        extra = (event.indicator_id, event.level, event.state)
    elif isinstance(event, CrossingAttempt):
        persons, outcome = event.persons, event.outcome
    elif isinstance(event, TurnBack):
        persons = event.persons
    else:
        extra = ("", "", event.status)
    return (
        event.event_id,
        event.event_type,
        event.schema_version,
        event.occurred_at,
        event.section_id,
        accepted.country,
        event.reporter,
        persons,
        outcome,
        *extra,
        1 if accepted.late else 0,
        _text(record.value),
        record.topic,
        record.partition,
        record.offset,
        accepted.received_at,
    )


def command_row(done: CommandOutcome) -> tuple[Any, ...]:
    """A command applied or refused as a row of `commands` (COMMAND_COLUMNS), the audit trail."""
    command = done.command
    return (
        command.command_id,
        command.command,
        command.alert_id or "",
        command.routing_section or "",
        command.rule or "",
        command.until,
        command.operator_id,
        command.note,
        command.issued_at,
        done.outcome,
        done.detail,
        _text(done.record.value),
        done.received_at,
    )


def alert_row(alert: AlertState, recorded_at: datetime) -> tuple[Any, ...]:
    """The full state (internal), plus the copies analysts read through their views (TLP)."""
    shared, by_organisation = shared_and_organisation_views(alert)
    return (
        alert.alert_id,
        alert.version,
        alert.rule,
        alert.level,
        alert.status,
        alert.section_id,
        alert.raised_at,
        alert.updated_at,
        alert.model_dump_json(),
        recorded_at,
        shared.model_dump_json(),
        {org: view.model_dump_json() for org, view in by_organisation.items()},
    )


def dead_letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    """A dead letter as a row of `dead_letters` (DEAD_LETTER_COLUMNS)."""
    reason = letter.reason
    if letter.value_truncated:
        # The table has no digest column: a truncated value says so in its reason.
        reason += (
            f" [value cut to its first {len(base64.b64decode(letter.value_b64))} of "
            f"{letter.value_size} bytes; sha256 {letter.value_sha256}]"
        )
    return (
        letter.topic,
        letter.partition,
        letter.offset,
        base64.b64decode(letter.key_b64) if letter.key_b64 else b"",
        base64.b64decode(letter.value_b64),
        letter.value_size,
        letter.kind,
        reason,
        letter.received_at,
    )
