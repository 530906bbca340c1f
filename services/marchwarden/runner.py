"""Run a worker with its embedded parts: tansu if no broker is given, chDB if no ClickHouse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from marchwarden.embedded.tansu import EmbeddedBrokerError, TansuBroker, port_in_use
from marchwarden.settings import Settings

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """Start-up failed for a reason a person can fix; one line."""


@contextlib.contextmanager
def embedded_broker(settings: Settings) -> Iterator[TansuBroker | None]:
    if not settings.embedded_broker:
        yield None
        return
    broker = TansuBroker(
        settings.tansu_port, settings.tansu_bin, settings.data_dir / "logs" / "tansu.log"
    )
    try:
        broker.start()
    except EmbeddedBrokerError as exc:
        raise StartupError(str(exc)) from exc
    try:
        yield broker
    finally:
        broker.stop()


def prepare(settings: Settings) -> Any:
    """Checks, history schema and topics before the worker starts; returns the store."""
    from marchwarden.cli import UserError, open_store
    from marchwarden.history.migrations import migrate
    from marchwarden.topics import BrokerUnavailable, ensure_topics

    if port_in_use(settings.web_host, settings.web_port):
        raise StartupError(
            f"web port {settings.web_host}:{settings.web_port} is taken; "
            "pass --port or set MARCHWARDEN_WEB_PORT"
        )
    try:
        store = open_store(settings)
    except UserError as exc:
        raise StartupError(exc.message) from exc
    try:
        migrate(store)
        asyncio.run(ensure_topics(settings))
    except BrokerUnavailable as exc:
        store.close()
        raise StartupError(str(exc)) from exc
    except Exception as exc:
        store.close()
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
        raise StartupError(f"could not prepare the history schema or topics: {first}") from exc
    return store


def run_stack(settings: Settings) -> int:
    """Start everything, serve until Ctrl-C or SIGTERM, stop cleanly; returns an exit code."""
    import faust

    from marchwarden.cli import console
    from marchwarden.worker import create_worker

    try:
        with embedded_broker(settings):
            store = prepare(settings)
            try:
                ctx = create_worker(settings, store)
                worker = faust.Worker(
                    ctx.app,
                    loglevel=settings.log_level,
                    quiet=True,
                    override_logging=False,
                )
                log.info(
                    "Marchwarden starting: broker %s, history %s, web http://%s:%d",
                    settings.bootstrap_servers,
                    "chDB " + str(settings.data_dir) if store.embedded else "ClickHouse",
                    settings.web_host,
                    settings.web_port,
                )
                with contextlib.suppress(SystemExit):
                    worker.execute_from_commandline()
            finally:
                store.close()
    except StartupError as exc:
        console.print(f"[bold red]marchwarden:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    return 0
