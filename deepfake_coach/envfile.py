""".env files: read them as python-dotenv does, change a few keys and leave every other byte alone.

A person's `.env` often holds secrets and settings of other services, so an edit
must not reflow it: python-dotenv's own parser splits the file into its original
pieces (lines, comments, multi-line quoted values), only the lines of the keys
being set are replaced, and everything else is written back as it was, line
endings and a byte-order mark included. The old file is copied to a backup
first and the new one replaces it in one atomic step; a write that fails leaves
the old file and no backup, and a read-only file is refused, not replaced.

A value dfcoach writes is read the same by python-dotenv, by a shell
(`set -a; . ./.env`) and, when it is plain (letters, digits, `./:@+-_`), by
`docker --env-file`. Other values are put in single quotes, which python-dotenv
and a shell both remove (Docker keeps them: `EnvUpdate.quoted` says when).
A value no quoting can give to both (a line break, a single quote, `${`, two
backslashes in a row or one at the end, a control character, bytes that are
not UTF-8) is refused with `UnwritableValue`.
"""

from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from deepfake_coach.errors import CoachError, from_os_error
from deepfake_coach.fsutil import atomic_write_bytes

BOM = "\ufeff"
NEW_FILE_MODE = 0o600  # a .env soon holds secrets (API keys), so a new one is private to its owner
_SAFE_UNQUOTED = re.compile(r"[\w./:@+-]*")  # values every .env reader (python-dotenv, a shell, Docker) takes as they are


class UnwritableValue(CoachError):
    """A value that python-dotenv and a shell would not read the same, however it is written."""

    def __init__(self, key: str, value: str, reason: str):
        super().__init__(
            f"{key} cannot be written to a .env file so that every program reads it right: the value holds {reason}.",
            hint="Use a value of plain letters, digits, spaces and ./_- (for a file: move or rename it).",
        )
        self.key, self.value, self.reason = key, value, reason


@dataclass(frozen=True)
class EnvUpdate:
    """What `update_env_file` did."""

    path: Path
    previous: dict[str, str | None]  # the old value of each key set (None: it was not there)
    values: dict[str, str]
    created: bool = False
    backup: Path | None = None
    changed: list[str] = field(default_factory=list)  # keys whose value changed (in the order given)
    quoted: list[str] = field(default_factory=list)  # keys written in single quotes (`docker --env-file` keeps them)


def _read_text(path: Path) -> str:
    """The file as text without translating line endings; bytes that are not UTF-8 survive a round trip."""
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise from_os_error(error, f"read {path}") from None


def read_env_values(path: Path) -> dict[str, str | None]:
    """The values python-dotenv (and so most services) would read from `path`; {} when it does not exist."""
    return dict(dotenv_values(stream=io.StringIO(_read_text(Path(path)), newline="")))


def value_problem(value: str) -> str | None:
    """Why `value` cannot be written so that python-dotenv and a shell read the same; None when it can."""
    if "\n" in value or "\r" in value:
        return "a line break"
    if "'" in value:
        return "a single quote (')"
    if any(unicodedata.category(c) == "Cs" for c in value):
        return "bytes that are not UTF-8 text"
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "a control character"
    if "${" in value:
        return "“${”, which python-dotenv reads as a variable to fill in"
    if "\\\\" in value or value.endswith("\\"):
        return "two backslashes in a row or one at the end, which python-dotenv reads differently from a shell"
    return None


def needs_quotes(value: str) -> bool:
    return not _SAFE_UNQUOTED.fullmatch(value)


def format_line(key: str, value: str, export: bool = False, newline: str = "\n") -> str:
    """`KEY=value`, or `KEY='value'` when the value holds anything but letters, digits and `./:@+-_`
    (spaces, `$`, `#`, `"`...): python-dotenv and a shell read both the same. `UnwritableValue` for a
    value that neither way can hold (see `value_problem`)."""
    problem = value_problem(value)
    if problem is not None:
        raise UnwritableValue(key, value, problem)
    if needs_quotes(value):
        value = f"'{value}'"  # in single quotes a shell takes every character as it is; so does python-dotenv here
    return f"{'export ' if export else ''}{key}={value}{newline}"


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def edited_text(text: str, values: dict[str, str]) -> str:
    """`text` with each key of `values` set: lines of those keys replaced where they are (every
    occurrence, keeping an `export ` prefix and the line ending), missing keys appended at the end."""
    bom = BOM if text.startswith(BOM) else ""
    newline = _newline_of(text)
    pieces: list[str] = []
    seen: set[str] = set()
    for binding in parse_stream(io.StringIO(text, newline="")):
        original = binding.original.string
        if binding.key in values and not binding.error:
            seen.add(binding.key)
            if binding.value == values[binding.key]:  # already right: keep its quoting as the person wrote it
                pieces.append(original)
                continue
            # The parser counts blank lines and indentation before a binding as part of it: keep them.
            body = original.lstrip()
            leading = original[: len(original) - len(body)]
            ending = re.search(r"(\r\n|\n|\r)?$", body).group(0)
            pieces.append(leading + format_line(binding.key, values[binding.key], re.match(r"export[^\S\r\n]+", body) is not None, ending))
        else:
            pieces.append(original)
    result = "".join(pieces)
    missing = [key for key in values if key not in seen]
    if missing and result and not result.endswith(("\n", "\r")):
        result += newline
    result += "".join(format_line(key, values[key], newline=newline) for key in missing)
    return bom + result


def backup_path(path: Path) -> Path:
    """A backup name beside the file that never replaces an earlier backup."""
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
    candidate = path.with_name(f"{path.name}.backup-{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.backup-{stamp}-{number}")
    return candidate


def update_env_file(path: Path, values: dict[str, str]) -> EnvUpdate:
    """Set `values` in the .env file at `path` (created if missing), backing up the old one.

    Nothing is written when every key already has its value. A symlinked .env is
    edited where it points, so the link stays a link. A read-only file is refused.
    When writing fails, the file is as it was and no backup is left behind."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    if target.is_dir():
        raise CoachError(f"{path} is a folder, not a .env file.", hint="Pass the file with --env-file, for example --env-file .env")
    created = not target.exists()
    text = _read_text(target)
    previous_values = read_env_values(target)
    previous = {key: previous_values.get(key) for key in values}
    changed = [key for key in values if previous[key] != values[key] or key not in previous_values]
    new_text = edited_text(text, values)
    if new_text == text:
        return EnvUpdate(path, previous, dict(values))
    if not created and _read_only(target):
        raise CoachError(
            f"{path} is read-only, so dfcoach left it as it was.",
            hint=f"To let dfcoach change it, make it writable with: chmod u+w {path}  (then run the same command again), "
            "or pass another file with --env-file.",
        )
    backup = None
    try:
        if not created:
            backup = backup_path(target)
            # Written like the new file (a temporary file, then renamed): a full disk leaves no empty or partial backup.
            atomic_write_bytes(backup, target.read_bytes(), mode=stat.S_IMODE(target.stat().st_mode))
        atomic_write_bytes(target, new_text.encode("utf-8", errors="surrogateescape"), mode=NEW_FILE_MODE if created else None)
    except OSError as error:
        if backup is not None:
            backup.unlink(missing_ok=True)  # the old file is untouched: a copy of it is no use
        raise _write_failed(path, created, error) from None
    quoted = [key for key in changed if needs_quotes(values[key])]
    return EnvUpdate(path, previous, dict(values), created=created, backup=backup, changed=changed, quoted=quoted)


def _read_only(path: Path) -> bool:
    """No write permission on the file for anyone, or none for this user (root ignores modes, so both are asked)."""
    return not (path.stat().st_mode & 0o222) or not os.access(path, os.W_OK)


def _write_failed(path: Path, created: bool, error: OSError) -> CoachError:
    """What went wrong, naming only files and folders that exist: `path` (as it was, or still absent) and its folder."""
    folder = path.parent if str(path.parent) else Path(".")
    kept = f"{path} was not created." if created else f"{path} is as it was, and no backup was left."
    if getattr(error, "errno", None) == 28:  # ENOSPC
        return CoachError(f"Could not write {path}: the disk is full. {kept}",
                          hint="Free some space (dfcoach doctor shows how much is left) and run the same command again.")
    if isinstance(error, PermissionError):
        if not folder.is_dir():  # its folder could not be made: name the one that exists
            existing = next(parent for parent in Path(os.path.abspath(folder)).parents if parent.is_dir())
            return CoachError(f"Could not write {path}: dfcoach may not create the folder {folder}/ in {existing}/. {kept}",
                              hint=f"Give yourself write access: chmod u+w {existing}  (or pass another file with --env-file).")
        return CoachError(
            f"Could not write {path}: permission denied in the folder {folder}/ (dfcoach writes the new file beside the old one, "
            f"then swaps them). {kept}",
            hint=f"Give yourself write access to the folder: chmod u+w {folder}  (or pass another file with --env-file).",
        )
    return CoachError(f"Could not write {path}: {error.strerror or error}. {kept}", hint=f"Check the folder {folder}/ and try again.")
