"""Start-up time of `marchwarden up` (embedded) to /health 200, and the smoke demo's wall time."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, free_port, log, spawn, stop, wait_healthy


def startup_run() -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="mw-bench-up-"))
    proc = None
    result: dict[str, Any] = {}
    try:
        web_port = free_port()
        env = {"MARCHWARDEN_TANSU_PORT": str(free_port()), "MARCHWARDEN_LOG_LEVEL": "WARNING"}
        started = time.monotonic()
        proc = spawn(
            [
                PYTHON,
                "-m",
                "marchwarden.cli",
                "up",
                "--port",
                str(web_port),
                "--data-dir",
                str(data_dir),
            ],
            env,
            data_dir.parent / f"{data_dir.name}.log",
        )
        wait_healthy(web_port, proc, timeout=120)
        result["up_to_health_s"] = round(time.monotonic() - started, 2)
        stopping = time.monotonic()
        stop(proc, timeout=20)
        result["up_stop_s"] = round(time.monotonic() - stopping, 2)
        log(f"startup: up -> /health 200 in {result['up_to_health_s']} s")
    finally:
        stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)
        Path(data_dir.parent / f"{data_dir.name}.log").unlink(missing_ok=True)

    demo_dir = Path(tempfile.mkdtemp(prefix="mw-bench-demo-"))
    try:
        env = {
            "MARCHWARDEN_TANSU_PORT": str(free_port()),
            "MARCHWARDEN_WEB_PORT": str(free_port()),
        }
        started = time.monotonic()
        demo = spawn(
            [
                PYTHON,
                "-m",
                "marchwarden.cli",
                "demo",
                "--scenario",
                "smoke",
                "--duration",
                "5",
                "--no-serve",
                "--data-dir",
                str(demo_dir),
            ],
            env,
            demo_dir.parent / f"{demo_dir.name}.log",
        )
        try:
            code = demo.wait(180)
        except subprocess.TimeoutExpired:
            stop(demo)
            raise
        result["demo_wall_s"] = round(time.monotonic() - started, 2)
        result["demo_exit_code"] = code
        log(f"startup: demo smoke --duration 5 took {result['demo_wall_s']} s (exit {code})")
        if code != 0:
            tail = Path(demo_dir.parent / f"{demo_dir.name}.log").read_text()[-1500:]
            log(f"demo output tail:\n{tail}")
    finally:
        shutil.rmtree(demo_dir, ignore_errors=True)
        Path(demo_dir.parent / f"{demo_dir.name}.log").unlink(missing_ok=True)
    return result
