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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from marchwarden.embedded.tansu import port_in_use
from tests.support.stack import (
    GATEWAY_ENV,
    TOKENS,
    TOPIC_OF,
    event,
    free_port,
    http,
    produce,
    wait_until,
)

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
        # Every endpoint but /health needs a token: one created while `up` runs works at once.
        created = subprocess.run(
            [
                *UP[:-1],
                "token",
                "create",
                "--role",
                "operator",
                "--org",
                "LT-VSAT",
                "--name",
                "ana",
            ],
            cwd=tmp_path,
            env=clean_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        token = created.stdout.splitlines()[-1]
        assert token not in (tmp_path / ".marchwarden" / "tokens.json").read_text()
        doc = event("crossing_attempt", "LT-BY-01", datetime.now(UTC), persons=3)
        asyncio.run(
            produce("127.0.0.1:9092", [("border.crossings", b"LT-BY-01", json.dumps(doc).encode())])
        )
        wait_until(
            lambda: (
                http("GET", "http://127.0.0.1:6066/picture?section=LT-BY-01", token=token)[1][
                    "sections"
                ]["LT-BY-01"]["counts"]["1h"]["attempt_persons"]
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
        written = sorted(p.name for p in tmp_path.iterdir())
        assert written == [".marchwarden", "up.log"], "`up` writes only into its data dir"
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


class Up:
    """`marchwarden up` with its embedded tansu and chDB, on free ports, in a data dir."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.web_port = free_port()
        self.tansu_port = free_port()
        self.env = dict(
            env, MARCHWARDEN_TANSU_PORT=str(self.tansu_port), MARCHWARDEN_TOKENS=TOKENS.env_value
        )
        self.log_path = data_dir.parent / f"up-{self.web_port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> Up:
        args = ["--data-dir", str(self.data_dir), "--port", str(self.web_port)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                UP + args, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(
            lambda: (
                self.proc is not None
                and (
                    self.proc.poll() is not None
                    or http("GET", self.url + "/health", timeout=2)[0] == 200
                )
            ),
            60,
            "up to be healthy",
        )
        assert self.proc.poll() is None, self.log_path.read_text(errors="replace")[-3000:]
        return self

    def sql(self, query: str) -> list[list[object]]:
        status, body = http(
            "POST", self.url + "/history/sql", {"sql": query}, token=TOKENS("analyst")
        )
        assert status == 200, body
        return list(body["rows"])

    def picture(self, sections: list[str]) -> dict[str, dict[str, object]]:
        """Each section's picture without what follows the wall clock (watermark, silent for)."""
        out = {}
        for s in sections:
            status, body = http("GET", self.url + f"/picture?section={s}", token=TOKENS("operator"))
            assert status == 200, body
            view = dict(body["sections"][s])
            del view["watermark"], view["watermark_epoch"], view["silent_for_s"]
            out[s] = view
        return out

    def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        # The embedded broker and history process go with it, even after kill -9.
        wait_until(lambda: not port_in_use("127.0.0.1", self.tansu_port), 15, "tansu to exit")
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


EVENTS_SQL = (
    "SELECT toString(event_id), event_type, section_id, persons, toString(occurred_at) "
    "FROM events FINAL ORDER BY event_id"
)
ALERTS_SQL = "SELECT alert_id, version, status, level FROM alerts FINAL ORDER BY alert_id, version"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_history_survives_a_restart_of_up(
    tmp_path: Path, clean_env: dict[str, str], stop_signal: int
) -> None:
    """Events written through a running `up` come back, rows and picture, after a restart.

    The embedded tansu keeps its log in memory only, so after the restart nothing is replayed
    from the broker: the rows and the live picture must come from the chDB history alone.
    """
    data_dir = tmp_path / "d"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    sections = ["LT-BY-01", "LV-BY-02", "LT-RU-01"]
    # Below every section's surge floors (8 attempts and 20 persons an hour at the lowest), so
    # the one alert is the indicator's and its history is final once it is written.
    docs = [
        event(
            "crossing_attempt", sections[i % 2], t0 + timedelta(seconds=60 * i), persons=1 + i % 2
        )
        for i in range(14)
    ]
    docs += [event("turn_back", "LT-BY-01", t0 + timedelta(minutes=3), persons=6)]
    docs += [event("indicator", "LT-RU-01", t0 + timedelta(minutes=5), level="high")]
    first = Up(data_dir, clean_env).start()
    try:
        sent = asyncio.run(
            produce(
                f"127.0.0.1:{first.tansu_port}",
                [
                    (TOPIC_OF[d["event_type"]], d["section_id"].encode(), json.dumps(d).encode())
                    for d in docs
                ],
            )
        )
        assert sent == len(docs)
        # Force the condition before stopping: everything is in history (a kill -9 before the
        # sink's flush would lose the tail, as tansu keeps nothing across restarts).
        wait_until(lambda: first.sql("SELECT count() FROM events") == [[len(docs)]], 30, "history")
        wait_until(
            lambda: first.sql("SELECT count() FROM alerts") != [[0]], 30, "the alert in history"
        )
        rows, alerts = first.sql(EVENTS_SQL), first.sql(ALERTS_SQL)
        picture = first.picture(sections)
        code = first.stop(stop_signal)
    finally:
        first.kill()
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL), (
        first.log_path.read_text()[-3000:]
    )
    assert {r[0] for r in rows} == {d["event_id"] for d in docs}
    assert [a[0] for a in alerts] == ["move_equipment_to_arteries.LT-RU-01.1"]

    second = Up(data_dir, clean_env).start()
    try:
        assert second.sql(EVENTS_SQL) == rows, "the same rows, once each"
        assert second.sql("SELECT count() FROM events") == [[len(docs)]]
        assert second.sql(ALERTS_SQL) == alerts
        assert second.picture(sections) == picture, "the same picture, rebuilt from history"
        assert second.stop(signal.SIGTERM) == 0
    finally:
        second.kill()


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
    port = free_port()
    holder_log = tmp_path / "holder.log"
    with open(holder_log, "wb") as log:
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
                str(port),
            ],
            env={**clean_env, **GATEWAY_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    secret = GATEWAY_ENV["MARCHWARDEN_HISTORY_READ_SECRET"]

    def serving() -> bool:
        url = f"http://127.0.0.1:{port}/ping"
        return http("POST", url, {}, token=secret, timeout=1)[0] == 200

    try:
        # The first owner holds the history once it serves (its status file alone appears
        # a moment before chDB has locked it, and says nothing if the owner then died).
        wait_until(lambda: holder.poll() is not None or serving(), 60, "the first owner")
        assert holder.poll() is None, holder_log.read_text()
        env = dict(clean_env, MARCHWARDEN_TANSU_PORT=str(free_port()))
        result = _run_up(
            ["--data-dir", str(tmp_path / "d"), "--port", str(free_port())], env, tmp_path
        )
        assert holder.poll() is None, "the first owner kept the history throughout"
        _one_clear_line(result, "in use by another process")
    finally:
        holder.terminate()
        holder.wait(30)
