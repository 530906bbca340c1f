"""The history gateway is not an open door: loopback, secrets from the environment, two lanes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import GATEWAY_ENV, WorkerProcess, free_port, http, wait_until

READ = GATEWAY_ENV["MARCHWARDEN_HISTORY_READ_SECRET"]
WRITE = GATEWAY_ENV["MARCHWARDEN_HISTORY_WRITE_SECRET"]
SERVE = [sys.executable, "-m", "marchwarden.cli", "history", "serve"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARCHWARDEN_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [*SERVE, "--data-dir", str(tmp_path_factory.mktemp("gw") / "shared"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(**GATEWAY_ENV),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http("POST", base + "/ping", {}, token=READ)[0] == 200, 60, "gateway")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_without_the_secret_of_its_lane_nothing_goes_through(gateway: str) -> None:
    calls = {
        "/ping": {},
        "/query": {"sql": "SELECT 1"},
        "/command": {"sql": "DROP TABLE events"},
        "/insert": {"table": "alerts", "columns": [], "kinds": [], "rows": []},
    }
    for path, body in calls.items():
        for token in (None, "guess", READ + "x"):
            assert http("POST", gateway + path, body, token=token)[0] == 401, (path, token)
    # The read lane cannot write, the write lane cannot read.
    assert http("POST", gateway + "/command", calls["/command"], token=READ)[0] == 401
    assert http("POST", gateway + "/insert", calls["/insert"], token=READ)[0] == 401
    assert http("POST", gateway + "/query", calls["/query"], token=WRITE)[0] == 401
    assert http("POST", gateway + "/query", calls["/query"], token=READ)[0] == 200
    status, body = http(
        "POST", gateway + "/query", {"sql": "SELECT count() FROM events"}, token=READ
    )
    assert status == 200 and body["rows"] == [[0]], "the tables are still there"


LEAK = Path("/tmp/marchwarden-gateway-leak")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('/etc/hostname')",
        f"SELECT 1 INTO OUTFILE '{LEAK}'",
        f"SELECT 1 INTO OUTFILE '{LEAK}' APPEND",
        "KILL QUERY WHERE 1",
        "DROP TABLE events",
        "INSERT INTO dead_letters (topic) VALUES ('x')",
        "SELECT 1; DROP TABLE events",
        "SELECT * FROM system.processes",
    ],
)
def test_even_the_read_lane_reads_only_tables(gateway: str, sql: str) -> None:
    """readonly=1 alone lets ClickHouse write INTO OUTFILE and KILL queries: both refused."""
    status, body = http("POST", gateway + "/query", {"sql": sql}, token=READ)
    assert status == 403, (sql, body)
    status, body = http(
        "POST", gateway + "/analyst", {"sql": sql, "database": "analyst_eu_rcc"}, token=READ
    )
    assert status == 403 and body["kind"] in ("refused", "read_only"), (sql, body)
    assert not LEAK.exists()
    status, body = http(
        "POST", gateway + "/query", {"sql": "SELECT count() FROM events"}, token=READ
    )
    assert status == 200 and body["rows"] == [[0]], "the tables are all still there"


def test_it_refuses_to_start_without_secrets_or_off_loopback(tmp_path: Path) -> None:
    def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SERVE, "--data-dir", str(tmp_path / "h"), "--port", str(free_port()), *args],
            env=clean_env(**env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    no_secret = serve()
    assert no_secret.returncode == 1 and "MARCHWARDEN_HISTORY_READ_SECRET" in no_secret.stderr
    exposed = serve("--host", "0.0.0.0", **GATEWAY_ENV)
    assert exposed.returncode == 1 and "loopback only" in exposed.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of listening TCP sockets on `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            octets = [str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)]
            found.add(".".join(octets))
    return found


def test_ups_own_history_process_keeps_its_secret_off_the_command_line(
    worker_factory: object,
) -> None:
    worker: WorkerProcess = worker_factory()  # type: ignore[operator]
    assert worker.process is not None
    (child,) = [
        p
        for p in _children(worker.process.pid)
        if "history" in Path(f"/proc/{p}/cmdline").read_text()
    ]
    argv = Path(f"/proc/{child}/cmdline").read_text().split("\0")
    port = int(argv[argv.index("--port") + 1])
    assert _listening_addresses(port) == {"127.0.0.1"}
    environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
    secrets = [
        v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"MARCHWARDEN_HISTORY_")
    ]
    assert len(secrets) == 2 and all(len(s) >= 40 for s in secrets)
    assert not any(s in " ".join(argv) for s in secrets), "never on argv (ps shows it)"
    assert READ not in secrets, "drawn at start, not the tests' shared secret"
    base = f"http://127.0.0.1:{port}"
    assert http("POST", base + "/query", {"sql": "SELECT 1"})[0] == 401
    assert http("POST", base + "/command", {"sql": "DROP TABLE events"}, token=READ)[0] == 401
    assert worker.get("/health")["status"] == "ok", "the worker itself holds the secrets"
