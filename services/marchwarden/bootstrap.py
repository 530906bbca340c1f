"""What every entry point needs first: settings, logging, the console, one-line user errors,
and an opened history store. Below `cli.py`, `runner.py`, `demo/` and `simulator/cli.py`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from rich.console import Console

from marchwarden.history.gateway_client import secrets_from
from marchwarden.history.store import HistoryStore, HistoryUnavailable, redact_dsn
from marchwarden.messages import first_line
from marchwarden.settings import Settings

console = Console(stderr=True)
log = logging.getLogger("marchwarden")


class UserError(click.ClickException):
    """A problem the user can fix; shown as one line, never as a traceback."""

    def show(self, file: Any = None) -> None:
        console.print(f"[bold red]marchwarden:[/] {self.message}", highlight=False, soft_wrap=True)
        if self.__cause__ is not None:
            # The one line is for the person; the cause stays available with --log-level DEBUG.
            log.debug("cause: %r", self.__cause__, exc_info=self.__cause__)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings().with_overrides(**overrides)
    except ValueError as exc:  # pydantic's ValidationError and SettingsError are ValueErrors
        raise UserError(f"invalid configuration: {exc}") from exc


def open_store(settings: Settings) -> Any:
    password = (
        settings.clickhouse_password.get_secret_value() if settings.clickhouse_password else None
    )
    if settings.embedded_clickhouse:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(
        settings.history_dsn, settings.clickhouse_user, password, gateway=secrets_from(settings)
    )
    try:
        store.query("SELECT 1")
    except HistoryUnavailable as exc:
        store.close()
        raise UserError(str(exc)) from exc
    except Exception as exc:
        store.close()
        raise UserError(
            f"cannot use ClickHouse at {redact_dsn(settings.history_dsn)}: {first_line(exc)}"
        ) from exc
    return store
