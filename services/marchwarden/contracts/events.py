"""Border events: crossing attempts, turn-backs, indicators and sensor heartbeats (version 1 each)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from marchwarden.contracts.common import (
    Contract,
    Level,
    SchemaVersion1,
    SchemaVersion2,
    SectionId,
    Timestamp,
    Tlp,
)

# One report describes one group seen at one place; the largest recorded groups at this
# border were in the hundreds. 10,000 leaves ample room and keeps sums far from overflow.
MAX_PERSONS_PER_REPORT = 10_000
Persons = Annotated[
    int,
    Field(
        strict=True,
        ge=1,
        le=MAX_PERSONS_PER_REPORT,
        description=f"Number of people, 1 to {MAX_PERSONS_PER_REPORT:,}",
    ),
]
Reporter = Annotated[
    str,
    Field(
        min_length=2,
        max_length=32,
        pattern=r"^[A-Z]{2}-[A-Z0-9]{2,16}$",
        examples=["LT-VSAT", "LV-VRS", "PL-SG", "EE-PPA"],
    ),
]
EventId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="UUID of the event, the deduplication key",
    ),
]


class Location(Contract):
    """A WGS84 position."""

    lat: Annotated[float, Field(strict=True, ge=-90, le=90)]
    lon: Annotated[float, Field(strict=True, ge=-180, le=180)]


class EventBase(Contract):
    """Fields common to every border event (schema_version is declared per event type)."""

    event_id: EventId
    occurred_at: Timestamp = Field(
        description="Event time, RFC 3339 with an offset, from 2000-01-01 to before 2100"
    )
    section_id: SectionId
    reporter: Reporter


class CrossingAttempt(EventBase):
    """People tried to cross the border on a section."""

    event_type: Literal["crossing_attempt"]
    schema_version: SchemaVersion1
    persons: Persons
    outcome: Literal["prevented", "detained", "crossed", "unknown"]
    location: Location | None = None
    source: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        None, examples=["patrol", "camera", "thermal", "radar", "citizen"]
    )


class TurnBack(EventBase):
    """People were turned back at a section."""

    event_type: Literal["turn_back"]
    schema_version: SchemaVersion1
    persons: Persons
    reason: Annotated[str, Field(max_length=500)] | None = None


IndicatorCategory = Literal[
    "military_movement",
    "migrant_staging",
    "gnss_jamming",
    "airspace_violation",
    "infrastructure_sabotage",
    "instrumentalised_migration",
    "other",
]


class Indicator(EventBase):
    """An intelligence indicator lit or cleared for one or more sections.

    Version 2 adds `share_with`: for TLP:AMBER, the organisations besides the originator (the
    `reporter`) that may see it. Without it AMBER stays with the originator. RED is never
    shared; GREEN and CLEAR go to every organisation.
    """

    event_type: Literal["indicator"]
    schema_version: SchemaVersion2
    indicator_id: Annotated[str, Field(min_length=1, max_length=64)]
    category: IndicatorCategory
    level: Level
    state: Literal["lit", "cleared"]
    confidence: Annotated[float, Field(strict=True, ge=0, le=1)]
    valid_until: Timestamp | None = None
    tlp: Tlp
    share_with: Annotated[list[Reporter], Field(max_length=16)] = Field(
        default_factory=list,
        description="TLP:AMBER only: organisations besides the originator that may see it",
    )
    extra_section_ids: Annotated[list[SectionId], Field(max_length=32)] = []

    @model_validator(mode="after")
    def _valid_until_after_occurrence(self) -> Indicator:
        if self.valid_until is not None and self.valid_until <= self.occurred_at:
            raise ValueError("valid_until must be after occurred_at")
        if self.share_with and self.tlp != "amber":
            raise ValueError(f"share_with applies to TLP:AMBER only, not TLP:{self.tlp.upper()}")
        return self


class SensorHeartbeat(EventBase):
    """A sensor or post of a section says it is alive; sent on border.crossings.

    Heartbeats let a section that rarely has anything to report be told apart from a section
    that has gone silent (a jammed sensor, a cut link, a silenced post).
    """

    event_type: Literal["sensor_heartbeat"]
    schema_version: SchemaVersion1
    sensor_id: Annotated[str, Field(min_length=1, max_length=64)]
    status: Literal["ok", "degraded"] = "ok"


BorderEvent = Annotated[
    CrossingAttempt | TurnBack | Indicator | SensorHeartbeat, Field(discriminator="event_type")
]
EVENT_TYPES: tuple[str, ...] = ("crossing_attempt", "turn_back", "indicator", "sensor_heartbeat")
