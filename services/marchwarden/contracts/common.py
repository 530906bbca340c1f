"""Shared field types and the base model of every wire contract."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Level = Literal["low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = ("low", "medium", "high", "critical")
LEVEL_RANK: dict[str, int] = {name: rank for rank, name in enumerate(LEVELS)}

SECTION_ID_PATTERN = r"^[A-Z]{2}-[A-Z]{2}-\d{2}$"


@lru_cache(maxsize=1)
def known_section_ids() -> frozenset[str]:
    """Ids of the shipped border sections (loaded once)."""
    # Imported lazily so that contracts import without touching the data files.
    from marchwarden.reference import load_reference

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


class Contract(BaseModel):
    """Base of every wire model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
