"""Reference models for what an alert asks people to do: playbooks and border-guard agencies."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

LevelName = Literal["low", "medium", "high", "critical"]
LEVEL_ORDER: tuple[LevelName, ...] = ("low", "medium", "high", "critical")
Officers = Annotated[int, Field(ge=0, strict=True)]


class Playbook(BaseModel):
    """One response: which indicator categories call it, which alert rules name it, its steps.

    ``indicator_rule`` is the alert rule an indicator of one of ``categories`` raises (at
    ``min_level`` or above, after the confidence discount); ``named_by_rules`` are other
    rules whose alerts follow this playbook (a surge calls for border guards, say).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z_]+$")
    title: str = Field(min_length=1)
    indicator_rule: str | None = Field(pattern=r"^[a-z][a-z_]+$")
    categories: tuple[str, ...] = ()
    named_by_rules: tuple[str, ...] = ()
    min_level: LevelName
    actions: tuple[str, ...] = Field(min_length=1)
    officers_by_level: dict[LevelName, Officers] = {}
    approximate: bool

    @model_validator(mode="after")
    def _check_triggers(self) -> Self:
        if (self.indicator_rule is None) != (not self.categories):
            raise ValueError(
                f"playbook {self.id!r}: categories and indicator_rule go together "
                "(an indicator needs a rule to raise)"
            )
        if self.indicator_rule is None and not self.named_by_rules:
            raise ValueError(f"playbook {self.id!r} is called by no category and named by no rule")
        return self

    @property
    def rules(self) -> tuple[str, ...]:
        """Every alert rule whose alerts follow this playbook."""
        own = () if self.indicator_rule is None else (self.indicator_rule,)
        return (*own, *self.named_by_rules)

    def officers_at(self, level: str) -> int:
        """Officers a reinforcement needs at ``level``: the figure of the highest level not above it."""
        rank = LEVEL_ORDER.index(level)
        known = [n for lv, n in self.officers_by_level.items() if LEVEL_ORDER.index(lv) <= rank]
        return known[-1] if known else 0


class Agency(BaseModel):
    """A border-guard agency: its mobile reserve and the neighbours it asks for help, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Z]{2}-[A-Z]+$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    name: str = Field(min_length=1)
    mobile_reserve_officers: Officers
    assistance_officers: Officers
    asks: tuple[str, ...] = ()
    approximate: bool

    @model_validator(mode="after")
    def _check_country(self) -> Self:
        if not self.id.startswith(f"{self.country}-"):
            raise ValueError(f"agency id {self.id!r} does not start with its country")
        if self.id in self.asks:
            raise ValueError(f"agency {self.id!r} cannot ask itself for help")
        return self
