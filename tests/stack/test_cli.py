"""The command line: sections, schemas, settings from the environment and flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from marchwarden.settings import Settings

CLI = [sys.executable, "-m", "marchwarden.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def test_sections_lists_every_border_section_as_json_and_table() -> None:
    as_json = json.loads(run("sections", "--json").stdout)
    ids = [s["id"] for s in as_json]
    assert len(ids) == 17 and "LT-BY-01" in ids and "PL-RU-02" in ids
    assert all(s["arteries"] and s["approximate"] for s in as_json)
    table = run("sections").stdout
    assert "LT-BY-01" in table and "approximate" in table


def test_schemas_command_writes_every_contract(tmp_path: Path) -> None:
    result = run("schemas", "--out", str(tmp_path))
    assert result.returncode == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert "crossing_attempt.v1.json" in names and "alert.v3.json" in names


def test_settings_come_from_the_environment_and_flags_override(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MARCHWARDEN_WEB_PORT", "7001")
    monkeypatch.setenv("MARCHWARDEN_RULES__SURGE_MIN_ATTEMPTS", "35")
    monkeypatch.setenv("MARCHWARDEN_TOPICS__CROSSINGS", "x.crossings")
    monkeypatch.setenv("MARCHWARDEN_CLICKHOUSE_PASSWORD", "s3cret")
    settings = Settings()
    assert (settings.web_port, settings.rules.surge_min_attempts) == (7001, 35)
    assert settings.topics.crossings == "x.crossings"
    assert "s3cret" not in repr(settings), "secrets never appear in reprs or logs"
    overridden = settings.with_overrides(web_port=7002, broker_url=None)
    assert overridden.web_port == 7002 and overridden.embedded_broker
    assert overridden.clickhouse_password == settings.clickhouse_password, "secrets carried over"
    assert overridden.rules.surge_min_attempts == 35


@pytest.mark.parametrize(
    ("flag", "value"), [("web_port", 70_000), ("web_port", "not a port"), ("data_dir", 3.5)]
)
def test_a_flag_is_validated_like_the_environment(flag: str, value: object) -> None:
    with pytest.raises(ValueError, match=flag):
        Settings().with_overrides(**{flag: value})


def test_broker_urls_become_bootstrap_servers() -> None:
    settings = Settings(broker_url="kafka://a:9092;b:9093")
    assert settings.bootstrap_servers == "a:9092,b:9093"
    assert Settings().bootstrap_servers == "127.0.0.1:9092"
    assert Settings().session_timeout_s < Settings(broker_url="kafka://k:9092").session_timeout_s


def test_invalid_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "migrate", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "MARCHWARDEN_WEB_PORT": "not-a-port"},
    )
    assert result.returncode == 1
    assert "invalid configuration" in result.stderr and "Traceback" not in result.stderr


def test_faust_exactly_once_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="exactly_once is not offered"):
        Settings(processing_guarantee="exactly_once")
    assert Settings().processing_guarantee == "at_least_once"


def test_a_flag_the_setting_refuses_is_one_clear_line() -> None:
    result = run("up", "--port", "0")
    assert result.returncode == 1
    assert "invalid configuration" in result.stderr and "web_port" in result.stderr
    assert "greater than or equal to 1" in result.stderr
    assert "Traceback" not in result.stderr
