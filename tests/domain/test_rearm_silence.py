"""Pure parts of resolve-not-mute, silences and silent sections."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marchwarden.alerts.rearm import ManualResolve, decide_rearm
from marchwarden.alerts.silences import Silence, SilenceBook
from marchwarden.alerts.silent import assess_silence
from tests.domain.factories import T0

RESOLVED = ManualResolve("surge.LT-BY-01.1", "medium", 10_000.0)
HOUR = 3600.0


@pytest.mark.parametrize(
    ("level", "after", "action"),
    [
        (None, 60.0, "clear"),
        ("medium", 60.0, "hold"),
        ("high", 60.0, "rearm"),
        ("critical", 1.0, "rearm"),
        ("medium", 2 * HOUR - 1, "hold"),
        ("medium", 2 * HOUR, "rearm"),
    ],
)
def test_a_manual_resolve_re_arms_on_worsening_or_after_the_period(
    level: str | None, after: float, action: str
) -> None:
    decision = decide_rearm(RESOLVED, level, RESOLVED.clock + after, 2 * HOUR)  # type: ignore[arg-type]
    assert decision.action == action
    if action == "rearm":
        assert "surge.LT-BY-01.1" in decision.reason


def test_the_reason_says_why() -> None:
    worse = decide_rearm(RESOLVED, "high", RESOLVED.clock + 60, 2 * HOUR)
    assert worse.reason == "worsened to high after surge.LT-BY-01.1 was resolved by hand at medium"
    still = decide_rearm(RESOLVED, "medium", RESOLVED.clock + 3 * HOUR, 2 * HOUR)
    assert still.reason.startswith("still at medium 3.0 h after surge.LT-BY-01.1")


def silence(rule: str | None = None, hours: float = 2) -> Silence:
    return Silence("LT-RU-01", rule, T0 + timedelta(hours=hours), "exercise", "op-1", "c-1", T0)


def test_a_silence_mutes_its_scope_until_it_expires() -> None:
    book = SilenceBook()
    book.add(silence("surge"))
    assert book.active("LT-RU-01", "surge", T0) is not None
    assert book.active("LT-RU-01", "section_silent", T0) is None
    assert book.active("LT-RU-02", "surge", T0) is None
    assert book.active("LT-RU-01", "surge", T0 + timedelta(hours=2)) is None
    book.add(silence(None))
    assert book.active("LT-RU-01", "section_silent", T0) is not None
    assert [s.rule for s in book.of_section("LT-RU-01", T0)] == [None, "surge"]
    assert book.expire("LT-RU-01", T0 + timedelta(hours=3)) != []
    assert book.silences == {}


def test_unsilence_removes_exactly_its_scope() -> None:
    book = SilenceBook()
    book.add(silence("surge"))
    book.add(silence(None))
    assert book.remove("LT-RU-01", "surge") is not None
    assert book.active("LT-RU-01", "surge", T0) is not None  # the section-wide one remains
    assert book.remove("LT-RU-01", "surge") is None


@pytest.mark.parametrize(
    ("silent_min", "level"), [(0, None), (60, None), (61, "medium"), (240, "medium"), (241, "high")]
)
def test_a_section_is_silent_past_its_cadence(silent_min: int, level: str | None) -> None:
    state = assess_silence(1000.0, 1000.0 + silent_min * 60, 3600.0)
    assert state.level == level
    assert state.silent_for_s == silent_min * 60
    if level:
        assert state.explanation.startswith(f"no report or sensor heartbeat for {silent_min} min")
