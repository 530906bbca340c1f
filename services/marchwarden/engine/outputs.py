"""The engine's boundary: the records it reads and the typed outputs it hands on.

The engine knows nothing of tables: it says what happened (an event accepted, with its record
and lateness; a command applied or refused; an alert state; a dead letter), and `history/`
encodes its own rows from that (history/rows.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.events import CrossingAttempt, Indicator, SensorHeartbeat, TurnBack

DecodedEvent = CrossingAttempt | TurnBack | Indicator | SensorHeartbeat


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka message as the engine sees it (the worker hands aiokafka's records as they
    are: they have these fields, and copying each one would cost the hot path)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """An event the engine took in, with where it came from and whether it came late."""

    event: DecodedEvent
    country: str
    late: bool
    record: Record
    received_at: datetime


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """An operator command the engine applied or refused (`outcome` says which, and why)."""

    command: OperatorCommand
    outcome: str
    detail: str
    record: Record
    received_at: datetime


@dataclass
class Outputs:
    """What the engine produced since the last drain."""

    events: list[AcceptedEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    alerts: list[AlertState] = field(default_factory=list)
    commands: list[CommandOutcome] = field(default_factory=list)
    """The audit trail of operator commands, applied or refused."""

    def __bool__(self) -> bool:
        return bool(self.events or self.dead_letters or self.alerts or self.commands)
