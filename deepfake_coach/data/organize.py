"""Turn a person's folder of real and fake images into the training layout.

The source has `real/` and `fake/` folders (any nesting below them, any
capitalisation), or is already split into train/valid|val|validation/test. The
dataset is built in a staging folder and renamed into place when complete, so
Ctrl-C or a full disk never leaves half a dataset behind.

Splits are stratified (each class split on its own) and reproducible (sorted
paths, a seeded shuffle). Copies of one picture, found by perceptual hash, are
kept together in one split so the test set never holds a picture seen in training.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import zipfile
from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from deepfake_coach.data.duplicates import find_same_pictures, group_duplicates
from deepfake_coach.data.layout import (
    CLASSES,
    DERIVED_DIR,
    FORMAT_EXTENSIONS,
    IMAGE_EXTENSIONS,
    SPLITS,
    class_of,
    fit_name,
    is_hidden,
    split_of,
    visible_files,
)
from deepfake_coach.data.replace import building_dataset, look_at_target
from deepfake_coach.data.scan import ImageInfo, ScanCache, scan_images
from deepfake_coach.data.sources import DEFAULT_SPLIT
from deepfake_coach.errors import DataError, Interrupted, UsageError, from_os_error
from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.io.progress import NO_PROGRESS, Progress

SEARCH_DEPTH = 3  # how deep to look for real/ and fake/ (unzipped archives add a level or two)
SOURCE_TREE = """SRC/
├── real/   your real face images (subfolders are fine)
└── fake/   your fake face images"""

Key = tuple[str | None, str]  # (split in the source, or None when it is not split yet; class)


@dataclass
class SourceLayout:
    root: Path
    presplit: bool
    folders: dict[Key, list[Path]]  # the source folders of each (split, class); several when names repeat in other cases


@dataclass
class OrganizeResult:
    source_root: Path
    presplit: bool
    counts: dict[str, dict[str, int]]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    shortened: list[tuple[str, str]] = field(default_factory=list)  # (file, its name in the dataset): too long a name otherwise
    renamed: int = 0  # images whose name did not end like an image
    linked: int = 0
    copied: int = 0
    carved: list[str] = field(default_factory=list)  # splits the source lacked, taken from its train split
    both_labels: list[tuple[str, str]] = field(default_factory=list)  # (real file, fake file): one picture, both labels

    @property
    def total(self) -> int:
        return sum(sum(by_class.values()) for by_class in self.counts.values())


def parse_split(text: str) -> tuple[float, float, float]:
    """"70/20/10" (or "0.7/0.2/0.1", or with commas) -> fractions that sum to 1."""
    parts = [part.strip().rstrip("%") for part in text.replace(",", "/").split("/")]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 3 or any(v <= 0 for v in values):
        raise UsageError(
            f"--split {text!r} should be three positive shares for train/val/test.",
            hint="For example --split 70/20/10 (the default) or --split 80/10/10.",
        )
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


# --- finding the images ----------------------------------------------------------------------


def find_source(src: Path, exclude: Path | None = None) -> SourceLayout:
    """Where the real/ and fake/ folders are in `src`, looking a few levels down."""
    src = Path(src)
    if not src.exists():
        raise DataError(f"{src} does not exist.", hint="Check the path for typos. It should be a folder with real/ and fake/ inside:\n" + SOURCE_TREE)
    if src.is_file():
        if zipfile.is_zipfile(src):
            raise DataError(f"{src} is a zip file.", hint=f"Unzip it first (unzip {src} -d my_images), then run: dfcoach data organize my_images")
        raise DataError(f"{src} is a file, not a folder.", hint="Pass the folder that holds real/ and fake/:\n" + SOURCE_TREE)
    if not visible_files(src):
        raise DataError(f"{src} is empty: there are no images in it.", hint="Put your images in real/ and fake/ folders inside it:\n" + SOURCE_TREE)

    queue = deque([(src, 0)])
    while queue:
        folder, depth = queue.popleft()
        layout = _layout_at(folder)
        if layout is not None:
            return layout
        if depth < SEARCH_DEPTH:
            for child in _subfolders(folder):
                if exclude is None or child.resolve() != exclude.resolve():
                    queue.append((child, depth + 1))
    raise DataError(
        f"Found no real/ or fake/ folder in {src}.",
        hint="dfcoach needs to know which images are real and which are fake. Arrange them like this:\n" + SOURCE_TREE,
    )


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(child for child in folder.iterdir() if child.is_dir() and not is_hidden(child.name))
    except OSError:
        return []


def _class_folders(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for child in _subfolders(folder):
        label = class_of(child.name)
        if label:
            found.setdefault(label, []).append(child)
    return found


def _layout_at(folder: Path) -> SourceLayout | None:
    splits = {}
    for child in _subfolders(folder):
        split = split_of(child.name)
        if split and _class_folders(child):
            splits.setdefault(split, []).append(child)
    if splits:
        folders: dict[Key, list[Path]] = {}
        for split, split_dirs in splits.items():
            for split_dir in split_dirs:
                for label, class_dirs in _class_folders(split_dir).items():
                    folders.setdefault((split, label), []).extend(class_dirs)
        _require_both_classes(folder, {label for _, label in folders})
        return SourceLayout(folder, True, folders)
    classes = _class_folders(folder)
    if classes:
        _require_both_classes(folder, set(classes))
        return SourceLayout(folder, False, {(None, label): dirs for label, dirs in classes.items()})
    return None


def _require_both_classes(folder: Path, labels: set[str]) -> None:
    missing = [label for label in CLASSES if label not in labels]
    if missing:
        have = ", ".join(f"{label}/" for label in CLASSES if label in labels)
        raise DataError(
            f"{folder} has {have} but no {missing[0]}/ folder.",
            hint=f"A detector learns the difference between real and fake, so it needs examples of both. Add a {missing[0]}/ folder with {missing[0]} face images:\n"
            + SOURCE_TREE,
        )


# --- planning ----------------------------------------------------------------------------------


@dataclass
class _Item:
    path: Path
    label: str
    info: ImageInfo
    name: str  # file name in the dataset
    renamed: bool
    split: str | None = None
    shortened: bool = False  # the name its folders gave it was too long for a file name


def _usable_items(layout: SourceLayout, folder_files: dict[Path, list[Path]], infos: dict[Path, ImageInfo],
                  skipped: list[tuple[str, str]]) -> dict[Key, list[_Item]]:
    items: dict[Key, list[_Item]] = {}
    for key, folders in sorted(layout.folders.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        for folder in folders:
            for path in folder_files[folder]:
                info = infos[path]
                shown = path.relative_to(layout.root).as_posix()
                if not info.ok:
                    skipped.append((shown, info.problem))
                    continue
                extension = FORMAT_EXTENSIONS.get(info.format)
                if extension is None:
                    skipped.append((shown, f"a {info.format} image; dfcoach trains on JPEG, PNG, BMP, WebP and TIFF"))
                    continue
                relative = path.relative_to(folder)
                keep_suffix = path.suffix.lower() in IMAGE_EXTENSIONS
                # Nested folders become part of the name, so photos from different folders never clash.
                stem, suffix = "__".join(relative.with_suffix("").parts), path.suffix if keep_suffix else extension
                name = fit_name(stem, suffix)
                items.setdefault(key, []).append(_Item(path, key[1], info, name, renamed=not keep_suffix, shortened=name != stem + suffix))
    return items


def split_counts(n: int, fractions: tuple[float, ...]) -> list[int]:
    """How many of n go to each split: rounded shares, each split getting at least one when there are enough."""
    total = sum(fractions)
    counts = [round(n * f / total) for f in fractions]
    counts[0] = n - sum(counts[1:])
    if n >= len(counts):
        for i, count in enumerate(counts):
            if count == 0:
                counts[counts.index(max(counts))] -= 1
                counts[i] = 1
    return counts


def _assign(items: list[_Item], splits: list[str], fractions: tuple[float, ...], seed: int, label: str) -> None:
    """Shuffle groups of copies (seeded), then fill the splits in order up to their shares."""
    items.sort(key=lambda item: item.path.as_posix())
    pairs = find_same_pictures([item.path for item in items], [item.info.phash for item in items])
    groups = group_duplicates(len(items), pairs)
    members: dict[int, list[_Item]] = {}
    for item, group in zip(items, groups):
        members.setdefault(group, []).append(item)
    order = list(members.values())
    random.Random(f"{seed}-{label}").shuffle(order)
    bounds = list(accumulate(split_counts(len(items), fractions)))
    placed = 0
    for group in order:
        index = next(i for i, bound in enumerate(bounds) if placed < bound)
        for item in group:
            item.split = splits[index]
        placed += len(group)


def _plan(layout: SourceLayout, items: dict[Key, list[_Item]], fractions, seed: int) -> tuple[list[_Item], list[str]]:
    carved: list[str] = []
    if not layout.presplit:
        for (_, label), class_items in items.items():
            _assign(class_items, list(SPLITS), fractions, seed, label)
    else:
        present = {split for split, _ in layout.folders}
        missing = [split for split in SPLITS if split not in present]
        if "train" not in present:
            raise DataError(
                f"{layout.root} is split already, but has no train/ folder.",
                hint="Rename the folder that holds the training images to train/, or merge the splits into one real/ and one fake/ folder and organize that.",
            )
        for (split, label), class_items in items.items():
            if split == "train" and missing:
                share = dict(zip(SPLITS, fractions))
                _assign(class_items, ["train", *missing], tuple(share[s] for s in ["train", *missing]), seed, label)
            else:
                for item in class_items:
                    item.split = split
        carved = missing
    planned = [item for class_items in items.values() for item in class_items]
    too_few = [label for label in CLASSES if sum(item.label == label for item in planned) < 3 and not layout.presplit]
    if too_few:
        raise DataError(
            f"Too few {too_few[0]} images to split: at least 3 are needed, one for each of train, val and test.",
            hint="Add more images; a detector needs hundreds per class to learn anything (500+ is a good start).",
        )
    return planned, carved


def _require_both_labels(layout: SourceLayout, items: dict[Key, list[_Item]], folder_files: dict[Path, list[Path]],
                         skipped: list[tuple[str, str]]) -> None:
    """Each class needs a usable picture; when one has none, say what its folders hold instead (the
    skipped files are not listed anywhere yet: this stops before the summary)."""
    why = dict(skipped)
    for label in CLASSES:
        if any(key[1] == label and found for key, found in items.items()):
            continue
        folders = [folder for (_, of), found in layout.folders.items() if of == label for folder in found]
        shown = ", ".join(f"{folder.relative_to(layout.root).as_posix() or folder.name}/" for folder in folders[:3])
        files = [path.relative_to(layout.root).as_posix() for folder in folders for path in folder_files[folder]]
        if not files:
            raise DataError(f"There are no {label} images in {layout.root}: {shown} holds no files.",
                            hint=f"Put pictures of {label} faces (JPEG or PNG) in {shown}, then run the same command again.")
        listed = "; ".join(f"{file} ({why.get(file, 'not used')})" for file in files[:3]) + (f"; and {len(files) - 3:,} more" if len(files) > 3 else "")
        raise DataError(f"There are no usable {label} images in {layout.root}: {shown} holds {len(files):,} "
                        f"file{'s' if len(files) != 1 else ''}, and none is a picture dfcoach can train on: {listed}.",
                        hint=f"Add readable JPEG or PNG pictures of {label} faces to {shown}.")


def _keep_both_labels_together(planned: list[_Item], root: Path) -> list[tuple[str, str]]:
    """One picture in real/ and in fake/: its copies go to one split (else `data check` calls it leakage,
    and rebuilding makes the same split again), and each such pair (real file, fake file) is returned,
    for the person to decide which label is right."""
    ordered = sorted(planned, key=lambda item: item.path.as_posix())
    pairs = find_same_pictures([item.path for item in ordered], [item.info.phash for item in ordered])
    crossing = [(i, j) for i, j in pairs if ordered[i].label != ordered[j].label]
    if not crossing:
        return []
    groups = group_duplicates(len(ordered), pairs)
    mixed = {groups[i] for i, _ in crossing}
    split_of_group: dict[int, str | None] = {}
    for item, group in zip(ordered, groups):
        if group in mixed:
            item.split = split_of_group.setdefault(group, item.split)
    named = []
    for i, j in crossing:
        real, fake = (ordered[i], ordered[j]) if ordered[i].label == "real" else (ordered[j], ordered[i])
        named.append((_shown(real, root), _shown(fake, root)))
    return named


def _unique_names(planned: list[_Item]) -> None:
    taken: dict[tuple[str, str], set[str]] = {}
    for item in planned:
        used = taken.setdefault((item.split, item.label), set())
        stem, suffix = os.path.splitext(item.name)
        candidate, n = item.name, 2
        while candidate.lower() in used:
            candidate, n = f"{stem}_{n}{suffix}", n + 1
        used.add(candidate.lower())
        item.name = candidate


# --- writing -----------------------------------------------------------------------------------


def organize(
    src: Path,
    data_dir: Path,
    split: tuple[float, float, float] = DEFAULT_SPLIT,
    seed: int = 0,
    link: bool = False,
    replace: bool = False,
    progress: Progress = NO_PROGRESS,
) -> OrganizeResult:
    """Build `data_dir` from the images in `src`. `replace` allows replacing an existing dataset."""
    src, data_dir = Path(src), Path(data_dir)
    look_at_target(data_dir, source=src).allow(replace)
    layout = find_source(src, exclude=data_dir)
    folder_files = {folder: visible_files(folder) for folders in layout.folders.values() for folder in folders}
    files = [path for paths in folder_files.values() for path in paths]
    infos = scan_images(files, layout.root, progress=progress, description="Checking your images")
    skipped: list[tuple[str, str]] = []
    items = _usable_items(layout, folder_files, infos, skipped)
    _require_both_labels(layout, items, folder_files, skipped)
    planned, carved = _plan(layout, items, split, seed)
    both_labels = [] if layout.presplit else _keep_both_labels_together(planned, layout.root)  # a split given is kept
    _unique_names(planned)
    _require_space(planned, data_dir, link)

    result = OrganizeResult(layout.root, layout.presplit, {s: {c: 0 for c in CLASSES} for s in SPLITS}, skipped, carved=carved)
    result.shortened = [(_shown(item, layout.root), f"{item.split}/{item.label}/{item.name}") for item in planned if item.shortened]
    result.both_labels = both_labels
    try:
        with building_dataset(data_dir, replace, progress) as staging:
            _write(planned, staging, data_dir, link, result, progress)
            _write_record(staging, src, split, seed, link, result)
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by you before organizing finished. {data_dir} is as it was before.", hint="Run the same command again when you are ready.") from None
    except FileExistsError:
        raise DataError(f"{data_dir} appeared while organizing.", hint="Run the command again with --force to replace it.") from None
    except OSError as error:
        raise from_os_error(error, f"write the dataset to {data_dir}") from None
    return result


def _require_space(planned: list[_Item], data_dir: Path, link: bool) -> None:
    if link:
        return
    needed = sum(item.path.stat().st_size for item in planned)
    parent = data_dir.resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if needed > free:
        raise DataError(
            f"Not enough free disk space: copying the images needs {needed / 1e9:.1f} GB, and {free / 1e9:.1f} GB is free.",
            hint="Free some space, or pass --link to link the images instead of copying them.",
        )


def _write(planned: list[_Item], staging: Path, data_dir: Path, link: bool, result: OrganizeResult, progress: Progress) -> None:
    for split in SPLITS:
        for label in CLASSES:
            (staging / split / label).mkdir(parents=True)
    cache = ScanCache(staging / DERIVED_DIR / "scan-cache.json")  # so `data check` need not look again
    with progress.task(f"Writing {data_dir}/", total=len(planned), unit="images") as task:
        for item in planned:
            target = staging / item.split / item.label / item.name
            try:
                if link:
                    _link(item.path, target)
                else:
                    shutil.copy2(item.path, target)
            except OSError as error:
                if error.errno != errno.ENAMETOOLONG:
                    raise
                # one file must not fail the whole dataset; the others are organized, this one is listed
                result.skipped.append((_shown(item, result.source_root), "its path in the dataset would be longer than your file "
                                       "system allows; choose a --data-dir with a shorter path, or shorten its folder names"))
                task.advance()
                continue
            if link:
                result.linked += 1
            else:
                result.copied += 1
            result.renamed += item.renamed
            result.counts[item.split][item.label] += 1
            cache.put(target.relative_to(staging).as_posix(), target.stat(), item.info)
            task.advance()
    cache.save()


def _shown(item: _Item, root: Path) -> str:
    return item.path.relative_to(root).as_posix()


def _link(source: Path, target: Path) -> None:
    """A hard link where the file system allows it (no extra space, survives moving the source), else a symlink."""
    try:
        os.link(source, target)
    except OSError:
        os.symlink(source.resolve(), target)


def _write_record(staging: Path, src: Path, split, seed: int, link: bool, result: OrganizeResult) -> None:
    record = {
        "source": str(src.resolve()),
        "split": list(split),
        "seed": seed,
        "link": link,
        "counts": result.counts,
        "skipped": [{"file": f, "why": why} for f, why in result.skipped],
        "shortened": [{"file": f, "name": name} for f, name in result.shortened],
    }
    atomic_write_text(staging / DERIVED_DIR / "organize.json", json.dumps(record, indent=2))
