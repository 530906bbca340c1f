"""The `marchwarden` command line: up, migrate, sections, schemas, simulate, demo, history."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from marchwarden.bootstrap import (
    UserError,
    configure_logging,
    console,
    load_settings,
    open_store,
)
from marchwarden.messages import first_line
from marchwarden.settings import Settings

log = logging.getLogger("marchwarden")


@click.group()
@click.version_option(package_name="marchwarden")
def main() -> None:
    """Marchwarden: situational awareness for hybrid threats on a land border."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sections(as_json: bool) -> None:
    """List the border sections."""
    from marchwarden.reference import load_reference

    ref = load_reference()
    rows: list[dict[str, Any]] = [
        {
            "id": s.id,
            "name": s.name,
            "country": s.country,
            "neighbour": s.neighbour,
            "length_km": s.length_km,
            "arteries": [a.id for a in ref.arteries_serving(s.id)],
            "approximate": s.approximate,
        }
        for s in ref.sections
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Border sections (reference data {ref.version}, approximate)")
    for col in ("id", "name", "country", "neighbour", "length km", "arteries"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"],
            r["name"],
            r["country"],
            r["neighbour"],
            f"{r['length_km']:.0f}",
            ", ".join(r["arteries"]),
        )
    Console().print(table)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("schemas/json"))
def schemas(out: Path) -> None:
    """Write the JSON Schemas of every wire contract."""
    from marchwarden.contracts.schemas import write_schemas

    for path in write_schemas(out):
        click.echo(str(path))


@main.command()
@click.option("--clickhouse", "clickhouse_dsn", help="ClickHouse DSN (default: embedded chDB).")
@click.option("--data-dir", type=click.Path(path_type=Path))
def migrate(clickhouse_dsn: str | None, data_dir: Path | None) -> None:
    """Apply the ClickHouse migrations (idempotent)."""
    from marchwarden.history.migrations import migrate as apply

    settings = load_settings(clickhouse_dsn=clickhouse_dsn, data_dir=data_dir)
    configure_logging(settings.log_level)
    store = open_store(settings)
    try:
        applied = apply(store)
    except Exception as exc:
        raise UserError(f"migration failed: {first_line(exc)}") from exc
    finally:
        store.close()
    click.echo(f"applied {len(applied)} migration(s)" if applied else "history schema up to date")


@main.command()
@click.option("--broker", "broker_url", help="kafka://host:port of an external broker.")
@click.option("--clickhouse", "clickhouse_dsn", help="http://… of an external ClickHouse.")
@click.option("--port", "web_port", type=int, help="Web port (default 6066).")
@click.option("--data-dir", type=click.Path(path_type=Path))
@click.option(
    "--durable-broker",
    is_flag=True,
    default=None,
    help="Embedded broker with its log on disk (Apache Kafka; Java + Maven) instead of memory.",
)
def up(
    broker_url: str | None,
    clickhouse_dsn: str | None,
    web_port: int | None,
    data_dir: Path | None,
    durable_broker: bool | None,
) -> None:
    """Start Marchwarden: the embedded stack by default, or external services when given."""
    from marchwarden.runner import run_stack

    settings = load_settings(
        broker_url=broker_url,
        clickhouse_dsn=clickhouse_dsn,
        web_port=web_port,
        data_dir=data_dir,
        durable_broker=durable_broker,
    )
    configure_logging(settings.log_level)
    code = run_stack(settings)
    sys.exit(code)


@main.group()
def history() -> None:
    """Analyst access to the history (read-only), and the shared history gateway."""


@history.command("serve")
@click.option("--data-dir", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8124, show_default=True)
def history_serve(data_dir: Path | None, host: str, port: int) -> None:
    """Own the chDB history and serve it to several workers (DSN mwhistory://host:port).

    Loopback only. The lane secrets come from MARCHWARDEN_HISTORY_READ_SECRET and
    MARCHWARDEN_HISTORY_WRITE_SECRET (`up` sets them for its own child); never from argv.
    """
    from aiohttp import web

    from marchwarden.history.analyst import direct_lane
    from marchwarden.history.gateway import GatewayNotSecured, check_loopback, create_gateway_app
    from marchwarden.history.gateway_client import secrets_from
    from marchwarden.history.migrations import migrate as apply
    from marchwarden.history.reconcile import reconcile_on_open

    settings = load_settings(data_dir=data_dir)
    configure_logging(settings.log_level)
    secrets = secrets_from(settings)
    if secrets is None:
        raise UserError(
            "the history gateway needs MARCHWARDEN_HISTORY_READ_SECRET and "
            "MARCHWARDEN_HISTORY_WRITE_SECRET in its environment"
        )
    try:
        check_loopback(host)
    except GatewayNotSecured as exc:
        raise UserError(str(exc)) from exc
    store = open_store(settings)
    lane = direct_lane(settings.history_dsn, settings.analyst)
    try:
        apply(store)
        # Before serving: no writer can be in the middle of an insert yet.
        reconcile_on_open(store)
        log.info("history gateway on %s:%d serving %s", host, port, settings.history_dsn)
        # A short grace: running analyst queries are killed below, the writer has no
        # request that outlives a second or two.
        web.run_app(
            create_gateway_app(store, secrets, lane),
            host=host,
            port=port,
            print=None,
            shutdown_timeout=2,
        )
    finally:
        lane.close()
        store.close()


FORMATS = click.Choice(["table", "csv", "json"])


@history.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--url", help="A worker's web address (default: this machine's configured port).")
@click.option("--data-dir", type=click.Path(path_type=Path))
@click.option("--clickhouse", "clickhouse_dsn", help="Query this ClickHouse directly.")
def history_sql(
    query: str, fmt: str, url: str | None, data_dir: Path | None, clickhouse_dsn: str | None
) -> None:
    """Run one analyst query (a SELECT, by allow-list) in your organisation's history views."""
    from marchwarden.analysis.access import HistoryAccessError, run_sql
    from marchwarden.analysis.output import render

    settings = load_settings(data_dir=data_dir, clickhouse_dsn=clickhouse_dsn)
    try:
        direct = data_dir is not None or clickhouse_dsn is not None
        answer = run_sql(settings, query, url, direct=direct)
    except HistoryAccessError as exc:
        raise UserError(str(exc)) from exc
    click.echo(render(answer.columns, answer.rows, fmt))
    console.print(f"[dim]{len(answer.rows)} row(s) via {answer.via}[/]", highlight=False)


@main.command()
@click.argument("kind", type=click.Choice(["totals", "yoy", "alerts"]))
@click.option(
    "--metric",
    type=click.Choice(["attempts", "turn-backs"]),
    default="attempts",
    show_default=True,
)
@click.option(
    "--by", type=click.Choice(["country", "section"]), default="country", show_default=True
)
@click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last day (inclusive), YYYY-MM-DD.")
@click.option(
    "--known-at",
    help="Report as it was known at this time (ISO with offset): only what had arrived by "
    "then, alerts in their state of then. Default: as it happened, late arrivals included.",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--url", help="A worker's web address.")
@click.option("--data-dir", type=click.Path(path_type=Path))
def report(
    kind: str,
    metric: str,
    by: str,
    start: str,
    end: str,
    known_at: str | None,
    fmt: str,
    url: str | None,
    data_dir: Path | None,
) -> None:
    """Canned reports: totals per country/section, year over year, alerts with evidence."""
    from datetime import date

    from marchwarden.analysis.access import HistoryAccessError, run_report
    from marchwarden.analysis.output import render
    from marchwarden.analysis.reports import parse_known_at

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise UserError(f"dates must look like 2024-07-26: {exc}") from exc
    if last < first:
        raise UserError("--to is before --from")
    if known_at is not None:
        try:
            parse_known_at(known_at)
        except ValueError as exc:
            raise UserError(f"--known-at: {exc}") from exc
    settings = load_settings(data_dir=data_dir)
    request = {
        "kind": kind,
        "metric": metric.replace("-", "_"),
        "by": by,
        "start": first.isoformat(),
        "end": last.isoformat(),
        **({"known_at": known_at} if known_at else {}),
    }
    try:
        answer = run_report(settings, request, url, direct=data_dir is not None)
    except HistoryAccessError as exc:
        raise UserError(str(exc)) from exc
    click.echo(render(answer.columns, answer.rows, fmt, title=answer.title))
    console.print(f"[dim]{len(answer.rows)} row(s) via {answer.via}[/]", highlight=False)


@main.command()
@click.option("--url", help="The worker's web address.")
@click.option("--data-dir", type=click.Path(path_type=Path))
def replay(url: str | None, data_dir: Path | None) -> None:
    """Rebuild the live tables from ClickHouse history (aggregated inside ClickHouse)."""
    from marchwarden.analysis.access import call_worker, caller_token, refusal, worker_url

    settings = load_settings(data_dir=data_dir)
    base = worker_url(settings, url)
    answer = call_worker(base, "POST", "/admin/replay", token=caller_token(settings))
    if answer is None:
        if url is not None:
            raise UserError(f"no Marchwarden worker answers at {base}")
        result = _offline_replay(settings)
        click.echo(
            f"rebuilt the picture offline from {result['events']:,} events in "
            f"{result['seconds']:.2f} s (no worker is running; `marchwarden up` rebuilds at start)"
        )
        return
    status, body = answer
    if status != 200:
        raise UserError(f"replay failed: {refusal(status, body)}")
    click.echo(
        f"worker at {base} rebuilt its live tables from {body['events']:,} events in {body['seconds']:.2f} s"
    )


def _offline_replay(settings: Settings) -> dict[str, Any]:
    from marchwarden.engine.picture_engine import PictureEngine
    from marchwarden.history.rebuild import rebuild_engine
    from marchwarden.reference import load_reference

    store = open_store(settings)
    try:
        engine = PictureEngine(load_reference(), settings.rules)
        result: dict[str, Any] = asyncio.run(rebuild_engine(engine, store))
        return result
    finally:
        store.close()


@main.command()
@click.option("--url", help="The worker's web address.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def verify(url: str | None, as_json: bool) -> None:
    """Recompute the live aggregates from history and compare; exit 1 on any difference."""
    from marchwarden.analysis.access import call_worker, caller_token, refusal, worker_url

    settings = load_settings()
    base = worker_url(settings, url)
    answer = call_worker(base, "POST", "/admin/verify", token=caller_token(settings))
    if answer is None:
        raise UserError(
            f"no Marchwarden worker answers at {base}; verify compares a running worker's "
            "live tables with history (start one with `marchwarden up`)"
        )
    status, body = answer
    if status != 200:
        raise UserError(f"verify failed to run: {refusal(status, body)}")
    if as_json:
        click.echo(json.dumps(body, indent=2))
    if body["ok"]:
        click.echo(
            f"verified: {body['compared']} counters over {body['sections']} sections equal "
            "a recomputation from history"
        )
        return
    for diff in body["differences"][:20]:
        click.echo(
            f"DIFF {diff['section_id']} {diff['window']} {diff['counter']}: "
            f"live {diff['live']} vs history {diff['history']}"
        )
    click.echo(f"{len(body['differences'])} difference(s) between live tables and history")
    sys.exit(1)


def _register_commands() -> None:
    from marchwarden.access.cli import token_group
    from marchwarden.demo.command import demo_command
    from marchwarden.simulator.cli import simulate_command

    main.add_command(simulate_command)
    main.add_command(demo_command)
    main.add_command(token_group)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
