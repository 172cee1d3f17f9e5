"""Where a new dataset may be written, and how it replaces an old one.

Every way of getting a dataset (the demo, your own folder, videos, FaceForensics++,
the Kaggle 140k zip), through the commands and through the wizard, goes through here:

- `decide_replace` (on top of `look_at_target`) says, before anything is built, whether
  the folder is free (absent, empty, or an empty skeleton), holds a dataset (replaced
  only with --force or a yes), or holds other things: those are never replaced, and the
  refusal says what is there. A file instead of a folder, and a source that is the
  dataset folder or inside it, are refused outright.
- `building_dataset` yields a staging folder beside the target. When the build is
  complete and an old dataset is to be replaced, the new one must pass `data check`
  first; only then is the old one renamed aside, the new one renamed in, and the old
  one deleted. On any failure the old dataset is untouched and the staging folder removed.

A folder is a dataset when everything in it is part of the layout:
`{train,val,test}/{real,fake}/` (in any of the names organize recognises), with
dfcoach's own files beside them (`.dfcoach/`, `manifest.csv`, `videos.csv`, a README).
A `.dfcoach/` folder alone proves nothing: `dfcoach data check --data-dir X` leaves
one in any folder it is pointed at.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from deepfake_coach.data.layout import DERIVED_DIR, SYSTEM_FILES, VIDEOS_CSV, class_of, split_of
from deepfake_coach.errors import DataError, from_os_error
from deepfake_coach.fsutil import recover_set_aside, staged_directory
from deepfake_coach.io.progress import NO_PROGRESS, Progress

DATASET_FILES = ("manifest.csv", VIDEOS_CSV)  # written by dfcoach beside the split folders
LISTED = 4  # entries named in a refusal
COUNT_CAP = 1000  # stop counting there: a home folder holds millions of files


@dataclass
class Target:
    """What is in a folder a dataset is about to be written to."""

    path: Path
    foreign: list[Path] = field(default_factory=list)  # entries that are not part of a dataset
    images: bool = False  # some file inside a class folder: a dataset worth asking about

    @property
    def holds_dataset(self) -> bool:
        return not self.foreign and self.images

    @property
    def free(self) -> bool:
        """Absent, empty, or only the empty folders of a dataset: written without asking."""
        return not self.foreign and not self.images

    def refusal(self, keep_flag: str | None = None) -> DataError:
        """The error for a folder that holds things dfcoach did not make."""
        files, folders = _count(self.foreign)
        what = " and ".join(part for part in (_plural(files, "file"), _plural(folders, "folder")) if part)
        shown = [f"{_shown(self.path, p)}/" if p.is_dir() else _shown(self.path, p) for p in _folders_first(self.foreign)]
        listing = ", ".join(shown[:LISTED]) + (", ..." if len(shown) > LISTED else "")
        also = f", or pass {keep_flag} to use the folder as it is" if keep_flag else ""
        return DataError(
            f"{self.path} holds {what} ({listing}) that {'is' if files + folders == 1 else 'are'} not part of a dfcoach dataset, so dfcoach will not "
            "replace it: it never deletes what it did not make.",
            hint=f"Choose an empty or new folder for the dataset with --data-dir NEW_FOLDER, or move those out of "
            f"{self.path} first{also}.",
        )

    def allow(self, replace: bool) -> None:
        """Raise unless a new dataset may be written here (`replace`: an old dataset may go)."""
        if self.foreign:
            raise self.refusal()
        if self.holds_dataset and not replace:
            raise DataError(
                f"{self.path}/ already holds a dataset.",
                hint="Pass --force to replace it (the old one is deleted only once the new one is complete and passes "
                "the check), or choose another folder with --data-dir.",
            )


def refuse_overlap(source: Path, data_dir: Path) -> None:
    """A source that is the dataset folder, or inside it, would be deleted by the dataset made from it."""
    source, data_dir = Path(source), Path(data_dir)
    resolved, target = source.resolve(), data_dir.resolve()
    if resolved == target or target in resolved.parents:
        if resolved == target:
            where = "is the dataset folder itself: your images are inside the dataset folder"
            hint = "Build the new dataset in another folder (--data-dir NEW_FOLDER), and give the folder or zip your images came from as the source."
        else:
            where = f"is inside the dataset folder {data_dir}"
            hint = (f"Keep the two apart: build the dataset in another folder (--data-dir NEW_FOLDER), or move {source} "
                    f"out of {data_dir} first (for example: mv {source} my_images).")
        raise DataError(
            f"{source} {where}, and the new dataset would replace that folder, with the very images it is made "
            "from. dfcoach changed nothing.",
            hint=hint,
        )


def look_at_target(data_dir: Path, source: Path | None = None) -> Target:
    """What is in `data_dir`. Refuses a file and a `source` that overlaps it. Changes nothing, except
    that a dataset a killed run left renamed aside is first put back in its place."""
    data_dir = Path(data_dir)
    if source is not None:
        refuse_overlap(Path(source), data_dir)
    try:
        recover_set_aside(data_dir)
    except OSError as error:
        raise from_os_error(error, f"put back the dataset a stopped run left beside {data_dir}") from None
    if not data_dir.exists():
        return Target(data_dir)
    if not data_dir.is_dir():  # never replaced, even with --force: it is not a dataset
        raise DataError(f"{data_dir} is a file, not a folder.", hint="Choose another place with --data-dir.")
    try:
        children = sorted(data_dir.iterdir())
    except OSError as error:
        raise from_os_error(error, f"look inside {data_dir}") from None
    target = Target(data_dir)
    splits = [child for child in children if split_of(child.name) and child.is_dir()]
    for child in children:
        if child in splits:
            _look_at_split(child, target)
        elif not (_ours(child) or (splits and _dataset_file(child))):
            target.foreign.append(child)
    return target


def decide_replace(data_dir: Path, replace: bool | None, ask: Callable[[], bool], source: Path | None = None,
                   keep_flag: str | None = None) -> bool:
    """The one rule, for the commands and the wizard: True builds the new dataset, False keeps what is there.

    A free folder is written without asking. A dataset is replaced when `replace` is True, kept when
    it is False, and otherwise `ask()` decides (a yes replaces it). A folder holding other things is
    refused, unless `replace` is False and the caller can use it as it is (`keep_flag` names that flag).
    """
    target = look_at_target(data_dir, source)
    if target.foreign:
        if replace is False and keep_flag:
            return False
        raise target.refusal(keep_flag)
    if target.free:
        return True
    return replace if replace is not None else ask()


@contextmanager
def building_dataset(data_dir: Path, replace: bool = False, progress: Progress = NO_PROGRESS) -> Iterator[Path]:
    """A staging folder beside `data_dir`; when complete it becomes `data_dir`.

    An old dataset there is replaced (with `replace`) only once the new one passes the check.
    A folder that is not a dataset is never replaced. `FileExistsError` when a dataset is
    there and `replace` is False (it appeared while the new one was built)."""
    data_dir = Path(data_dir)

    def accept(staging: Path) -> None:
        target = look_at_target(data_dir)  # again: the folder may have changed during a long build
        if target.foreign:
            raise target.refusal()
        if target.holds_dataset:
            if not replace:
                raise FileExistsError(str(data_dir))
            require_fit(staging, data_dir, progress)

    with staged_directory(data_dir, replace=True, accept=accept) as staging:
        yield staging


def require_fit(staging: Path, data_dir: Path, progress: Progress = NO_PROGRESS) -> None:
    """The new dataset in `staging` must pass `data check` before it may replace `data_dir`."""
    from deepfake_coach.data.checks import check_dataset

    report = check_dataset(staging, progress=progress, save_report=False)  # its scan cache makes the next check quick
    if report.fit_to_train:
        return
    found = []
    for problem in report.errors + report.warnings:
        found.append(f"  - {problem.title}" + "".join(f"\n      {name}" for name in problem.files[:2]))
    raise DataError(
        f"The new dataset did not pass the check, so {data_dir}/ was left as it was (nothing was deleted). "
        "What the check found in the new one:\n" + "\n".join(found[:6]),
        hint="Fix what is listed in your source and run the command again. To look at the new dataset as it is, "
        "build it into a new folder (--data-dir NEW_FOLDER), then run: dfcoach data check --data-dir NEW_FOLDER",
    )


# --- helpers ---------------------------------------------------------------------------------


def _ours(entry: Path) -> bool:
    """dfcoach's derived data, and the files operating systems leave in every folder."""
    return entry.name == DERIVED_DIR or entry.name.lower() in SYSTEM_FILES


def _dataset_file(entry: Path) -> bool:
    """The files dfcoach writes beside the split folders (they count only where split folders are)."""
    return entry.is_file() and (entry.name in DATASET_FILES or entry.name.lower().startswith("readme"))


def _look_at_split(split_dir: Path, target: Target) -> None:
    try:
        children = sorted(split_dir.iterdir())
    except OSError:  # a split folder dfcoach may not read: what it holds is unknown, so it is not replaced
        target.foreign.append(split_dir)
        return
    for child in children:
        if child.name.lower() in SYSTEM_FILES:
            continue
        if class_of(child.name) and child.is_dir():
            target.images = target.images or _holds_a_file(child)
        else:
            target.foreign.append(child)


def _holds_a_file(folder: Path) -> bool:
    try:
        for _, _, files in os.walk(folder, onerror=_raise):
            if files:
                return True
    except OSError:
        return True  # unreadable: assume it holds images, so it is asked about, not silently replaced
    return False


def _raise(error: OSError) -> None:
    raise error


def _count(entries: list[Path]) -> tuple[int, int]:
    files = folders = 0
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            folders += 1
            for _, dirs, names in os.walk(entry):
                files, folders = files + len(names), folders + len(dirs)
                if files >= COUNT_CAP:
                    return files, folders
        else:
            files += 1
    return files, folders


def _plural(n: int, word: str) -> str:
    if n == 0:
        return ""
    more = "+" if n >= COUNT_CAP else ""
    return f"{n:,}{more} {word}{'s' if n != 1 else ''}"


def _folders_first(entries: list[Path]) -> list[Path]:
    return sorted(entries, key=lambda p: (not p.is_dir(), p.as_posix().lower()))


def _shown(root: Path, entry: Path) -> str:
    try:
        return entry.relative_to(root).as_posix()
    except ValueError:
        return str(entry)
