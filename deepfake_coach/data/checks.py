"""Is this dataset fit to train on? The stats table, a verdict, and every problem
found, each with why it matters and how to fix it.

Problems are errors (training cannot work, or its results would be meaningless)
or warnings (training works, but worse than it could). A dataset with no errors
is fit to train.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from deepfake_coach.data.duplicates import find_same_pictures
from deepfake_coach.data.layout import (
    CLASSES,
    DERIVED_DIR,
    IMAGE_EXTENSIONS,
    SPLITS,
    VIDEOS_CSV,
    class_of,
    expected_tree,
    is_hidden,
    split_of,
    visible_files,
)
from deepfake_coach.data.origin import is_demo
from deepfake_coach.data.scan import ImageInfo, ScanCache, scan_images
from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.images import MAX_PIXELS, PERMISSION, TOO_LARGE, megapixels
from deepfake_coach.io.progress import NO_PROGRESS, Progress

MIN_PER_CLASS = 500  # the beginner's guide's minimum for real photos
MAX_IMBALANCE = 1.5
MIN_SIDE = 64  # pixels; smaller images hold too little detail for a face detector
DEMO_MANIFEST = "manifest.csv"
EXAMPLES_SHOWN = 5

Severity = Literal["error", "warning"]


@dataclass
class Problem:
    code: str
    severity: Severity
    title: str
    why: str
    fix: str
    files: list[str] = field(default_factory=list)


@dataclass
class DatasetReport:
    data_dir: Path
    counts: dict[str, dict[str, int]]
    problems: list[Problem]
    is_demo: bool = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def fit_to_train(self) -> bool:
        return not self.errors

    @property
    def total(self) -> int:
        return sum(sum(by_class.values()) for by_class in self.counts.values())

    @property
    def verdict(self) -> str:
        if self.errors:
            n = len(self.errors)
            return f"Not ready for training: {n} problem{'s' if n > 1 else ''} to fix first."
        if self.warnings:
            n = len(self.warnings)
            return f"Looks good for training, with {n} thing{'s' if n > 1 else ''} worth reading below."
        return "Looks good for training."

    def to_dict(self) -> dict:
        return {
            "data_dir": str(self.data_dir),
            "fit_to_train": self.fit_to_train,
            "verdict": self.verdict,
            "counts": self.counts,
            "total": self.total,
            "is_demo": self.is_demo,
            "problems": [asdict(p) for p in self.problems],
        }


def check_dataset(data_dir: Path, progress: Progress = NO_PROGRESS, save_report: bool = True) -> DatasetReport:
    """Look at everything under `data_dir` and judge it; never raises for a bad dataset."""
    data_dir = Path(data_dir)
    empty = {split: {label: 0 for label in CLASSES} for split in SPLITS}
    if not data_dir.exists():
        return DatasetReport(data_dir, empty, [_missing_dataset(data_dir)])
    if not data_dir.is_dir():
        return DatasetReport(data_dir, empty, [_not_a_folder(data_dir)])

    problems = _layout_problems(data_dir)
    class_files, stray = _collect(data_dir)
    cache = ScanCache(data_dir / DERIVED_DIR / "scan-cache.json")
    all_files = [path for files in class_files.values() for path in files]
    infos = scan_images(all_files, data_dir, cache, progress, description="Checking images")
    cache.retain({path.relative_to(data_dir).as_posix() for path in all_files})
    cache.save()

    usable = {key: [p for p in files if infos[p].ok and p.suffix.lower() in IMAGE_EXTENSIONS] for key, files in class_files.items()}
    counts = {split: {label: len(usable.get((split, label), [])) for label in CLASSES} for split in SPLITS}
    demo = is_demo(data_dir)

    problems += _stray_problems(data_dir, stray)
    problems += _file_problems(data_dir, class_files, infos)
    problems += _count_problems(data_dir, counts, problems, demo)
    problems += _duplicate_problems(data_dir, usable, infos)
    report = DatasetReport(data_dir, counts, problems, demo)
    if save_report:
        _save(report)
    return report


# --- the layout ------------------------------------------------------------------------------


def _missing_dataset(data_dir: Path) -> Problem:
    return Problem(
        "missing_dataset",
        "error",
        f"There is no dataset folder at {data_dir}.",
        "Training reads images from this folder, laid out like this:\n" + expected_tree(data_dir),
        "Get a dataset first: `dfcoach data download tiny_demo` (offline, seconds), or "
        "`dfcoach data organize YOUR_FOLDER` for your own real/ and fake/ images. "
        "If your dataset is elsewhere, pass --data-dir PATH.",
    )


def _not_a_folder(data_dir: Path) -> Problem:
    return Problem(
        "not_a_folder",
        "error",
        f"{data_dir} is a file, not a folder.",
        "A dataset is a folder of images sorted into train/val/test and real/fake.",
        "Pass the folder with --data-dir, or unzip the file first and run `dfcoach data organize` on what it holds.",
    )


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _layout_problems(data_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    missing: list[str] = []
    renames: list[str] = []
    for split in SPLITS:
        split_dir = data_dir / split
        if not split_dir.is_dir():
            missing.append(f"{split}/")
            alias = next((c for c in _children(data_dir) if c.is_dir() and split_of(c.name) == split), None)
            if alias is not None:
                renames.append(f"mv {alias} {split_dir}")
            continue
        for label in CLASSES:
            if not (split_dir / label).is_dir():
                missing.append(f"{split}/{label}/")
                alias = next((c for c in _children(split_dir) if c.is_dir() and class_of(c.name) == label), None)
                if alias is not None:
                    renames.append(f"mv {alias} {split_dir / label}")
    if missing:
        fix = (
            "Rename the folders: " + "; ".join(renames)
            if renames
            else "Create the missing folders and put images in them, or rebuild the dataset with "
            "`dfcoach data organize YOUR_FOLDER --force`."
        )
        problems.append(
            Problem(
                "missing_folders",
                "error",
                f"{len(missing)} folder{'s are' if len(missing) > 1 else ' is'} missing: {', '.join(missing)}",
                "Training needs every split (train to learn, val to tune, test to judge) with both classes:\n"
                + expected_tree(data_dir),
                fix,
            )
        )
    return problems


def _collect(data_dir: Path) -> tuple[dict[tuple[str, str], list[Path]], list[Path]]:
    """Files in each split/class folder (any depth), and files or folders that training will ignore."""
    class_files: dict[tuple[str, str], list[Path]] = {}
    stray: list[Path] = []
    for entry in _children(data_dir):
        if _not_data(entry):
            continue
        if entry.is_dir() and entry.name in SPLITS:
            for class_dir in _children(entry):
                if _not_data(class_dir):
                    continue
                if class_dir.is_dir() and class_dir.name in CLASSES:
                    class_files[(entry.name, class_dir.name)] = visible_files(class_dir)
                elif not (class_dir.is_dir() and class_of(class_dir.name)):  # "Real/" is reported with its rename
                    stray.append(class_dir)
        elif not (entry.is_dir() and split_of(entry.name)):
            stray.append(entry)
    return class_files, stray


def _not_data(entry: Path) -> bool:
    """Our own files and the ones people and systems leave beside the images."""
    return is_hidden(entry.name) or entry.name in (DEMO_MANIFEST, VIDEOS_CSV) or entry.name.lower().startswith("readme")


def _stray_problems(data_dir: Path, stray: list[Path]) -> list[Problem]:
    if not stray:
        return []
    return [
        Problem(
            "ignored_entries",
            "warning",
            f"{len(stray)} file{'s' if len(stray) > 1 else ''} or folder{'s' if len(stray) > 1 else ''} outside the real/ and fake/ folders will be ignored.",
            "Training only reads images inside SPLIT/real/ and SPLIT/fake/.",
            "Move images into the right real/ or fake/ folder, or delete what does not belong.",
            [_rel(data_dir, p) for p in stray],
        )
    ]


# --- the files -------------------------------------------------------------------------------


FILE_PROBLEM_CODES = ("unreadable_files", "permission_denied", "too_large", "wrong_extension", "too_small")  # in the report's order


def _file_problems(data_dir: Path, class_files: dict[tuple[str, str], list[Path]], infos: dict[Path, ImageInfo]) -> list[Problem]:
    """A warning for each problem some files have (unreadable, not ours to read, too large, misnamed, too small)."""
    found = _files_by_problem(data_dir, class_files, infos)
    return [_file_problem(code, found[code], data_dir) for code in FILE_PROBLEM_CODES if found[code]]


def _files_by_problem(data_dir: Path, class_files: dict[tuple[str, str], list[Path]], infos: dict[Path, ImageInfo]) -> dict[str, list[str]]:
    """For each code of FILE_PROBLEM_CODES, its files as the report lists them (the path and what is wrong)."""
    found: dict[str, list[str]] = {code: [] for code in FILE_PROBLEM_CODES}
    for files in class_files.values():
        for path in files:
            info = infos[path]
            if not info.ok:
                code = {PERMISSION: "permission_denied", TOO_LARGE: "too_large"}.get(info.kind, "unreadable_files")
                found[code].append(f"{_rel(data_dir, path)}: {info.problem}")
            elif path.suffix.lower() not in IMAGE_EXTENSIONS:
                found["wrong_extension"].append(f"{_rel(data_dir, path)} ({info.format} image)")
            elif min(info.width, info.height) < MIN_SIDE:
                found["too_small"].append(f"{_rel(data_dir, path)} ({info.width}x{info.height})")
    return found


def _file_problem(code: str, files: list[str], data_dir: Path) -> Problem:
    """The warning for `files`, which all have the problem `code`: what it is, why it matters, the fix."""
    n, many = len(files), len(files) > 1
    if code == "unreadable_files":
        title = f"{n} file{'s' if many else ''} cannot be read as images."
        why = ("dfcoach skips them when training, but they usually mean a download or copy went wrong, "
               "and the images you think you have are fewer.")
        fix = "Delete these files, or download them again."
    elif code == "permission_denied":
        title = f"{n} file{'s' if many else ''} cannot be read: permission denied."
        why = "The files are there, but their permissions do not let dfcoach (your user) read them, so training skips them."
        fix = (f"Let your user read them: chmod -R u+rX {data_dir}; if they belong to another user "
               f"(copied as root, say): sudo chown -R $USER {data_dir}")
    elif code == "too_large":
        title = f"{n} picture{'s are' if many else ' is'} too large for dfcoach (over {megapixels(MAX_PIXELS)} megapixels)."
        why = ("dfcoach never decodes pictures that large (a few hundred bytes can claim billions of "
               "pixels), so training skips them.")
        fix = ("Resize them to a few thousand pixels on a side (any photo editor can), or remove them: "
               "training uses a few hundred pixels of each picture anyway.")
    elif code == "wrong_extension":
        title = f"{n} image{'s have' if many else ' has'} a name that does not end like an image."
        why = "Training looks for .jpg, .jpeg, .png, .bmp, .webp and .tif files, so these are ignored."
        fix = "Rename them with the right ending (for example photo.jpg), or let `dfcoach data organize` do it for you."
    else:  # too_small
        title = f"{n} image{'s are' if many else ' is'} smaller than {MIN_SIDE} pixels on a side."
        why = ("The traces fakes leave are in fine detail; a tiny image has none left, and enlarging it for "
               "training only adds blur.")
        fix = "Remove them, or replace them with larger versions (128 px or more)."
    return Problem(code, "warning", title, why, fix, files)


def _count_problems(data_dir: Path, counts: dict[str, dict[str, int]], found: list[Problem], is_demo: bool) -> list[Problem]:
    problems = []
    missing_codes = {p.code for p in found}
    empty = [
        f"{split}/{label}/"
        for split in SPLITS
        for label in CLASSES
        if counts[split][label] == 0 and (data_dir / split / label).is_dir()
    ]
    if empty:
        problems.append(
            Problem(
                "empty_class",
                "error",
                f"{len(empty)} folder{'s have' if len(empty) > 1 else ' has'} no usable images: {', '.join(empty)}",
                "A model cannot learn a class it never sees, and a split without both classes cannot measure anything.",
                "Add images to these folders, or rebuild the dataset from your images with "
                "`dfcoach data organize YOUR_FOLDER --force`, which fills every split.",
            )
        )
    unbalanced = []
    for split in SPLITS:
        real, fake = counts[split]["real"], counts[split]["fake"]
        if min(real, fake) > 0 and max(real, fake) / min(real, fake) > MAX_IMBALANCE:
            unbalanced.append(f"{split}: {real:,} real vs {fake:,} fake ({max(real, fake) / min(real, fake):.1f} : 1)")
    if unbalanced:
        problems.append(
            Problem(
                "imbalance",
                "warning",
                f"The classes are unbalanced (more than {MAX_IMBALANCE} : 1) in {len(unbalanced)} split{'s' if len(unbalanced) > 1 else ''}.",
                "A model that always guesses the bigger class already scores high accuracy on unbalanced data, "
                "so accuracy flatters it; it also learns to lean towards that class.",
                "Add images of the smaller class, or leave out some of the bigger one, until they are within "
                f"{MAX_IMBALANCE} : 1. `dfcoach evaluate` also reports ROC AUC, which imbalance does not flatter.",
                unbalanced,
            )
        )
    few = [f"{label}: {counts['train'][label]:,}" for label in CLASSES if 0 < counts["train"][label] < MIN_PER_CLASS]
    if few and not is_demo and "missing_folders" not in missing_codes:
        problems.append(
            Problem(
                "too_few",
                "warning",
                f"Fewer than {MIN_PER_CLASS} training images per class ({', '.join(few)}).",
                "With few examples a model memorises them instead of learning what makes a face fake, "
                "and its accuracy on new images stays low.",
                f"Aim for at least {MIN_PER_CLASS} per class (thousands are better): the Kaggle 140k dataset "
                "has plenty (`dfcoach data list`).",
            )
        )
    return problems


def _duplicate_problems(data_dir: Path, usable: dict[tuple[str, str], list[Path]], infos: dict[Path, ImageInfo]) -> list[Problem]:
    entries = [(split, label, path) for (split, label), files in sorted(usable.items()) for path in files]
    pairs = find_same_pictures([path for _, _, path in entries], [infos[path].phash for _, _, path in entries])
    leaks: list[str] = []
    conflicts: list[str] = []
    for i, j in pairs:
        (split_a, label_a, a), (split_b, label_b, b) = entries[i], entries[j]
        line = f"{_rel(data_dir, a)} = {_rel(data_dir, b)}"
        if label_a != label_b:  # first, whatever the splits: no rebuild can fix a picture that carries both labels
            conflicts.append(line)
        elif split_a != split_b:
            leaks.append(line)
    problems = []
    if leaks:
        splits = Counter(f"{entries[i][0]}/{entries[j][0]}" for i, j in pairs
                         if entries[i][0] != entries[j][0] and entries[i][1] == entries[j][1])
        problems.append(
            Problem(
                "leakage",
                "error",
                f"{len(leaks)} image{'s appear' if len(leaks) > 1 else ' appears'} in more than one split "
                f"({', '.join(f'{k}: {v}' for k, v in sorted(splits.items()))}).",
                "This is leakage: the model is tested on pictures it trained on, so its test accuracy is a lie "
                "that will not hold on new images.",
                "Delete one copy of each pair below (keep it in train), or rebuild the dataset with "
                "`dfcoach data organize YOUR_FOLDER --force`, which keeps copies of a picture in one split.",
                leaks,
            )
        )
    if conflicts:
        problems.append(
            Problem(
                "conflicting_labels",
                "warning",
                f"{len(conflicts)} picture{'s are' if len(conflicts) > 1 else ' is'} in both real/ and fake/: keep "
                f"{'each' if len(conflicts) > 1 else 'it'} in one.",
                "The same picture cannot be both; the model is taught two opposite answers for it.",
                "Find out which folder each belongs in and delete the other copy (in your own folder too, if you "
                "organize again: rebuilding keeps both).",
                conflicts,
            )
        )
    return problems


# --- helpers ---------------------------------------------------------------------------------


def _rel(data_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)


def _save(report: DatasetReport) -> None:
    try:
        atomic_write_text(report.data_dir / DERIVED_DIR / "report.json", json.dumps(report.to_dict(), indent=2))
    except OSError:
        pass  # a read-only dataset can still be checked
