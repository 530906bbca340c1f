"""What a rebuild from history hands the engine: its clocks, counters, keys and alert states."""

from __future__ import annotations

from dataclasses import dataclass, field

from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.events import Indicator


@dataclass(frozen=True)
class StreamMark:
    """The latest event of one stream (topic x section), when it was received, its first."""

    topic: str
    section: str
    latest: float
    received_at: float
    first: float


@dataclass(frozen=True)
class KindMark:
    """The latest crossing attempt or indicator of a section and when it was received."""

    section: str
    event_type: str
    latest: float
    received_at: float


@dataclass
class Snapshot:
    """The engine's state as history holds it; `PictureEngine.restore` loads it."""

    sections: set[str] | None = None
    streams: list[StreamMark] = field(default_factory=list)
    kinds: list[KindMark] = field(default_factory=list)
    # (section, minute, counter values in windows.COUNTERS order)
    minute_buckets: list[tuple[str, int, list[int]]] = field(default_factory=list)
    # (section, hour, attempts, persons)
    hourly: list[tuple[str, int, int, int]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    indicators: list[Indicator] = field(default_factory=list)
    alerts: list[AlertState] = field(default_factory=list)
    applied_commands: dict[str, float] = field(default_factory=dict)
    silences: list[OperatorCommand] = field(default_factory=list)
