"""``mamori respond ...``: response tools that need no running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mamori.respond.playbooks import default_playbooks, load_file
from mamori.respond.playbooks.loader import validate

respond_app = typer.Typer(help="Response: playbooks and incidents.", no_args_is_help=True)
playbooks_app = typer.Typer(help="Playbooks (YAML).", no_args_is_help=True)
respond_app.add_typer(playbooks_app, name="playbooks")


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
