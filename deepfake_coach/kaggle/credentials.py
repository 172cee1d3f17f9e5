"""Kaggle credentials: which ones a person has, which one will be used, and installing one safely.

The order is kaggle 2.x's own (kagglesdk `get_access_token_from_env`, then
`KaggleApi.authenticate`):

1. `KAGGLE_API_TOKEN`, a token or the path of a file holding one;
2. `~/.kaggle/access_token` (or `access_token.txt`, as Windows editors save it);
3. `KAGGLE_USERNAME` and `KAGGLE_KEY` (they override kaggle.json);
4. `kaggle.json` in `KAGGLE_CONFIG_DIR`, else `~/.kaggle`, else (Linux, when ~/.kaggle does
   not exist) `$XDG_CONFIG_HOME/kaggle` or `~/.config/kaggle`;
5. the sign-in saved by `kaggle auth login` (`~/.kaggle/credentials.json`).

Secrets are read only to be handed to Kaggle's client; `FoundCredentials` describes
where they are and never holds them. Files are written mode 0600 in a 0700 folder,
and a file already there is replaced only after a confirmation, with a backup.
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from deepfake_coach.errors import CoachError
from deepfake_coach.fsutil import atomic_write_bytes
from deepfake_coach.kaggle.env import ACCESS_TOKEN, KAGGLE_JSON, KaggleEnv

TOKEN_VARIABLE = "KAGGLE_API_TOKEN"
USERNAME_VARIABLE, KEY_VARIABLE = "KAGGLE_USERNAME", "KAGGLE_KEY"
API_SETTINGS_URL = "https://www.kaggle.com/settings"

KIND_TOKEN_VARIABLE = "KAGGLE_API_TOKEN variable"
KIND_ACCESS_TOKEN = "access_token file"
KIND_KEY_VARIABLES = "KAGGLE_USERNAME/KAGGLE_KEY variables"
KIND_KAGGLE_JSON = "kaggle.json"
KIND_OAUTH = "kaggle auth login"

_LARGEST_CREDENTIALS_FILE = 64 * 1024  # a token file is tens of bytes; anything this big is something else


@dataclass(frozen=True)
class FoundCredentials:
    """Where credentials were found. `description` is for people and never contains the secret."""

    kind: str
    path: Path | None
    description: str
    too_open: bool = False  # a file (or its folder) that other users of the computer can read
    problem: str | None = None  # found, but unusable: empty, not JSON, no key...

    @property
    def usable(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class KaggleAuth:
    """The secret itself, for Kaggle's client only. Its repr shows no value."""

    username: str | None = field(default=None, repr=False)
    key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    oauth_file: Path | None = None


@dataclass(frozen=True)
class Installed:
    """What `install_token_file` / `install_pasted_token` did."""

    path: Path
    kind: str
    backup: Path | None = None
    unchanged: bool = False  # the same credentials were already there


# --- finding ----------------------------------------------------------------------------------


def find_credentials(env: KaggleEnv | None = None) -> FoundCredentials | None:
    """The credentials Kaggle will use, or None. When every one found is broken, the first broken one
    (with `problem` saying what is wrong), so the person learns why nothing works."""
    first_broken = None
    for found in _candidates(KaggleEnv.resolve(env)):
        if found.usable:
            return found
        first_broken = first_broken or found
    return first_broken


def all_credentials(env: KaggleEnv | None = None) -> list[FoundCredentials]:
    """Every credentials source present, in the order Kaggle tries them."""
    return list(_candidates(KaggleEnv.resolve(env)))


def kaggle_config_dir(env: KaggleEnv | None = None) -> Path:
    """The folder kaggle reads kaggle.json from (the same rule as `KaggleApi.config_dir`)."""
    return KaggleEnv.resolve(env).config_dir


def _candidates(env: KaggleEnv) -> Iterator[FoundCredentials]:
    token_value = env.variable(TOKEN_VARIABLE)
    if token_value:
        yield _token_variable(token_value, env)
    for path in env.access_token_files:
        if path.is_file():
            yield _token_file(path, KIND_ACCESS_TOKEN, f"the token file {env.shown(path)}")
    if env.variable(USERNAME_VARIABLE) and env.variable(KEY_VARIABLE):
        yield FoundCredentials(KIND_KEY_VARIABLES, None, f"the {USERNAME_VARIABLE} and {KEY_VARIABLE} environment variables")
    yield from _kaggle_json_files(env)
    if env.oauth_file.is_file():
        yield _oauth_file(env.oauth_file, env)


def _token_variable(value: str, env: KaggleEnv) -> FoundCredentials:
    path = Path(value).expanduser()
    if _is_file(path):  # kaggle accepts the path of a token file in the variable too
        return _token_file(path, KIND_TOKEN_VARIABLE, f"the token file {env.shown(path)} named by {TOKEN_VARIABLE}")
    return FoundCredentials(KIND_TOKEN_VARIABLE, None, f"the {TOKEN_VARIABLE} environment variable")


def _token_file(path: Path, kind: str, description: str) -> FoundCredentials:
    problem = None
    try:
        text = _read_small(path)
        if not text.strip():
            problem = f"{path} is empty."
        elif text.lstrip().startswith("{"):
            problem = f"{path} holds JSON (a kaggle.json?), not a token."
    except (OSError, ValueError) as error:
        problem = f"{path} cannot be read ({getattr(error, 'strerror', None) or error})."
    return FoundCredentials(kind, path, description, too_open=_too_open(path), problem=problem)


def _kaggle_json_files(env: KaggleEnv) -> Iterator[FoundCredentials]:
    folders = env.kaggle_json_dirs
    used_dir = folders[0]
    seen = set()
    for folder in folders:
        path = folder / KAGGLE_JSON
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        description = f"the key file {env.shown(path)}"
        if folder != used_dir:
            description += f" (the kaggle command itself looks in {env.shown(used_dir)}/ instead; dfcoach uses it anyway)"
        yield FoundCredentials(KIND_KAGGLE_JSON, path, description, too_open=_too_open(path), problem=_kaggle_json_problem(path))


def _kaggle_json_problem(path: Path) -> str | None:
    try:
        data = json.loads(_read_small(path) or "null")
    except OSError as error:
        return f"{path} cannot be read ({error.strerror or error})."
    except ValueError:
        return f"{path} is not valid JSON (it should look like {{\"username\": \"...\", \"key\": \"...\"}})."
    if not isinstance(data, dict) or not data.get("username") or not data.get("key"):
        return f"{path} lacks a \"username\" or a \"key\"."
    return None


def _oauth_file(path: Path, env: KaggleEnv) -> FoundCredentials:
    problem = None
    try:
        data = json.loads(_read_small(path) or "null")
        if not isinstance(data, dict) or not data.get("refresh_token"):
            problem = f"{path} holds no sign-in (no refresh_token)."
    except (OSError, ValueError):
        problem = f"{path} cannot be read as JSON."
    description = f"the sign-in saved by `kaggle auth login` in {env.shown(path)}"
    return FoundCredentials(KIND_OAUTH, path, description, too_open=_too_open(path), problem=problem)


# --- reading the secret -----------------------------------------------------------------------


def read_auth(found: FoundCredentials, env: KaggleEnv | None = None) -> KaggleAuth:
    """The secret behind `found`, to give to Kaggle's client (and nothing else)."""
    environ = KaggleEnv.resolve(env).environ
    if not found.usable:
        raise CoachError(f"The Kaggle credentials in {found.description} cannot be used: {found.problem}", hint="Run: dfcoach kaggle setup")
    if found.kind in (KIND_TOKEN_VARIABLE, KIND_ACCESS_TOKEN):
        token = _read_small(found.path).strip() if found.path else environ[TOKEN_VARIABLE].strip()
        return KaggleAuth(token=token)
    if found.kind == KIND_KEY_VARIABLES:
        return KaggleAuth(username=environ[USERNAME_VARIABLE].strip(), key=environ[KEY_VARIABLE].strip())
    if found.kind == KIND_KAGGLE_JSON:
        data = json.loads(_read_small(found.path))
        return KaggleAuth(username=str(data["username"]).strip(), key=str(data["key"]).strip())
    return KaggleAuth(oauth_file=found.path)


# --- installing -------------------------------------------------------------------------------


def parse_token_text(text: str) -> tuple[str, bytes]:
    """What a pasted or downloaded token is: (file name to install it as, the file's bytes).

    A kaggle.json (`{"username": ..., "key": ...}`) stays a kaggle.json; a bare token
    (Settings → API → Generate New Token) becomes an access_token file. Common paste
    accidents (`export KAGGLE_API_TOKEN=...`, quotes) are forgiven.
    """
    text = text.strip().removeprefix("export ").strip()
    text = text.removeprefix(f"{TOKEN_VARIABLE}=").strip().strip("\"'").strip()
    if not text:
        raise CoachError("The token is empty.", hint=f"Copy the token from {API_SETTINGS_URL} (API section) and try again.")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("username") or not data.get("key"):
            raise CoachError(
                "This is not a Kaggle key file: a kaggle.json holds {\"username\": \"...\", \"key\": \"...\"}.",
                hint=f"Create a new token at {API_SETTINGS_URL} and use the file it downloads.",
            )
        content = {"username": str(data["username"]).strip(), "key": str(data["key"]).strip()}
        return KAGGLE_JSON, json.dumps(content).encode()
    if any(char.isspace() for char in text) or not 8 <= len(text) <= 4096:
        raise CoachError(
            "This does not look like a Kaggle token (a token is one word, with no spaces).",
            hint=f"Copy the token again from {API_SETTINGS_URL} (API section), or give the downloaded file instead.",
        )
    return ACCESS_TOKEN, text.encode()


def install_token_file(
    source: Path,
    *,
    confirm_replace: Callable[[Path], bool],
    env: KaggleEnv | None = None,
) -> Installed:
    """Install a downloaded kaggle.json or access_token file where Kaggle reads it."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise CoachError(f"There is no file at {source}.", hint="Check the path (browsers save to ~/Downloads), or paste the token instead.")
    try:
        text = _read_small(source)
    except (OSError, ValueError) as error:  # ValueError: not text, or far too large for a token
        raise CoachError(f"Could not read {source}: {getattr(error, 'strerror', None) or error}.", hint="Is it the file Kaggle gave you?") from None
    return install_pasted_token(text, confirm_replace=confirm_replace, env=env)


def install_pasted_token(
    text: str,
    *,
    confirm_replace: Callable[[Path], bool],
    env: KaggleEnv | None = None,
) -> Installed:
    """Install a token (or a kaggle.json's text) as a file, mode 0600 in a 0700 folder."""
    env = KaggleEnv.resolve(env)
    name, content = parse_token_text(text)
    if name == KAGGLE_JSON:
        folder, kind = env.kaggle_json_install_dir, KIND_KAGGLE_JSON
    else:
        folder, kind = env.dot_kaggle, KIND_ACCESS_TOKEN
    target = folder / name
    try:
        _private_folder(folder)
        if target.exists():
            if _read_small(target).strip() == content.decode().strip():
                if _too_open(target):
                    os.chmod(target, 0o600)
                return Installed(target, kind, unchanged=True)
            if not confirm_replace(target):
                raise CoachError(f"Kept {target} as it was.", hint="Pass --replace to replace it (a backup is kept), or move it away yourself.")
            backup = _backup(target)
        else:
            backup = None
        atomic_write_bytes(target, content, mode=0o600)
    except OSError as error:
        raise CoachError(
            f"Could not write {target}: {error.strerror or error}.",
            hint=f"Check that you can write to {folder} (ls -ld {folder}).",
        ) from None
    return Installed(target, kind, backup=backup)


def fix_permissions(found: FoundCredentials) -> list[Path]:
    """Make `found`'s file readable by its owner only (0600), its folder 0700. Returns what changed."""
    changed = []
    if found.path is None:
        return changed
    # The folder is made private only when it is Kaggle's own: a token file named by
    # KAGGLE_API_TOKEN may sit in ~/Downloads, which is not ours to lock.
    targets = [(found.path, 0o600)]
    if found.kind in (KIND_ACCESS_TOKEN, KIND_KAGGLE_JSON, KIND_OAUTH):
        targets.append((found.path.parent, 0o700))
    try:
        for path, private in targets:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                os.chmod(path, mode & ~0o077 | (private & 0o700))
                changed.append(path)
    except OSError as error:
        where = error.filename or found.path
        raise CoachError(
            f"Could not make {where} private: {error.strerror or error}.",
            hint=f"Run: chmod 600 {found.path} && chmod 700 {found.path.parent}",
        ) from None
    return changed


def _private_folder(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask


def _backup(target: Path) -> Path:
    """A copy beside `target` (mode 0600), named with the time so no backup replaces another."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = target.with_name(f"{target.name}.backup-{stamp}")
    counter = 1
    while backup.exists():
        counter += 1
        backup = target.with_name(f"{target.name}.backup-{stamp}-{counter}")
    atomic_write_bytes(backup, target.read_bytes(), mode=0o600)
    return backup


# --- small helpers ----------------------------------------------------------------------------


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a token too long to be a file name
        return False


def _read_small(path: Path) -> str:
    with open(path, "rb") as handle:
        data = handle.read(_LARGEST_CREDENTIALS_FILE + 1)
    if len(data) > _LARGEST_CREDENTIALS_FILE:
        raise ValueError(f"{path} is far too large to be a Kaggle token")
    return data.decode("utf-8-sig")


def _too_open(path: Path) -> bool:
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)
    except OSError:
        return False

