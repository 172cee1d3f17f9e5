"""The `dfcoach` command. This package is the only code that imports Typer.

One module per command group; each command parses its options, calls a use case (usecases/) or
the library, and renders the result through the session's Output. This module wires them together
and holds the global options. Heavy libraries (torch, cv2, PIL) are imported inside the commands
that need them, so `dfcoach --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from deepfake_coach import __version__
from deepfake_coach.cli._base import Session, app
from deepfake_coach.cli import init, train, evaluate, health, service  # noqa: F401  (their commands, in this order in --help)
from deepfake_coach.cli.data import data_app
from deepfake_coach.cli.kaggle import kaggle_app
from deepfake_coach.io.output import Output
from deepfake_coach.io.progress import ProgressMode

__all__ = ["app", "main"]

app.add_typer(data_app, name="data")
app.add_typer(kaggle_app, name="kaggle")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dfcoach {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR=1 does the same).")] = False,
    progress: Annotated[ProgressMode, typer.Option(help="Progress display: bars on a terminal, plain lines otherwise.")] = ProgressMode.AUTO,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never ask questions; fail with the flag to pass instead.")] = False,
) -> None:
    """Train your first deepfake detector, step by step."""
    ctx.obj = Session(progress_mode=progress, quiet=quiet, no_input=no_input, no_color=no_color,
                      output=Output.for_terminal(quiet=quiet, no_color=no_color))


def main() -> None:
    app()
