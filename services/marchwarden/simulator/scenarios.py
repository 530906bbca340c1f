"""Named simulation scenarios: event quotas per border and period, surges and indicator episodes.

A scenario is data, not code: a list of *streams* (a fixed quota of crossing attempts or
turn-backs on one country's border with one neighbour over a period of UTC days, with a
monthly shape), *surge episodes* (a scripted burst of attempts on one section) and
*indicator episodes* (one indicator lit, updated and cleared or left to expire). The
generator (`marchwarden.simulator.generator`) turns a scenario and a seed into events.

Calibration of ``baltic-2024`` (the two news reports the project was briefed with; all
windows are UTC days, end inclusive). The public figures count people, not reports: a border
guard's "attempt" is one person trying to cross (a group of five is five attempts), and
"turned away" / "not admitted" / "crossed" are people too. So every crossing-attempt stream is
a quota of persons; the generator draws reports (one per group, mean group 2.5) until the
persons add up to it exactly::

    key                        published figure                         scenario quota
    -------------------------  ---------------------------------------  ---------------
    lt_turned_back_2024        LT turned away ~350 people,               350 persons
                               1 Jan - 26 Jul 2024 (turn_back persons,
                               all LT sections)
    lv_by_attempts_2024        LV recorded over 3,000 attempts,         3,050 persons
                               1 Jan - 26 Jul 2024 (crossing_attempt    (the LV-BY-02 surge
                               persons, LV-BY sections)                 included)
    pl_by_attempts_2024        PL recorded 21,000 attempts,             21,000 persons
                               1 Jan - 26 Jul 2024 (PL-BY sections)
    lt_by_crossed_2021         almost 4,200 people crossed into LT      4,180 persons
                               this year, at the article's date
                               (crossing_attempt persons, outcome
                               crossed or detained, LT-BY sections,
                               1 Jan - 24 Aug 2021)
    lt_by_crossed_2020         81 in 2020 (same measure)                81 persons
    lt_turned_back_2021        more than 1,500 not admitted after       1,540 persons
                               several weeks of push-backs, at the
                               article's date (turn_back persons, LT
                               sections, 1 Jan - 24 Aug 2021)

The 2021 article was published on Wednesday 25 August 2021, the day the North Atlantic
Council decided to send its counter-hybrid team (it "reacted Wednesday"; "on Tuesday alone"
two were turned back); push-backs had run "for several weeks" (since 3 August 2021). So its
figures are year-to-date at ``ARTICLE_2021_DATE``, up to 24 August, not full-year: the
scenario keeps going after that date (Lithuania turned back thousands more in the autumn;
few got in once the push-backs began).

Quotas are exact: the generator places exactly the quota of persons of each stream, so the
generated figures equal the quotas for every seed; the tests accept +-5 % around the
published figure (and at least the figure where the report says "over"). Everything else
(other years, Latvian and Polish turn-backs, the Russian borders) is an illustrative profile
after the order of magnitude of public border-guard statistics, not a calibration target.

Background traffic of ``baltic-2024`` clusters (``Scenario.clustering``): groups arrive in
waves, larger on busier days, so surges also arise without a script when the border is busy
(the autumn 2021 crisis on the Polish-Belarusian border trips the surge rule). The short
scenarios keep the background unclustered, so their scripted surge is their only one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

Outcome = Literal["prevented", "detained", "crossed", "unknown"]
StreamType = Literal["crossing_attempt", "turn_back"]
Unit = Literal["events", "persons"]
LevelName = Literal["low", "medium", "high", "critical"]

FLAT: tuple[float, ...] = (1.0,) * 12
"""Monthly weights (January..December) of a stream with no seasonality."""
SEASONAL: tuple[float, ...] = (0.55, 0.5, 0.65, 0.85, 1.15, 1.3, 1.3, 1.3, 1.25, 1.1, 0.75, 0.6)
"""Typical post-2021 shape on the Belarus border: low in winter, high May - October."""
CRISIS_2021: tuple[float, ...] = (0.05, 0.05, 0.05, 0.05, 0.1, 0.2, 0.5, 3.5, 7.7, 17.3, 8.9, 1.7)
"""The 2021 autumn crisis on the Polish and Latvian borders (peak in October)."""
LT_IRREGULAR_2021: tuple[float, ...] = (1, 1, 2, 4, 70, 470, 2640, 20, 5, 5, 5, 5)
"""People crossing into Lithuania in 2021: rising from May, peak in July, then push-backs."""
PUSHBACKS_2021: tuple[float, ...] = (0, 0, 0, 0, 0, 0, 0.05, 3.0, 2.0, 2.5, 1.5, 0.5)
"""Lithuanian turn-backs started in August 2021."""
PL_2023: tuple[float, ...] = (0.4, 0.4, 0.6, 0.9, 1.5, 1.6, 1.4, 1.2, 1.1, 1.0, 0.6, 0.5)
LV_2023: tuple[float, ...] = (0.3, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.4, 2.4, 1.6, 0.6, 0.4)
PL_2024: tuple[float, ...] = (0.5, 0.5, 0.7, 1.0, 1.35, 1.45, 1.25, 1.1, 1.0, 0.9, 0.6, 0.5)

DEFAULT_OUTCOMES: tuple[tuple[Outcome, float], ...] = (
    ("prevented", 0.86),
    ("detained", 0.07),
    ("crossed", 0.03),
    ("unknown", 0.04),
)
"""Most attempts on the Belarus border are prevented at the fence."""
STOPPED_OUTCOMES: tuple[tuple[Outcome, float], ...] = (("prevented", 0.96), ("unknown", 0.04))
"""Lithuanian attempts stopped at the border; people who got in are the irregular streams."""
IRREGULAR_OUTCOMES: tuple[tuple[Outcome, float], ...] = (("detained", 0.92), ("crossed", 0.08))
"""People who got into the country: found and detained, or reported crossed and gone."""
SURGE_OUTCOMES: tuple[tuple[Outcome, float], ...] = (
    ("prevented", 0.84),
    ("detained", 0.1),
    ("crossed", 0.03),
    ("unknown", 0.03),
)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Stream:
    """A fixed quota of events of one type on one country's border with one neighbour.

    The quota is spread over the UTC days ``[start, end)`` following the monthly weights
    (interpolated between month midpoints), a weekly pattern and day-to-day noise, and over
    the country's sections with that neighbour in proportion to their reference
    ``expected_attempts_per_day``. ``unit='persons'`` makes the quota a number of people:
    group sizes are drawn until they add up to it exactly.
    """

    country: str
    neighbour: str
    event_type: StreamType
    start: date
    end: date
    quota: int
    unit: Unit = "events"
    monthly: tuple[float, ...] = FLAT
    outcomes: tuple[tuple[Outcome, float], ...] = DEFAULT_OUTCOMES
    mean_group: float = 2.5
    includes_surges: bool = False
    """The quota counts the scripted surges on this border in the period (their persons or
    events are taken off it), so a published figure covers both."""

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"stream {self.label}: end {self.end} is not after start {self.start}")
        if self.quota < 0:
            raise ValueError(f"stream {self.label}: negative quota {self.quota}")
        if len(self.monthly) != 12 or min(self.monthly) < 0 or sum(self.monthly) <= 0:
            raise ValueError(f"stream {self.label}: need 12 non-negative monthly weights")
        if self.mean_group < 1:
            raise ValueError(f"stream {self.label}: mean group size below 1")

    @property
    def label(self) -> str:
        return (
            f"{self.country}-{self.neighbour} {self.event_type} "
            f"{self.start.isoformat()}..{self.end.isoformat()}"
        )


@dataclass(frozen=True, slots=True)
class SurgeEpisode:
    """A scripted burst of crossing attempts on one section, in slots of ``slot_minutes``."""

    section_id: str
    start: datetime
    counts: tuple[int, ...]
    slot_minutes: int = 10
    mean_group: float = 3.5
    outcomes: tuple[tuple[Outcome, float], ...] = SURGE_OUTCOMES

    @property
    def total(self) -> int:
        """Number of attempt events in the episode."""
        return sum(self.counts)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.slot_minutes * len(self.counts))

    def peak_hour(self) -> int:
        """Largest number of attempts in any run of slots covering 60 minutes."""
        per_hour = max(1, 60 // self.slot_minutes)
        c = self.counts
        return max(sum(c[i : i + per_hour]) for i in range(max(1, len(c) - per_hour + 1)))


@dataclass(frozen=True, slots=True)
class IndicatorUpdate:
    """One report about an indicator, ``after`` the episode start."""

    after: timedelta
    level: LevelName
    state: Literal["lit", "cleared"]
    confidence: float
    tlp: Literal["clear", "green", "amber", "red"] = "amber"
    valid_for: timedelta | None = None
    # For TLP:AMBER, who besides the reporting agency may see it: national intelligence
    # shares its AMBER reports with the regional coordination centre.
    share_with: tuple[str, ...] = ("EU-RCC",)


@dataclass(frozen=True, slots=True)
class IndicatorEpisode:
    """One intelligence indicator over its life: lit, updated, then cleared or left to expire."""

    indicator_id: str
    section_id: str
    category: str
    reporter: str
    start: datetime
    updates: tuple[IndicatorUpdate, ...]
    extra_section_ids: tuple[str, ...] = ()

    @property
    def ends_by(self) -> Literal["cleared", "expiry"]:
        return "cleared" if self.updates[-1].state == "cleared" else "expiry"


@dataclass(frozen=True, slots=True)
class CalibrationTarget:
    """A published figure and the measure over generated events that must reproduce it."""

    key: str
    description: str
    source: str
    measure: Literal["events", "persons"]
    event_type: StreamType
    countries: tuple[str, ...]
    first_day: date
    last_day: date
    published: int
    neighbours: tuple[str, ...] | None = None
    outcomes: tuple[Outcome, ...] | None = None
    at_least: bool = False
    tolerance: float = 0.05

    def accepts(self, value: float) -> bool:
        """Within ``tolerance`` of the published figure (and not below it if ``at_least``)."""
        if self.at_least and value < self.published:
            return False
        return abs(value - self.published) <= self.tolerance * self.published

    def deviation(self, value: float) -> float:
        """Relative deviation from the published figure."""
        return (value - self.published) / self.published if self.published else 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named, seedable simulation: UTC days ``[start, end)``, streams and episodes."""

    name: str
    description: str
    start: date
    end: date
    streams: tuple[Stream, ...]
    surges: tuple[SurgeEpisode, ...] = ()
    indicators: tuple[IndicatorEpisode, ...] = ()
    calibration: tuple[CalibrationTarget, ...] = field(default=())
    local_time: bool = True
    """Emit occurred_at with the reporting country's UTC offset (EET/CET with EU summer time)."""
    clustering: bool = True
    """Background attempts arrive in waves (see the generator); False spreads them out and caps
    them below the surge threshold, so scripted surges are the only ones."""

    def __post_init__(self) -> None:
        for s in self.streams:
            if s.start < self.start or s.end > self.end:
                raise ValueError(f"scenario {self.name}: stream {s.label} outside the scenario")
        lo = datetime.combine(self.start, datetime.min.time(), UTC)
        hi = datetime.combine(self.end, datetime.min.time(), UTC)
        for surge in self.surges:
            if surge.start < lo or surge.end > hi:
                raise ValueError(f"scenario {self.name}: surge on {surge.section_id} outside")
        for ep in self.indicators:
            if ep.start < lo or ep.start + ep.updates[-1].after >= hi:
                raise ValueError(f"scenario {self.name}: indicator {ep.indicator_id} outside")

    @property
    def days(self) -> int:
        return (self.end - self.start).days


# --- episodes shared by the scenarios ----------------------------------------------------

KALININGRAD_2024 = IndicatorEpisode(
    indicator_id="LT-AOTD-2024-0716-KAL",
    section_id="LT-RU-01",
    extra_section_ids=("LT-RU-02",),
    category="military_movement",
    reporter="LT-AOTD",
    start=_utc(2024, 7, 16, 3, 40),
    updates=(
        IndicatorUpdate(timedelta(0), "high", "lit", 0.7, "amber", timedelta(hours=72)),
        IndicatorUpdate(
            timedelta(hours=5, minutes=30), "critical", "lit", 0.85, "amber", timedelta(hours=72)
        ),
        IndicatorUpdate(timedelta(hours=38, minutes=20), "critical", "cleared", 0.9, "amber"),
    ),
)
"""Military movement in Kaliningrad opposite Vištytis-Kybartai: high, critical, cleared."""

STAGING_2024 = IndicatorEpisode(
    indicator_id="LV-VDD-2024-0718-STG",
    section_id="LV-BY-02",
    extra_section_ids=("LV-BY-01",),
    category="migrant_staging",
    reporter="LV-VDD",
    start=_utc(2024, 7, 18, 8, 0),
    updates=(
        IndicatorUpdate(timedelta(0), "medium", "lit", 0.55, "green", timedelta(hours=24)),
        IndicatorUpdate(
            timedelta(hours=6, minutes=30), "high", "lit", 0.75, "amber", timedelta(hours=24)
        ),
    ),
)
"""Migrants staged on the Belarusian side of Piedruja-Pasiene: medium, high, then expires."""

LV_SURGE_2024 = SurgeEpisode(
    section_id="LV-BY-02",
    start=_utc(2024, 7, 18, 20, 0),
    counts=(
        2, 3, 3, 4, 5, 6,  # 23 in the first hour: over the 20-attempt threshold
        7, 8, 8, 9, 10, 10,  # 52: high (2x)
        13, 15, 17, 18, 16, 14,  # 93: critical (4x)
        10, 8, 6, 5, 4, 3,
        2, 2, 1, 1, 1, 1,
    ),
)  # fmt: skip
"""A night-time push on LV-BY-02 (23:00-04:00 local), 212 attempts, after the staging report."""

PL_DRILL_SURGE = SurgeEpisode(
    section_id="PL-BY-02",
    start=_utc(2024, 3, 14, 19, 0),
    counts=(5, 12, 20, 25, 22, 15, 10, 6, 4, 2, 1, 1),
    mean_group=4.0,
)
"""A short, sharp surge on PL-BY-02 for drills: critical within the hour, 123 attempts."""


# --- baltic-2024 -----------------------------------------------------------------------

D = date
H1_2024 = (D(2024, 1, 1), D(2024, 7, 27))
"""The reporting window of the 2024 figures: 1 Jan - 26 Jul inclusive."""
H2_2024 = (D(2024, 7, 27), D(2025, 1, 1))
LV_ATTEMPTS_H1_2024 = 3_050
"""Latvia 'over 3,000' attempts (persons); the quota includes the LV-BY-02 surge."""
ARTICLE_2021_DATE = D(2021, 8, 25)
"""The 2021 article's figures are year-to-date at this date (see the module docstring)."""
YTD_2021 = (D(2021, 1, 1), ARTICLE_2021_DATE)
REST_2021 = (ARTICLE_2021_DATE, D(2022, 1, 1))


def _year(y: int) -> tuple[date, date]:
    return D(y, 1, 1), D(y + 1, 1, 1)


def _attempts(
    country: str,
    neighbour: str,
    period: tuple[date, date],
    persons: int,
    monthly: tuple[float, ...] = SEASONAL,
    includes_surges: bool = False,
) -> Stream:
    """Crossing attempts, counted in persons as the public figures are."""
    outcomes = STOPPED_OUTCOMES if (country, neighbour) == ("LT", "BY") else DEFAULT_OUTCOMES
    return Stream(
        country, neighbour, "crossing_attempt", *period, persons, unit="persons",
        monthly=monthly, outcomes=outcomes, includes_surges=includes_surges,
    )  # fmt: skip


def _turn_backs(
    country: str, period: tuple[date, date], persons: int, monthly: tuple[float, ...] = SEASONAL
) -> Stream:
    return Stream(country, "BY", "turn_back", *period, persons, unit="persons", monthly=monthly)


def _irregular(period: tuple[date, date], persons: int, monthly: tuple[float, ...]) -> Stream:
    """People who got into Lithuania (detained inland, or crossed), counted in persons."""
    return Stream(
        "LT", "BY", "crossing_attempt", *period, persons,
        unit="persons", monthly=monthly, outcomes=IRREGULAR_OUTCOMES, mean_group=3.0,
    )  # fmt: skip


def _baltic_streams() -> tuple[Stream, ...]:
    y20, y21, y22, y23, y24 = (_year(y) for y in range(2020, 2025))
    streams = [
        # Poland - Belarus: crossing attempts (events).
        _attempts("PL", "BY", y20, 150, FLAT),
        _attempts("PL", "BY", y21, 39_700, CRISIS_2021),
        _attempts("PL", "BY", y22, 15_700),
        _attempts("PL", "BY", y23, 26_000, PL_2023),
        _attempts("PL", "BY", H1_2024, 21_000, PL_2024),  # calibrated
        _attempts("PL", "BY", H2_2024, 9_000, PL_2024),
        # Latvia - Belarus.
        _attempts("LV", "BY", y20, 40, FLAT),
        _attempts("LV", "BY", y21, 4_000, CRISIS_2021),
        _attempts("LV", "BY", y22, 5_300),
        _attempts("LV", "BY", y23, 13_900, LV_2023),
        _attempts("LV", "BY", H1_2024, LV_ATTEMPTS_H1_2024, includes_surges=True),  # calibrated
        _attempts("LV", "BY", H2_2024, 2_400),
        # Lithuania - Belarus: attempts stopped at the border (events) ...
        _attempts("LT", "BY", y20, 40, FLAT),
        _attempts("LT", "BY", y21, 2_600, PUSHBACKS_2021),
        _attempts("LT", "BY", y22, 4_300),
        _attempts("LT", "BY", y23, 1_500),
        _attempts("LT", "BY", H1_2024, 360),
        _attempts("LT", "BY", H2_2024, 280),
        # ... and people who got in (persons, crossed or detained).
        _irregular(y20, 81, FLAT),  # calibrated
        _irregular(YTD_2021, 4_180, LT_IRREGULAR_2021),  # calibrated, at the article's date
        _irregular(REST_2021, 150, LT_IRREGULAR_2021),
        _irregular(y22, 300, FLAT),
        _irregular(y23, 200, FLAT),
        _irregular(y24, 120, FLAT),
        # Turn-backs (persons).
        _turn_backs("LT", YTD_2021, 1_540, PUSHBACKS_2021),  # calibrated, at the article's date
        _turn_backs("LT", REST_2021, 6_500, PUSHBACKS_2021),
        _turn_backs("LT", y22, 11_200),
        _turn_backs("LT", y23, 2_600),
        _turn_backs("LT", H1_2024, 350),  # calibrated
        _turn_backs("LT", H2_2024, 700),
        _turn_backs("LV", y21, 800, CRISIS_2021),
        _turn_backs("LV", y22, 1_500),
        _turn_backs("LV", y23, 3_000, LV_2023),
        _turn_backs("LV", y24, 1_200),
        _turn_backs("PL", y21, 4_000, CRISIS_2021),
        _turn_backs("PL", y22, 2_000),
        _turn_backs("PL", y23, 3_000, PL_2023),
        _turn_backs("PL", y24, 3_500, PL_2024),
    ]
    # The Russian border (including Kaliningrad): a trickle of people every year.
    for country in ("LT", "LV", "EE", "PL"):
        for y in range(2020, 2025):
            streams.append(_attempts(country, "RU", _year(y), 100, FLAT))
    return tuple(streams)


ARTICLE_2024 = "The Dispatch / LRT, 'Latvia asks Lithuania's assistance...', Jul 2024"
ARTICLE_2021 = "'NATO sends team to Lithuania to counter hybrid threats', 25 Aug 2021"

BALTIC_CALIBRATION: tuple[CalibrationTarget, ...] = (
    CalibrationTarget(
        "lt_turned_back_2024",
        "people turned away by Lithuania, 1 Jan - 26 Jul 2024",
        ARTICLE_2024, "persons", "turn_back", ("LT",), D(2024, 1, 1), D(2024, 7, 26), 350,
    ),
    CalibrationTarget(
        "lv_by_attempts_2024",
        "attempts on the Latvia-Belarus border, 1 Jan - 26 Jul 2024 ('over 3,000')",
        ARTICLE_2024, "persons", "crossing_attempt", ("LV",), D(2024, 1, 1), D(2024, 7, 26),
        3_000, neighbours=("BY",), at_least=True,
    ),
    CalibrationTarget(
        "pl_by_attempts_2024",
        "attempts on the Poland-Belarus border, 1 Jan - 26 Jul 2024",
        ARTICLE_2024, "persons", "crossing_attempt", ("PL",), D(2024, 1, 1), D(2024, 7, 26),
        21_000, neighbours=("BY",),
    ),
    CalibrationTarget(
        "lt_by_crossed_2021",
        "people who crossed into Lithuania from Belarus in 2021 to the article's date "
        "('almost 4,200')",
        ARTICLE_2021, "persons", "crossing_attempt", ("LT",), D(2021, 1, 1), D(2021, 8, 24),
        4_200, neighbours=("BY",), outcomes=("crossed", "detained"),
    ),
    CalibrationTarget(
        "lt_by_crossed_2020",
        "people who crossed into Lithuania from Belarus in 2020",
        ARTICLE_2021, "persons", "crossing_attempt", ("LT",), D(2020, 1, 1), D(2020, 12, 31),
        81, neighbours=("BY",), outcomes=("crossed", "detained"),
    ),
    CalibrationTarget(
        "lt_turned_back_2021",
        "people not admitted to Lithuania in 2021 to the article's date ('more than 1,500')",
        ARTICLE_2021, "persons", "turn_back", ("LT",), D(2021, 1, 1), D(2021, 8, 24),
        1_500, at_least=True,
    ),
)  # fmt: skip

BALTIC_2024 = Scenario(
    name="baltic-2024",
    description=(
        "EU eastern border 2020-2024 (LT, LV, PL, EE; Belarus and Russia), calibrated to the "
        "published 2020, 2021 and Jan-Jul 2024 figures; one surge on LV-BY-02 and two "
        "indicator episodes (Kaliningrad, Belarus) in July 2024"
    ),
    start=D(2020, 1, 1),
    end=D(2025, 1, 1),
    streams=_baltic_streams(),
    surges=(LV_SURGE_2024,),
    indicators=(KALININGRAD_2024, STAGING_2024),
    calibration=BALTIC_CALIBRATION,
)


# --- short scenarios -------------------------------------------------------------------

SMOKE_DAYS = (D(2024, 7, 14), D(2024, 7, 20))


def _smoke_streams() -> tuple[Stream, ...]:
    p = SMOKE_DAYS
    # Persons: about 1,500, 360 and 48 reports of 2.5 people.
    streams = [
        _attempts("PL", "BY", p, 3_750, FLAT),
        _attempts("LV", "BY", p, 900, FLAT),
        _attempts("LT", "BY", p, 120, FLAT),
        _irregular(p, 6, FLAT),
        _turn_backs("LT", p, 60, FLAT),
        _turn_backs("LV", p, 100, FLAT),
        _turn_backs("PL", p, 200, FLAT),
    ]
    streams += [_attempts(c, "RU", p, 15, FLAT) for c in ("LT", "LV", "EE", "PL")]
    return tuple(streams)


SMOKE = Scenario(
    name="smoke",
    description=(
        "six days in July 2024 (~2.5k events): busy Belarus border, the Kaliningrad "
        "indicator episode, a staging indicator and the LV-BY-02 surge that follows it"
    ),
    start=SMOKE_DAYS[0],
    end=SMOKE_DAYS[1],
    streams=_smoke_streams(),
    surges=(LV_SURGE_2024,),
    indicators=(KALININGRAD_2024, STAGING_2024),
    clustering=False,
)

SURGE_DRILL = Scenario(
    name="surge-drill",
    description="two quiet days on the Polish-Belarusian border and one sharp surge on PL-BY-02",
    start=D(2024, 3, 13),
    end=D(2024, 3, 15),
    streams=(_attempts("PL", "BY", (D(2024, 3, 13), D(2024, 3, 15)), 500, FLAT),),
    surges=(PL_DRILL_SURGE,),
    clustering=False,
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (BALTIC_2024, SMOKE, SURGE_DRILL)}
DEFAULT_SCENARIO = BALTIC_2024.name


class UnknownScenario(KeyError):
    """No scenario of that name; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown scenario"


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; raises ``UnknownScenario`` listing the known names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise UnknownScenario(f"unknown scenario {name!r}; known: {known}") from None


def scenario_names() -> tuple[str, ...]:
    return tuple(SCENARIOS)


def calibration(scenario: str | Scenario = DEFAULT_SCENARIO) -> tuple[CalibrationTarget, ...]:
    """The published figures a scenario is calibrated to (empty for the short ones)."""
    s = get_scenario(scenario) if isinstance(scenario, str) else scenario
    return s.calibration
