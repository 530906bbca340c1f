"""Seeded, calibrated simulation of border events (crossings, turn-backs, indicators)."""

from marchwarden.simulator.generator import (
    DEFAULT_SEED,
    Event,
    GeneratedEvents,
    check_calibration,
    generate,
    summarise,
    utc_offset_hours,
)
from marchwarden.simulator.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    CalibrationTarget,
    IndicatorEpisode,
    IndicatorUpdate,
    Scenario,
    Stream,
    SurgeEpisode,
    UnknownScenario,
    calibration,
    get_scenario,
    scenario_names,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "DEFAULT_SEED",
    "SCENARIOS",
    "CalibrationTarget",
    "Event",
    "GeneratedEvents",
    "IndicatorEpisode",
    "IndicatorUpdate",
    "Scenario",
    "Stream",
    "SurgeEpisode",
    "UnknownScenario",
    "calibration",
    "check_calibration",
    "generate",
    "get_scenario",
    "scenario_names",
    "summarise",
    "utc_offset_hours",
]
