"""What lit indicators call for, per playbook, and how a demand changed (pure)."""

from __future__ import annotations

from datetime import timedelta

from marchwarden.alerts.indicator_rules import basis_changes, indicator_demands
from marchwarden.picture.indicators import IndicatorState
from marchwarden.reference.models import ReferenceData
from tests.domain.factories import T0


def ind(
    indicator_id: str,
    category: str,
    level: str,
    section: str = "LV-BY-02",
    extra: tuple[str, ...] = (),
    confidence: float = 0.9,
    state: str = "lit",
    valid_for: timedelta | None = None,
) -> IndicatorState:
    return IndicatorState(
        indicator_id=indicator_id,
        section_id=section,
        sections=(section, *extra),
        category=category,
        level=level,  # type: ignore[arg-type]
        state=state,
        confidence=confidence,
        valid_until=T0 + valid_for if valid_for else None,
        updated_at=T0,
        event_id=f"ev-{indicator_id}",
    )


def test_each_category_goes_to_its_own_rule(reference: ReferenceData) -> None:
    demands = indicator_demands(
        [
            ind("mil", "military_movement", "high", extra=("LV-BY-01",)),
            ind("stg", "migrant_staging", "high"),
            ind("gps", "gnss_jamming", "medium"),
            ind("air", "airspace_violation", "high"),
        ],
        "LV-BY-02",
        T0,
        reference,
    )
    assert sorted(demands) == [
        "airspace_violation_advisory",
        "gnss_jamming_advisory",
        "move_equipment_to_arteries",
        "reinforce_section",
    ]
    mil = demands["move_equipment_to_arteries"]
    assert (mil.level, mil.sections, mil.indicator_ids) == (
        "high",
        ("LV-BY-01", "LV-BY-02"),
        ("mil",),
    )
    assert mil.playbook.id == "counter_mobility"
    assert "calls 'Move counter-mobility equipment to the arteries'" in mil.explanation[0]


def test_jamming_and_migrants_never_move_equipment(reference: ReferenceData) -> None:
    demands = indicator_demands(
        [
            ind("gps", "gnss_jamming", "critical"),
            ind("stg", "migrant_staging", "critical"),
            ind("ins", "instrumentalised_migration", "high"),
        ],
        "LV-BY-02",
        T0,
        reference,
    )
    assert "move_equipment_to_arteries" not in demands
    assert demands["reinforce_section"].indicator_ids == ("ins", "stg")
    assert demands["reinforce_section"].level == "critical"


def test_levels_below_the_playbook_minimum_and_doubtful_reports_call_nothing(
    reference: ReferenceData,
) -> None:
    demands = indicator_demands(
        [
            ind("mil-med", "military_movement", "medium"),
            ind("mil-doubt", "military_movement", "high", confidence=0.4),
            ind("stg-low", "migrant_staging", "low"),
        ],
        "LV-BY-02",
        T0,
        reference,
    )
    assert demands == {}


def test_only_lit_indicators_of_the_primary_section_count(reference: ReferenceData) -> None:
    demands = indicator_demands(
        [
            ind("gone", "military_movement", "high", state="cleared"),
            ind("old", "military_movement", "high", state="expired"),
            ind("other", "military_movement", "high", section="LV-BY-01", extra=("LV-BY-02",)),
        ],
        "LV-BY-02",
        T0 + timedelta(minutes=10),
        reference,
    )
    assert demands == {}


def test_basis_changes_in_words(reference: ReferenceData) -> None:
    (demand,) = indicator_demands(
        [ind("a", "military_movement", "high", extra=("LV-BY-01",))], "LV-BY-02", T0, reference
    ).values()
    assert basis_changes("high", ["LV-BY-01", "LV-BY-02"], ["a"], demand) == []
    assert basis_changes("critical", ["LV-BY-02", "LV-RU-01"], ["a", "b"], demand) == [
        "level down from critical to high",
        "now also covers LV-BY-01",
        "no longer covers LV-RU-01",
        "indicator b no longer lit",
    ]
