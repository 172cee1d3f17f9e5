"""`dfcoach kaggle setup` through the CLI, and the interactive flow the wizard reuses, with a scripted person."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaggle_fixtures import (  # noqa: F401  (fixtures)
    GOOD_KEY,
    GOOD_TOKEN,
    GOOD_USER,
    closed_port_url,
    home,
    kaggle,
    point_kaggle_at,
    write_kaggle_json,
)

from deepfake_coach.cli import app
from deepfake_coach.kaggle.api import NoKaggleCredentials
from deepfake_coach.kaggle.setup import SetupSkipped, setup_credentials
from deepfake_coach.io.prompts import ScriptedPrompter

PASTE_FLAG = "--token-file - (reads the token from standard input)"


def downloaded_kaggle_json(home: Path, key: str = GOOD_KEY) -> Path:
    path = home / "Downloads" / "kaggle.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"username": GOOD_USER, "key": key}))
    path.chmod(0o644)  # as browsers save it
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class RecordingPrompter(ScriptedPrompter):
    """A scripted person who also remembers the choices offered."""

    def __init__(self, answers):
        super().__init__(answers)
        self.offered: list[str] = []

    def select(self, question, choices, *, flag, default=None):
        self.offered = [choice.title for choice in choices]
        return super().select(question, choices, flag=flag, default=default)


# --- the command -----------------------------------------------------------------------------------


def test_no_credentials_and_no_terminal_names_the_flag(cli, home):
    result = cli("kaggle", "setup")
    assert result.exit_code == 1
    assert "No Kaggle credentials found" in result.stderr
    assert "dfcoach kaggle setup --token-file FILE" in result.stderr
    assert "Generate New Token" in result.stderr  # the guide's steps
    assert "OAuth" not in result.output  # kaggle's own help text never shows


def test_kaggle_never_exits_on_dfcoachs_behalf_in_a_real_process(home, tmp_path):
    """The real command in its own process: dfcoach's message only, none of kaggle's, and no exit(1) from it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=str(home), PYTHONPATH=str(Path(__file__).parents[1]), NO_COLOR="1", COLUMNS="2000")
    done = subprocess.run(
        [sys.executable, "-m", "deepfake_coach", "kaggle", "setup"],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert "Error: No Kaggle credentials found" in done.stderr
    assert "kaggle auth login" not in done.stdout + done.stderr
    assert done.stdout == ""


def test_install_the_downloaded_file_and_validate(cli, home, kaggle):
    downloaded = downloaded_kaggle_json(home)
    result = cli("kaggle", "setup", "--token-file", downloaded)
    assert result.exit_code == 0, result.output
    installed = home / ".kaggle" / "kaggle.json"
    assert mode_of(installed) == 0o600 and mode_of(installed.parent) == 0o700
    assert "Installed the token as ~/.kaggle/kaggle.json (readable by you only)" in result.stderr
    assert f"You may delete {downloaded} now" in result.stderr
    assert "Kaggle will use the key file ~/.kaggle/kaggle.json" in result.stderr
    assert f"Kaggle accepted your credentials (Kaggle user {GOOD_USER})" in result.stderr
    assert "dfcoach data download kaggle_140k" in result.stderr
    assert GOOD_KEY not in result.output


def test_a_token_from_standard_input(home, kaggle):
    result = CliRunner().invoke(app, ["kaggle", "setup", "--token-file", "-"], input=GOOD_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert (home / ".kaggle" / "access_token").read_text() == GOOD_TOKEN
    assert "Kaggle accepted your credentials" in result.stderr
    assert GOOD_TOKEN not in result.output


def test_existing_credentials_are_replaced_only_when_asked(cli, home, kaggle):
    old = write_kaggle_json(home, key="e" * 32)
    downloaded = downloaded_kaggle_json(home)
    result = cli("kaggle", "setup", "--token-file", downloaded)
    assert result.exit_code == 2
    assert "already holds other Kaggle credentials" in result.stderr and "--replace" in result.stderr
    assert "e" * 32 in old.read_text()

    result = cli("kaggle", "setup", "--token-file", downloaded, "--keep")
    assert result.exit_code == 1 and "Kept" in result.stderr

    result = cli("kaggle", "setup", "--token-file", downloaded, "--replace")
    assert result.exit_code == 0, result.output
    assert "The previous file is kept as ~/.kaggle/kaggle.json.backup-" in result.stderr
    assert GOOD_KEY in old.read_text()
    backups = list(old.parent.glob("kaggle.json.backup-*"))
    assert len(backups) == 1 and "e" * 32 in backups[0].read_text()


def test_found_credentials_that_others_can_read(cli, home, kaggle):
    path = write_kaggle_json(home, mode=0o644)
    result = cli("kaggle", "setup")
    assert result.exit_code == 2
    assert "can be read by other users" in result.stderr and "--fix-permissions" in result.stderr

    result = cli("kaggle", "setup", "--leave-permissions")
    assert result.exit_code == 0
    assert "stays readable by other users" in result.stderr and mode_of(path) == 0o644

    result = cli("kaggle", "setup", "--fix-permissions")
    assert result.exit_code == 0, result.output
    assert "Made ~/.kaggle/kaggle.json private" in result.stderr and mode_of(path) == 0o600
    assert "Kaggle accepted your credentials" in result.stderr


def test_offline_setup_keeps_the_token_and_says_what_to_do(cli, home, monkeypatch):
    point_kaggle_at(monkeypatch, closed_port_url())
    result = cli("kaggle", "setup", "--token-file", downloaded_kaggle_json(home), "--timeout", 2)
    assert result.exit_code == 1
    assert "seems to be offline" in result.stderr and "--archive" in result.stderr
    assert "Traceback" not in result.output
    assert (home / ".kaggle" / "kaggle.json").is_file()


def test_no_validate_makes_no_call(cli, home, kaggle):
    result = cli("kaggle", "setup", "--token-file", downloaded_kaggle_json(home), "--no-validate")
    assert result.exit_code == 0
    assert kaggle.requests == []
    assert "Not checked with Kaggle" in result.stderr


def test_a_wrong_key_is_reported_by_the_command(cli, home, kaggle):
    result = cli("kaggle", "setup", "--token-file", downloaded_kaggle_json(home, key="0" * 32))
    assert result.exit_code == 1
    assert "Kaggle did not accept the credentials" in result.stderr
    assert "0" * 32 not in result.output


# --- the interactive flow (as the wizard uses it) ------------------------------------------------


class Lines:
    """An Output whose lines the test reads back (wide, so that no line is wrapped)."""

    def __init__(self):
        import io

        from rich.console import Console

        from deepfake_coach.io.output import Output

        self.buffer = io.StringIO()
        self.output = Output(Console(file=self.buffer, width=1000), Console(file=self.buffer, width=1000))

    def __iter__(self):
        return iter(self.buffer.getvalue().splitlines())

    def __contains__(self, line: str) -> bool:
        return line in list(self)


def test_the_file_in_downloads_is_offered(home, kaggle):
    downloaded = downloaded_kaggle_json(home)
    person = RecordingPrompter({"--token-file": str(downloaded)})
    lines = Lines()
    result = setup_credentials(person, lines.output)
    assert person.offered[0] == "Use ~/Downloads/kaggle.json"
    assert person.asked == ["--token-file"]
    assert result.installed.path == home / ".kaggle" / "kaggle.json"
    assert result.validated.username == GOOD_USER
    assert any("Settings" in line or "settings" in line for line in lines)
    assert all(GOOD_KEY not in line for line in lines)
    assert f"You may delete {downloaded} now: dfcoach keeps its own copy." in lines


def test_a_pasted_token_with_hidden_input(home, kaggle):
    person = ScriptedPrompter({"--token-file": "paste", PASTE_FLAG: GOOD_TOKEN})
    lines = Lines()
    result = setup_credentials(person, lines.output)
    assert person.asked == ["--token-file", PASTE_FLAG]
    assert result.found.kind == "access_token file" and result.validated.username == GOOD_USER
    assert all(GOOD_TOKEN not in line for line in lines)


def test_a_typed_path(home, kaggle, tmp_path):
    elsewhere = tmp_path / "keys" / "kaggle.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps({"username": GOOD_USER, "key": GOOD_KEY}))

    class TypingPerson(ScriptedPrompter):
        def text(self, question, *, flag, default="", validate=None):
            self.asked.append(flag)
            assert validate(str(tmp_path / "missing")) == "There is no file there; check the path."
            assert validate(str(elsewhere)) is None
            return str(elsewhere)

    person = TypingPerson({"--token-file": "path"})
    result = setup_credentials(person)
    assert person.asked == ["--token-file", "--token-file"]
    assert result.installed.path == home / ".kaggle" / "kaggle.json"


def test_skipping_leads_to_the_browser_download(home):
    with pytest.raises(SetupSkipped) as error:
        setup_credentials(ScriptedPrompter({"--token-file": "skip"}))
    assert "--archive" in error.value.hint


def test_a_broken_file_is_explained_then_replaced(home, kaggle):
    broken = home / ".kaggle" / "kaggle.json"
    broken.parent.mkdir()
    broken.write_text("{oops")
    lines = Lines()
    person = ScriptedPrompter({"--token-file": "paste", PASTE_FLAG: json.dumps({"username": GOOD_USER, "key": GOOD_KEY}), "--replace": True})
    result = setup_credentials(person, lines.output)
    assert any("cannot be used" in line and "not valid JSON" in line for line in lines)
    assert person.asked == ["--token-file", PASTE_FLAG, "--replace"]
    assert result.validated.username == GOOD_USER
    assert result.installed.backup.read_text() == "{oops"


def test_no_terminal_in_the_wizard_is_a_clear_error(home):
    from deepfake_coach.io.prompts import NoInputPrompter

    with pytest.raises(NoKaggleCredentials, match="no terminal to ask"):
        setup_credentials(NoInputPrompter())


@pytest.mark.skipif(sys.platform == "win32", reason="pexpect needs a POSIX terminal")
def test_pasting_a_token_in_a_real_terminal_stays_hidden(tmp_path):
    import io

    import pexpect

    env = {"PATH": "/usr/bin:/bin", "TERM": "xterm", "NO_COLOR": "1", "HOME": str(tmp_path), "COLUMNS": "120",
           "PYTHONPATH": str(Path(__file__).parents[1])}
    child = pexpect.spawn(sys.executable, ["-m", "deepfake_coach", "kaggle", "setup", "--no-validate"], cwd=str(tmp_path),
                          env=env, encoding="utf-8", timeout=60, dimensions=(40, 120))
    child.logfile_read = transcript = io.StringIO()
    child.expect("Generate New Token")
    child.expect("How will you give dfcoach your Kaggle token")
    child.send("\r")  # the first choice: paste
    child.expect("Paste your Kaggle token")
    child.send(GOOD_TOKEN + "\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    assert "Installed the token as ~/.kaggle/access_token" in transcript.getvalue()
    assert GOOD_TOKEN not in transcript.getvalue()
    assert (tmp_path / ".kaggle" / "access_token").read_text() == GOOD_TOKEN
    assert mode_of(tmp_path / ".kaggle" / "access_token") == 0o600
