"""`marchwarden up`: starts the embedded stack, serves health, processes events, stops clean."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from marchwarden.embedded.tansu import port_in_use
from tests.support.stack import event, free_port, http, produce, wait_until

UP = [sys.executable, "-m", "marchwarden.cli", "up"]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def clean_env() -> Iterator[dict[str, str]]:
    yield {k: v for k, v in os.environ.items() if not k.startswith("MARCHWARDEN_")}


def test_up_with_no_flags_runs_the_embedded_stack(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    if not _port_free(9092) or not _port_free(6066):
        pytest.skip("the default ports 9092/6066 are in use on this machine")
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(UP, cwd=tmp_path, env=clean_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: (
                proc.poll() is not None
                or http("GET", "http://127.0.0.1:6066/health", timeout=1)[0] == 200
            ),
            30,
            "health 200",
        )
        assert proc.poll() is None, (tmp_path / "up.log").read_text()
        brokers = [
            p for p in children_of(proc.pid) if "tansu" in Path(f"/proc/{p}/cmdline").read_text()
        ]
        assert len(brokers) == 1, "one embedded tansu broker runs as a child"
        doc = event("crossing_attempt", "LT-BY-01", datetime.now(UTC), persons=3)
        asyncio.run(
            produce("127.0.0.1:9092", [("border.crossings", b"LT-BY-01", json.dumps(doc).encode())])
        )
        wait_until(
            lambda: (
                http("GET", "http://127.0.0.1:6066/picture?section=LT-BY-01")[1]["sections"][
                    "LT-BY-01"
                ]["counts"]["1h"]["attempt_persons"]
                == 3
            ),
            20,
            "the event to reach the worker's picture",
        )
        assert (tmp_path / ".marchwarden" / "history").is_dir(), (
            "chDB history lives in ./.marchwarden"
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        wait_until(lambda: not any(alive(p) for p in brokers), 10, "the broker to exit")
        assert not children_of(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_history_survives_a_restart_of_up(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """The data directory keeps history; a second start applies no migration twice."""
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "marchwarden.cli", "migrate", "--data-dir", str(tmp_path / "d")],
            env=clean_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def _port_free(port: int) -> bool:
    return not port_in_use("127.0.0.1", port)


def _run_up(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        UP + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("marchwarden:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr


def test_a_taken_broker_port_gives_one_clear_line(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = dict(clean_env, MARCHWARDEN_TANSU_PORT=str(port))
        _one_clear_line(_run_up(["--port", str(free_port())], env, tmp_path), "is taken")


def test_a_taken_web_port_gives_one_clear_line(tmp_path: Path, clean_env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = dict(clean_env, MARCHWARDEN_TANSU_PORT=str(free_port()))
        _one_clear_line(_run_up(["--port", str(port)], env, tmp_path), "web port")


def test_a_missing_broker_binary_gives_one_clear_line(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    env = dict(clean_env, MARCHWARDEN_TANSU_BIN=str(tmp_path / "no-such-tansu"))
    _one_clear_line(
        _run_up(["--port", str(free_port())], env, tmp_path), "missing or not executable"
    )


def test_an_unreachable_broker_gives_one_clear_line(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    args = ["--broker", f"kafka://127.0.0.1:{free_port()}", "--port", str(free_port())]
    _one_clear_line(_run_up(args, clean_env, tmp_path), "cannot reach the Kafka broker")


def test_an_unreachable_clickhouse_gives_one_clear_line(
    tmp_path: Path, clean_env: dict[str, str], bootstrap: str
) -> None:
    args = [
        "--broker",
        f"kafka://{bootstrap}",
        "--clickhouse",
        f"http://127.0.0.1:{free_port()}",
        "--port",
        str(free_port()),
    ]
    _one_clear_line(_run_up(args, clean_env, tmp_path), "ClickHouse")


def test_a_history_in_use_by_another_process_gives_one_clear_line(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marchwarden.cli",
            "history",
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--port",
            str(free_port()),
        ],
        env=clean_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: (tmp_path / "d" / "history" / "status").exists(), 60, "the first owner")
        env = dict(clean_env, MARCHWARDEN_TANSU_PORT=str(free_port()))
        result = _run_up(
            ["--data-dir", str(tmp_path / "d"), "--port", str(free_port())], env, tmp_path
        )
        _one_clear_line(result, "in use by another process")
    finally:
        holder.terminate()
        holder.wait(30)
