"""The demo's alert lines say which measure raised a surge (pure formatting)."""

from __future__ import annotations

from marchwarden.demo.runner import surge_detail


def test_a_surge_on_persons_shows_the_persons_beside_the_attempts() -> None:
    evidence = {
        "attempts_last_hour": 1,
        "threshold": 4.0,
        "persons_last_hour": 14,
        "persons_threshold": 10.0,
    }
    assert surge_detail(evidence) == "1 attempts (threshold 4), 14 persons (threshold 10) in 1 h"


def test_evidence_without_persons_shows_the_attempts_alone() -> None:
    evidence = {"attempts_last_hour": 22, "threshold": 20.0, "persons_last_hour": None}
    assert surge_detail(evidence) == "22 attempts (threshold 20) in 1 h"
