"""Counter-mobility equipment counts: the one type for stock, requirements and plans.

The reference data (park stock, artery requirements) and the alert contracts (what a plan
draws and what it is short of) use this one model; the closure book's arithmetic works on its
4-tuple view (`as_tuple`, alerts/equipment.py), which is cheaper to add and compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]


class Equipment(BaseModel):
    """Counts of the four counter-mobility equipment types: a park's stock, an artery's
    requirement, and on the wire what a plan draws from a park and what it is short of.

    Arithmetic never produces negative counts: subtraction saturates at zero, so
    ``required - available`` is the shortfall.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dragons_teeth: NonNegativeInt = 0
    hedgehogs: NonNegativeInt = 0
    spanish_riders: NonNegativeInt = 0
    roadblocks: NonNegativeInt = 0

    @classmethod
    def zero(cls) -> Equipment:
        return cls()

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.dragons_teeth, self.hedgehogs, self.spanish_riders, self.roadblocks)

    @classmethod
    def _from_tuple(cls, values: Iterable[int]) -> Equipment:
        dt, hh, sr, rb = values
        return cls(dragons_teeth=dt, hedgehogs=hh, spanish_riders=sr, roadblocks=rb)

    def __add__(self, other: Equipment) -> Equipment:
        if not isinstance(other, Equipment):
            return NotImplemented
        return self._from_tuple(
            a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)
        )

    def __sub__(self, other: Equipment) -> Equipment:
        """Element-wise difference, saturating at zero."""
        if not isinstance(other, Equipment):
            return NotImplemented
        return self._from_tuple(
            max(0, a - b) for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)
        )

    def scaled(self, factor: float) -> Equipment:
        """Each count multiplied by ``factor`` (>= 0) and rounded up."""
        if not math.isfinite(factor) or factor < 0:
            raise ValueError(f"scale factor must be a finite number >= 0, got {factor}")
        # round first so that e.g. 0.1 * 30 == 3.0000000000000004 does not become 4
        return self._from_tuple(math.ceil(round(v * factor, 9)) for v in self.as_tuple())

    def min(self, other: Equipment) -> Equipment:
        """Element-wise minimum."""
        return self._from_tuple(
            min(a, b) for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)
        )

    def covers(self, other: Equipment) -> bool:
        """True if every count here is >= the corresponding count in ``other``."""
        return all(a >= b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True))

    @property
    def total(self) -> int:
        return sum(self.as_tuple())

    @property
    def is_zero(self) -> bool:
        return self.total == 0
