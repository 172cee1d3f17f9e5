"""Questions to the person, behind one protocol so people and scripts share a code path.

Every question names the flag that answers it. On a terminal a
`QuestionaryPrompter` asks; without one (a pipe, CI, --no-input) the
`NoInputPrompter` refuses with an error naming that flag instead of hanging.
Tests use `ScriptedPrompter`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from deepfake_coach.errors import Interrupted, MissingAnswer


@dataclass(frozen=True)
class Choice:
    value: str
    title: str


class Prompter(Protocol):
    def confirm(self, question: str, *, flag: str, default: bool = False) -> bool: ...

    def select(self, question: str, choices: Sequence[Choice], *, flag: str, default: str | None = None) -> str: ...

    def text(self, question: str, *, flag: str, default: str = "", validate: Callable[[str], str | None] | None = None) -> str: ...

    def secret(self, question: str, *, flag: str) -> str: ...


class NoInputPrompter:
    """Nobody to ask: every question becomes an error that says which flag answers it."""

    def _refuse(self, question: str, flag: str):
        raise MissingAnswer(
            f"dfcoach needs an answer to “{question}”, but there is no terminal to ask in.",
            hint=f"Pass {flag} on the command line.",
        )

    def confirm(self, question, *, flag, default=False):
        self._refuse(question, flag)

    def select(self, question, choices, *, flag, default=None):
        self._refuse(question, flag)

    def text(self, question, *, flag, default="", validate=None):
        self._refuse(question, flag)

    def secret(self, question, *, flag):
        self._refuse(question, flag)


def discard_typed_ahead() -> None:
    """Forget keys pressed before the question was shown: an Enter pressed during a
    13-minute training run must not answer the question that follows it."""
    try:
        import termios
    except ImportError:  # Windows: no such call (and no typed-ahead Enter kept this way)
        return
    try:
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (termios.error, OSError, ValueError):  # not a terminal: nothing is waiting there
        pass


class QuestionaryPrompter:
    """Asks on the terminal. questionary returns None on Ctrl-C; that becomes `Interrupted`.

    One answer answers one question: keys typed before a question appears are discarded,
    and a yes/no question waits for Enter (questionary's default takes the `y` alone and
    leaves the Enter for the next question)."""

    @staticmethod
    def _answer(question_object):
        discard_typed_ahead()
        answer = question_object.ask()
        if answer is None:
            raise Interrupted("Stopped by you.", hint="Run the same command again to pick up where you left off.")
        return answer

    def confirm(self, question, *, flag, default=False):
        import questionary

        return self._answer(questionary.confirm(question, default=default, auto_enter=False))

    def select(self, question, choices, *, flag, default=None):
        import questionary

        options = [questionary.Choice(title=c.title, value=c.value) for c in choices]
        return self._answer(questionary.select(question, choices=options, default=default))

    def text(self, question, *, flag, default="", validate=None):
        import questionary

        def check(value: str):
            problem = validate(value) if validate else None
            return True if problem is None else problem

        return self._answer(questionary.text(question, default=default, validate=check))

    def secret(self, question, *, flag):
        import questionary

        return self._answer(questionary.password(question))


class ScriptedPrompter:
    """Answers from a dict keyed by flag, for tests; records what was asked."""

    def __init__(self, answers: dict[str, object]):
        self.answers = dict(answers)
        self.asked: list[str] = []

    def _take(self, question: str, flag: str):
        self.asked.append(flag)
        if flag not in self.answers:
            raise AssertionError(f"unexpected question {question!r} ({flag})")
        return self.answers[flag]

    def confirm(self, question, *, flag, default=False):
        return bool(self._take(question, flag))

    def select(self, question, choices, *, flag, default=None):
        return str(self._take(question, flag))

    def text(self, question, *, flag, default="", validate=None):
        return str(self._take(question, flag))

    def secret(self, question, *, flag):
        return str(self._take(question, flag))


def can_prompt() -> bool:
    """Only a person at a terminal can be asked; CI never can."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def make_prompter(no_input: bool = False) -> Prompter:
    return QuestionaryPrompter() if (not no_input and can_prompt()) else NoInputPrompter()
