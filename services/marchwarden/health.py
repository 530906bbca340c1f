"""What /health answers: a plain judgement over what the worker observed, with every reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from marchwarden.settings import HealthBounds

Status = Literal["ok", "starting", "history_failing", "failing"]


@dataclass(frozen=True)
class Child:
    """A process the worker depends on (the embedded broker, the history process)."""

    name: str
    exit_code: int | None  # None while it runs

    @property
    def gone(self) -> bool:
        return self.exit_code is not None


@dataclass(frozen=True)
class Observations:
    """What the worker saw, at monotonic time `now`; times are monotonic seconds."""

    now: float
    ready: bool
    sink_failing_since: float | None = None
    sink_error: str = ""
    oldest_unwritten_at: float | None = None
    lag: int = 0
    last_progress_at: float | None = None
    timer_started_at: float | None = None
    timer_finished_at: float | None = None
    children: tuple[Child, ...] = ()
    crashed: str | None = None


@dataclass(frozen=True)
class Health:
    status: Status
    reasons: list[str] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        return 200 if self.status == "ok" else 503


def assess(seen: Observations, bounds: HealthBounds) -> Health:
    """ok only when every part works; otherwise each reason, worst first."""
    reasons: list[str] = []
    if seen.crashed:
        reasons.append(f"a component crashed: {seen.crashed}")
    for child in seen.children:
        if child.gone:
            reasons.append(f"the {child.name} process is gone (exit code {child.exit_code})")
    if seen.sink_failing_since is not None:
        reasons.append(
            f"history writes failing for {seen.now - seen.sink_failing_since:.0f} s: "
            f"{seen.sink_error}"
        )
    if seen.oldest_unwritten_at is not None:
        lag = seen.now - seen.oldest_unwritten_at
        if lag > bounds.history_lag_s:
            reasons.append(
                f"history lags {lag:.0f} s behind ingest (bound {bounds.history_lag_s:.0f} s)"
            )
    if seen.ready and seen.lag > 0:
        since = seen.now - (seen.last_progress_at if seen.last_progress_at is not None else 0.0)
        if since > bounds.consumer_stall_s:
            reasons.append(
                f"{seen.lag} messages wait on the broker and none was processed for {since:.0f} s"
            )
    if seen.ready:
        overrun = _timer_overrun(seen)
        if overrun is not None and overrun > bounds.rule_timer_s:
            reasons.append(
                f"the rule timer has not completed a run for {overrun:.0f} s "
                f"(bound {bounds.rule_timer_s:.0f} s)"
            )
    if reasons:
        only_history = (
            seen.sink_failing_since is not None
            and len(reasons) <= 2
            and not (seen.crashed or any(c.gone for c in seen.children))
        )
        return Health("history_failing" if only_history else "failing", reasons)
    if not seen.ready:
        return Health("starting", ["waiting for partitions and the rebuild from history"])
    return Health("ok")


def _timer_overrun(seen: Observations) -> float | None:
    """Seconds since the rule timer last completed a run, if it is overdue or stuck in one."""
    if seen.timer_finished_at is None:
        return None if seen.timer_started_at is None else seen.now - seen.timer_started_at
    return seen.now - seen.timer_finished_at
