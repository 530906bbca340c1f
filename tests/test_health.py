"""/health's judgement: ok only when every part works, else 503 with each reason."""

from __future__ import annotations

from marchwarden.health import Child, Observations, assess
from marchwarden.settings import HealthBounds

BOUNDS = HealthBounds(history_lag_s=30, consumer_stall_s=30, rule_timer_s=10)
NOW = 10_000.0


def seen(**changes: object) -> Observations:
    base: dict[str, object] = {
        "now": NOW,
        "ready": True,
        "last_progress_at": NOW - 1,
        "timer_started_at": NOW - 0.5,
        "timer_finished_at": NOW - 0.4,
        "children": (Child("broker", None), Child("history", None)),
    }
    return Observations(**(base | changes))  # type: ignore[arg-type]


def test_a_working_worker_is_ok() -> None:
    health = assess(seen(lag=5000), BOUNDS)
    assert (health.status, health.http_status, health.reasons) == ("ok", 200, [])


def test_starting_is_503_without_a_failure() -> None:
    health = assess(seen(ready=False, timer_finished_at=None, timer_started_at=None), BOUNDS)
    assert health.status == "starting" and health.http_status == 503


def test_each_failure_gives_its_own_reason() -> None:
    cases = {
        "history writes failing for 12 s: Code: 241": seen(
            sink_failing_since=NOW - 12, sink_error="Code: 241"
        ),
        "history lags 45 s behind ingest": seen(oldest_unwritten_at=NOW - 45),
        "7 messages wait on the broker and none was processed for 31 s": seen(
            lag=7, last_progress_at=NOW - 31
        ),
        "the rule timer has not completed a run for 11 s": seen(timer_finished_at=NOW - 11),
        "the history process is gone (exit code -9)": seen(
            children=(Child("broker", None), Child("history", -9))
        ),
        "a component crashed: MessageSizeTooLargeError": seen(crashed="MessageSizeTooLargeError"),
    }
    for fragment, observations in cases.items():
        health = assess(observations, BOUNDS)
        assert health.http_status == 503, fragment
        assert len(health.reasons) == 1 and fragment in health.reasons[0], health.reasons


def test_a_timer_stuck_in_its_first_run_is_an_overrun() -> None:
    health = assess(seen(timer_started_at=NOW - 20, timer_finished_at=None), BOUNDS)
    assert "rule timer" in health.reasons[0]


def test_within_bounds_nothing_is_reported() -> None:
    health = assess(
        seen(
            oldest_unwritten_at=NOW - 29,
            lag=3,
            last_progress_at=NOW - 29,
            timer_finished_at=NOW - 9,
        ),
        BOUNDS,
    )
    assert health.status == "ok"


def test_several_failures_are_all_reported() -> None:
    health = assess(
        seen(sink_failing_since=NOW - 60, sink_error="down", oldest_unwritten_at=NOW - 60),
        BOUNDS,
    )
    assert len(health.reasons) == 2
