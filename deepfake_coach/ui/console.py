"""The two consoles: results go to stdout, messages (progress, warnings, errors) to stderr.

Rich honours NO_COLOR and drops colour when the stream is not a terminal. The
consoles are built on first use and rebuilt by `configure`, which the CLI calls
once per invocation, so tests that swap sys.stdout/sys.stderr see fresh ones.
"""

from __future__ import annotations

import os
import traceback

from rich.console import Console
from rich.markup import escape

from deepfake_coach.errors import CoachError, Interrupted, debug_enabled

_out: Console | None = None
_err: Console | None = None
_quiet = False


def configure(quiet: bool = False, no_color: bool = False) -> None:
    global _out, _err, _quiet
    no_color = no_color or "NO_COLOR" in os.environ
    _out = Console(no_color=no_color, highlight=False, soft_wrap=False)
    _err = Console(stderr=True, no_color=no_color, highlight=False)
    _quiet = quiet


def out() -> Console:
    if _out is None:
        configure()
    return _out


def err() -> Console:
    if _err is None:
        configure()
    return _err


def info(message: str) -> None:
    """A progress message ("Writing 1,000 images..."); hidden by --quiet. Like every message here, it is
    printed as text: a path or a server's words holding `[...]` are shown as they are, never read as markup."""
    if not _quiet:
        err().print(escape(message))


def success(message: str) -> None:
    if not _quiet:
        err().print(f"[green]✓[/green] {escape(message)}")


def warn(message: str) -> None:
    err().print(f"[yellow]Warning:[/yellow] {escape(message)}")


def next_step(command: str, why: str = "Next") -> None:
    """The command to run next, set apart so it is easy to copy."""
    if not _quiet:
        err().print(f"\n{why}: [bold cyan]{escape(command)}[/bold cyan]")


def report_error(error: CoachError) -> None:
    """The one place expected failures are printed: message, hint, and how to see more."""
    console = err()
    if isinstance(error, Interrupted):  # the person's own choice, not a failure: no "Error:", no "fix"
        console.print(f"[bold yellow]{escape(error.message)}[/bold yellow]")
        if error.hint:
            console.print(f"[bold]Next:[/bold] {escape(error.hint)}")
    else:
        console.print(f"[bold red]Error:[/bold red] {escape(error.message)}")
        if error.hint:
            console.print(f"[bold]How to fix:[/bold] {escape(error.hint)}")
    if debug_enabled():
        console.print(escape("".join(traceback.format_exception(error))), style="dim")


def report_crash(error: BaseException) -> None:
    """An unexpected failure: a short apology, and the traceback only when asked for."""
    console = err()
    console.print(f"[bold red]Error:[/bold red] something unexpected went wrong: {escape(type(error).__name__)}: {escape(str(error))}")
    if debug_enabled():
        console.print(escape("".join(traceback.format_exception(error))), style="dim")
    else:
        console.print("Run the command again with DFCOACH_DEBUG=1 to see the details, and include them if you report a bug.")
