"""Shared one-pass analyses of generated scenarios (no broker needed)."""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from marchwarden.contracts.decoding import Rejection, decode_event
from marchwarden.reference import load_reference
from marchwarden.simulator import DEFAULT_SEED, Scenario, generate, get_scenario, summarise

ReportKey = tuple[str, str, str, str, str]


def report_key(e: dict[str, Any]) -> ReportKey:
    """How a border guard would file an event: its border, kind, outcome and local day.

    ``occurred_at`` carries the reporting country's UTC offset, so its first ten characters
    are the local calendar day, the one a published "1 January to 26 July" counts in.
    """
    section = str(e["section_id"])
    return (section[:2], section[3:5], e["event_type"], e.get("outcome", ""), e["occurred_at"][:10])


@dataclass
class Analysis:
    """Everything the tests need from one pass over a run, without keeping 150k dicts."""

    scenario: Scenario
    count: int = 0
    digest: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    rejections: list[str] = field(default_factory=list)
    out_of_order: int = 0
    duplicate_ids: int = 0
    attempt_epochs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    indicators: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    night_attempts: int = 0
    offsets: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    reports: Counter[ReportKey] = field(default_factory=Counter)
    """Events per (country, neighbour, event_type, outcome, local date), for the public figures."""
    persons_reported: Counter[ReportKey] = field(default_factory=Counter)
    """Persons per the same key."""


def analyse(scenario: Scenario, seed: int = DEFAULT_SEED, validate: bool = True) -> Analysis:
    a = Analysis(scenario)
    h = hashlib.sha256()
    ids: set[str] = set()
    last = float("-inf")

    def tap() -> Any:
        nonlocal last
        for i, e in enumerate(generate(scenario, seed)):
            raw = json.dumps(e, sort_keys=True).encode()
            h.update(raw)
            if validate:
                decoded = decode_event(raw)
                if isinstance(decoded, Rejection):
                    a.rejections.append(decoded.reason)
            a.count += 1
            if e["event_id"] in ids:
                a.duplicate_ids += 1
            ids.add(e["event_id"])
            occurred = datetime.fromisoformat(e["occurred_at"])
            t = occurred.timestamp()
            if t < last:
                a.out_of_order += 1
            last = t
            if e["event_type"] == "crossing_attempt":
                a.attempt_epochs[e["section_id"]].append(int(t))
                a.persons.append(e["persons"])
                a.outcomes[e["outcome"]] += 1
                if occurred.hour >= 22 or occurred.hour < 4:
                    a.night_attempts += 1
                if i % 97 == 0:
                    a.samples.append(e)
            elif e["event_type"] == "indicator":
                a.indicators.append(e)
            a.offsets[(e["section_id"][:2], occurred.month)].add(e["occurred_at"][-6:])
            if e["event_type"] != "indicator":
                key = report_key(e)
                a.reports[key] += 1
                a.persons_reported[key] += e["persons"]
            yield e

    a.summary = summarise(tap(), scenario.calibration)
    a.digest = h.hexdigest()
    return a


@pytest.fixture(scope="session")
def baltic() -> Analysis:
    return analyse(get_scenario("baltic-2024"))


@pytest.fixture(scope="session")
def smoke() -> Analysis:
    return analyse(get_scenario("smoke"))


def hourly_baseline(
    epochs: list[int], prior_per_day: float, first_hour: int, days: int = 28
) -> tuple[int, list[float]]:
    """Trailing `days`-day mean attempts per hour for every hour, prior before first_hour."""
    span = days * 24
    last_hour = max(epochs) // 3600 + 2 if epochs else first_hour + 1
    counts = [prior_per_day / 24.0] * span + [0.0] * (last_hour - first_hour)
    for t in epochs:
        counts[span + t // 3600 - first_hour] += 1
    prefix = [0.0]
    for c in counts:
        prefix.append(prefix[-1] + c)
    # baseline for hour H = mean of the `span` hours before H
    base = [(prefix[span + k] - prefix[k]) / span for k in range(last_hour - first_hour)]
    return first_hour, base


def window_counts(epochs: list[int]) -> list[tuple[int, int]]:
    """(minute, attempts in the 60-minute window ending with that minute) for each event."""
    out = []
    for t in epochs:
        m = t // 60
        lo = bisect.bisect_left(epochs, (m - 59) * 60)
        hi = bisect.bisect_left(epochs, (m + 1) * 60)
        out.append((m, hi - lo))
    return out


def section_prior(section_id: str) -> float:
    return load_reference().section(section_id).expected_attempts_per_day


def scenario_start_hour(scenario: Scenario) -> int:
    return int(datetime.combine(scenario.start, datetime.min.time(), UTC).timestamp()) // 3600
