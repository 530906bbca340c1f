"""The `marchwarden simulate` command: generate a scenario and send it, write it, or summarise it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from marchwarden.bootstrap import UserError, configure_logging, load_settings
from marchwarden.simulator.generator import (
    DEFAULT_SEED,
    Event,
    check_calibration,
    generate,
    summarise,
)
from marchwarden.simulator.scenarios import (
    DEFAULT_SCENARIO,
    SCENARIOS,
    Scenario,
    UnknownScenario,
    get_scenario,
)

COUNTERS = ("crossing_attempt", "crossing_attempt_persons", "turn_back", "turn_back_persons")


def _user_error(message: str) -> click.ClickException:
    # Imported late: the main command line imports this module to register the command.

    return UserError(message)


def parse_bound(text: str | None, *, end: bool) -> datetime | None:
    """An ISO date or datetime as an aware UTC datetime.

    A date alone means the whole day: ``--from 2024-01-01`` starts at 00:00 UTC and
    ``--to 2024-07-26`` includes 26 July (the bound is 27 July 00:00 UTC, exclusive).
    Datetimes are exact (``--to`` exclusive); without an offset they are UTC.
    """
    if text is None:
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            value = datetime.combine(day, datetime.min.time(), UTC)
            return value + timedelta(days=1) if end else value
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        flag = "--to" if end else "--from"
        raise click.BadParameter(
            f"{text!r} is not an ISO date or datetime", param_hint=flag
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _list_scenarios(console: Console) -> None:
    table = Table(title="Simulation scenarios")
    for col in ("name", "days (UTC)", "streams", "surges", "indicator episodes", "description"):
        table.add_column(col)
    for s in SCENARIOS.values():
        name = f"{s.name} (default)" if s.name == DEFAULT_SCENARIO else s.name
        last = s.end - timedelta(days=1)
        table.add_row(
            name,
            f"{s.start} .. {last}",
            str(len(s.streams)),
            ", ".join(x.section_id for x in s.surges) or "-",
            ", ".join(f"{x.section_id} {x.category}" for x in s.indicators) or "-",
            s.description,
        )
    console.print(table)


def _write_jsonl(events: Iterable[Event], out: IO[str]) -> Iterator[Event]:
    for event in events:
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        yield event


def _print_summary(
    console: Console, scenario: Scenario, summary: Mapping[str, Any], calibrated: bool
) -> None:
    by_type = summary["by_type"]
    console.print(
        f"[bold]{scenario.name}[/]: {summary['events']} events "
        f"({', '.join(f'{k} {v}' for k, v in by_type.items()) or 'none'}), "
        f"{summary['first_occurred_at']} .. {summary['last_occurred_at']}",
        highlight=False,
    )
    table = Table(title="Events per country")
    table.add_column("country")
    for col in (*COUNTERS, "indicator"):
        table.add_column(col.replace("_", " "), justify="right")
    for country, row in summary["by_country"].items():
        table.add_row(country, *(f"{row.get(c, 0):,}" for c in (*COUNTERS, "indicator")))
    console.print(table)
    if calibrated and scenario.calibration:
        cal = Table(title="Calibration (published figures, UTC days)")
        for col in ("target", "published", "generated", "deviation", "ok"):
            cal.add_column(col, justify="left" if col == "target" else "right")
        for r in check_calibration(summary, scenario.calibration):
            published = f"{'>= ' if r['at_least'] else ''}{r['published']:,}"
            cal.add_row(
                r["description"],
                published,
                f"{r['generated']:,}",
                f"{r['deviation']:+.1%}",
                "yes" if r["ok"] else "[red]NO[/]",
            )
        console.print(cal)


@click.command("simulate")
@click.option(
    "--scenario",
    "scenario_name",
    default=DEFAULT_SCENARIO,
    show_default=True,
    help="Scenario to generate (see --list).",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Event-time seconds per wall-clock second (3600 = an hour per second); "
    "default: as fast as the broker accepts.",
)
@click.option("--from", "date_from", metavar="ISO", help="Only events at or after this date/time.")
@click.option(
    "--to", "date_to", metavar="ISO", help="Only events up to this date (inclusive) or before "
    "this datetime."
)  # fmt: skip
@click.option(
    "--broker",
    "broker_url",
    metavar="kafka://HOST:PORT",
    help="Broker to send to (default: MARCHWARDEN_BROKER_URL, else the embedded 127.0.0.1:9092).",
)
@click.option("--dry-run", is_flag=True, help="Generate and print the summary; send nothing.")
@click.option(
    "--jsonl",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
    help="Write the events as JSON lines to FILE ('-' for stdout) instead of sending them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def simulate_command(
    scenario_name: str,
    list_only: bool,
    seed: int,
    speed: float | None,
    date_from: str | None,
    date_to: str | None,
    broker_url: str | None,
    dry_run: bool,
    jsonl: Path | None,
    as_json: bool,
) -> None:
    """Generate a seeded scenario of border events and send it to the broker.

    The same scenario and seed always give the same events (ids included). Events go to
    border.crossings, border.turnbacks and intel.indicators keyed by section id.
    """
    to_stdout = jsonl is not None and str(jsonl) == "-"
    out = Console(stderr=to_stdout, soft_wrap=True)
    err = Console(stderr=True)
    if list_only:
        _list_scenarios(out)
        return
    try:
        scenario = get_scenario(scenario_name)
    except UnknownScenario as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    start = parse_bound(date_from, end=False)
    end = parse_bound(date_to, end=True)
    if start is not None and end is not None and end <= start:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    full_run = start is None and end is None
    events = generate(scenario, seed, start, end)

    if dry_run or jsonl is not None:
        if jsonl is None:
            summary = summarise(events, scenario.calibration)
        elif to_stdout:
            summary = summarise(_write_jsonl(events, sys.stdout), scenario.calibration)
        else:
            try:
                with jsonl.open("w", encoding="utf-8") as fh:
                    summary = summarise(_write_jsonl(events, fh), scenario.calibration)
            except OSError as exc:
                raise _user_error(f"cannot write {jsonl}: {exc.strerror or exc}") from exc
            err.print(f"wrote {summary['events']} events to {jsonl}", highlight=False)
    else:
        _send(scenario, events, speed, broker_url, err)
        # Planning is cached, so summarising a second pass over the run is cheap.
        summary = summarise(generate(scenario, seed, start, end), scenario.calibration)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str), err=to_stdout)
    else:
        _print_summary(out, scenario, summary, calibrated=full_run)


def _send(
    scenario: Scenario,
    events: Any,
    speed: float | None,
    broker_url: str | None,
    err: Console,
) -> int:
    from marchwarden.simulator.producer import produce

    if broker_url is not None and not broker_url.startswith("kafka://"):
        raise click.BadParameter("expected kafka://host:port", param_hint="--broker")
    settings = load_settings(broker_url=broker_url)
    configure_logging(settings.log_level)
    total = len(events)
    progress = Progress(
        TextColumn(f"[bold]{scenario.name}[/] -> {settings.bootstrap_servers}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    with progress:
        task = progress.add_task("sending", total=total)

        def on_progress(sent: int, _total: int | None) -> None:
            progress.update(task, completed=sent)

        try:
            sent = asyncio.run(produce(settings, events, speed, on_progress))
        except RuntimeError as exc:
            raise _user_error(str(exc)) from exc
    err.print(f"sent {sent} events to {settings.bootstrap_servers}", highlight=False)
    return sent
