""".env files: read them as python-dotenv does, change a few keys and leave every other byte alone.

A person's `.env` often holds secrets and settings of other services, so an edit
must not reflow it: python-dotenv's own parser splits the file into its original
pieces (lines, comments, multi-line quoted values), only the lines of the keys
being set are replaced, and everything else is written back as it was, line
endings and a byte-order mark included. The old file is copied to a backup
first and the new one replaces it in one atomic step.
"""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from deepfake_coach.errors import CoachError, from_os_error
from deepfake_coach.fsutil import atomic_write_bytes

BOM = "\ufeff"
NEW_FILE_MODE = 0o600  # a .env soon holds secrets (API keys), so a new one is private to its owner
_SAFE_UNQUOTED = re.compile(r"[A-Za-z0-9_./:@+-]*")  # values every .env reader (shell, Docker) takes as they are


@dataclass(frozen=True)
class EnvUpdate:
    """What `update_env_file` did."""

    path: Path
    previous: dict[str, str | None]  # the old value of each key set (None: it was not there)
    values: dict[str, str]
    created: bool = False
    backup: Path | None = None
    changed: list[str] = field(default_factory=list)  # keys whose value changed (in the order given)


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


def format_line(key: str, value: str, export: bool = False, newline: str = "\n") -> str:
    """`KEY=value`, quoted only when the value needs it (spaces, quotes, `#`...)."""
    if not _SAFE_UNQUOTED.fullmatch(value):
        value = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
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
    edited where it points, so the link stays a link."""
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
    backup = None
    try:
        if not created:
            backup = backup_path(target)
            shutil.copy2(target, backup)  # keeps the mode: the backup is as private as the original
        atomic_write_bytes(target, new_text.encode("utf-8", errors="surrogateescape"), mode=NEW_FILE_MODE if created else None)
    except OSError as error:
        raise from_os_error(error, f"write {path}") from None
    return EnvUpdate(path, previous, dict(values), created=created, backup=backup, changed=changed)
