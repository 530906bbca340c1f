"""Watch the parts of `up` and decide how it ends: any crash stops everything, non-zero, with why.

`up` is one worker with child processes (the embedded broker, the history process). If a child
dies or a part of the worker crashes, the rest cannot do its job honestly: the supervisor
records the first reason, asks the worker to stop, and the command exits with status 3 and
that reason. Stopping is bounded: once asked to stop, whatever still runs after the deadline
(a history write stuck in a call that cannot be interrupted, say) is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

EXIT_CRASH = 3


class Supervisor:
    """Children to watch, the first failure, and a deadline for stopping."""

    def __init__(self, poll_s: float = 0.25) -> None:
        self.poll_s = poll_s
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.crash_reason: str | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._deadline_armed = False
        self._request_stop: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    # -- what to watch and whom to tell
    def watch(self, name: str, process: subprocess.Popen[bytes]) -> None:
        self.children[name] = process
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="supervisor", daemon=True)
            self._thread.start()

    def on_failure(self, request_stop: Callable[[], None]) -> None:
        """How to ask the worker to stop (called from the supervisor's thread)."""
        self._request_stop = request_stop

    def child_exit_codes(self) -> dict[str, int | None]:
        return {name: proc.poll() for name, proc in self.children.items()}

    # -- failures
    def fail(self, reason: str, stop: bool = True) -> None:
        """Record a crash (the first one wins) and ask the worker to stop (unless it has)."""
        with self._lock:
            if self.crash_reason is not None:
                return
            self.crash_reason = reason
        log.critical("stopping: %s", reason)
        if stop and self._request_stop is not None:
            self._request_stop()

    def _poll(self) -> None:
        while not self._closed.wait(self.poll_s):
            for name, proc in list(self.children.items()):
                code = proc.poll()
                # A child stopped on purpose after close() (a start-up that failed) is no crash.
                if code is not None and not self._closed.is_set():
                    self.fail(f"the {name} process is gone (exit code {code})")

    # -- stopping
    def arm_deadline(self, seconds: float) -> None:
        """From now on the process ends within `seconds`, even if a part does not stop."""
        with self._lock:
            if self._deadline_armed:
                return
            self._deadline_armed = True
        threading.Thread(
            target=self._expire, args=(seconds,), name="stop-deadline", daemon=True
        ).start()

    def _expire(self, seconds: float) -> None:
        # Not disarmed by close(): the command may still hang after the worker stopped (in a
        # history call that cannot be interrupted); a daemon thread dies with a clean exit.
        time.sleep(seconds)
        log.critical("still stopping after %.0f s: killing what remains", seconds)
        self.kill_children()
        logging.shutdown()
        os._exit(EXIT_CRASH if self.crash_reason else 1)

    def kill_children(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                # A stopped (SIGSTOP) child would leave a SIGTERM pending: SIGKILL always works.
                proc.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Stop watching (before the children are stopped on purpose)."""
        self._closed.set()
