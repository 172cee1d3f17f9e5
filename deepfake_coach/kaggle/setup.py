"""`dfcoach kaggle setup` and the wizard's credentials step: find, import, make private, validate.

Every question goes through a `Prompter` and names the flag that answers it, so the
same flow runs on a terminal, in the wizard, and in a script. What it tells the person
(guidance, what was found) goes to the `Output` it is given; it never says a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deepfake_coach.errors import CoachError, MissingAnswer
from deepfake_coach.kaggle.api import ARCHIVE_HINT, DATASET_URL, NoKaggleCredentials, Validated
from deepfake_coach.kaggle.api import validate as validate_credentials
from deepfake_coach.kaggle.credentials import (
    API_SETTINGS_URL,
    FoundCredentials,
    Installed,
    find_credentials,
    fix_permissions as make_private,
    install_pasted_token,
    install_token_file,
)
from deepfake_coach.kaggle.env import KaggleEnv
from deepfake_coach.io.output import Output
from deepfake_coach.io.prompts import Choice, Prompter

GUIDE_STEPS = (
    "Kaggle needs to know who is downloading. You need a free account and an API token:",
    "  1. Sign in, or sign up, at https://www.kaggle.com",
    f"  2. Open your settings: {API_SETTINGS_URL}, section API",
    "  3. Click “Generate New Token” and copy the token it shows (“Create Legacy API Key” downloads a kaggle.json instead)",
    f"  4. Open {DATASET_URL} once and accept its terms if Kaggle asks",
)
BROWSER_NAMES = ("kaggle.json", "access_token", "access_token.txt")  # what browsers save Kaggle's tokens as


class SetupSkipped(CoachError):
    """The person chose not to set up credentials now (the wizard then offers --archive)."""


@dataclass
class SetupResult:
    found: FoundCredentials  # what Kaggle will use now
    installed: Installed | None = None
    permissions_fixed: list[Path] = field(default_factory=list)
    still_too_open: bool = False
    validated: Validated | None = None  # None when validation was skipped


def setup_credentials(
    prompter: Prompter,
    output: Output | None = None,  # None: says nothing
    token_file: Path | None = None,
    token_text: str | None = None,
    replace: bool | None = None,
    fix_permissions: bool | None = None,
    validate: bool = True,
    timeout: float = 10.0,
    env: KaggleEnv | None = None,
    downloads: Path | None = None,
) -> SetupResult:
    """Make sure Kaggle credentials are in place, private and working.

    `token_file` / `token_text` install that token (answering "which token?");
    `replace` answers "replace the file already there?"; `fix_permissions` answers
    "make a readable file private?". Unanswered questions go to `prompter`.
    """
    tell = output.info if output is not None else (lambda line: None)
    env = KaggleEnv.resolve(env)

    def confirm_replace(existing: Path) -> bool:
        if replace is not None:
            return replace
        question = f"{env.shown(existing)} already holds other Kaggle credentials. Replace it? (a backup copy is kept)"
        return prompter.confirm(question, flag="--replace", default=False)

    installed = None
    if token_text is not None:
        installed = install_pasted_token(token_text, confirm_replace=confirm_replace, env=env)
    elif token_file is not None:
        installed = install_token_file(Path(token_file), confirm_replace=confirm_replace, env=env)
    else:
        found = find_credentials(env)
        if found is not None and not found.usable:
            tell(f"Found {found.description}, but it cannot be used: {found.problem}")
        if found is None or not found.usable:
            installed, token_file = _ask_for_token(prompter, tell, confirm_replace, env, downloads)
    if installed is not None:
        _tell_installed(installed, token_file, tell, env)

    found = find_credentials(env)
    if found is None or not found.usable:  # only when installing failed to take effect
        raise NoKaggleCredentials("Kaggle still finds no usable credentials.", hint="Run `dfcoach kaggle setup` again, or see docs/kaggle.md.")
    if installed is not None and found.path != installed.path:
        tell(f"Note: Kaggle uses {found.description} first, before the file just installed.")
    tell(f"Kaggle will use {found.description}.")

    result = SetupResult(found=found, installed=installed)
    if found.too_open:
        _make_private(result, prompter, tell, fix_permissions, env)
    if validate:
        result.validated = validate_credentials(result.found, env=env, timeout=timeout)
    return result


def _ask_for_token(prompter, tell, confirm_replace, env: KaggleEnv, downloads) -> tuple[Installed, Path | None]:
    """The token the person chooses, installed; and the file it came from, if any."""
    downloads = Path(downloads) if downloads is not None else Path(env.home) / "Downloads"
    for line in GUIDE_STEPS:
        tell(line)
    offered = [downloads / name for name in BROWSER_NAMES if (downloads / name).is_file()]
    choices = [Choice(str(path), f"Use {env.shown(path)}") for path in offered]
    choices += [
        Choice("paste", "Paste the token (it stays hidden while you type)"),
        Choice("path", "Give the path of the file Kaggle gave you"),
        Choice("skip", "Not now: I will download the zip in my browser instead"),
    ]
    try:
        answer = prompter.select("How will you give dfcoach your Kaggle token?", choices, flag="--token-file", default=choices[0].value)
    except MissingAnswer:
        raise NoKaggleCredentials(
            "No Kaggle credentials found (no KAGGLE_API_TOKEN, no ~/.kaggle/access_token, no kaggle.json), "
            "and there is no terminal to ask for one.",
            hint=f"Get a token at {API_SETTINGS_URL} (API section), then run: dfcoach kaggle setup --token-file FILE "
            "(or `--token-file -` to read it from standard input)",
        ) from None
    if answer == "skip":
        raise SetupSkipped("Kaggle credentials were not set up.", hint=f"Run `dfcoach kaggle setup` when you have a token, {ARCHIVE_HINT}")
    if answer == "paste":
        text = prompter.secret("Paste your Kaggle token:", flag="--token-file - (reads the token from standard input)")
        return install_pasted_token(text, confirm_replace=confirm_replace, env=env), None
    if answer == "path":
        answer = prompter.text("Path of the token file:", flag="--token-file", validate=_existing_file).strip()
    source = Path(answer).expanduser()
    return install_token_file(source, confirm_replace=confirm_replace, env=env), source


def _existing_file(typed: str) -> str | None:
    return None if Path(typed.strip()).expanduser().is_file() else "There is no file there; check the path."


def _tell_installed(installed: Installed, token_file: Path | None, tell, env: KaggleEnv) -> None:
    where = env.shown(installed.path)
    if installed.unchanged:
        tell(f"{where} already holds these credentials; nothing to change.")
        return
    tell(f"Installed the token as {where} (readable by you only).")
    if installed.backup is not None:
        tell(f"The previous file is kept as {env.shown(installed.backup)}.")
    if token_file is not None:
        tell(f"You may delete {token_file} now: dfcoach keeps its own copy.")


def _make_private(result: SetupResult, prompter, tell, fix_permissions, env: KaggleEnv) -> None:
    found = result.found
    question = f"{env.shown(found.path)} can be read by other users of this computer. Make it private (chmod 600)?"
    if fix_permissions is None:
        fix_permissions = prompter.confirm(question, flag="--fix-permissions", default=True)
    if fix_permissions:
        result.permissions_fixed = make_private(found)
        result.found = find_credentials(env) or found
        tell(f"Made {env.shown(found.path)} private (only you can read it).")
    else:
        result.still_too_open = True
        tell(f"Warning: {env.shown(found.path)} stays readable by other users. Fix it any time with: chmod 600 {found.path}")
