"""What one worker process holds (settings, app, engine, store, services), passed explicitly.

Views and agents receive it as an argument; it sits below them and below `worker.py`, which
builds it, so nothing imports a global app and no import runs in a circle.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust

from marchwarden.access.web import AccessControl
from marchwarden.engine.picture_engine import PictureEngine
from marchwarden.health import Child, Health, Observations, assess
from marchwarden.history.analyst import AnalystQueries
from marchwarden.history.rebuild import rebuild_engine
from marchwarden.history.store import HistoryStore
from marchwarden.ingest.worker import PictureWorker
from marchwarden.settings import Settings
from marchwarden.supervision import Supervisor


@dataclass
class WorkerContext:
    """Everything one worker process holds; passed explicitly, never imported as a global."""

    settings: Settings
    app: faust.App
    engine: PictureEngine
    store: HistoryStore
    worker: PictureWorker
    supervisor: Supervisor
    analysts: AnalystQueries
    access: AccessControl

    def is_ready(self) -> bool:
        return self.worker.ready.is_set() and bool(self.app.consumer.assignment())

    def health(self) -> Health:
        worker, sink = self.worker, self.worker.sink
        seen = Observations(
            now=time.monotonic(),
            ready=self.is_ready(),
            sink_failing_since=sink.failing_since,
            sink_error=sink.last_error,
            oldest_unwritten_at=sink.oldest_unwritten(),
            lag=worker.lag,
            last_progress_at=worker.last_progress_at,
            timer_started_at=worker.timer_started_at,
            timer_finished_at=worker.timer_finished_at,
            children=tuple(
                Child(name, code) for name, code in self.supervisor.child_exit_codes().items()
            ),
            crashed=self.supervisor.crash_reason,
        )
        return assess(seen, self.settings.health)

    def status(self) -> dict[str, Any]:
        return {
            "broker": self.settings.bootstrap_servers,
            "history": "chdb" if self.store.embedded else "clickhouse",
            "owned_sections": len(self.engine.owned),
            "accepted": self.engine.accepted,
            "duplicates": self.engine.duplicates,
            "rejected": self.engine.rejected,
            "late": self.engine.late,
            "lag": self.worker.lag,
            "history_rows_written": self.worker.sink.rows_written,
            "history_rows_pending": self.worker.sink.pending,
            "history_write_error": self.worker.sink.write_error,
            "history_rejected": self.worker.history_rejected,
            "analyst": self.analysts.status(),
        }

    async def replay(self) -> dict[str, Any]:
        """Rebuild the live state from history (the `replay` command)."""
        await self.worker.checkpoint()
        async with self.worker.flush_lock:
            return await rebuild_engine(self.engine, self.store, set(self.engine.owned))

    async def quiesced(
        self, action: Callable[[PictureEngine, HistoryStore], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """Run `action` once history holds every accepted event and no batch is in flight.

        `verify` (analysis/verify.py) compares the live counts with history this way.
        """
        await self.worker.checkpoint()
        async with self.worker.flush_lock:
            return await action(self.engine, self.store)
