"""Writes that never leave a half-written file or folder behind.

Files are written to a temporary file beside the target and renamed over it
(rename is atomic on one file system). Folders are built under a staging name
beside the target and renamed into place only when complete, so a crash or a
Ctrl-C leaves either the old folder or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` in one step. Without `mode`, an existing file keeps
    its permissions and a new one gets the usual ones (secrets pass mode=0o600)."""
    path = Path(path)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def staging_path(target: Path) -> Path:
    """The fixed staging name for `target`, so a run killed outright can be cleaned up by the next."""
    return target.parent / f".{target.name}.dfcoach-partial"


@contextmanager
def staged_directory(target: Path, replace: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes `target`.

    With `replace`, an existing `target` is swapped out only after the new one is
    complete, then deleted. On any error (or Ctrl-C) the staging folder is removed
    and `target` is untouched.
    """
    target = Path(target)
    staging = staging_path(target)
    if staging.exists():
        shutil.rmtree(staging)  # left by a run that was killed before it could clean up
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        yield staging
        if target.exists() or target.is_symlink():
            if not replace:
                raise FileExistsError(str(target))
            old = target.parent / f".{target.name}.dfcoach-old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
