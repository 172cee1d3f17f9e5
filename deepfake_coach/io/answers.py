"""Where each of the wizard's answers comes from: the flag, then dfcoach.yaml, then
the default (with --yes), and only then a question to the person.

One `Answers` object is handed to every step, so the order is the same for all of
them and a script can pre-answer anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from deepfake_coach.io.prompts import Choice, Prompter


@dataclass
class Answers:
    prompter: Prompter
    yes: bool = False  # --yes: take every default instead of asking

    def select(self, question: str, choices: Sequence[Choice], *, flag: str, given: str | None, default: str) -> str:
        if given is not None:
            return given
        if self.yes:
            return default
        return self.prompter.select(question, choices, flag=flag, default=default)

    def confirm(self, question: str, *, flag: str, given: bool | None, default: bool) -> bool:
        if given is not None:
            return given
        if self.yes:
            return default
        return self.prompter.confirm(question, flag=flag, default=default)

    def text(self, question: str, *, flag: str, given: str | None, default: str | None,
             validate: Callable[[str], str | None] | None = None) -> str:
        """A typed answer; with no default, --yes cannot answer it, so the question is asked (or names its flag)."""
        if given is not None:
            return given
        if self.yes and default is not None:
            return default
        return self.prompter.text(question, flag=flag, default=default or "", validate=validate)
