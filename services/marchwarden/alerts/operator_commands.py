"""Operator commands on alerts and sections: the one place they change alert state.

Acknowledge, resolve, annotate and stand down an alert; silence and unsilence a section's
rules. Each command id is applied once (a replay is refused as a duplicate); the access
checks (who, when) come before, on the command router (access/commands.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from marchwarden.alerts import lifecycle
from marchwarden.alerts.board import AlertBoard
from marchwarden.alerts.indicator_alerts import IndicatorAlerts
from marchwarden.alerts.silences import Silence
from marchwarden.alerts.surge import SURGE
from marchwarden.contracts.alerts import AlertState
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.picture.clocks import SectionClocks
from marchwarden.settings import RuleSettings

# Applied command ids are remembered this long; the router refuses commands issued longer
# ago than its clock skew, so an older replay never reaches the engine.
COMMAND_IDS_KEPT_S = 86400.0


class DuplicateCommand(ValueError):
    """A command whose command_id was applied before (a replay)."""


class OperatorCommands:
    """Applies operator commands to the alert board, remembering which ids were applied."""

    def __init__(
        self,
        rules: RuleSettings,
        board: AlertBoard,
        indicator_alerts: IndicatorAlerts,
        clocks: SectionClocks,
        sections: Collection[str],
        wall_clock: Callable[[], float],
    ) -> None:
        self.rules = rules
        self.board = board
        self.indicator_alerts = indicator_alerts
        self.clocks = clocks
        self.sections = sections
        self.wall_clock = wall_clock
        self.applied: dict[str, float] = {}

    def prune(self) -> None:
        """Forget the ids of commands applied longer ago than any replay can reach."""
        horizon = self.wall_clock() - COMMAND_IDS_KEPT_S
        self.applied = {c: t for c, t in self.applied.items() if t >= horizon}

    def apply(self, command: OperatorCommand) -> AlertState | None:
        """The alert state the command makes (None for a silence); raises if it is refused."""
        if command.command_id in self.applied:
            raise DuplicateCommand(f"command {command.command_id!r} was applied before")
        if command.command in ("silence", "unsilence"):
            self._apply_silence(command)
            self.applied[command.command_id] = self.wall_clock()
            return None
        assert command.alert_id is not None  # the contract requires it for alert commands
        alert = self.board.by_id.get(command.alert_id)
        if alert is None:
            raise LookupError(f"no alert {command.alert_id!r} is known to this worker")
        at = max(command.issued_at, alert.updated_at)
        if command.command == "stand_down":
            self.indicator_alerts.stand_down(alert, at, command.operator_id, command.note)
            new = self.board.by_id[alert.alert_id]
        elif command.command == "resolve":
            # Resolving is not muting: the rule re-arms if the condition worsens or holds on,
            # and equipment stays reserved until its cause ends or a stand_down releases it.
            section = alert.section_id
            clock = (
                self.clocks.surge_clock(section)
                if alert.rule == SURGE
                else self.clocks.watermark(section)
            )
            new = self.board.resolve_by_hand(alert, command, clock)
        else:
            new = lifecycle.apply_command(alert, command)
            self.board.publish(new)
        self.applied[command.command_id] = self.wall_clock()
        return new

    def _apply_silence(self, command: OperatorCommand) -> None:
        section = command.routing_section
        assert section is not None  # the contract requires a section_id for silences
        if section not in self.sections:
            raise LookupError(f"no section {section!r} is known to this worker")
        if command.command == "unsilence":
            if self.board.silences.remove(section, command.rule) is None:
                raise lifecycle.InvalidTransition(
                    f"no silence of {command.rule or 'every rule'} on {section} to lift"
                )
            return
        assert command.until is not None
        if (command.until - command.issued_at).total_seconds() > self.rules.silence_max_s:
            raise lifecycle.InvalidTransition(
                f"a silence may last at most {self.rules.silence_max_s / 3600:g} h"
            )
        self.board.silences.add(
            Silence(
                section_id=section,
                rule=command.rule,
                until=command.until,
                reason=command.note,
                operator_id=command.operator_id,
                command_id=command.command_id,
                issued_at=command.issued_at,
            )
        )
