"""TLP as every exit applies it: RED stays with its originator, AMBER with the listed ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marchwarden.access.tlp import may_see, redact_alert, shared_and_organisation_views
from marchwarden.alerts.lifecycle import raise_alert
from marchwarden.contracts.alerts import AlertEvidence, Recommendation, SourceRef
from marchwarden.picture.redaction import redact_section

T0 = datetime(2024, 7, 1, 12, tzinfo=UTC)


def source(tlp: str, originator: str = "LT-VSAT", **fields: object) -> SourceRef:
    return SourceRef.model_validate(
        {
            "indicator_id": f"ind-{tlp}",
            "event_id": f"evt-{tlp}",
            "category": "military_movement",
            "level": "high",
            "tlp": tlp,
            "originator": originator,
            **fields,
        }
    )


def alert(*sources: SourceRef):  # type: ignore[no-untyped-def]
    evidence = AlertEvidence(
        indicator_ids=[s.indicator_id for s in sources],
        event_ids=[s.event_id for s in sources],
        sources=list(sources),
    )
    plan = Recommendation(summary="Block LT-A12", road_speed_kmh=50.0)
    return raise_alert(
        "move_equipment_to_arteries",
        "LT-RU-01",
        1,
        "high",
        T0,
        evidence,
        plan,
        playbook="counter_mobility",
    )


@pytest.mark.parametrize(
    ("tlp", "share_with", "viewer", "expected"),
    [
        ("clear", [], "PL-SG", True),
        ("green", [], None, True),
        ("amber", [], "LT-VSAT", True),
        ("amber", [], "EU-RCC", False),
        ("amber", ["EU-RCC"], "EU-RCC", True),
        ("amber", ["EU-RCC"], "LV-VRS", False),
        ("red", [], "LT-VSAT", True),
        ("red", [], "EU-RCC", False),
        ("red", ["EU-RCC"], "EU-RCC", False),
        ("red", [], None, False),
        ("purple", [], "LT-VSAT", False),
    ],
)
def test_who_may_see_what(
    tlp: str, share_with: list[str], viewer: str | None, expected: bool
) -> None:
    assert may_see(tlp, "LT-VSAT", share_with, viewer) is expected


def test_a_red_sourced_alert_shows_others_only_that_it_exists_and_what_to_do() -> None:
    full = alert(source("red"), source("green", "LV-VRS"))
    full = full.model_copy(
        update={"operator_note": "per our source in Sovetsk", "operator_org": "LT-VSAT"}
    )
    assert full.tlp == "red"
    other = redact_alert(full, "PL-SG")
    assert [s.indicator_id for s in other.evidence.sources] == ["ind-green"]
    assert other.evidence.indicator_ids == ["ind-green"]
    assert other.evidence.event_ids == ["evt-green"]
    assert other.withheld_sources == 1 and other.operator_note is None
    assert other.recommendation == full.recommendation and other.level == full.level
    assert "ind-red" not in other.model_dump_json() and "Sovetsk" not in other.model_dump_json()
    assert redact_alert(full, "LT-VSAT") == full


def test_the_shared_copy_and_the_copies_that_differ() -> None:
    full = alert(source("red"), source("amber", "LV-VRS", share_with=["EU-RCC"]))
    shared, by_org = shared_and_organisation_views(full)
    assert shared.evidence.sources == [] and shared.withheld_sources == 2
    assert set(by_org) == {"LT-VSAT", "LV-VRS", "EU-RCC"}
    assert [s.indicator_id for s in by_org["EU-RCC"].evidence.sources] == ["ind-amber"]
    assert [s.indicator_id for s in by_org["LT-VSAT"].evidence.sources] == ["ind-red"]


def test_the_picture_withholds_indicators_and_their_reasons() -> None:
    red = {
        "indicator_id": "kal-red",
        "category": "military_movement",
        "level": "critical",
        "confidence": 0.9,
        "tlp": "red",
        "originator": "LT-VSAT",
        "share_with": [],
    }
    section = {
        "indicators": [red],
        "threat_level": "critical",
        "threat_reasons": [
            "indicator kal-red (military_movement) lit at critical, confidence 0.90"
        ],
        "open_alerts": [alert(source("red")).model_dump(mode="json")],
    }
    seen = redact_section(section, "EE-PPA")
    text = repr(seen)
    assert seen["indicators"] == [] and "kal-red" not in text and "ind-red" not in text
    assert seen["threat_level"] == "critical"
    assert "1 indicator(s) withheld" in seen["threat_reasons"][0]
    assert redact_section(section, "LT-VSAT")["indicators"] == [red]
