"""What every command shares: the root app, the session the global options decide, and the one
handler that turns expected failures into a message and an exit code (no traceback; DFCOACH_DEBUG=1
shows it)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import typer

from deepfake_coach.errors import CoachError, Interrupted, debug_enabled
from deepfake_coach.io.answers import Answers
from deepfake_coach.io.output import Output
from deepfake_coach.io.progress import ProgressMode, make_progress
from deepfake_coach.io.prompts import make_prompter

if TYPE_CHECKING:  # pydantic and YAML load when a command first needs the project, not for --help
    from deepfake_coach.project import Project


def _flags_show_no_type() -> None:
    """Typer's help prints `<bool>` beside on/off flags (`--quick <bool>`), which reads as if
    `--quick true` were wanted; Click refuses that, rightly. A flag takes no value: show none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else shown(self, ctx)


_flags_show_no_type()

app = typer.Typer(
    name="dfcoach",
    help="Train your first deepfake detector, step by step. Start with: dfcoach init",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Session:
    """What the global options decided, for every command of one invocation."""

    progress_mode: ProgressMode = ProgressMode.AUTO
    quiet: bool = False
    no_input: bool = False
    no_color: bool = False
    output: Output = field(default_factory=Output.for_terminal)
    _project: Project | None = None

    def progress(self):
        return make_progress(ProgressMode.OFF if self.quiet else self.progress_mode, self.output.err)

    def prompter(self):
        return make_prompter(self.no_input)

    def answers(self) -> Answers:
        """The one resolver the wizard uses too: an answer given, else asked (the commands have no --yes)."""
        return Answers(self.prompter())

    @property
    def project(self) -> Project:
        """The project in the current folder, with dfcoach.yaml read once (on first use: --help reads nothing)."""
        if self._project is None:
            from deepfake_coach.project import Project

            self._project = Project.open()
        return self._project


def session(ctx: typer.Context | None) -> Session:
    """This invocation's session, which the root callback made from the global options."""
    root = ctx.find_root() if ctx is not None else None
    if root is None:
        return Session()
    if not isinstance(root.obj, Session):
        root.obj = Session()
    return root.obj


def _guarded(function: Callable) -> Callable:
    """Expected failures become a message and an exit code; the rest a short apology."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        output = session(kwargs.get("ctx")).output  # every command takes the context, by that name
        try:
            return function(*args, **kwargs)
        except typer.Exit:
            raise
        except CoachError as error:
            output.error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            error = Interrupted("Stopped by you.")
            output.error(error)
            raise typer.Exit(error.exit_code) from None
        except Exception as error:
            if debug_enabled():
                raise
            output.crash(error)
            raise typer.Exit(1) from None

    return wrapper


def command(group: typer.Typer, name: str | None = None, **kwargs) -> Callable:
    def register(function: Callable) -> Callable:
        group.command(name, **kwargs)(_guarded(function))
        return function

    return register
