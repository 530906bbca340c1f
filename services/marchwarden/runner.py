"""Run a worker with its embedded parts: tansu if no broker is given, chDB if no ClickHouse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from pydantic import SecretStr

from marchwarden.bootstrap import UserError, console, open_store
from marchwarden.embedded.kafka_node import KafkaNode
from marchwarden.embedded.tansu import (
    EmbeddedBrokerError,
    TansuBroker,
    die_with_parent_in_own_session,
    free_port,
    port_in_use,
)
from marchwarden.messages import first_line
from marchwarden.settings import Settings
from marchwarden.supervision import EXIT_CRASH, Supervisor

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """Start-up failed for a reason a person can fix; one line."""


def supervised_worker(app: Any, supervisor: Supervisor, deadline_s: float, **options: Any) -> Any:
    """Faust's worker, with a deadline on stopping: SIGTERM ends `up` within seconds."""
    # Imported here: Faust takes a second to import, and the history process starts first.
    import faust

    class SupervisedWorker(faust.Worker):
        def _schedule_shutdown(self, signal: signal.Signals) -> None:
            supervisor.arm_deadline(deadline_s)
            super()._schedule_shutdown(signal)

    return SupervisedWorker(app, **options)


@contextlib.contextmanager
def embedded_broker(settings: Settings) -> Iterator[TansuBroker | KafkaNode | None]:
    if not settings.embedded_broker:
        yield None
        return
    broker: TansuBroker | KafkaNode
    if settings.durable_broker:
        broker = KafkaNode(settings.tansu_port, settings.data_dir / "kafka")
    else:
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


class EmbeddedHistory:
    """chDB in a child process (`marchwarden history serve`), so the worker stays small.

    chDB's library alone adds ~230 MB to a process; in its own process it keeps the worker
    within its memory budget, and a crash of either leaves the other's state intact.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        # Drawn at every start and handed to the child in its environment only (argv is
        # visible to everyone through `ps`); the worker in this process keeps them in memory.
        self.read_secret = secrets.token_urlsafe(32)
        self.write_secret = secrets.token_urlsafe(32)
        self.log_path = settings.data_dir / "logs" / "history.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"mwhistory://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marchwarden.cli",
                "history",
                "serve",
                "--data-dir",
                str(self.settings.data_dir),
                "--port",
                str(self.port),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={
                **os.environ,
                "MARCHWARDEN_HISTORY_READ_SECRET": self.read_secret,
                "MARCHWARDEN_HISTORY_WRITE_SECRET": self.write_secret,
            },
            preexec_fn=die_with_parent_in_own_session,
        )
        log_file.close()

    def worker_settings(self) -> Settings:
        """The settings of the worker that uses this history: its DSN and lane secrets."""
        return self.settings.with_overrides(
            clickhouse_dsn=self.dsn,
            history_read_secret=SecretStr(self.read_secret),
            history_write_secret=SecretStr(self.write_secret),
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        from marchwarden.analysis.access import call_worker

        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartupError(f"embedded history did not start: {self._last_error()}")
            answer = call_worker(
                f"http://127.0.0.1:{self.port}",
                "POST",
                "/ping",
                {},
                timeout=1,
                token=self.read_secret,
            )
            if answer is not None and answer[0] == 200:
                return
            time.sleep(0.02)
        raise StartupError(
            f"embedded history not ready within {timeout:.0f} s; see {self.log_path}"
        )

    def _last_error(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        if "Cannot lock file" in text or "Another server instance" in text:
            return (
                f"{self.settings.data_dir / 'history'} is in use by another process "
                "(is `marchwarden up` already running with this data directory?)"
            )
        lines = [line for line in text.splitlines() if line.strip()]
        return (
            lines[-1][:300]
            if lines
            else f"exit code {self.process.returncode if self.process else '?'}"
        )

    def stop(self, timeout: float = 3.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        # A stopped child (SIGSTOP) would keep the SIGTERM pending for ever.
        proc.send_signal(signal.SIGCONT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def prepare_topics(settings: Settings) -> None:
    from marchwarden.topics import BrokerUnavailable, ensure_topics

    try:
        asyncio.run(ensure_topics(settings))
    except BrokerUnavailable as exc:
        raise StartupError(str(exc)) from exc
    except Exception as exc:
        raise StartupError(f"could not create the topics: {first_line(exc)}") from exc


def prepare_history(settings: Settings) -> Any:
    """Open the history and apply the migrations (idempotent); returns the store."""
    from marchwarden.history.migrations import migrate
    from marchwarden.history.reconcile import reconcile_on_open

    try:
        store = open_store(settings)
    except UserError as exc:
        raise StartupError(exc.message) from exc
    try:
        migrate(store)
    except Exception as exc:
        store.close()
        raise StartupError(f"could not prepare the history schema: {first_line(exc)}") from exc
    # The last writes before a crash may have reached `events` but not its rollups.
    reconcile_on_open(store)
    return store


def check_web_port(settings: Settings) -> None:
    if port_in_use(settings.web_host, settings.web_port):
        raise StartupError(
            f"web port {settings.web_host}:{settings.web_port} is taken; "
            "pass --port or set MARCHWARDEN_WEB_PORT"
        )


def run_stack(settings: Settings) -> int:
    """Start everything, serve until Ctrl-C or SIGTERM, stop cleanly; returns an exit code.

    0 after a requested stop; 2 when start-up failed; 3 when a part crashed or a child
    process died (the reason is printed).
    """

    history: EmbeddedHistory | None = None
    supervisor = Supervisor()
    # From the supervisor's thread: Faust stops on SIGTERM as on a requested stop.
    supervisor.on_failure(lambda: os.kill(os.getpid(), signal.SIGTERM))
    code: int = 0
    try:
        check_web_port(settings)
        if settings.embedded_clickhouse and settings.history_process:
            history = EmbeddedHistory(settings)
            history.start()  # starts in parallel with the broker and the worker's imports
        with embedded_broker(settings) as broker:
            try:
                from marchwarden.worker import create_worker

                if broker is not None and broker.process is not None:
                    supervisor.watch("broker", broker.process)
                prepare_topics(settings)
                worker_settings = settings
                if history is not None:
                    history.wait_ready()
                    assert history.process is not None
                    supervisor.watch("history", history.process)
                    worker_settings = history.worker_settings()
                store = prepare_history(worker_settings)
                ctx = None
                try:
                    ctx = create_worker(worker_settings, store, supervisor)
                    worker = supervised_worker(
                        ctx.app,
                        supervisor,
                        settings.shutdown_deadline_s,
                        loglevel=settings.log_level,
                        quiet=True,
                        override_logging=False,
                    )
                    log.info(
                        "Marchwarden starting: broker %s, history %s, web http://%s:%d",
                        settings.bootstrap_servers,
                        f"chDB in {settings.data_dir}"
                        if settings.embedded_clickhouse
                        else "ClickHouse",
                        settings.web_host,
                        settings.web_port,
                    )
                    try:
                        worker.execute_from_commandline()
                    except SystemExit as exit_:
                        # mode ends every run with SystemExit: 0 after a clean stop, 1 after an
                        # error; the code is the process's, not something to swallow.
                        code = exit_.code if isinstance(exit_.code, int) else int(bool(exit_.code))
                    if code and supervisor.crash_reason is None:
                        crashed = worker.crash_reason
                        supervisor.fail(
                            f"the worker crashed: {type(crashed).__name__}: {crashed}"
                            if crashed
                            else f"the worker stopped with status {code}",
                            stop=False,
                        )
                    if ctx.worker.crash_reason is not None:
                        # The last rows were not written (history refused them): they are read
                        # again from the broker on the next start; not a crash, but not clean.
                        log.error("the picture worker failed: %r", ctx.worker.crash_reason)
                        code = code or 1
                finally:
                    # Children stopped on purpose from here on are not crashes.
                    supervisor.close()
                    if ctx is not None:
                        ctx.analysts.close()
                    store.close()
            finally:
                # The broker stops as this block ends, also when start-up failed above:
                # from here on it is stopped on purpose, not a crash to stop `up` for.
                supervisor.close()
    except StartupError as exc:
        console.print(f"[bold red]marchwarden:[/] {exc}", highlight=False, soft_wrap=True)
        if exc.__cause__ is not None:
            log.debug("cause: %r", exc.__cause__, exc_info=exc.__cause__)
        return 2
    finally:
        supervisor.close()
        if history is not None:
            history.stop()
    if supervisor.crash_reason:
        console.print(
            f"[bold red]marchwarden:[/] stopped because {supervisor.crash_reason}",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_CRASH
    return int(code or 0)
