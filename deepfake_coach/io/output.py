"""The one output object: results go to stdout, messages (progress, warnings, errors, hints) to stderr.

A command builds one `Output` per invocation and hands it to everything that speaks: the command
itself, the wizard, the use cases and the renderers. `quiet` hides the chatter (info, success, the
next step), never results, warnings or errors. Messages are printed as text: a path or a server's
words holding `[...]` are shown as they are, never read as Rich markup. Rich honours NO_COLOR and
drops colour when the stream is not a terminal.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from rich.console import Console
from rich.markup import escape

from deepfake_coach.errors import CoachError, Interrupted, debug_enabled


class Output:
    def __init__(self, out: Console | None = None, err: Console | None = None, quiet: bool = False):
        self.out = out if out is not None else Console(highlight=False, soft_wrap=False)
        self.err = err if err is not None else Console(stderr=True, highlight=False)
        self.quiet = quiet

    @classmethod
    def for_terminal(cls, quiet: bool = False, no_color: bool = False) -> "Output":
        """The consoles of this process's stdout and stderr (looked up when printing, so a test
        that swaps sys.stdout sees its own)."""
        no_color = no_color or "NO_COLOR" in os.environ
        return cls(Console(no_color=no_color, highlight=False, soft_wrap=False),
                   Console(stderr=True, no_color=no_color, highlight=False), quiet)

    # --- results (stdout): Rich renderables, tables and the story the wizard tells ---

    def print(self, *renderables: Any, **options: Any) -> None:
        self.out.print(*renderables, **options)

    def rule(self, title: str = "", **options: Any) -> None:
        self.out.rule(title, **options)

    def json(self, text: str) -> None:
        """Plain and unwrapped: scripts parse it."""
        self.out.file.write(text + "\n")
        self.out.file.flush()

    # --- messages (stderr) ---

    def info(self, message: str) -> None:
        """A progress message ("Writing 1,000 images..."); hidden by --quiet."""
        if not self.quiet:
            self.err.print(escape(message))

    def success(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"[green]✓[/green] {escape(message)}")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]Warning:[/yellow] {escape(message)}")

    def lines(self, lines: list[str]) -> None:
        """Details under a warning (a list of files, say), as plain text."""
        for line in lines:
            self.err.print(line, markup=False)

    def next_step(self, command: str, why: str = "Next") -> None:
        """The command to run next, set apart so it is easy to copy."""
        if not self.quiet:
            self.err.print(f"\n{why}: [bold cyan]{escape(command)}[/bold cyan]")

    def error(self, error: CoachError) -> None:
        """The one place expected failures are printed: message, hint, and how to see more."""
        if isinstance(error, Interrupted):  # the person's own choice, not a failure: no "Error:", no "fix"
            self.err.print(f"[bold yellow]{escape(error.message)}[/bold yellow]")
            if error.hint:
                self.err.print(f"[bold]Next:[/bold] {escape(error.hint)}")
        else:
            self.err.print(f"[bold red]Error:[/bold red] {escape(error.message)}")
            if error.hint:
                self.err.print(f"[bold]How to fix:[/bold] {escape(error.hint)}")
        if debug_enabled():
            self.err.print(escape("".join(traceback.format_exception(error))), style="dim")

    def crash(self, error: BaseException) -> None:
        """An unexpected failure: a short apology, and the traceback only when asked for."""
        self.err.print(f"[bold red]Error:[/bold red] something unexpected went wrong: {escape(type(error).__name__)}: {escape(str(error))}")
        if debug_enabled():
            self.err.print(escape("".join(traceback.format_exception(error))), style="dim")
        else:
            self.err.print("Run the command again with DFCOACH_DEBUG=1 to see the details, and include them if you report a bug.")
