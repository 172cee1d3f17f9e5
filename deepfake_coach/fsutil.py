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
from typing import Callable, Iterator


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


def set_aside_path(target: Path) -> Path:
    """Where the old `target` waits while the new one is renamed into its place."""
    return target.parent / f".{target.name}.dfcoach-old"


@contextmanager
def staged_directory(target: Path, replace: bool = False, accept: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield an empty staging folder; on success it becomes `target`.

    When the body is done, `accept(staging)` may still refuse the new folder by raising.
    With `replace`, an existing `target` is swapped out only after that: renamed aside,
    the new one renamed in, the old one deleted. On any error (or Ctrl-C) the staging
    folder is removed and `target` is untouched.
    """
    target = Path(target)
    staging = staging_path(target)
    recover_set_aside(target)
    if staging.exists():
        shutil.rmtree(staging)  # left by a run that was killed before it could clean up
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        yield staging
        if accept is not None:
            accept(staging)
        if target.exists() or target.is_symlink():
            if not replace:
                raise FileExistsError(str(target))
            old = set_aside_path(target)
            os.replace(target, old)
            try:
                os.replace(staging, target)
            except BaseException:
                os.replace(old, target)  # the old one goes back where it was
                raise
            _remove(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def recover_set_aside(target: Path) -> None:
    """A run killed between the two renames left the old folder aside: put it back. A run killed
    after both left only the deleting of the old one undone: finish it."""
    target = Path(target)
    old = set_aside_path(target)
    if not (old.exists() or old.is_symlink()):
        return
    if target.exists() or target.is_symlink():
        _remove(old)
    else:
        os.replace(old, target)


def _remove(path: Path, ignore_errors: bool = False) -> None:
    if path.is_symlink():  # a link to a folder: the link goes, never what it points to
        try:
            path.unlink()
        except OSError:
            if not ignore_errors:
                raise
    else:
        shutil.rmtree(path, ignore_errors=ignore_errors)
