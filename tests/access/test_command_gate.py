"""The command gate: a command is applied only if issued now, by an operator covering the section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from marchwarden.access.commands import CommandGate
from marchwarden.contracts.commands import OperatorCommand
from marchwarden.contracts.decoding import Rejection

NOW = datetime(2024, 7, 1, 12, tzinfo=UTC)
OPERATORS = {"ana": {"LT-VSAT"}, "rimas": {"EU-RCC"}}


def gate() -> CommandGate:
    def organisations_of(name: str, role: str) -> set[str]:
        return OPERATORS.get(name, set()) if role == "operator" else set()

    return CommandGate(organisations_of, skew_s=120, wall_clock=NOW.timestamp)


def command(**fields: object) -> OperatorCommand:
    doc = {
        "command_id": "c-1",
        "schema_version": 3,
        "command": "acknowledge",
        "alert_id": "surge.LT-BY-01.1",
        "operator_id": "ana",
        "issued_at": NOW,
        **fields,
    }
    return OperatorCommand.model_validate(doc)


def test_an_operator_of_the_covering_organisation_passes_with_it_filled_in() -> None:
    checked = gate().check(command(), "LT-BY-01")
    assert isinstance(checked, OperatorCommand) and checked.organisation == "LT-VSAT"
    regional = gate().check(command(operator_id="rimas"), "PL-BY-02")
    assert isinstance(regional, OperatorCommand) and regional.organisation == "EU-RCC"


@pytest.mark.parametrize(
    ("fields", "section", "kind", "fragment"),
    [
        ({"issued_at": datetime(2099, 1, 1, tzinfo=UTC)}, "LT-BY-01", "clock_skew", "ahead of"),
        ({"issued_at": NOW - timedelta(hours=1)}, "LT-BY-01", "clock_skew", "behind"),
        ({"operator_id": "forged-admin"}, "LT-BY-01", "forbidden", "names no operator token"),
        ({}, "PL-BY-02", "forbidden", "needs PL-SG or EU-RCC"),
        ({"organisation": "EU-RCC"}, "LT-BY-01", "forbidden", "is not the organisation"),
    ],
)
def test_refused_commands_say_why(fields: dict, section: str, kind: str, fragment: str) -> None:
    refused = gate().check(command(**fields), section)
    assert isinstance(refused, Rejection)
    assert refused.kind == kind and fragment in refused.reason


def test_small_clock_differences_are_accepted() -> None:
    for offset in (-119, 119):
        assert isinstance(
            gate().check(command(issued_at=NOW + timedelta(seconds=offset)), "LT-BY-01"),
            OperatorCommand,
        )
