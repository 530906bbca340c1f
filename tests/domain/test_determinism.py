"""Same input, same alerts: the baltic-2024 critical window under any interleaving and batching."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings
from tests.support.replay import (
    Message,
    Partition,
    alert_stream,
    by_partition,
    in_event_time_order,
    interleave,
    run_engine,
    summary,
    window_events,
)

REPLAYED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0
# What the window must give (ids, levels, resolve times and counts are a function of the
# events): Kaliningrad (military movement: counter-mobility) resolves at its clear, not at its
# expiry two days later; the migrant-staging indicator calls for border guards, not for
# equipment, and expires; the surge is raised on LV-BY-02's own floors (12 attempts or 30
# people an hour) and resolves an hour after both fell, with the attempts of that hour.
EXPECTED = [
    ("move_equipment_to_arteries.LT-RU-01.1", 1, "raised", "high", "2024-07-16T03:40:00Z", None),
    (
        "move_equipment_to_arteries.LT-RU-01.1",
        2,
        "escalated",
        "critical",
        "2024-07-16T09:10:00Z",
        None,
    ),
    (
        "move_equipment_to_arteries.LT-RU-01.1",
        3,
        "resolved",
        "critical",
        "2024-07-17T18:00:00Z",
        None,
    ),
    ("reinforce_section.LV-BY-02.1", 1, "raised", "medium", "2024-07-18T08:00:00Z", None),
    ("reinforce_section.LV-BY-02.1", 2, "escalated", "high", "2024-07-18T14:30:00Z", None),
    ("reinforce_section.LV-BY-02.1", 3, "resolved", "high", "2024-07-19T14:30:00Z", None),
    ("surge.LV-BY-02.1", 1, "raised", "medium", "2024-07-18T20:27:28Z", 9),
    ("surge.LV-BY-02.1", 2, "escalated", "high", "2024-07-18T20:52:05Z", 18),
    ("surge.LV-BY-02.1", 3, "escalated", "critical", "2024-07-18T21:30:44Z", 40),
    ("surge.LV-BY-02.1", 4, "resolved", "critical", "2024-07-19T02:05:00Z", 0),
]


@pytest.fixture(scope="module")
def partitions() -> dict[Partition, list[Message]]:
    return by_partition(window_events())


@pytest.fixture(scope="module")
def in_order(reference: ReferenceData, partitions: dict[Partition, list[Message]]) -> list[dict]:
    """The window delivered in event-time order, 500 records a batch, the wall clock frozen."""
    deliveries = list(in_event_time_order(partitions))
    return replay(reference, deliveries, random.Random(0), (500,), lambda _: 0.0)


def replay(
    reference: ReferenceData,
    deliveries: list[tuple[Partition, int, Message]],
    rng: random.Random,
    batch_sizes: tuple[int, ...],
    wall_step: Callable[[random.Random], float],
) -> list[dict]:
    clock = [REPLAYED_AT]
    engine = PictureEngine(reference, RuleSettings(), wall_clock=lambda: clock[0])

    def tick() -> None:
        clock[0] += wall_step(rng)

    return alert_stream(run_engine(engine, deliveries, batch_sizes, rng, tick))


def test_the_critical_window_in_event_time_order_gives_the_expected_alerts(
    in_order: list[dict],
) -> None:
    assert summary(in_order) == EXPECTED


# Wall clocks: frozen, a replay's pace (seconds between batches), a stalled worker (hours).
WALL_STEPS: dict[str, Callable[[random.Random], float]] = {
    "frozen": lambda _: 0.0,
    "seconds": lambda rng: rng.uniform(0.0, 5.0),
    "hours": lambda rng: rng.uniform(0.0, 6 * HOUR),
}


@pytest.mark.parametrize(
    ("seed", "max_lag_h", "batch_sizes", "wall"),
    [
        (1, 0.2, (1, 7, 50), "frozen"),
        (2, 1.0, (5000,), "seconds"),
        (3, 6.0, (1, 500, 5000), "hours"),
        (4, 12.0, (3, 40, 700), "seconds"),
        (5, 23.0, (1, 5000), "frozen"),
        (6, 23.0, (13, 2000), "hours"),
    ],
)
def test_any_interleaving_within_the_lateness_and_any_batching_give_the_same_alerts(
    reference: ReferenceData,
    partitions: dict[Partition, list[Message]],
    in_order: list[dict],
    seed: int,
    max_lag_h: float,
    batch_sizes: tuple[int, ...],
    wall: str,
) -> None:
    rng = random.Random(seed)
    deliveries = list(interleave(partitions, rng, max_lag_h * HOUR))
    assert len(deliveries) == sum(len(m) for m in partitions.values())

    stream = replay(reference, deliveries, rng, batch_sizes, WALL_STEPS[wall])

    assert summary(stream) == summary(in_order)
    assert stream == in_order  # evidence, plans and event ids included
