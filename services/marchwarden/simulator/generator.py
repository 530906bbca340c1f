"""Deterministic event generator: a scenario and a seed in, time-ordered contract events out.

`generate(scenario, seed)` is pure: the same scenario and seed give the same events (ids
included) on every machine and Python version, because it only uses ``random.Random``
seeded with a string (hashed with SHA-512 by the stdlib, independent of PYTHONHASHSEED)
and integer event times. Each stream, section and episode has its own generator, so
editing one stream does not reshuffle the others.

How events are placed:

1. Each stream draws its events (group sizes, outcomes or turn-back reasons; a quota in
   persons draws groups until they add up to it exactly, less the persons of the scripted
   surges the quota includes) and spreads them over its UTC days (monthly shape
   interpolated between month midpoints x weekly pattern x log-normal day noise) and over its
   sections (weighted by the reference ``expected_persons_per_day``).
2. With ``Scenario.clustering`` (``baltic-2024``) each section's attempts of a day arrive in
   waves: groups brought to one stretch of the border together. Wave sizes are geometric
   with a mean of ``1 + attempts that day / WAVE_SCALE`` (at most ``MAX_WAVE_MEAN``); a
   wave starts at an hour drawn from a diurnal curve in local time (most attempts
   22:00-04:00) and spreads over 10-45 minutes around one spot. Quiet days are single
   groups; crisis days bring organised pushes, so surges arise without a script when the
   border is busy (autumn 2021 on the Polish-Belarusian border).
   Without clustering (the short scenarios) attempts are placed one by one into hours
   following the diurnal curve, then into one of the hour's six 10-minute slots: the first
   slot (round the day) where every run of seven slots around it (a 60-minute window
   touches at most seven) stays within 85 % of the section's surge thresholds, in attempts
   and in persons, with the section's floors and factor and its baselines over the previous
   28 days (the reference priors before the scenario starts). A group larger than the
   persons limit is reported in parts; what finds no room moves to the next day. So that
   background never surges and the scripted episodes are the only surges.
3. Surge episodes add their scripted attempts per 10-minute slot; indicator episodes add
   their updates at fixed times.

Times are whole seconds. With ``Scenario.local_time`` (the default) ``occurred_at`` carries
the reporting country's offset (EET/CET with EU summer time), e.g. ``+03:00`` in Vilnius
in July; calibration windows and stream periods are UTC days.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import itertools
import logging
import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

from marchwarden.alerts.surge import section_limits
from marchwarden.reference import ReferenceData, Section, load_reference
from marchwarden.settings import RuleSettings
from marchwarden.simulator.scenarios import (
    DEFAULT_SCENARIO,
    CalibrationTarget,
    IndicatorEpisode,
    Scenario,
    Stream,
    SurgeEpisode,
    calibration,
    get_scenario,
)

log = logging.getLogger(__name__)

Event = dict[str, Any]
"""One JSON-ready event (a dict that validates against the wire contracts)."""

DEFAULT_SEED: Final = 2024

DIURNAL: Final[tuple[float, ...]] = (
    3.0, 3.2, 3.0, 2.6, 1.8, 1.0, 0.6, 0.4, 0.35, 0.3, 0.3, 0.3,
    0.3, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.1, 1.5, 2.0, 2.6, 2.9,
)  # fmt: skip
"""Relative attempt intensity by local hour 0..23: about half of all attempts 22:00-04:00."""
WEEKLY: Final[tuple[float, ...]] = (0.95, 0.9, 0.95, 1.0, 1.05, 1.1, 1.05)
"""Relative intensity Monday..Sunday."""
DAY_NOISE_SIGMA: Final = 0.25
"""Standard deviation of the log-normal day-to-day factor."""
MAX_GROUP: Final = 15
SLOT_S: Final = 600
"""Placement slot: 10 minutes; a 60-minute window touches at most 7 slots."""
SLOTS_PER_WINDOW: Final = 7
CAP_MARGIN: Final = 0.85

WAVE_SCALE: Final = 30.0
"""Attempts a day per +1 of the mean wave size (a wave is groups arriving together)."""
MAX_WAVE_MEAN: Final = 12.0
WAVE_MINUTES: Final = (10, 45)
"""A wave's attempts spread over this many minutes."""

STANDARD_OFFSET_H: Final[dict[str, int]] = {"LT": 2, "LV": 2, "EE": 2, "PL": 1}
"""Winter UTC offset of each reporting country (EET, CET); +1 h in EU summer time."""

SOURCES: Final[tuple[str, ...]] = ("patrol", "thermal", "camera", "radar", "citizen")
SOURCE_WEIGHTS: Final[tuple[float, ...]] = (0.32, 0.26, 0.2, 0.1, 0.05)
"""The remaining 7 % of attempts carry no source."""
SURGE_SOURCE_WEIGHTS: Final[tuple[float, ...]] = (0.25, 0.35, 0.25, 0.12, 0.0)
NO_LOCATION_SHARE: Final = 0.05
TURN_BACK_REASONS: Final[tuple[str | None, ...]] = (
    "returned to the border line",
    "entry refused: no valid travel document",
    "entry refused at the green border",
    "humanitarian grounds not established",
    None,
)
TURN_BACK_REASON_WEIGHTS: Final[tuple[float, ...]] = (0.45, 0.2, 0.15, 0.05, 0.15)
OUTCOME_NAMES: Final[tuple[str, ...]] = ("prevented", "detained", "crossed", "unknown")
_OUTCOME_CODE: Final[dict[str, int]] = {name: i for i, name in enumerate(OUTCOME_NAMES)}

ATTEMPT, TURN_BACK, INDICATOR = 0, 1, 2
EVENT_TYPE_NAMES: Final[tuple[str, ...]] = ("crossing_attempt", "turn_back", "indicator")
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAY: Final = 86_400

# A planned event: (epoch s, id bits, kind, section index, persons | episode index,
# outcome | reason | update index, lat, lon, source index or -1). Sorting these tuples
# orders by time, then by the (unique) id bits.
Record = tuple[int, int, int, int, int, int, float | None, float | None, int]


# --- time ------------------------------------------------------------------------------


def _day_number(d: date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - 6) % 7)


@functools.lru_cache(maxsize=64)
def _summer_time(year: int) -> tuple[int, int]:
    """EU summer time [start, end) in epoch seconds: last Sundays of March and October, 01:00Z."""
    start = _day_number(_last_sunday(year, 3)) * _DAY + 3600
    end = _day_number(_last_sunday(year, 10)) * _DAY + 3600
    return start, end


def utc_offset_hours(country: str, epoch: int) -> int:
    """UTC offset of local time in ``country`` at ``epoch`` (EU summer-time rules)."""
    base = STANDARD_OFFSET_H.get(country, 0)
    year = datetime.fromtimestamp(epoch, UTC).year
    start, end = _summer_time(year)
    return base + 1 if start <= epoch < end else base


@functools.lru_cache(maxsize=8)
def _tz(hours: int) -> timezone:
    return UTC if hours == 0 else timezone(timedelta(hours=hours))


def _monthly_weight(monthly: Sequence[float], d: date) -> float:
    """Monthly weights interpolated linearly between month midpoints (clamped at the ends)."""
    x = d.month - 1 + (d.day - 0.5) / calendar.monthrange(d.year, d.month)[1] - 0.5
    i = math.floor(x)
    frac = x - i
    lo = monthly[min(max(i, 0), 11)]
    hi = monthly[min(max(i + 1, 0), 11)]
    return lo + (hi - lo) * frac


# --- geometry --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    """A section's border line in a local plane (km), for points near the border."""

    lon0: float
    lat0: float
    kx: float
    ky: float
    xy: tuple[tuple[float, float], ...]
    cum: tuple[float, ...]

    @classmethod
    def of(cls, section: Section) -> _Line:
        coords = section.geometry.coordinates
        lon0 = sum(c[0] for c in coords) / len(coords)
        lat0 = sum(c[1] for c in coords) / len(coords)
        kx = 111.320 * math.cos(math.radians(lat0))
        ky = 110.574
        xy = tuple(((lon - lon0) * kx, (lat - lat0) * ky) for lon, lat in coords)
        cum = [0.0]
        for (x1, y1), (x2, y2) in itertools.pairwise(xy):
            cum.append(cum[-1] + math.hypot(x2 - x1, y2 - y1))
        return cls(lon0, lat0, kx, ky, xy, tuple(cum))

    def point(self, frac: float, offset_km: float) -> tuple[float, float]:
        """(lat, lon) at ``frac`` of the line's length, ``offset_km`` to its side."""
        total = self.cum[-1]
        along = min(max(frac, 0.0), 1.0) * total
        i = min(max(bisect.bisect_right(self.cum, along) - 1, 0), len(self.xy) - 2)
        (x1, y1), (x2, y2) = self.xy[i], self.xy[i + 1]
        seg = self.cum[i + 1] - self.cum[i]
        t = (along - self.cum[i]) / seg if seg > 0 else 0.0
        x, y = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
        if seg > 0:
            x += -(y2 - y1) / seg * offset_km
            y += (x2 - x1) / seg * offset_km
        return round(self.lat0 + y / self.ky, 5), round(self.lon0 + x / self.kx, 5)


# --- planning --------------------------------------------------------------------------


def _window_limit(threshold: float) -> int:
    """The most a 60-minute window may hold to stay clearly below ``threshold``."""
    return max(1, math.ceil(CAP_MARGIN * threshold) - 1)


def _fits(fill: dict[int, list[int]], slot: int, persons: int, a_limit: int, p_limit: int) -> bool:
    """Whether one more attempt of ``persons`` in ``slot`` keeps every 7-slot run within limits."""
    runs = [
        fill.get(s, (0, 0)) for s in range(slot - SLOTS_PER_WINDOW + 1, slot + SLOTS_PER_WINDOW)
    ]
    for i in range(SLOTS_PER_WINDOW):
        run = runs[i : i + SLOTS_PER_WINDOW]
        if sum(r[0] for r in run) + 1 > a_limit or sum(r[1] for r in run) + persons > p_limit:
            return False
    return True


def _wave_size(rng: random.Random, mean: float) -> int:
    """Geometric wave size (attempts) on 1.. with the given mean."""
    if mean <= 1.0:
        return 1
    q = 1.0 - 1.0 / mean
    return 1 + int(math.log(1.0 - rng.random()) / math.log(q))


def _group_size(rng: random.Random, mean: float) -> int:
    """Geometric group size on 1..MAX_GROUP with the given (untruncated) mean."""
    if mean <= 1.0:
        return 1
    q = 1.0 - 1.0 / mean
    return min(MAX_GROUP, 1 + int(math.log(1.0 - rng.random()) / math.log(q)))


@dataclass(slots=True)
class _Plan:
    """Stream events waiting for a time, per section index and scenario day."""

    attempts: dict[int, dict[int, list[tuple[int, int]]]]
    turn_backs: dict[int, dict[int, list[tuple[int, int]]]]


class _Planner:
    def __init__(self, scenario: Scenario, seed: int, reference: ReferenceData) -> None:
        self.scenario = scenario
        self.seed = seed
        self.sections: tuple[Section, ...] = tuple(reference.sections)
        self.index: dict[str, int] = {s.id: i for i, s in enumerate(self.sections)}
        self.lines = tuple(_Line.of(s) for s in self.sections)
        self.first_day = _day_number(scenario.start)
        self.ndays = scenario.days
        self.rules = RuleSettings()
        self.baseline_days = self.rules.baseline_days
        self._cum_cache: dict[tuple[int, int], list[float]] = {}
        self._check_references()

    def _check_references(self) -> None:
        for ep in self.scenario.indicators:
            for sid in (ep.section_id, *ep.extra_section_ids):
                if sid not in self.index:
                    raise ValueError(f"indicator {ep.indicator_id}: unknown section {sid}")
        for surge in self.scenario.surges:
            if surge.section_id not in self.index:
                raise ValueError(f"surge: unknown section {surge.section_id}")
        for stream in self.scenario.streams:
            if not self._stream_sections(stream):
                raise ValueError(f"stream {stream.label}: no sections on that border")

    def rng(self, *parts: object) -> random.Random:
        key = "/".join(str(p) for p in (self.seed, self.scenario.name, *parts))
        return random.Random(key)

    def _stream_sections(self, stream: Stream) -> list[int]:
        return [
            i
            for i, s in enumerate(self.sections)
            if s.country == stream.country and s.neighbour == stream.neighbour
        ]

    def _surge_share(self, stream: Stream, surges: Sequence[Record]) -> int:
        """Persons (or events) of the scripted surge records a stream's quota includes."""
        if not stream.includes_surges or stream.event_type != "crossing_attempt":
            return 0
        secs = set(self._stream_sections(stream))
        lo = _day_number(stream.start) * _DAY
        hi = _day_number(stream.end) * _DAY
        inside = [r for r in surges if r[3] in secs and lo <= r[0] < hi]
        return sum(r[4] for r in inside) if stream.unit == "persons" else len(inside)

    # stream -> (section, day) buckets
    def plan(self, surges: Sequence[Record] = ()) -> _Plan:
        plan = _Plan(defaultdict(lambda: defaultdict(list)), defaultdict(lambda: defaultdict(list)))
        for n, stream in enumerate(self.scenario.streams):
            rng = self.rng("stream", n)
            items = self._stream_items(stream, rng, self._surge_share(stream, surges))
            if not items:
                continue
            day0 = _day_number(stream.start) - self.first_day
            days = (stream.end - stream.start).days
            cum: list[float] = []
            acc = 0.0
            for k in range(days):
                d = stream.start + timedelta(days=k)
                w = _monthly_weight(stream.monthly, d) * WEEKLY[d.weekday()]
                acc += w * rng.lognormvariate(0.0, DAY_NOISE_SIGMA)
                cum.append(acc)
            day_of = rng.choices(range(days), cum_weights=cum, k=len(items))
            secs = self._stream_sections(stream)
            weights = [max(self.sections[i].expected_persons_per_day, 0.05) for i in secs]
            sec_of = rng.choices(secs, weights=weights, k=len(items))
            target = plan.attempts if stream.event_type == "crossing_attempt" else plan.turn_backs
            for item, k, s in zip(items, day_of, sec_of, strict=True):
                target[s][day0 + k].append(item)
        return plan

    def _stream_items(
        self, stream: Stream, rng: random.Random, taken: int = 0
    ) -> list[tuple[int, int]]:
        """(persons, outcome or reason code) for every event of the stream, quota exact.

        ``taken`` is the part of the quota the scripted surges already placed.
        """
        quota = stream.quota - taken
        if quota < 0:
            raise ValueError(f"stream {stream.label}: its surges exceed the quota by {-quota}")
        sizes: list[int] = []
        if stream.unit == "events":
            sizes = [_group_size(rng, stream.mean_group) for _ in range(quota)]
        else:
            left = quota
            while left > 0:
                size = min(_group_size(rng, stream.mean_group), left)
                sizes.append(size)
                left -= size
        if stream.event_type == "crossing_attempt":
            names = [_OUTCOME_CODE[o] for o, _ in stream.outcomes]
            codes = rng.choices(names, weights=[w for _, w in stream.outcomes], k=len(sizes))
        else:
            codes = rng.choices(
                range(len(TURN_BACK_REASONS)), weights=TURN_BACK_REASON_WEIGHTS, k=len(sizes)
            )
        return list(zip(sizes, codes, strict=True))

    # timing
    def _hour_cum(self, country: str, day: int, shift: int) -> list[float]:
        off = utc_offset_hours(country, day * _DAY + 12 * 3600)
        key = (off, shift)
        cum = self._cum_cache.get(key)
        if cum is None:
            acc = 0.0
            cum = []
            for h in range(24):
                acc += DIURNAL[(h + off - shift) % 24]
                cum.append(acc)
            self._cum_cache[key] = cum
        return cum

    def _source(self, rng: random.Random, weights: Sequence[float]) -> int:
        u = rng.random()
        acc = 0.0
        for i, w in enumerate(weights):
            acc += w
            if u < acc:
                return i
        return -1

    def _location(
        self, rng: random.Random, si: int, frac: float | None = None
    ) -> tuple[float | None, float | None]:
        if rng.random() < NO_LOCATION_SHARE:
            return None, None
        f = rng.random() if frac is None else frac + rng.gauss(0.0, 0.01)
        offset = max(-2.0, min(2.0, rng.gauss(0.0, 0.6)))
        return self.lines[si].point(f, offset)

    def surge_records(self, surge: SurgeEpisode, n: int) -> list[Record]:
        rng = self.rng("surge", n)
        si = self.index[surge.section_id]
        hotspot = rng.uniform(0.2, 0.8)
        slot_s = surge.slot_minutes * 60
        base = int(surge.start.timestamp())
        names = [_OUTCOME_CODE[o] for o, _ in surge.outcomes]
        weights = [w for _, w in surge.outcomes]
        out: list[Record] = []
        for slot, count in enumerate(surge.counts):
            for _ in range(count):
                epoch = base + slot * slot_s + rng.randrange(slot_s)
                persons = _group_size(rng, surge.mean_group)
                outcome = rng.choices(names, weights=weights)[0]
                lat, lon = self._location(rng, si, hotspot)
                src = self._source(rng, SURGE_SOURCE_WEIGHTS)
                out.append(
                    (epoch, rng.getrandbits(128), ATTEMPT, si, persons, outcome, lat, lon, src)
                )
        return out

    def section_records(
        self,
        si: int,
        attempts: Mapping[int, list[tuple[int, int]]],
        turn_backs: Mapping[int, list[tuple[int, int]]],
        surge_per_day: Mapping[int, int],
    ) -> list[Record]:
        section = self.sections[si]
        rng = self.rng("section", section.id)
        out: list[Record] = []
        prior = section.expected_attempts_per_day
        span_h = self.baseline_days * 24
        window = prior * self.baseline_days
        persons_window = section.expected_persons_per_day * self.baseline_days
        limits = section_limits(section, self.rules)
        placed_per_day = [0] * self.ndays
        placed_persons = [0] * self.ndays
        fill: dict[int, list[int]] = {}
        carry: list[tuple[int, int]] = []
        carried = 0
        for d in range(self.ndays):
            day = self.first_day + d
            if self.scenario.clustering:
                todays = attempts.get(d, [])
                if todays:
                    self._place_waves(rng, si, day, todays, out)
                tb = turn_backs.get(d)
                if tb:
                    self._place_turn_backs(rng, si, day, tb, out)
                continue
            todays = carry + attempts.get(d, [])
            a_limit = _window_limit(max(limits.floor_attempts, limits.factor * window / span_h))
            p_limit = _window_limit(
                max(limits.floor_persons, limits.factor * persons_window / span_h)
            )
            placed, carry = self._place_attempts(
                rng, si, day, todays, (a_limit, p_limit), fill, out, d == self.ndays - 1
            )
            carried += len(carry)
            placed_per_day[d] = len(placed) + surge_per_day.get(d, 0)
            placed_persons[d] = sum(p for p, _ in placed)
            dropped = placed_per_day[d - self.baseline_days] if d >= self.baseline_days else prior
            window += placed_per_day[d] - dropped
            gone = (
                placed_persons[d - self.baseline_days]
                if d >= self.baseline_days
                else section.expected_persons_per_day
            )
            persons_window += placed_persons[d] - gone
            tb = turn_backs.get(d)
            if tb:
                self._place_turn_backs(rng, si, day, tb, out)
        if carried:
            log.debug("%s: %d attempt-days moved to a later day (slot cap)", section.id, carried)
        return out

    def _place_attempts(
        self,
        rng: random.Random,
        si: int,
        day: int,
        items: list[tuple[int, int]],
        limits: tuple[int, int],
        fill: dict[int, list[int]],
        out: list[Record],
        last_day: bool,
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Place attempts one by one so no 60-minute window reaches the section's thresholds.

        A 60-minute window touches at most seven 10-minute slots; an attempt goes to the
        first slot (from the one its diurnal hour draws, round the day) where every seven-slot
        run around it stays within ``limits`` (attempts, persons). A group larger than the
        persons limit is reported in parts. What finds no room moves to the next day.
        Returns (placed, carried).
        """
        a_limit, p_limit = limits
        cum = self._hour_cum(self.sections[si].country, day, 0)
        hours = rng.choices(range(24), cum_weights=cum, k=len(items))
        per_hour = 3600 // SLOT_S
        nslots = _DAY // SLOT_S
        first = day * nslots
        placed: list[tuple[int, int]] = []
        carry: list[tuple[int, int]] = []
        for (persons, outcome), hour in zip(items, hours, strict=True):
            parts = [p_limit] * (persons // p_limit) + (
                [persons % p_limit] if persons % p_limit else []
            )
            for part in parts:
                start = hour * per_hour + rng.randrange(per_hour)
                slot = next(
                    (
                        first + (start + k) % nslots
                        for k in range(nslots)
                        if _fits(fill, first + (start + k) % nslots, part, a_limit, p_limit)
                    ),
                    None,
                )
                if slot is None:
                    if not last_day:
                        carry.append((part, outcome))
                        continue
                    slot = first + start  # the scenario ends: over capacity, placed anyway
                counts = fill.setdefault(slot, [0, 0])
                counts[0] += 1
                counts[1] += part
                placed.append((part, outcome))
                epoch = slot * SLOT_S + rng.randrange(SLOT_S)
                lat, lon = self._location(rng, si)
                src = self._source(rng, SOURCE_WEIGHTS)
                out.append((epoch, rng.getrandbits(128), ATTEMPT, si, part, outcome, lat, lon, src))
        return placed, carry

    def _place_waves(
        self,
        rng: random.Random,
        si: int,
        day: int,
        items: list[tuple[int, int]],
        out: list[Record],
    ) -> None:
        """Place a day's attempts in waves: groups brought to one stretch of the border together.

        Waves are geometric in size with a mean that grows with the day's traffic
        (``1 + attempts / WAVE_SCALE``, at most ``MAX_WAVE_MEAN``): a quiet day is single
        groups, a crisis day brings organised pushes. Each wave starts at an hour drawn from
        the diurnal curve and spreads its attempts over ``WAVE_MINUTES`` around one spot.
        """
        mean = min(MAX_WAVE_MEAN, 1.0 + len(items) / WAVE_SCALE)
        cum = self._hour_cum(self.sections[si].country, day, 0)
        base = day * _DAY
        i = 0
        while i < len(items):
            size = min(_wave_size(rng, mean), len(items) - i)
            start = base + rng.choices(range(24), cum_weights=cum)[0] * 3600 + rng.randrange(3600)
            spread = rng.randint(*WAVE_MINUTES) * 60
            spot = rng.random()
            for persons, outcome in items[i : i + size]:
                epoch = min(start + rng.randrange(spread), base + _DAY - 1)
                lat, lon = self._location(rng, si, spot)
                src = self._source(rng, SOURCE_WEIGHTS)
                out.append(
                    (epoch, rng.getrandbits(128), ATTEMPT, si, persons, outcome, lat, lon, src)
                )
            i += size

    def _place_turn_backs(
        self, rng: random.Random, si: int, day: int, items: list[tuple[int, int]], out: list[Record]
    ) -> None:
        # Turn-backs are reported about an hour after the attempts they follow.
        cum = self._hour_cum(self.sections[si].country, day, 1)
        hours = rng.choices(range(24), cum_weights=cum, k=len(items))
        base = day * _DAY
        for (persons, reason), h in zip(items, hours, strict=True):
            epoch = base + h * 3600 + rng.randrange(3600)
            out.append(
                (epoch, rng.getrandbits(128), TURN_BACK, si, persons, reason, None, None, -1)
            )

    def indicator_records(self, ep: IndicatorEpisode, n: int) -> list[Record]:
        rng = self.rng("indicator", ep.indicator_id)
        si = self.index[ep.section_id]
        base = int(ep.start.timestamp())
        return [
            (
                base + int(u.after.total_seconds()),
                rng.getrandbits(128),
                INDICATOR,
                si,
                n,
                k,
                None,
                None,
                -1,
            )
            for k, u in enumerate(ep.updates)
        ]

    def records(self) -> list[Record]:
        surge_per_section: dict[int, Counter[int]] = defaultdict(Counter)
        out: list[Record] = []
        for n, surge in enumerate(self.scenario.surges):
            recs = self.surge_records(surge, n)
            for rec in recs:
                surge_per_section[rec[3]][rec[0] // _DAY - self.first_day] += 1
            out += recs
        plan = self.plan(out)
        for si in range(len(self.sections)):
            if si in plan.attempts or si in plan.turn_backs or si in surge_per_section:
                out += self.section_records(
                    si,
                    plan.attempts.get(si, {}),
                    plan.turn_backs.get(si, {}),
                    surge_per_section.get(si, Counter()),
                )
        for n, ep in enumerate(self.scenario.indicators):
            out += self.indicator_records(ep, n)
        out.sort()
        return out


# --- materialisation -------------------------------------------------------------------


class _Materialiser:
    def __init__(self, scenario: Scenario, sections: Sequence[Section]) -> None:
        self.scenario = scenario
        self.sections = sections

    def occurred(self, si: int, epoch: int) -> datetime:
        if not self.scenario.local_time:
            return datetime.fromtimestamp(epoch, UTC)
        country = self.sections[si].country
        return datetime.fromtimestamp(epoch, _tz(utc_offset_hours(country, epoch)))

    def __call__(self, rec: Record) -> Event:
        epoch, bits, kind, si, a, b, lat, lon, src = rec
        section = self.sections[si]
        occurred = self.occurred(si, epoch)
        event: Event = {
            "event_id": str(uuid.UUID(int=bits, version=4)),
            "event_type": EVENT_TYPE_NAMES[kind],
            "schema_version": 1,
            "occurred_at": occurred.isoformat(),
            "section_id": section.id,
        }
        if kind == ATTEMPT:
            event["reporter"] = section.reporter
            event["persons"] = a
            event["outcome"] = OUTCOME_NAMES[b]
            if lat is not None and lon is not None:
                event["location"] = {"lat": lat, "lon": lon}
            if src >= 0:
                event["source"] = SOURCES[src]
        elif kind == TURN_BACK:
            event["reporter"] = section.reporter
            event["persons"] = a
            reason = TURN_BACK_REASONS[b]
            if reason is not None:
                event["reason"] = reason
        else:
            ep = self.scenario.indicators[a]
            update = ep.updates[b]
            event["reporter"] = ep.reporter
            event["indicator_id"] = ep.indicator_id
            event["category"] = ep.category
            event["level"] = update.level
            event["state"] = update.state
            event["confidence"] = float(update.confidence)
            if update.valid_for is not None:
                event["valid_until"] = (occurred + update.valid_for).isoformat()
            event["schema_version"] = 2
            event["tlp"] = update.tlp
            if update.tlp == "amber" and update.share_with:
                event["share_with"] = list(update.share_with)
            event["extra_section_ids"] = list(ep.extra_section_ids)
        return event


class GeneratedEvents(Iterator[Event]):
    """The events of one run in event-time order; ``len()`` is the number of events in the run.

    Events are built as they are iterated, so a run of 150k events does not hold 150k dicts.
    """

    def __init__(self, records: list[Record], materialise: _Materialiser) -> None:
        self._records = records
        self._materialise = materialise
        self._next = 0

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> GeneratedEvents:
        return self

    def __next__(self) -> Event:
        if self._next >= len(self._records):
            raise StopIteration
        rec = self._records[self._next]
        self._next += 1
        return self._materialise(rec)

    @property
    def remaining(self) -> int:
        return len(self._records) - self._next


def _as_epoch(value: datetime | date | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return math.ceil(value.timestamp())


@functools.lru_cache(maxsize=2)
def _records(scenario: Scenario, seed: int) -> tuple[Record, ...]:
    return tuple(_Planner(scenario, seed, load_reference()).records())


def generate(
    scenario: Scenario | str = DEFAULT_SCENARIO,
    seed: int = DEFAULT_SEED,
    start: datetime | date | None = None,
    end: datetime | date | None = None,
) -> GeneratedEvents:
    """The scenario's events for ``seed``, sorted by ``occurred_at``, as JSON-ready dicts.

    ``start``/``end`` restrict the run to ``[start, end)`` (dates mean 00:00 UTC, naive
    datetimes are UTC). A restricted run yields exactly the events of the full run that
    fall in the window, with the same ids. Planning a run is cached per (scenario, seed).
    """
    s = get_scenario(scenario) if isinstance(scenario, str) else scenario
    records = _records(s, seed)
    lo, hi = _as_epoch(start), _as_epoch(end)
    first = 0 if lo is None else bisect.bisect_left(records, lo, key=lambda r: r[0])
    last = len(records) if hi is None else bisect.bisect_left(records, hi, key=lambda r: r[0])
    log.debug("scenario %s seed %d: %d of %d events", s.name, seed, last - first, len(records))
    return GeneratedEvents(list(records[first:last]), _Materialiser(s, load_reference().sections))


# --- summaries -------------------------------------------------------------------------


def _utc_day(occurred_at: str) -> date:
    return datetime.fromisoformat(occurred_at).astimezone(UTC).date()


def _measure(target: CalibrationTarget, event: Mapping[str, Any], day: date) -> int:
    if event["event_type"] != target.event_type:
        return 0
    if not target.first_day <= day <= target.last_day:
        return 0
    country, neighbour, _ = str(event["section_id"]).split("-")
    if country not in target.countries:
        return 0
    if target.neighbours is not None and neighbour not in target.neighbours:
        return 0
    if target.outcomes is not None and event.get("outcome") not in target.outcomes:
        return 0
    return int(event["persons"]) if target.measure == "persons" else 1


def summarise(
    events: Iterable[Mapping[str, Any]],
    targets: Sequence[CalibrationTarget] | None = None,
) -> dict[str, Any]:
    """Counts per type, per country and per year, and the calibration figures.

    ``targets`` defaults to the ``baltic-2024`` calibration; the result's ``calibration``
    maps each target key to the generated value (events or persons, UTC days).
    """
    targets = calibration() if targets is None else targets
    total = 0
    by_type: Counter[str] = Counter()
    by_country: dict[str, Counter[str]] = defaultdict(Counter)
    by_year: dict[int, Counter[str]] = defaultdict(Counter)
    figures = dict.fromkeys((t.key for t in targets), 0)
    first: str | None = None
    last: str | None = None
    for event in events:
        total += 1
        kind = str(event["event_type"])
        occurred = str(event["occurred_at"])
        if first is None:
            first = occurred
        last = occurred
        day = _utc_day(occurred)
        country = str(event["section_id"])[:2]
        by_type[kind] += 1
        row = by_country[country]
        row[kind] += 1
        by_year[day.year][kind] += 1
        if kind != "indicator":
            row[f"{kind}_persons"] += int(event["persons"])
            by_year[day.year][f"{kind}_persons"] += int(event["persons"])
        for t in targets:
            figures[t.key] += _measure(t, event, day)
    return {
        "events": total,
        "first_occurred_at": first,
        "last_occurred_at": last,
        "by_type": dict(sorted(by_type.items())),
        "by_country": {c: dict(sorted(v.items())) for c, v in sorted(by_country.items())},
        "by_year": {y: dict(sorted(v.items())) for y, v in sorted(by_year.items())},
        "calibration": figures,
    }


def check_calibration(
    summary: Mapping[str, Any], targets: Sequence[CalibrationTarget] | None = None
) -> list[dict[str, Any]]:
    """One row per target: published figure, generated value, deviation and verdict."""
    targets = calibration() if targets is None else targets
    rows = []
    for t in targets:
        value = summary["calibration"].get(t.key, 0)
        rows.append(
            {
                "key": t.key,
                "description": t.description,
                "published": t.published,
                "at_least": t.at_least,
                "generated": value,
                "deviation": round(t.deviation(value), 4),
                "tolerance": t.tolerance,
                "ok": t.accepts(value),
            }
        )
    return rows
