"""Errors a person should read as a message, not as a traceback.

Every expected failure is a `CoachError`: what went wrong, a hint saying how to
fix it, and the exit code. The CLI has one handler (`cli._base._guarded`, which
prints them with `Output.error`); library code raises them and never prints.
"""

from __future__ import annotations

import os

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran into a problem, or a check found the data unfit
EXIT_USAGE = 2  # a flag or argument was wrong (the same code Typer uses)
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it


class CoachError(Exception):
    """An expected failure, told in plain words with the next step."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CoachError):
    """A flag or argument the command cannot work with."""

    exit_code = EXIT_USAGE


class MissingAnswer(UsageError):
    """A question needs an answer but nobody can be asked (no terminal)."""


class DataError(CoachError):
    """The dataset, or a folder of images, is missing or unusable."""


class Interrupted(CoachError):
    """The person pressed Ctrl-C."""

    exit_code = EXIT_INTERRUPTED


def debug_enabled() -> bool:
    """`DFCOACH_DEBUG=1` shows tracebacks for expected failures too."""
    return os.environ.get("DFCOACH_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def from_os_error(error: OSError, action: str) -> CoachError:
    """Turn a file-system error into a message that names the path and a fix."""
    path = error.filename or "the file"
    if isinstance(error, PermissionError):
        return CoachError(
            f"Could not {action}: permission denied for {path}.",
            hint="Choose a folder you can write to (for example with --data-dir), "
            f"or give yourself write access: chmod u+w {path}",
        )
    if isinstance(error, FileNotFoundError):
        return CoachError(f"Could not {action}: {path} does not exist.", hint="Check the path for typos.")
    if getattr(error, "errno", None) == 28:  # ENOSPC
        return CoachError(
            f"Could not {action}: the disk is full.",
            hint="Free some space (dfcoach doctor shows how much is left) and run the command again.",
        )
    return CoachError(f"Could not {action}: {error.strerror or error}.", hint=f"Check {path} and try again.")
