"""Fixtures for the pure domain tests: shipped reference data, default rules, a clocked engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.reference import load_reference
from marchwarden.reference.models import ReferenceData
from marchwarden.settings import RuleSettings
from tests.domain.factories import T0, EngineHarness


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    return load_reference()


@pytest.fixture
def rules() -> RuleSettings:
    return RuleSettings()


@pytest.fixture(scope="session")
def uniform_reference(reference: ReferenceData) -> ReferenceData:
    """The shipped data with no per-section surge limits: every section falls back to the
    settings' floors (20 attempts, 50 persons an hour) and factor (3x)."""
    raw = reference.model_dump()
    for section in raw["sections"]:
        section.update(
            surge_floor_attempts=None, surge_floor_persons=None, surge_baseline_factor=None
        )
    return ReferenceData.model_validate(raw)


@pytest.fixture
def engine_factory(reference: ReferenceData) -> Callable[..., EngineHarness]:
    """An engine whose wall clock starts at `wall` (default T0 + 1 h) and moves only on demand."""

    def make(
        wall: datetime = T0 + timedelta(hours=1),
        data: ReferenceData | None = None,
        **rules: object,
    ) -> EngineHarness:
        clock = [wall.timestamp()]
        engine = PictureEngine(
            data or reference, RuleSettings(**rules), wall_clock=lambda: clock[0]
        )
        return EngineHarness(engine, clock)

    return make


@pytest.fixture
def harness(engine_factory: Callable[..., EngineHarness]) -> EngineHarness:
    return engine_factory()
