"""Wire contracts: the event, alert, command and dead-letter models every topic carries."""

from marchwarden.contracts.alerts import (
    AlertEvidence,
    AlertLevel,
    AlertState,
    AlertStatus,
    ArteryPlan,
    ParkDraw,
    Recommendation,
)
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.deadletters import DeadLetter
from marchwarden.contracts.events import (
    BorderEvent,
    CrossingAttempt,
    Indicator,
    Location,
    TurnBack,
)

__all__ = [
    "AlertEvidence",
    "AlertLevel",
    "AlertState",
    "AlertStatus",
    "ArteryPlan",
    "BorderEvent",
    "CrossingAttempt",
    "DeadLetter",
    "Indicator",
    "Location",
    "OperatorCommand",
    "ParkDraw",
    "Recommendation",
    "TurnBack",
]
