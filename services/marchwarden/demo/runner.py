"""Run the demo: a worker on the embedded stack, a paced scenario, live alerts, a summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from marchwarden.access.identity import REGIONAL_CENTRE
from marchwarden.access.tokens import create_token
from marchwarden.analysis.access import call_worker
from marchwarden.brokerauth import kafka_client_options
from marchwarden.embedded.tansu import TansuBroker, die_with_parent, free_port, port_in_use
from marchwarden.messages import first_line
from marchwarden.settings import Settings

log = logging.getLogger(__name__)
MARKER = ".marchwarden-demo"
ANALYST_TOKEN_FILE = "analyst.token"
OPERATOR_TOKEN_FILE = "operator.token"
LEVEL_STYLE = {"low": "green", "medium": "yellow", "high": "bold orange1", "critical": "bold red"}


class DemoError(RuntimeError):
    """The demo could not run; one line for a person."""


@dataclass(frozen=True)
class DemoOptions:
    scenario: str
    seed: int
    start: datetime | None
    end: datetime | None
    duration_s: float
    keep: bool = False
    # After the summary, keep the stack up so the watch floor page can be looked at.
    serve: bool = True


def prepare_directory(directory: Path) -> None:
    """A clean demo directory; refuses to wipe one the demo did not create."""
    if directory.exists():
        if not (directory / MARKER).exists():
            raise DemoError(
                f"{directory} exists and is not a demo directory; choose another --data-dir"
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / MARKER).write_text(
        "created by `marchwarden demo`; it wipes this folder on each run\n"
    )


def surge_detail(evidence: dict[str, Any]) -> str:
    """Both measures of a surge (attempts and persons, each against its threshold): a surge
    raised on persons must not read as "1 attempts, threshold 4"."""
    parts = [
        f"{evidence.get('attempts_last_hour')} attempts (threshold {evidence.get('threshold'):.0f})"
    ]
    if evidence.get("persons_last_hour") is not None and evidence.get("persons_threshold"):
        parts.append(
            f"{evidence['persons_last_hour']} persons (threshold {evidence['persons_threshold']:.0f})"
        )
    return ", ".join(parts) + " in 1 h"


def alert_line(alert: dict[str, Any]) -> str:
    style = LEVEL_STYLE.get(alert["level"], "white")
    evidence = alert.get("evidence", {})
    detail = ""
    if alert["rule"] == "surge":
        detail = surge_detail(evidence)
    elif alert.get("recommendation"):
        plan = alert["recommendation"]
        draws = sum(len(a["draws"]) for a in plan["arteries"])
        detail = f"{plan['summary']}; {draws} park draws" if plan["arteries"] else plan["summary"]
    when = alert["updated_at"][:16].replace("T", " ")
    return (
        f"[dim]{when}[/] [{style}]{alert['status'].upper():<12}[/] "
        f"[{style}]{alert['level']:<8}[/] {alert['alert_id']}  [dim]{detail}[/]"
    )


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, console: Console) -> None:
        self.settings = settings
        self.options = options
        self.console = console
        self.directory = settings.data_dir / "demo"
        self.broker: TansuBroker | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.web_port = 0
        self.alerts: list[dict[str, Any]] = []
        self.admin_token = ""
        self.analyst_token = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def run(self) -> int:
        from marchwarden.simulator import generate

        prepare_directory(self.directory)
        started = time.monotonic()
        events = list(
            generate(self.options.scenario, self.options.seed, self.options.start, self.options.end)
        )
        if not events:
            raise DemoError("the scenario has no events in that window")
        try:
            self._start_stack()
            self.console.print(
                f"[bold]Marchwarden demo[/]: scenario [cyan]{self.options.scenario}[/] "
                f"(seed {self.options.seed}), {len(events):,} events from "
                f"{events[0]['occurred_at'][:10]} to {events[-1]['occurred_at'][:10]}, "
                f"streamed in about {self.options.duration_s:.0f} s"
            )
            self.console.print(f"Watch floor (map and alert board): [bold]{self.url}/[/]")
            asyncio.run(self._stream(events))
            verdict = self._verify()
            data = self._summary()
            self._print_results(data, verdict, started)
            if self.options.serve:
                return self._serve()
        finally:
            self._stop_stack()
        return 0

    def _print_results(self, data: dict[str, Any], verdict: str, started: float) -> None:
        from marchwarden.demo.summary import print_summary

        print_summary(self.console, data["summary"])
        self.console.print(verdict)
        chart = data.get("chart")
        history = self.directory / "history"
        self.console.print(
            f"\nDone in {time.monotonic() - started:.0f} s. The history (chDB) is in [bold]{history}[/]"
            + (f"; chart: [bold]{chart}[/]" if chart else "")
            + f"\nQuery it (as the demo's analyst, EU-RCC): MARCHWARDEN_TOKEN=$(cat "
            f"{self.directory / ANALYST_TOKEN_FILE}) marchwarden history sql --data-dir "
            f'{self.directory} "SELECT rule, section_id, status FROM alerts FINAL"'
        )

    def _serve(self) -> int:
        """Keep the stack up for the page until Ctrl-C or SIGTERM; 1 if the worker dies."""
        self.console.print(
            f"\nServing the watch floor at [bold]{self.url}/[/] (the HTTP API too); sign in "
            f"with the demo operator's token in {self.directory / OPERATOR_TOKEN_FILE}; "
            "press Ctrl-C to stop. (--no-serve stops here.)",
            soft_wrap=True,
        )

        def interrupt(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        # Both set explicitly: a shell may start a background job with SIGINT ignored.
        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.worker is not None and self.worker.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.console.print("stopping…")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.console.print(f"[red]the worker stopped; see {self.directory / 'logs'}[/]")
        return 1

    # ---------------------------------------------------------------- stack
    def _create_tokens(self) -> None:
        """An admin, an analyst and an operator of the regional centre for the demo.

        The admin's token stays in memory (the demo's own calls); the analyst's and the
        operator's go to 0600 files of the demo directory (never printed), for querying the
        history and signing in to the watch floor afterwards.
        """
        tokens = self.directory / "tokens.json"
        self.admin_token, _ = create_token(tokens, "admin", REGIONAL_CENTRE, "demo-admin")
        self.analyst_token, _ = create_token(tokens, "analyst", REGIONAL_CENTRE, "demo-analyst")
        operator_token, _ = create_token(tokens, "operator", REGIONAL_CENTRE, "demo-operator")
        for name, token in (
            (ANALYST_TOKEN_FILE, self.analyst_token),
            (OPERATOR_TOKEN_FILE, operator_token),
        ):
            path = self.directory / name
            path.touch(mode=0o600)
            path.write_text(token + "\n")

    def _start_stack(self) -> None:
        self._create_tokens()
        self.broker = TansuBroker(free_port(), log_file=self.directory / "logs" / "tansu.log")
        self.broker.start()
        # A demo that serves its page afterwards takes the configured port when it is free, so
        # the address is the usual one; otherwise any free port (nothing else finds it there).
        wanted = self.settings.web_port
        usual = self.options.serve and not port_in_use(self.settings.web_host, wanted)
        self.web_port = wanted if usual else free_port()
        log_path = self.directory / "logs" / "worker.log"
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        env = dict(
            os.environ, MARCHWARDEN_LOG_LEVEL=os.environ.get("MARCHWARDEN_LOG_LEVEL", "INFO")
        )
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "marchwarden.cli",
                "up",
                "--broker",
                f"kafka://{self.broker.bootstrap}",
                "--data-dir",
                str(self.directory),
                "--port",
                str(self.web_port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            # Dies with the demo, even when the demo itself is killed.
            preexec_fn=die_with_parent,
        )
        log.close()
        with self.console.status("starting the embedded stack (tansu, Faust worker, chDB)…"):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.worker.poll() is not None:
                    raise DemoError(f"the worker exited at start; see {log_path}")
                answer = call_worker(self.url, "GET", "/health", timeout=2)
                if answer is not None and answer[0] == 200:
                    return
                time.sleep(0.1)
        raise DemoError(f"the worker was not healthy within 60 s; see {log_path}")

    def _stop_stack(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait(10)
        if self.broker is not None:
            self.broker.stop()

    # ---------------------------------------------------------------- streaming
    async def _stream(self, events: list[dict[str, Any]]) -> None:
        from marchwarden.simulator.producer import produce

        settings = self.settings.with_overrides(broker_url=f"kafka://{self.broker.bootstrap}")  # type: ignore[union-attr]
        first = datetime.fromisoformat(events[0]["occurred_at"]).timestamp()
        last = datetime.fromisoformat(events[-1]["occurred_at"]).timestamp()
        speed = max(1.0, (last - first) / self.options.duration_s)
        stop = asyncio.Event()
        watcher = asyncio.create_task(self._watch_alerts(settings, stop))
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[when]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            sent_task = progress.add_task("sent", total=len(events), when="")
            done_task = progress.add_task("processed", total=len(events), when="")

            def on_progress(sent: int, total: int | None) -> None:
                when = events[min(sent, len(events)) - 1]["occurred_at"][:10] if sent else ""
                progress.update(sent_task, completed=sent, when=when)

            producing = asyncio.create_task(produce(settings, events, speed, on_progress))
            while not producing.done():
                progress.update(done_task, completed=self._processed())
                await asyncio.sleep(0.25)
            await producing
            progress.update(sent_task, completed=len(events))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                processed = self._processed()
                progress.update(done_task, completed=processed)
                if processed >= len(events):
                    break
                await asyncio.sleep(0.1)
            else:
                raise DemoError("the worker did not process every event within 2 minutes")
        call_worker(self.url, "POST", "/admin/flush", token=self.admin_token)
        # Let the last alert states arrive: quiet for a second, at most ten.
        deadline = time.monotonic() + 10
        seen = -1
        while time.monotonic() < deadline and seen != len(self.alerts):
            seen = len(self.alerts)
            await asyncio.sleep(1.0)
        stop.set()
        await watcher

    def _processed(self) -> int:
        answer = call_worker(self.url, "GET", "/health", timeout=5)
        if answer is None:
            return 0
        body = answer[1]
        return int(body["accepted"]) + int(body["duplicates"]) + int(body["rejected"])

    async def _watch_alerts(self, settings: Settings, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            settings.topics.alerts,
            bootstrap_servers=settings.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **kafka_client_options(settings),
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                for messages in batch.values():
                    for message in messages:
                        alert = json.loads(message.value)
                        self.alerts.append(alert)
                        self.console.print(alert_line(alert), highlight=False)
        finally:
            await consumer.stop()

    # ---------------------------------------------------------------- results
    def _verify(self) -> str:
        answer = call_worker(self.url, "POST", "/admin/verify", token=self.admin_token)
        if answer is None or answer[0] != 200:
            return "[red]verify could not run[/]"
        body = answer[1]
        if body["ok"]:
            return (
                f"[green]verified[/]: {body['compared']} live counters over {body['sections']} "
                "sections equal a recomputation from ClickHouse history"
            )
        return f"[red]verify found {len(body['differences'])} differences[/]"

    def _summary(self) -> dict[str, Any]:
        from marchwarden.demo.summary import draw_chart, summarise

        def query(sql: str) -> list[list[Any]]:
            answer = call_worker(
                self.url, "POST", "/history/sql", {"sql": sql}, token=self.analyst_token
            )
            if answer is None or answer[0] != 200:
                raise DemoError(f"summary query failed: {answer}")
            rows: list[list[Any]] = answer[1]["rows"]
            return rows

        summary = summarise(query)
        path = self.directory / "summary.png"
        try:
            chart = draw_chart(_parsing(query), path)
        except Exception as exc:  # the chart is an extra: say why it is missing, keep the rest
            chart = None
            self._report_failure(f"chart not written to {path}", exc)
        else:
            if chart is None:
                self._report_failure(
                    f"chart not written to {path}", ImportError("matplotlib is not installed")
                )
        return {"summary": summary, "chart": chart}

    def _report_failure(self, what: str, exc: BaseException) -> None:
        """Tell the user in one line and keep the traceback in the demo's log."""
        log_path = self.directory / "logs" / "demo.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a") as out:
            out.write(f"{datetime.now().isoformat()} {what}\n")
            traceback.print_exception(exc, file=out)
        log.debug("%s", what, exc_info=exc)
        reason = first_line(exc, 200)
        self.console.print(
            f"[yellow]{what}[/]: {type(exc).__name__}: {reason} (details in {log_path})",
            highlight=False,
        )


def _parsing(query: Any) -> Any:
    """Wrap a JSON query so datetimes come back as datetimes (for the chart)."""

    def run(sql: str) -> list[list[Any]]:
        rows = query(sql)
        out = []
        for row in rows:
            parsed = []
            for value in row:
                if (
                    isinstance(value, str)
                    and len(value) >= 10
                    and value[4:5] == "-"
                    and value[7:8] == "-"
                ):
                    with contextlib.suppress(ValueError):
                        value = datetime.fromisoformat(value)
                parsed.append(value)
            out.append(parsed)
        return out

    return run
