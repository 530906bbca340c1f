"""Event-time alignment pauses partitions that run ahead of the slowest one with data."""

from __future__ import annotations

from marchwarden.ingest.alignment import EventTimeAligner


def test_nothing_is_paused_when_every_partition_is_caught_up() -> None:
    aligner = EventTimeAligner(slack_s=600)
    aligner.advanced("a", 10_000)
    aligner.advanced("b", 0)
    assert aligner.to_pause(pending=[], assigned=["a", "b"]) == set()


def test_a_partition_ahead_of_the_slowest_pending_one_is_paused() -> None:
    aligner = EventTimeAligner(slack_s=600)
    aligner.advanced("crossings", 100_000)
    aligner.advanced("turnbacks", 1_000)
    paused = aligner.to_pause(
        pending=["crossings", "turnbacks"], assigned=["crossings", "turnbacks"]
    )
    assert paused == {"crossings"}


def test_within_the_slack_nothing_is_paused() -> None:
    aligner = EventTimeAligner(slack_s=600)
    aligner.advanced("a", 1_500)
    aligner.advanced("b", 1_000)
    assert aligner.to_pause(pending=["a", "b"], assigned=["a", "b"]) == set()


def test_an_undelivered_pending_partition_holds_the_others_back() -> None:
    aligner = EventTimeAligner(slack_s=600)
    aligner.advanced("a", 1_000)
    assert aligner.to_pause(pending=["a", "b"], assigned=["a", "b"]) == {"a"}
    aligner.advanced("b", None)  # delivered only bad records: no longer unknown
    assert aligner.to_pause(pending=["a", "b"], assigned=["a", "b"]) == set()


def test_the_slowest_pending_partition_is_never_paused() -> None:
    aligner = EventTimeAligner(slack_s=0)
    for name, head in {"a": 5.0, "b": 9.0, "c": 7.0}.items():
        aligner.advanced(name, head)
    paused = aligner.to_pause(pending=["a", "b", "c"], assigned=["a", "b", "c"])
    assert "a" not in paused and paused == {"b", "c"}


def test_forgotten_partitions_start_over() -> None:
    aligner = EventTimeAligner(slack_s=600)
    aligner.advanced("a", 99_999)
    aligner.forget(["a"])
    assert aligner.to_pause(pending=["b"], assigned=["a", "b"]) == set()
