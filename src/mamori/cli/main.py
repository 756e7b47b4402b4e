"""The ``mamori`` command.

Each area contributes one module in :data:`COMMAND_MODULES` exposing ``register(app)``;
adding a command group is adding one line here. Exit codes: 0 ok, 2 bad usage,
1 runtime error with a one-line reason on stderr (traceback only with ``--debug``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from mamori import __version__
from mamori.errors import MamoriError

COMMAND_MODULES: tuple[str, ...] = (
    "mamori.cli.core",
    "mamori.cli.guideline",
    "mamori.cli.hunt",
    "mamori.cli.ingest",
    "mamori.cli.respond",
    "mamori.cli.scan",
    "mamori.cli.service",
)

app = typer.Typer(
    name="mamori",
    help="mamori (守り): self-hosted security pack — comply, detect, protect, respond, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mamori {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[  # noqa: ARG001 - handled by the eager callback
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """mamori command line."""
    _state["debug"] = debug


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_load_commands()


def fail(message: str) -> None:
    """Print a one-line reason to stderr and exit 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with mamori's exit-code contract and return the exit code."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=args, prog_name="mamori", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except MamoriError as exc:
        if "--debug" in args:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 1
    except Exception as exc:
        if "--debug" in args:
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return 0


def entry() -> None:
    sys.exit(run())


__all__ = ["app", "entry", "fail", "run"]
