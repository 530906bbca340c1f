"""The supervisor notices a dead child, keeps the first reason, and bounds the stop (real processes)."""

from __future__ import annotations

import subprocess
import sys
import threading

from marchwarden.supervision import Supervisor
from tests.support.stack import wait_until


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_dead_child_is_a_crash_with_its_name_and_exit_code() -> None:
    supervisor = Supervisor(poll_s=0.02)
    stopped = threading.Event()
    supervisor.on_failure(stopped.set)
    broker, history = sleeper(), sleeper()
    try:
        supervisor.watch("broker", broker)
        supervisor.watch("history", history)
        history.kill()
        wait_until(stopped.is_set, 10, "the worker to be asked to stop")
        assert supervisor.crash_reason == "the history process is gone (exit code -9)"
        broker.kill()
        broker.wait(10)
        wait_until(lambda: supervisor.child_exit_codes()["broker"] == -9, 10, "broker exit")
        assert "history" in (supervisor.crash_reason or ""), "the first reason is kept"
    finally:
        supervisor.close()
        for proc in (broker, history):
            proc.kill()
            proc.wait(10)


def test_a_child_stopped_after_close_is_no_crash() -> None:
    """`up` closes the supervisor before it stops the broker of a start-up that failed."""
    supervisor = Supervisor(poll_s=0.02)
    asked = threading.Event()
    supervisor.on_failure(asked.set)
    broker = sleeper()
    try:
        supervisor.watch("broker", broker)
        supervisor.close()
        broker.kill()
        broker.wait(10)
        assert supervisor._thread is not None
        supervisor._thread.join(10)
        assert not supervisor._thread.is_alive()
        assert supervisor.crash_reason is None and not asked.is_set()
    finally:
        broker.kill()
        broker.wait(10)


def test_the_stop_deadline_kills_children_in_a_process_that_does_not_stop() -> None:
    code = (
        "import subprocess, sys, time\n"
        "from marchwarden.supervision import Supervisor\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "s = Supervisor()\n"
        "s.watch('history', child)\n"
        "s.fail('a part crashed')\n"
        "s.arm_deadline(0.5)\n"
        "time.sleep(60)  # a part that never stops\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert proc.wait(30) == 3
    wait_until(lambda: not _alive(child), 10, "the child to be killed")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
