"""The demo end to end, analyst commands, read-only enforcement, replay and verify."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from marchwarden.history.store import GatewaySecrets, HistoryStore
from tests.support.stack import (
    GATEWAY_ENV,
    TOKENS,
    WorkerProcess,
    free_port,
    http,
    topic_env,
    wait_until,
)

GATEWAY_SECRETS = GatewaySecrets(
    GATEWAY_ENV["MARCHWARDEN_HISTORY_READ_SECRET"], GATEWAY_ENV["MARCHWARDEN_HISTORY_WRITE_SECRET"]
)

CLI = [sys.executable, "-m", "marchwarden.cli"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env or clean_env(),
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARCHWARDEN_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short demo run for the module, serving its page until Ctrl-C; then its history."""
    base = tmp_path_factory.mktemp("demo")
    out_path, err_path = base / "demo.out", base / "demo.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        demo = subprocess.Popen(
            [*CLI, "demo", "--scenario", "smoke", "--duration", "5", "--data-dir", str(base)],
            stdout=out,
            stderr=err,
            env=clean_env(MARCHWARDEN_WEB_PORT=str(free_port())),
        )
    try:
        wait_until(
            lambda: demo.poll() is not None or "press Ctrl-C" in out_path.read_text(),
            240,
            "the demo to serve its page after the summary",
        )
        output = out_path.read_text()
        assert demo.poll() is None, output[-3000:] + err_path.read_text()[-3000:]
        url = re.search(r"Watch floor \(map and alert board\): (http://\S+/)", output)
        assert url, output[:2000]
        with urllib.request.urlopen(url.group(1), timeout=10) as page:
            assert b"watch floor" in page.read()
        status, spec = http("GET", url.group(1) + "openapi.json")
        assert status == 200 and "/alerts/stream" in spec["paths"]
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(60)
    output = out_path.read_text()
    assert code == 0, output[-3000:] + err_path.read_text()[-3000:]
    assert "verified" in output
    assert "RAISED" in output and "surge.LV-BY-02.1" in output
    return base / "demo"


def analyst_env(directory: Path) -> dict[str, str]:
    """The demo keeps its analyst's token in a 0600 file of its directory."""
    return clean_env(MARCHWARDEN_TOKEN=(directory / "analyst.token").read_text().strip())


def sql(directory: Path, query: str, fmt: str = "json") -> Any:
    result = run_cli(
        "history",
        "sql",
        "--data-dir",
        str(directory),
        "--format",
        fmt,
        query,
        env=analyst_env(directory),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if fmt == "json" else result.stdout


def test_demo_leaves_events_and_alerts_in_history(demo_dir: Path) -> None:
    events = sql(demo_dir, "SELECT count() AS n, uniqExact(event_id) AS u FROM events")
    assert events == [{"n": 2281, "u": 2281}]
    alerts = sql(demo_dir, "SELECT DISTINCT alert_id FROM alerts ORDER BY alert_id")
    assert [a["alert_id"] for a in alerts] == [
        "move_equipment_to_arteries.LT-RU-01.1",  # military movement in Kaliningrad
        "reinforce_section.LV-BY-02.1",  # migrants staged: border guards, not dragon's teeth
        "surge.LV-BY-02.1",
    ]
    surge = sql(
        demo_dir,
        "SELECT status, level FROM alerts WHERE alert_id = 'surge.LV-BY-02.1' ORDER BY version",
    )
    assert [s["status"] for s in surge] == ["raised", "escalated", "escalated", "resolved"]
    assert (demo_dir / "summary.png").stat().st_size > 10_000


@pytest.mark.slow
def test_a_demo_over_months_draws_its_monthly_chart(tmp_path: Path) -> None:
    """Over more than 120 days the chart buckets by month: Date values through the gateway.

    A fresh-clone `make demo` used to end without its chart: the history gateway could not
    encode ClickHouse Date values, and the demo swallowed the error.
    """
    result = run_cli(
        "demo", "--from", "2024-07-01", "--to", "2024-11-30", "--duration", "5",
        "--no-serve", "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    chart = tmp_path / "demo" / "summary.png"
    assert "chart not written" not in result.stdout, result.stdout[-2000:]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000
    assert "chart:" in result.stdout


def test_the_history_gateway_returns_every_column_type_it_reads(gateway: str) -> None:
    store = HistoryStore(f"mwhistory://{gateway}", gateway=GATEWAY_SECRETS)
    try:
        _, rows = store.query(
            "SELECT toDate('2024-07-01') AS d, toStartOfMonth(toDateTime('2024-07-18 10:00:00')),"
            " toDateTime64('2024-07-18 10:00:00.250', 3, 'UTC'), toDecimal32(1.5, 2),"
            " toIPv4('10.0.0.1'), [toDate('2024-01-31')], 'text', 7, NULL",
            readonly=True,
        )
    finally:
        store.close()
    (row,) = rows
    assert row[0] == date(2024, 7, 1) and row[1] == date(2024, 7, 1)
    assert row[2] == datetime(2024, 7, 18, 10, 0, 0, 250000)  # UTC, naive as chDB returns it
    assert (row[3], row[4], row[5]) == ("1.50", "10.0.0.1", [date(2024, 1, 31)])
    assert (row[6], row[7], row[8]) == ("text", 7, None)


def test_history_sql_prints_a_table_and_csv(demo_dir: Path) -> None:
    table = sql(
        demo_dir,
        "SELECT section_id, count() AS n FROM events GROUP BY section_id ORDER BY section_id",
        "table",
    )
    assert "LV-BY-02" in table and "┃" in table
    csv = sql(demo_dir, "SELECT 1 AS one, 'x' AS two", "csv")
    assert csv.splitlines() == ["one,two", "1,x"]


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE events",
        "INSERT INTO alerts (alert_id) VALUES ('x')",
        "ALTER TABLE events DELETE WHERE 1",
    ],
)
def test_history_sql_refuses_writes_with_a_clear_message(demo_dir: Path, statement: str) -> None:
    result = run_cli(
        "history", "sql", "--data-dir", str(demo_dir), statement, env=analyst_env(demo_dir)
    )
    assert result.returncode == 1
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    assert sql(demo_dir, "SELECT count() AS n FROM events") == [{"n": 2281}]


def test_canned_reports(demo_dir: Path) -> None:
    base = [
        "report",
        "--data-dir",
        str(demo_dir),
        "--format",
        "json",
        "--from",
        "2024-07-14",
        "--to",
        "2024-07-19",
    ]
    env = analyst_env(demo_dir)
    per_country = json.loads(run_cli(*base[:1], "totals", *base[1:], env=env).stdout)
    assert {r["country"] for r in per_country} == {"EE", "LT", "LV", "PL"}
    assert sum(r["attempts"] for r in per_country) == 2136
    turn_backs = json.loads(
        run_cli(
            *base[:1], "totals", "--metric", "turn-backs", "--by", "section", *base[1:], env=env
        ).stdout
    )
    assert sum(r["turn_backs"] for r in turn_backs) == 140
    yoy = json.loads(run_cli(*base[:1], "yoy", *base[1:], env=env).stdout)
    assert {r["year"] for r in yoy} == {2024}
    alerts = json.loads(run_cli(*base[:1], "alerts", *base[1:], env=env).stdout)
    surge = next(a for a in alerts if a["rule"] == "surge")
    # LV-BY-02's own floors (reference data): 12 attempts, 30 persons an hour.
    evidence = json.loads(surge["evidence"])
    assert surge["level"] == "critical" and evidence["threshold"] == 12
    assert evidence["persons_threshold"] == 30 and surge["playbook"] == "border_guard_reinforcement"


def test_running_the_demo_again_is_safe(demo_dir: Path) -> None:
    result = run_cli(
        "demo",
        "--scenario",
        "smoke",
        "--duration",
        "3",
        "--no-serve",
        "--data-dir",
        str(demo_dir.parent),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert sql(demo_dir, "SELECT count() AS n FROM events") == [{"n": 2281}]


def test_demo_refuses_to_wipe_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "precious.txt").write_text("keep me")
    result = run_cli("demo", "--scenario", "smoke", "--no-serve", "--data-dir", str(tmp_path))
    assert result.returncode == 1 and "not a demo directory" in result.stderr
    assert (tmp_path / "demo" / "precious.txt").exists()


def test_verify_passes_then_fails_after_a_history_row_is_tampered_with(
    gateway: str, worker_factory: Any, bootstrap: str
) -> None:
    worker: WorkerProcess = worker_factory(MARCHWARDEN_CLICKHOUSE_DSN=f"mwhistory://{gateway}")
    env = clean_env(**topic_env(worker.prefix), MARCHWARDEN_TOKEN=TOKENS("admin"))
    sent = run_cli("simulate", "--scenario", "smoke", "--broker", f"kafka://{bootstrap}", env=env)
    assert sent.returncode == 0, sent.stderr[-2000:]
    wait_until(lambda: worker.get("/health")["accepted"] == 2281, 60, "the scenario processed")

    ok = run_cli("verify", "--url", worker.url, env=env)
    assert ok.returncode == 0 and "verified" in ok.stdout, ok.stdout + ok.stderr

    replayed = run_cli("replay", "--url", worker.url, env=env)
    assert (
        replayed.returncode == 0 and "rebuilt its live tables from 2,281 events" in replayed.stdout
    )
    assert run_cli("verify", "--url", worker.url, env=env).returncode == 0

    # Someone edits history behind the worker's back: one attempt's persons change.
    status, body = http(
        "POST",
        f"http://{gateway}/command",
        {
            "sql": "ALTER TABLE events UPDATE persons = persons + 7 WHERE event_id = "
            "(SELECT event_id FROM events WHERE section_id = 'LV-BY-02' AND event_type = 'crossing_attempt' "
            "ORDER BY occurred_at DESC LIMIT 1) SETTINGS mutations_sync = 1"
        },
        token=GATEWAY_ENV["MARCHWARDEN_HISTORY_WRITE_SECRET"],
    )
    assert status == 200, body
    failed = run_cli("verify", "--url", worker.url, env=env)
    assert failed.returncode == 1
    assert "DIFF LV-BY-02" in failed.stdout and "attempt_persons" in failed.stdout


def test_analyst_commands_go_through_a_running_worker(worker_factory: Any) -> None:
    worker: WorkerProcess = worker_factory()
    analyst = clean_env(MARCHWARDEN_TOKEN=TOKENS("analyst"))
    result = run_cli(
        "history",
        "sql",
        "--url",
        worker.url,
        "--format",
        "json",
        "SELECT count() AS n FROM dead_letters",
        env=analyst,
    )
    assert result.returncode == 0 and json.loads(result.stdout) == [{"n": 0}]
    assert "via worker" in result.stderr
    refused = run_cli("history", "sql", "--url", worker.url, "TRUNCATE TABLE events", env=analyst)
    assert refused.returncode == 1 and "read-only" in refused.stderr
