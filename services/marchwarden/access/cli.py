"""`marchwarden token create|list|revoke`: manage the tokens of a data directory."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console

from marchwarden.access.identity import ORGANISATIONS, ROLES
from marchwarden.access.tokens import (
    TokenError,
    create_token,
    list_tokens,
    make_record,
    revoke_tokens,
)
from marchwarden.settings import Settings

console = Console(stderr=True)


def tokens_path(data_dir: Path | None) -> Path:
    settings = Settings()
    if data_dir is not None:
        settings = settings.with_overrides(data_dir=data_dir)
    return settings.tokens_path


@click.group("token")
def token_group() -> None:
    """Create, list and revoke the bearer tokens a worker accepts."""


@token_group.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--org", "organisation", required=True, type=click.Choice(sorted(ORGANISATIONS)))
@click.option("--name", required=True, help="The person's id (the operator_id of commands).")
@click.option("--data-dir", type=click.Path(path_type=Path))
@click.option(
    "--env",
    "for_env",
    is_flag=True,
    help="Print the record for MARCHWARDEN_TOKENS instead of writing the token file.",
)
def create(role: str, organisation: str, name: str, data_dir: Path | None, for_env: bool) -> None:
    """Create a token; it is printed once, alone on the last line; only its hash is kept."""
    try:
        if for_env:
            token, record = make_record(role, organisation, name)
            click.echo(json.dumps(asdict(record)))
            where = "add the record above to the MARCHWARDEN_TOKENS list"
        else:
            path = tokens_path(data_dir)
            token, record = create_token(path, role, organisation, name)
            where = f"its hash is in {path}; a running worker accepts it within a second"
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(
        f"token {record.id} for {name} ({role}, {organisation}); {where}. It is shown once, below:",
        highlight=False,
        soft_wrap=True,
    )
    click.echo(token)


@token_group.command("list")
@click.option("--data-dir", type=click.Path(path_type=Path))
def list_command(data_dir: Path | None) -> None:
    """List the tokens of the token file (never the tokens or their hashes)."""
    try:
        records = list_tokens(tokens_path(data_dir))
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    for record in records:
        click.echo(json.dumps(record.public()))


@token_group.command("revoke")
@click.option("--name", help="Revoke every token of this person.")
@click.option("--id", "token_id", help="Revoke one token by its id.")
@click.option("--data-dir", type=click.Path(path_type=Path))
def revoke(name: str | None, token_id: str | None, data_dir: Path | None) -> None:
    """Revoke tokens; running workers refuse them (and their sessions) within a second."""
    try:
        removed = revoke_tokens(tokens_path(data_dir), name=name, token_id=token_id)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {removed} token(s)")
