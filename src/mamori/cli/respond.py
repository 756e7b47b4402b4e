"""``mamori respond ...``: response tools that need no running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mamori.respond.playbooks import default_playbooks, load_file
from mamori.respond.playbooks.loader import validate
from mamori.respond.sla import load_contracts

respond_app = typer.Typer(help="Response: playbooks and incidents.", no_args_is_help=True)
playbooks_app = typer.Typer(help="Playbooks (YAML).", no_args_is_help=True)
respond_app.add_typer(playbooks_app, name="playbooks")
sla_app = typer.Typer(help="SLA contracts.", no_args_is_help=True)
respond_app.add_typer(sla_app, name="sla")


@sla_app.command("validate")
def sla_validate_cmd(
    file: Annotated[Path, typer.Argument(help="SLA contracts YAML file.")],
) -> None:
    """Check an SLA contracts file and print each tenant's targets."""
    for tenant, contract in sorted(load_contracts(file).items()):
        ack = ", ".join(f"{s.value} {d}" for s, d in contract.ack.items()) or "-"
        resp = ", ".join(f"{s.value} {d}" for s, d in contract.respond.items()) or "-"
        typer.echo(f"{tenant}\t{contract.calendar.name}\tack: {ack}\trespond: {resp}")


@playbooks_app.command("validate")
def validate_cmd(
    files: Annotated[list[Path], typer.Argument(help="Playbook YAML files to check.")],
) -> None:
    """Check playbook files; print every problem as file:line and exit 1 if any."""
    errors = validate(files)
    for err in errors:
        typer.echo(f"error: {err}", err=True)
    if errors:
        raise typer.Exit(1)
    count = sum(len(load_file(f)[0]) for f in files)
    typer.echo(f"ok: {count} playbook(s) in {len(files)} file(s)")


@playbooks_app.command("list")
def list_cmd() -> None:
    """List the playbooks shipped with mamori."""
    for pb in default_playbooks():
        steps = ", ".join(s.action or s.kind for s in pb.steps)
        typer.echo(f"{pb.name}\t{pb.title}\t{steps}")


def register(app: typer.Typer) -> None:
    app.add_typer(respond_app, name="respond")


__all__ = ["register"]
