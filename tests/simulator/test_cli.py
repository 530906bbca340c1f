"""The `simulate` command (dry runs and JSON lines; no broker) and the producer's error path."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from marchwarden.settings import Settings
from marchwarden.simulator import generate
from marchwarden.simulator.cli import parse_bound, simulate_command
from marchwarden.simulator.producer import encode, produce, topic_for


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(simulate_command, list(args), catch_exceptions=False)


def test_list() -> None:
    result = run("--list")
    assert result.exit_code == 0
    for name in ("baltic-2024", "smoke", "surge-drill"):
        assert name in result.output


def test_dry_run_json_summary() -> None:
    result = run("--scenario", "smoke", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["events"] == len(generate("smoke"))
    assert summary["by_type"]["indicator"] == 5


def test_dry_run_table_shows_calibration() -> None:
    result = run("--dry-run", "--from", "2024-01-01")
    assert result.exit_code == 0, result.output
    assert "Events per country" in result.output
    assert "Calibration" not in result.output  # only meaningful for the full run


def test_jsonl_file_with_inclusive_to(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    result = run(
        "--scenario", "smoke", "--from", "2024-07-18", "--to", "2024-07-18", "--jsonl", str(out)
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = list(
        generate(
            "smoke", 2024, datetime(2024, 7, 18, tzinfo=UTC), datetime(2024, 7, 19, tzinfo=UTC)
        )
    )
    assert lines == expected
    assert f"{len(lines)} events" in result.output


def test_jsonl_stdout_keeps_stdout_clean() -> None:
    # click >= 8.2 keeps result.stdout and result.stderr apart.
    result = CliRunner().invoke(
        simulate_command,
        ["--scenario", "surge-drill", "--jsonl", "-", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert '"events"' in result.stderr
    assert len(lines) == len(generate("surge-drill"))
    assert all(json.loads(line)["event_type"] == "crossing_attempt" for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "nope", "--dry-run"], "unknown scenario"),
        (["--from", "yesterday", "--dry-run"], "not an ISO date"),
        (["--from", "2024-07-02", "--to", "2024-07-01", "--dry-run"], "--to must be after --from"),
        (["--speed", "0", "--dry-run"], "speed"),
    ],
)
def test_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(simulate_command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_parse_bound() -> None:
    assert parse_bound("2024-07-26", end=True) == datetime(2024, 7, 27, tzinfo=UTC)
    assert parse_bound("2024-07-26", end=False) == datetime(2024, 7, 26, tzinfo=UTC)
    assert parse_bound("2024-07-26T10:00", end=True) == datetime(2024, 7, 26, 10, tzinfo=UTC)
    assert parse_bound("2024-07-26T10:00+03:00", end=False) == datetime(2024, 7, 26, 7, tzinfo=UTC)
    assert parse_bound(None, end=False) is None


def test_topics_and_encoding() -> None:
    s = Settings()
    assert topic_for(s, "crossing_attempt") == "border.crossings"
    assert topic_for(s, "turn_back") == "border.turnbacks"
    assert topic_for(s, "indicator") == "intel.indicators"
    event = next(iter(generate("smoke")))
    assert json.loads(encode(event).decode("utf-8")) == event


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_broker_is_one_line_runtime_error() -> None:
    settings = Settings(broker_url=f"kafka://127.0.0.1:{_closed_port()}")
    events = list(generate("surge-drill"))[:5]
    with pytest.raises(RuntimeError) as info:
        asyncio.run(produce(settings, events, None, timeout_s=2.0))
    message = str(info.value)
    assert "\n" not in message
    assert "127.0.0.1" in message


def test_cli_reports_unreachable_broker() -> None:
    result = CliRunner().invoke(
        simulate_command,
        ["--scenario", "surge-drill", "--broker", f"kafka://127.0.0.1:{_closed_port()}"],
    )
    assert result.exit_code == 1
    assert "cannot reach" in result.output
