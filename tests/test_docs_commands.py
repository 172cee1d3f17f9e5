"""Every `dfcoach ...` command shown in the docs and the README exists, with the options it is shown with."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in re.findall(r"```(?:bash|console|sh)\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            for line in block.splitlines():
                for part in re.split(r"\s&&\s", line):  # README lines chain commands with &&
                    part = part.strip()
                    if part.startswith("dfcoach "):
                        found.append((page.name, part))
    return found


def inline_commands() -> list[tuple[str, str]]:
    """`dfcoach ...` written in running text (inline code, outside the code blocks), each once."""
    found = []
    for page in PAGES:
        prose = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for command in dict.fromkeys(re.findall(r"`(dfcoach [^`]+)`", prose)):
            found.append((page.name, command))
    return found


COMMANDS = documented_commands()
INLINE = inline_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 20
    assert {page for page, _ in COMMANDS} >= {"README.md", "guide.md", "training.md"}


@pytest.mark.parametrize("page, command", COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_documented_command_parses(cli, page, command):
    args = shlex.split(command, comments=True)[1:]
    result = cli(*args, "--help")  # --help after the options: unknown commands or options still fail
    assert result.exit_code == 0, f"{page}: `{command}` does not parse:\n{result.output[-600:]}"


def test_the_docs_name_commands_in_their_text():
    assert len(INLINE) > 20
    assert {page for page, _ in INLINE} >= {"README.md", "guide.md", "training.md", "troubleshooting.md"}


@pytest.mark.parametrize("page, command", INLINE, ids=[f"{p}: {c}" for p, c in INLINE])
def test_command_named_in_the_text_parses(cli, page, command):
    args = shlex.split(command)[1:]
    result = cli(*args, "--help")
    assert result.exit_code == 0, f"{page}: `{command}` does not parse:\n{result.output[-600:]}"
