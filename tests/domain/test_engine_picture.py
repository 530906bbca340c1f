"""PictureEngine.picture(): the situational picture per section at the watermark."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.domain.factories import T0, event_doc

SECTION = "LT-BY-01"  # prior 0.2 attempts (reports) a day
MIN = timedelta(minutes=1)


def test_picture_of_a_busy_section(harness) -> None:
    harness.attempts(SECTION, 1, start=T0 - timedelta(hours=3))  # starts the history
    harness.attempts(SECTION, 20, outcome="detained", persons=2)
    harness.send(event_doc("turn_back", SECTION, T0 + MIN, persons=4))
    harness.indicator(
        SECTION,
        T0,
        indicator_id="ind-doubt",
        category="migrant_staging",
        level="critical",
        confidence=0.3,
    )
    harness.alerts()

    picture = harness.engine.picture([SECTION])
    section = picture["sections"][SECTION]

    assert picture["watermark"] == (T0 + timedelta(seconds=380)).isoformat()  # last attempt
    assert section["name"] == harness.engine.reference.section(SECTION).name
    assert section["counts"]["1h"]["attempts"] == 20
    assert section["counts"]["1h"]["detained"] == 20
    assert section["counts"]["1h"]["attempt_persons"] == 40
    assert section["counts"]["1h"]["turn_back_persons"] == 4
    assert section["counts"]["24h"]["attempts"] == 21
    assert section["counts"]["7d"]["attempts"] == 21

    prior = 0.2 / 24
    mean = (1 + prior * (28 * 24 - 3)) / (28 * 24)
    assert section["baseline"]["observed_hours"] == 3
    assert section["baseline"]["hourly_mean"] == pytest.approx(mean, abs=1e-4)
    assert section["baseline"]["method"] == "3 h observed, rest from the section's prior estimate"
    # The section's own floors (reference data): 8 attempts or 20 persons an hour.
    assert section["surge_threshold"] == 8.0
    assert section["surge_persons_threshold"] == 20.0
    assert section["surge_ratio"] == pytest.approx(20 / mean, rel=1e-3)
    assert section["last_report_at"] == (T0 + timedelta(seconds=380)).isoformat()
    assert section["silent_for_s"] == 0.0

    assert [i["indicator_id"] for i in section["indicators"]] == ["ind-doubt"]
    # critical at confidence 0.3 counts as high, above the medium surge.
    assert section["threat_level"] == "high"
    indicator_reason, surge_reason = section["threat_reasons"]
    assert (
        indicator_reason == "indicator ind-doubt (migrant_staging) lit at critical, confidence 0.30"
    )
    assert surge_reason.startswith("surge: 20 attempts in the last hour against a threshold of 8 ")
    assert "40 persons in the last hour against a threshold of 20" in surge_reason
    # Migrants staging call for border guards, not for dragon's teeth.
    assert [(a["rule"], a["playbook"], a["status"]) for a in section["open_alerts"]] == [
        ("reinforce_section", "border_guard_reinforcement", "raised"),
        ("surge", "border_guard_reinforcement", "escalated"),
    ]
    assert picture["stats"] == {"accepted": 23, "duplicates": 0, "late": 0, "rejected": 0}


def test_quiet_section_is_low_with_a_reason(harness) -> None:
    harness.attempts(SECTION, 3)
    section = harness.section_picture("EE-RU-02")

    assert section["threat_level"] == "low"
    assert section["threat_reasons"] == ["no lit indicator and no surge"]
    assert section["open_alerts"] == [] and section["indicators"] == []
    assert all(n == 0 for window in section["counts"].values() for n in window.values())
    assert section["surge_ratio"] == 0.0


def test_indicator_shows_on_its_extra_sections(harness) -> None:
    harness.indicator(
        "LT-RU-01", T0, indicator_id="ind-wide", level="medium", extra_section_ids=["LT-RU-02"]
    )
    section = harness.section_picture("LT-RU-02")
    assert [i["indicator_id"] for i in section["indicators"]] == ["ind-wide"]
    assert section["threat_level"] == "medium"


def test_cleared_indicator_leaves_the_picture(harness) -> None:
    harness.indicator(SECTION, T0, indicator_id="ind-1", level="medium")
    assert harness.section_picture(SECTION)["threat_level"] == "medium"
    harness.indicator(SECTION, T0 + MIN, indicator_id="ind-1", level="medium", state="cleared")
    section = harness.section_picture(SECTION)
    assert section["indicators"] == [] and section["threat_level"] == "low"


def test_picture_covers_every_owned_section_by_default(harness, reference) -> None:
    picture = harness.engine.picture()
    assert sorted(picture["sections"]) == sorted(reference.section_ids)


def test_baseline_history_starts_at_the_earliest_accepted_event(harness) -> None:
    harness.attempts(SECTION, 1, start=T0)
    harness.attempts(SECTION, 1, start=T0 - timedelta(hours=5))  # 5 h late: accepted

    baseline = harness.section_picture(SECTION)["baseline"]

    # What rebuild_engine computes from history (history_start = min(occurred_at)).
    prior = 0.2 / 24
    assert baseline["observed_hours"] == 5
    assert baseline["hourly_mean"] == pytest.approx(
        (1 + prior * (28 * 24 - 5)) / (28 * 24), abs=5e-5
    )
