"""Shared field types and the base model of every wire contract."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from marchwarden.reference import load_reference

Level = Literal["low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = ("low", "medium", "high", "critical")
LEVEL_RANK: dict[str, int] = {name: rank for rank, name in enumerate(LEVELS)}

# FIRST TLP 2.0 markings, from the most open to the most restricted.
Tlp = Literal["clear", "green", "amber", "red"]
TLP_RANK: dict[str, int] = {"clear": 0, "green": 1, "amber": 2, "red": 3}

SECTION_ID_PATTERN = r"^[A-Z]{2}-[A-Z]{2}-\d{2}$"

# RFC 3339 date-time with seconds (the offset is checked by AwareDatetime, which says so
# more clearly when it is missing). Pydantic's lax parsing would also take a
# number (or a string of digits) as Unix time, so a sender's bug would pass as a real date.
RFC3339_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$"
_RFC3339 = re.compile(RFC3339_PATTERN)
# Reports before 2000 are input mistakes (a zeroed clock, a swapped field), and any time the
# history store cannot hold would block its inserts; 2100 keeps well inside DateTime64(3).
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def known_section_ids() -> frozenset[str]:
    """Ids of the shipped border sections (loaded once)."""
    return frozenset(load_reference().section_ids)


def _known_section(value: str) -> str:
    if value not in known_section_ids():
        raise ValueError(f"unknown section id {value!r}; see `marchwarden sections`")
    return value


SectionId = Annotated[
    str,
    Field(pattern=SECTION_ID_PATTERN, examples=["LT-BY-01"], description="A known border section"),
    AfterValidator(_known_section),
]


def _rfc3339_text(value: Any) -> Any:
    """Only RFC 3339 text (or a datetime built in code) is a time; numbers and bools are not."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be an RFC 3339 date-time string, got {type(value).__name__}")
    if not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time such as 2024-07-18T20:51:00+00:00")
    return value


def _within_bounds(value: datetime) -> datetime:
    if not EARLIEST_TIME <= value < LATEST_TIME:
        raise ValueError(
            f"must lie between {EARLIEST_TIME:%Y-%m-%d} and {LATEST_TIME:%Y-%m-%d}, got {value}"
        )
    # One instant has one spelling inside the system: an alert stamped from an event sent
    # as +03:00 must not differ from the same alert stamped by the engine's clock (UTC).
    # The sender's own offset stays in the raw payload kept in history.
    return value.astimezone(UTC)


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_text),
    AfterValidator(_within_bounds),
    Field(json_schema_extra={"pattern": RFC3339_PATTERN}),
]


def _an_int(value: Any) -> Any:
    # Literal[1] alone takes True and 1.0 (they compare equal to 1); the version must be an int.
    if type(value) is not int:
        raise ValueError(f"schema_version must be an integer, got {value!r}")
    return value


SchemaVersion1 = Annotated[Literal[1], BeforeValidator(_an_int)]
SchemaVersion2 = Annotated[Literal[2], BeforeValidator(_an_int)]
SchemaVersion3 = Annotated[Literal[3], BeforeValidator(_an_int)]


class Contract(BaseModel):
    """Base of every wire model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
