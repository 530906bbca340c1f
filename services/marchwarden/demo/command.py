"""The `marchwarden demo` command."""

from __future__ import annotations

from pathlib import Path

import click

from marchwarden.bootstrap import UserError, load_settings


@click.command("demo")
@click.option("--scenario", default="baltic-2024", show_default=True)
@click.option("--seed", type=int, default=2024, show_default=True)
@click.option("--from", "start", help="Start of the window (YYYY-MM-DD).")
@click.option("--to", "end", help="End of the window (YYYY-MM-DD, inclusive).")
@click.option(
    "--duration",
    "duration_s",
    type=float,
    default=60.0,
    show_default=True,
    help="Wall-clock seconds to stream the scenario in.",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: ./.marchwarden")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="After the summary, keep serving the watch floor page until Ctrl-C.",
)
def demo_command(
    scenario: str,
    seed: int,
    start: str | None,
    end: str | None,
    duration_s: float,
    data_dir: Path | None,
    serve: bool,
) -> None:
    """Start the embedded stack, stream a compressed scenario, show alerts and a summary."""
    from rich.console import Console

    from marchwarden.demo.runner import Demo, DemoError, DemoOptions
    from marchwarden.simulator.cli import parse_bound
    from marchwarden.simulator.scenarios import UnknownScenario, get_scenario

    try:
        get_scenario(scenario)
    except UnknownScenario as exc:
        raise UserError(str(exc.args[0])) from exc
    if duration_s <= 0:
        raise UserError("--duration must be positive")
    settings = load_settings(data_dir=data_dir)
    options = DemoOptions(
        scenario,
        seed,
        parse_bound(start, end=False),
        parse_bound(end, end=True),
        duration_s,
        serve=serve,
    )
    try:
        code = Demo(settings, options, Console()).run()
    except DemoError as exc:
        raise UserError(str(exc)) from exc
    raise SystemExit(code)
