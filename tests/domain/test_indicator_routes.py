"""Indicators reach every section they name, whichever worker owns it (issue 13, point 2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from marchwarden.engine.outputs import Record
from marchwarden.ingest.indicator_routes import indicator_routes, routes_for
from marchwarden.ingest.worker import partition_of
from tests.domain.factories import T0, EngineHarness, encode, event_doc

PRIMARY = "LT-BY-03"
EXTRA = "LT-BY-04"
ROUTED = "marchwarden.indicators-by-section"


def by_letter(section: str) -> int:
    """A partitioner the test can read: the section's last character."""
    return ord(section[-1]) % 4


def test_no_copy_for_sections_on_the_primary_partition() -> None:
    assert routes_for("S-0", ["S-4", "S-8"], by_letter) == []


def test_one_copy_per_other_partition_keyed_by_the_first_section_named_on_it() -> None:
    assert routes_for("S-0", ["S-1", "S-5", "S-2", "S-4", "S-1"], by_letter) == ["S-1", "S-2"]


def test_only_valid_indicators_with_extra_sections_are_routed() -> None:
    def part(section: str) -> int:
        return {PRIMARY: 0, EXTRA: 1}[section]

    indicator = event_doc("indicator", PRIMARY, T0, extra_section_ids=[EXTRA])
    assert indicator_routes(encode(indicator), 64 * 1024, part) == [EXTRA]
    assert indicator_routes(encode(event_doc("indicator", PRIMARY, T0)), 64 * 1024, part) == []
    crossing = event_doc("crossing_attempt", PRIMARY, T0)
    assert indicator_routes(encode(crossing), 64 * 1024, part) == []
    assert indicator_routes(b"{not json", 64 * 1024, part) == []
    assert indicator_routes(None, 64 * 1024, part) == []


def test_routes_follow_the_producers_partitioner() -> None:
    sections = [f"LT-BY-0{i}" for i in range(1, 10)]
    keys = routes_for(sections[0], sections[1:], lambda s: partition_of(s, 4))
    partitions = [partition_of(k, 4) for k in keys]
    assert len(partitions) == len(set(partitions))
    assert partition_of(sections[0], 4) not in partitions


def split_workers(
    engine_factory: Callable[..., EngineHarness],
) -> tuple[EngineHarness, EngineHarness]:
    """Two workers: one owns the primary section, the other the extra one."""
    primary_owner, extra_owner = engine_factory(), engine_factory()
    primary_owner.engine.owned = set(primary_owner.engine.country) - {EXTRA}
    extra_owner.engine.owned = {EXTRA}
    return primary_owner, extra_owner


def copy_of(doc: dict, offset: int = 0) -> Record:
    return Record(ROUTED, 1, offset, EXTRA.encode(), encode(doc))


def test_a_copy_gives_the_extra_sections_owner_what_one_worker_shows(
    engine_factory: Callable[..., EngineHarness], reference
) -> None:
    one_worker = engine_factory()
    primary_owner, extra_owner = split_workers(engine_factory)
    fields = {"level": "high", "confidence": 1.0, "indicator_id": "ind-x"}
    doc = event_doc("indicator", PRIMARY, T0, extra_section_ids=[EXTRA], **fields)
    one_worker.send(doc)
    primary_owner.send(doc)
    # Without the copy, the extra section's owner knows nothing of it.
    assert extra_owner.section_picture(EXTRA)["threat_level"] == "low"

    extra_owner.engine.apply_routed_indicator(copy_of(doc))

    seen = extra_owner.section_picture(EXTRA)
    expected = one_worker.section_picture(EXTRA)
    assert seen["threat_level"] == expected["threat_level"] == "high"
    assert seen["threat_reasons"] == expected["threat_reasons"]
    assert [i["indicator_id"] for i in seen["indicators"]] == ["ind-x"]
    # The plan is the primary section's alert, covering the extra section's arteries too,
    # as with one worker; the extra section's owner raises nothing of its own.
    (alert,) = primary_owner.alerts()
    (single,) = one_worker.alerts()
    assert alert.evidence.sections == single.evidence.sections == [PRIMARY, EXTRA]
    assert alert.recommendation is not None
    planned = {p.artery_id for p in alert.recommendation.arteries}
    assert {a.id for a in reference.arteries_serving(EXTRA)} <= planned
    assert extra_owner.alerts() == []
    # The copy is state only: the event and its history row stay with the primary owner.
    assert extra_owner.engine.drain().events == []


def test_a_repeated_copy_changes_nothing_and_a_clear_lowers_the_level(
    engine_factory: Callable[..., EngineHarness],
) -> None:
    _, extra_owner = split_workers(engine_factory)
    lit = event_doc(
        "indicator",
        PRIMARY,
        T0,
        level="high",
        confidence=1.0,
        indicator_id="ind-x",
        extra_section_ids=[EXTRA],
    )
    extra_owner.engine.apply_routed_indicator(copy_of(lit, 0))
    before = extra_owner.section_picture(EXTRA)
    extra_owner.engine.apply_routed_indicator(copy_of(lit, 1))
    assert extra_owner.section_picture(EXTRA)["indicators"] == before["indicators"]
    assert before["threat_level"] == "high"

    cleared = event_doc(
        "indicator",
        PRIMARY,
        T0 + timedelta(minutes=10),
        state="cleared",
        level="high",
        indicator_id="ind-x",
        extra_section_ids=[EXTRA],
    )
    extra_owner.engine.apply_routed_indicator(copy_of(cleared, 2))
    assert extra_owner.section_picture(EXTRA)["threat_level"] == "low"
    # An older copy arriving after the clear does not light it again.
    extra_owner.engine.apply_routed_indicator(copy_of(lit, 3))
    assert extra_owner.section_picture(EXTRA)["threat_level"] == "low"


def test_a_copy_that_does_not_decode_is_ignored(
    engine_factory: Callable[..., EngineHarness],
) -> None:
    _, extra_owner = split_workers(engine_factory)
    extra_owner.engine.apply_routed_indicator(Record(ROUTED, 1, 0, EXTRA.encode(), b"{bad"))
    assert extra_owner.engine.indicators == {}
    assert extra_owner.alerts() == []
