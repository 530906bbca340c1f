"""Playbooks per indicator category, border-guard reinforcement and advisories (pure)."""

from __future__ import annotations

import pytest

from marchwarden.alerts.playbooks import (
    advisory_recommendation,
    calls_playbook,
    reinforcement_plan,
    reinforcement_recommendation,
)
from marchwarden.reference.models import ReferenceData


@pytest.mark.parametrize(
    ("category", "playbook", "rule"),
    [
        ("military_movement", "counter_mobility", "move_equipment_to_arteries"),
        ("migrant_staging", "border_guard_reinforcement", "reinforce_section"),
        ("instrumentalised_migration", "border_guard_reinforcement", "reinforce_section"),
        ("gnss_jamming", "gnss_jamming_advisory", "gnss_jamming_advisory"),
        ("airspace_violation", "airspace_violation_advisory", "airspace_violation_advisory"),
        (
            "infrastructure_sabotage",
            "infrastructure_sabotage_advisory",
            "infrastructure_sabotage_advisory",
        ),
        ("other", "intelligence_review", "intelligence_advisory"),
    ],
)
def test_each_category_calls_its_own_playbook(
    reference: ReferenceData, category: str, playbook: str, rule: str
) -> None:
    found = reference.playbook_for_category(category)
    assert (found.id, found.indicator_rule) == (playbook, rule)
    assert found.actions


def test_only_a_military_threat_moves_counter_mobility_equipment(reference: ReferenceData) -> None:
    movers = [p.id for p in reference.playbooks if p.indicator_rule == "move_equipment_to_arteries"]
    assert movers == ["counter_mobility"]
    assert reference.playbook("counter_mobility").categories == ("military_movement",)


def test_surges_call_border_guards_and_silence_calls_for_contact(reference: ReferenceData) -> None:
    assert reference.playbook_for_rule("surge").id == "border_guard_reinforcement"
    assert reference.playbook_for_rule("section_silent").id == "restore_contact"


@pytest.mark.parametrize(
    ("playbook", "level", "calls"),
    [
        ("counter_mobility", "medium", False),
        ("counter_mobility", "high", True),
        ("border_guard_reinforcement", "low", False),
        ("border_guard_reinforcement", "medium", True),
        ("gnss_jamming_advisory", "medium", True),
    ],
)
def test_a_playbook_is_called_from_its_minimum_level(
    reference: ReferenceData, playbook: str, level: str, calls: bool
) -> None:
    assert calls_playbook(reference.playbook(playbook), level) is calls


def test_officers_by_level(reference: ReferenceData) -> None:
    book = reference.playbook("border_guard_reinforcement")
    assert [book.officers_at(lv) for lv in ("low", "medium", "high", "critical")] == [0, 10, 30, 60]


def test_latvia_short_of_officers_asks_lithuania_first(reference: ReferenceData) -> None:
    """As Latvia asked Lithuania for 10-15 officers in 2024, from its quieter Russian border."""
    quiet = {"LT-RU-01", "LT-RU-02", "LV-RU-01", "LV-RU-02", "LV-BY-01"}
    plan = reinforcement_plan(reference, "LV-BY-02", 30, quiet)
    own, request = plan.sources
    assert (own.agency, own.officers, own.request) == ("LV-VRS", 20, False)
    assert own.from_sections == ["LV-BY-01", "LV-RU-01", "LV-RU-02"]
    assert (request.agency, request.officers, request.request) == ("LT-VSAT", 10, True)
    assert request.from_sections == ["LT-RU-01", "LT-RU-02"]
    assert plan.shortfall == 0


def test_requests_go_down_the_list_and_report_a_shortfall(reference: ReferenceData) -> None:
    plan = reinforcement_plan(reference, "LV-BY-02", 60, set())
    assert [(s.agency, s.officers) for s in plan.sources] == [
        ("LV-VRS", 20),
        ("LT-VSAT", 15),
        ("EE-PPA", 10),
    ]
    assert plan.shortfall == 15
    assert sum(s.officers for s in plan.sources) + plan.shortfall == plan.officers_required


def test_a_reserve_big_enough_asks_nobody(reference: ReferenceData) -> None:
    plan = reinforcement_plan(reference, "PL-BY-02", 60, set())
    assert [(s.agency, s.request) for s in plan.sources] == [("PL-SG", False)]


def test_reinforcement_recommendation_names_the_request(reference: ReferenceData) -> None:
    book = reference.playbook("border_guard_reinforcement")
    rec = reinforcement_recommendation(reference, book, "LV-BY-02", "high", {"LT-RU-01"})
    assert rec.summary == (
        "Reinforce LV-BY-02 with 30 border guards: 20 from the LV-VRS reserve, "
        "request 10 from LT-VSAT (LT)"
    )
    assert rec.actions == list(book.actions)
    assert rec.arteries == []


def test_advisories_move_no_equipment(reference: ReferenceData) -> None:
    book = reference.playbook("gnss_jamming_advisory")
    rec = advisory_recommendation(book, ["LV-BY-01", "LV-BY-02"])
    assert rec.arteries == [] and rec.reinforcement is None
    assert rec.summary == "GNSS jamming advisory for LV-BY-01, LV-BY-02"
    assert "dragon" not in " ".join(rec.actions).lower()
