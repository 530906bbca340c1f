"""Simulator realism: clustered background traffic that surges unscripted in a crisis, public
figures counted in people, and the 2021 figures taken at the article's date."""

from __future__ import annotations

import bisect
import itertools
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import mean, pvariance

import pytest

from marchwarden.alerts.lifecycle import section_of_alert_id
from marchwarden.engine.outputs import Record
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.reference import load_reference
from marchwarden.settings import RuleSettings
from marchwarden.simulator import generate, get_scenario, summarise
from marchwarden.simulator.scenarios import ARTICLE_2021_DATE, CalibrationTarget
from tests.support.stack import TOPIC_OF

BALTIC = "baltic-2024"


def _epoch(e: dict) -> int:
    return int(datetime.fromisoformat(e["occurred_at"]).timestamp())


def _utc(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), UTC)


def test_the_autumn_2021_crisis_on_the_polish_belarusian_border_trips_the_surge_rule() -> None:
    """No surge is scripted in 2021: the engine's own surge rule must find the crisis."""
    assert all(s.start.year == 2024 for s in get_scenario(BALTIC).surges)
    engine = PictureEngine(
        load_reference(), RuleSettings(), wall_clock=lambda: _utc(date(2021, 12, 1)).timestamp()
    )
    offsets = itertools.count()
    raised: list[tuple[str, datetime]] = []
    events = [
        e
        for e in generate(BALTIC, 2024, date(2021, 8, 1), date(2021, 12, 1))
        if e["section_id"].startswith("PL-BY") and e["event_type"] == "crossing_attempt"
    ]
    for _, day in itertools.groupby(events, key=lambda e: e["occurred_at"][:10]):
        engine.ingest(
            Record(TOPIC_OF[e["event_type"]], 0, next(offsets), None, json.dumps(e).encode())
            for e in day
        )
        engine.evaluate()
        for alert in engine.drain().alerts:
            if alert.rule == "surge" and alert.status == "raised":
                raised.append((alert.alert_id, alert.raised_at))
    assert raised, "the 2021 crisis raised no surge"
    months = Counter(at.strftime("%Y-%m") for _, at in raised)
    assert set(months) <= {"2021-09", "2021-10", "2021-11"}, months
    assert months["2021-10"] >= 3, months
    assert {section_of_alert_id(a) for a, _ in raised} >= {"PL-BY-02"}


def _hourly_attempts(section_id: str, start: date, end: date) -> list[int]:
    counts = Counter(
        _epoch(e) // 3600
        for e in generate(BALTIC, 2024, start, end)
        if e["event_type"] == "crossing_attempt" and e["section_id"] == section_id
    )
    first, last = _utc(start).timestamp() // 3600, _utc(end).timestamp() // 3600
    return [counts.get(h, 0) for h in range(int(first), int(last))]


def test_background_attempts_arrive_in_waves_larger_on_busy_days() -> None:
    crisis = _hourly_attempts("PL-BY-02", date(2021, 10, 1), date(2021, 11, 1))
    normal = _hourly_attempts("PL-BY-02", date(2024, 5, 1), date(2024, 6, 1))
    # Variance over mean of attempts per hour: ~1 for independent arrivals, a little more
    # with the night peak; waves make it much larger, and larger on busier days.
    crisis_dispersion = pvariance(crisis) / mean(crisis)
    normal_dispersion = pvariance(normal) / mean(normal)
    assert crisis_dispersion > 6.0
    assert 1.5 < normal_dispersion < crisis_dispersion


def _windows_reaching_the_floors(
    name: str, start: date | None = None, end: date | None = None, belarus_only: bool = False
) -> list[tuple[str, int, int, int]]:
    """(section, epoch, attempts, persons) of every 60-minute window outside the scripted
    surges (and the hour after) that reaches the section's floor in attempts or persons."""
    reference = load_reference()
    scenario = get_scenario(name)
    per_section: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for e in generate(scenario, 2024, start, end):
        if e["event_type"] != "crossing_attempt" or (
            belarus_only and "-BY-" not in e["section_id"]
        ):
            continue
        t = _epoch(e)
        if any(
            s.section_id == e["section_id"]
            and s.start.timestamp() <= t < (s.end + timedelta(hours=1)).timestamp()
            for s in scenario.surges
        ):
            continue
        per_section[e["section_id"]].append((t, e["persons"]))
    found = []
    for section_id, items in per_section.items():
        section = reference.section(section_id)
        times = [t for t, _ in items]
        persons = [0, *itertools.accumulate(p for _, p in items)]
        for t in times:
            m = t // 60
            lo = bisect.bisect_left(times, (m - 59) * 60)
            hi = bisect.bisect_left(times, (m + 1) * 60)
            n, p = hi - lo, persons[hi] - persons[lo]
            if n >= section.surge_floor_attempts or p >= section.surge_floor_persons:  # type: ignore[operator]
                found.append((section_id, t, n, p))
    return found


def test_a_normal_year_stays_below_the_floors_of_the_belarus_sections() -> None:
    """2024 background (outside the scripted LV-BY-02 push) never reaches a section's floor."""
    assert _windows_reaching_the_floors(BALTIC, date(2024, 1, 1), date(2025, 1, 1), True) == []


@pytest.mark.parametrize("name", ["smoke", "surge-drill"])
def test_unclustered_scenarios_surge_only_where_scripted_in_attempts_and_persons(
    name: str,
) -> None:
    assert _windows_reaching_the_floors(name) == []


def _figure(
    key: str, measure: str, event_type: str, last_day: date, **kw: object
) -> CalibrationTarget:
    return CalibrationTarget(
        key,
        key,
        "test",
        measure,
        event_type,
        ("LT",),
        date(2021, 1, 1),
        last_day,
        1,
        **kw,  # type: ignore[arg-type]
    )


def test_the_2021_figures_are_year_to_date_at_the_articles_date() -> None:
    assert date(2021, 8, 25) == ARTICLE_2021_DATE
    to_date = date(2021, 8, 24)
    full = date(2021, 12, 31)
    crossed = {"neighbours": ("BY",), "outcomes": ("crossed", "detained")}
    targets = (
        _figure("crossed_ytd", "persons", "crossing_attempt", to_date, **crossed),
        _figure("crossed_year", "persons", "crossing_attempt", full, **crossed),
        _figure("turned_back_ytd", "persons", "turn_back", to_date),
        _figure("turned_back_year", "persons", "turn_back", full),
    )
    figures = summarise(generate(BALTIC, 2024, date(2021, 1, 1), date(2022, 1, 1)), targets)[
        "calibration"
    ]
    # 'almost 4,200' and 'more than 1,500' at the article's date ...
    assert 4_000 <= figures["crossed_ytd"] < 4_200
    assert 1_500 < figures["turned_back_ytd"] <= 1_600
    # ... while the year went on: push-backs continued all autumn, few got in.
    assert figures["turned_back_year"] > 4 * figures["turned_back_ytd"]
    assert figures["crossed_ytd"] < figures["crossed_year"] < 1.1 * figures["crossed_ytd"]


def test_the_published_attempts_count_people_not_reports() -> None:
    pl = [
        e
        for e in generate(BALTIC, 2024, date(2024, 1, 1), date(2024, 7, 27))
        if e["event_type"] == "crossing_attempt" and e["section_id"].startswith("PL-BY")
    ]
    persons = sum(e["persons"] for e in pl)
    assert persons == 21_000
    # One report per group of about 2.5 people.
    assert 21_000 / 3 < len(pl) < 21_000 / 2


@pytest.mark.parametrize("name", ["smoke", "surge-drill"])
def test_the_short_scenarios_keep_an_unclustered_background(name: str) -> None:
    assert not get_scenario(name).clustering
    assert get_scenario(BALTIC).clustering
