"""`dfcoach kaggle setup`: the Kaggle API token, found, installed and checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import command, session

kaggle_app = typer.Typer(help="Kaggle: set up your API token (needed for the 140k dataset).", no_args_is_help=True)


@command(kaggle_app, "setup")
def kaggle_setup(
    ctx: typer.Context,
    token_file: Annotated[Optional[str], typer.Option(help="The kaggle.json or access_token file Kaggle gave you, to install; - reads the token from standard input.", show_default=False)] = None,
    replace: Annotated[Optional[bool], typer.Option("--replace/--keep", help="Replace credentials already installed (a backup is kept), or keep them. [default: ask]", show_default=False)] = None,
    fix_permissions: Annotated[Optional[bool], typer.Option("--fix-permissions/--leave-permissions", help="Make a credentials file others can read private (chmod 600). [default: ask]", show_default=False)] = None,
    validate: Annotated[bool, typer.Option("--validate/--no-validate", help="Check the credentials with Kaggle (needs the internet).")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kaggle's answer.")] = 10.0,
) -> None:
    """Find, install and check your Kaggle API token, step by step. Nothing secret is ever printed."""
    import sys

    from deepfake_coach.kaggle.setup import setup_credentials

    current = session(ctx)
    output = current.output
    token_text = sys.stdin.read() if token_file == "-" else None
    result = setup_credentials(
        current.prompter(),
        output=output,
        token_file=Path(token_file) if token_file not in (None, "-") else None,
        token_text=token_text,
        replace=replace,
        fix_permissions=fix_permissions,
        validate=validate,
        timeout=timeout,
    )
    if result.validated is not None:
        who = f" (Kaggle user {result.validated.username})" if result.validated.username else ""
        output.success(f"Kaggle accepted your credentials{who}.")
    else:
        output.info("Not checked with Kaggle (--no-validate): the first download will tell.")
    output.next_step("dfcoach data download kaggle_140k", why="Next, get the 140k real and fake faces")
