"""The gate every operator command passes before it reaches an alert: when, and who.

Commands arrive on ops.commands from any client that can write there (the HTTP endpoints
among them). One is accepted only if its issued_at lies within a small skew of this
worker's clock (no backdating, no future-dating) and its operator_id names an operator
token of an organisation that covers the alert's section. The accepted command leaves with
that organisation filled in; replays of the same command_id are refused by the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from marchwarden.access.identity import Role, covering_organisations, covers
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.decoding import Rejection

OrganisationsOf = Callable[[str, Role], set[str]]


@dataclass
class CommandGate:
    organisations_of: OrganisationsOf
    skew_s: float
    wall_clock: Callable[[], float] = time.time

    def check(self, command: OperatorCommand, section: str) -> OperatorCommand | Rejection:
        """The command with its operator's organisation, or why it is refused."""
        drift = command.issued_at.timestamp() - self.wall_clock()
        if abs(drift) > self.skew_s:
            direction = "ahead of" if drift > 0 else "behind"
            return Rejection(
                "clock_skew",
                f"issued_at {_iso(command.issued_at)} is {abs(drift):.0f} s {direction} the "
                f"worker's clock; commands must be issued within {self.skew_s:.0f} s of now",
            )
        organisations = self.organisations_of(command.operator_id, "operator")
        if len(organisations) != 1:
            return Rejection(
                "forbidden", f"operator_id {command.operator_id!r} names no operator token"
            )
        (organisation,) = organisations
        if command.organisation is not None and command.organisation != organisation:
            return Rejection(
                "forbidden",
                f"organisation {command.organisation} is not the organisation of operator "
                f"{command.operator_id!r} ({organisation})",
            )
        if not covers(organisation, section):
            return Rejection(
                "forbidden",
                f"operator {command.operator_id!r} of {organisation} may not act on {section}; "
                f"it needs {' or '.join(covering_organisations(section))}",
            )
        return command.model_copy(update={"organisation": organisation})


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
