"""Kaggle's "140k Real and Fake Faces" (xhlulu/140k-real-and-fake-faces) into dataset/{train,val,test}/{real,fake}.

The zip holds `real_vs_fake/real-vs-fake/{train,valid,test}/{real,fake}/*.jpg`
(100k/20k/20k images, 256x256) and train.csv, valid.csv, test.csv. The guide trains
on a sample (7,000 / 2,000 / 1,000 per class), so the sampled members are read
straight from the zip and only they are written: 140,000 files are never
extracted to use 20,000. An already extracted folder works the same way.

Member names are never used as paths: only those matching the layout are read,
and each is written under a name dfcoach builds (split/class/basename). A zip
with entries pointing outside (`../`, absolute paths, links) is refused whole.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import shlex
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from deepfake_coach.data.layout import CLASSES, IMAGE_EXTENSIONS, SPLITS, class_of, split_of
from deepfake_coach.data.origin import KAGGLE_COLUMNS
from deepfake_coach.errors import DataError, Interrupted, UsageError, from_os_error
from deepfake_coach.data.replace import building_dataset, look_at_target
from deepfake_coach.io.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from deepfake_coach.kaggle.env import KaggleEnv

DATASET_REF = "xhlulu/140k-real-and-fake-faces"
DATASET_URL = f"https://www.kaggle.com/datasets/{DATASET_REF}"
DEFAULT_PER_CLASS = {"train": 7000, "val": 2000, "test": 1000}  # the beginner's guide's sample
MANIFEST = "manifest.csv"
EXPECTED_TREE = """\
real_vs_fake/real-vs-fake/
├── train/   real/ and fake/   (50,000 + 50,000 images)
├── valid/   real/ and fake/   (10,000 + 10,000)
└── test/    real/ and fake/   (10,000 + 10,000)
train.csv  valid.csv  test.csv"""

# .../<split>/<class>/<file>: the split and class folders decide the label, as in torchvision's ImageFolder.
_MEMBER = re.compile(r"^(?P<root>(?:[^/]+/)*?)(?P<split>[^/]+)/(?P<label>[^/]+)/(?P<name>[^/]+)$")
_UNSAFE_SHOWN = 3


class NotThe140k(DataError):
    """The zip or folder given is not (a complete, readable copy of) the 140k dataset. Nothing was
    written: another path, or another route for these images, may work."""


@dataclass
class Prepared:
    """What `prepare_dataset` wrote."""

    source: Path
    data_dir: Path
    counts: dict[str, dict[str, int]]  # split -> class -> images written
    available: dict[str, dict[str, int]]  # split -> class -> images the source holds
    seed: int
    short: list[str] = field(default_factory=list)  # "val/real: 400 of 2,000 asked" where the source had fewer
    label_warnings: list[str] = field(default_factory=list)  # CSV rows disagreeing with their folder

    @property
    def total(self) -> int:
        return sum(sum(by_class.values()) for by_class in self.counts.values())


# --- reading the source: a zip or a folder ---------------------------------------------------


class _ZipSource:
    def __init__(self, path: Path):
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            if path.suffix.lower() != ".zip":
                raise NotThe140k(
                    f"{path} is neither a zip file nor a folder.",
                    hint=f"Give the zip downloaded from {DATASET_URL} (often ~/Downloads/archive.zip), or the folder you unzipped it into.",
                ) from None
            raise NotThe140k(
                f"{path} is not a complete zip file: it is probably a download that did not finish, or is damaged.",
                hint=f"If dfcoach downloaded it, run `dfcoach data download kaggle_140k` again (it resumes). "
                f"If your browser did, download it again from {DATASET_URL}: the whole zip is about 4 GB.",
            ) from None
        except OSError as error:
            raise from_os_error(error, f"open {path}") from None
        self._info = {info.filename: info for info in self._zip.infolist() if not info.is_dir()}
        _refuse_unsafe(path, self._zip.infolist())

    def names(self) -> list[str]:
        return list(self._info)

    def size(self, name: str) -> int:
        return self._info[name].file_size

    def order(self, name: str) -> int:
        return self._info[name].header_offset  # reading in archive order keeps the disk reading forward

    def copy(self, name: str, target: Path) -> None:
        with self._zip.open(self._info[name]) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)

    def read_text(self, name: str) -> str:
        return self._zip.read(self._info[name]).decode("utf-8-sig")

    def close(self) -> None:
        self._zip.close()


class _FolderSource:
    def __init__(self, path: Path, exclude: Path | None = None):
        self.path = path
        self._files: dict[str, int] = {}
        skip = exclude.resolve() if exclude is not None else None
        for folder, dirs, files in os.walk(path):  # links to folders are not followed
            if skip is not None:  # a dataset inside the source folder is not part of the source
                dirs[:] = [name for name in dirs if (Path(folder) / name).resolve() != skip]
            relative = Path(folder).relative_to(path)
            for name in files:
                full = Path(folder) / name
                info = full.lstat()
                if stat.S_ISREG(info.st_mode):  # links are skipped: they may point anywhere
                    self._files[(relative / name).as_posix()] = info.st_size

    def names(self) -> list[str]:
        return list(self._files)

    def size(self, name: str) -> int:
        return self._files[name]

    def order(self, name: str) -> str:
        return name

    def copy(self, name: str, target: Path) -> None:
        shutil.copyfile(self.path / name, target)

    def read_text(self, name: str) -> str:
        return (self.path / name).read_text(encoding="utf-8-sig")

    def close(self) -> None:
        pass


def _open_source(path: Path, exclude: Path | None = None):
    path = Path(path).expanduser()
    if path.is_dir():
        return _FolderSource(path, exclude)
    if not path.exists():
        raise UsageError(f"There is nothing at {path}.", hint="Give the zip you downloaded (often ~/Downloads/archive.zip) or the folder you unzipped it into.")
    return _ZipSource(path)


def _refuse_unsafe(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """A zip whose entries could land outside the dataset (or are links) is not opened at all."""
    unsafe = []
    for info in infos:
        name = info.filename.replace("\\", "/")
        is_link = stat.S_ISLNK(info.external_attr >> 16)
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in name.split("/") or is_link:
            unsafe.append(info.filename)
    if unsafe:
        shown = ", ".join(repr(name) for name in unsafe[:_UNSAFE_SHOWN]) + (f" and {len(unsafe) - _UNSAFE_SHOWN} more" if len(unsafe) > _UNSAFE_SHOWN else "")
        raise NotThe140k(
            f"{path} has {len(unsafe)} entries that point outside its own folder or are links ({shown}); "
            "dfcoach will not unpack it, as such entries can overwrite files elsewhere on your computer.",
            hint=f"Use the zip from {DATASET_URL}, downloaded again.",
        )


# --- recognising the layout -------------------------------------------------------------------


@dataclass
class _Layout:
    root: str  # the prefix before {split}/{class}/, "" at the top
    members: dict[tuple[str, str], list[str]]  # (dfcoach split, class) -> member names
    csvs: list[str]


def find_layout(names: list[str], source: Path) -> _Layout:
    """Where the {train,valid,test}/{real,fake} folders are in the source (the prefix holding most images)."""
    by_root: dict[str, dict[tuple[str, str], list[str]]] = {}
    for name in names:
        match = _MEMBER.match(name)
        if not match or Path(match["name"]).suffix.lower() not in IMAGE_EXTENSIONS or match["name"].startswith("."):
            continue
        split, label = split_of(match["split"]), class_of(match["label"])
        if split and label:
            by_root.setdefault(match["root"], {}).setdefault((split, label), []).append(name)
    if not by_root:
        raise _other_layout(names, source)
    root = max(by_root, key=lambda r: sum(len(m) for m in by_root[r].values()))
    members = by_root[root]
    missing = [f"{split}/{label}" for split in SPLITS for label in CLASSES if not members.get((split, label))]
    if missing:
        raise NotThe140k(
            f"{source} has the right folders but no images in: {', '.join(missing)}. The 140k dataset has images in all six.\n"
            f"Expected:\n{EXPECTED_TREE}",
            hint=f"It may be an incomplete copy: download the zip again from {DATASET_URL}.",
        )
    csvs = [name for name in names if name.lower().endswith(".csv")]
    return _Layout(root, {key: sorted(value) for key, value in members.items()}, csvs)


def _other_layout(names: list[str], source: Path) -> NotThe140k:
    tops = sorted({name.split("/")[0] + ("/" if "/" in name else "") for name in names})
    found = ", ".join(tops[:8]) + (" ..." if len(tops) > 8 else "") if tops else "nothing"
    own = (f"run: dfcoach data organize {shlex.quote(str(source))}" if Path(source).is_dir()
           else "unzip them and run: dfcoach data organize FOLDER")
    return NotThe140k(
        f"{source} is not the 140k Real and Fake Faces dataset: it has no train/valid/test folders with real/ and fake/ "
        f"inside. At its top it has: {found}.\nExpected:\n{EXPECTED_TREE}",
        hint=f"Download the zip from {DATASET_URL}. If these are your own images in real/ and fake/ folders, {own}",
    )


def check_csv_labels(handle, layout: _Layout) -> list[str]:
    """Rows of train.csv/valid.csv/test.csv whose label disagrees with the folder the image is in.

    The folders decide the label (as in training); a disagreement means a repacked or
    edited archive, worth a warning.
    """
    folder_label = {}
    for (split, label), members in layout.members.items():
        for name in members:
            folder_label[name[len(layout.root):]] = label  # the CSVs' `path`: train/real/00001.jpg
    problems = []
    for csv_name in layout.csvs:
        try:
            rows = csv.DictReader(io.StringIO(handle.read_text(csv_name)))
            for row in rows:
                path, label = (row.get("path") or "").strip(), (row.get("label_str") or "").strip().lower()
                if path in folder_label and label and label != folder_label[path]:
                    problems.append(f"{csv_name}: {path} is labelled {label} but sits in a {folder_label[path]}/ folder")
        except (OSError, UnicodeDecodeError, csv.Error, zipfile.BadZipFile, zlib.error):
            problems.append(f"{csv_name} could not be read")
    return problems


# --- sampling and writing ---------------------------------------------------------------------


def parse_counts(train: int, val: int, test: int) -> dict[str, int]:
    counts = {"train": train, "val": val, "test": test}
    for split, n in counts.items():
        if n < 1:
            raise UsageError(f"--{split}-per-class must be at least 1 (got {n}).", hint="The guide's sample is 7000 / 2000 / 1000.")
    return counts


def sample_members(layout: _Layout, per_class: Mapping[str, int], seed: int) -> dict[tuple[str, str], list[str]]:
    """The same seed gives the same images, whatever order the source lists them in."""
    chosen = {}
    for split in SPLITS:
        for label in CLASSES:
            members = layout.members[(split, label)]
            rng = random.Random(f"{seed}/{split}/{label}")
            chosen[(split, label)] = sorted(rng.sample(members, min(per_class[split], len(members))))
    return chosen


def prepare_dataset(
    source: Path,
    data_dir: Path,
    per_class: Mapping[str, int] | None = None,
    seed: int = 0,
    replace: bool = False,
    progress: Progress = NO_PROGRESS,
) -> Prepared:
    """Write a sample of the 140k dataset (a zip, or the folder it was unzipped into) to `data_dir`.

    `per_class` maps split -> images of each class (default 7,000 / 2,000 / 1,000).
    The dataset appears atomically: on any failure `data_dir` is as it was.
    """
    per_class = dict(per_class or DEFAULT_PER_CLASS)
    data_dir = Path(data_dir)
    look_at_target(data_dir, source=Path(source).expanduser()).allow(replace)  # the dataset folder as its own source: refused
    handle = _open_source(source, exclude=data_dir)
    try:
        layout = find_layout(handle.names(), handle.path)
        chosen = sample_members(layout, per_class, seed)
        needed = sum(handle.size(name) for names in chosen.values() for name in names)
        _check_space(data_dir, needed)
        result = Prepared(
            source=handle.path,
            data_dir=data_dir,
            counts={split: {label: len(chosen[(split, label)]) for label in CLASSES} for split in SPLITS},
            available={split: {label: len(layout.members[(split, label)]) for label in CLASSES} for split in SPLITS},
            seed=seed,
        )
        result.short = [
            f"{split}/{label}: {result.available[split][label]:,} of {per_class[split]:,} asked"
            for split in SPLITS
            for label in CLASSES
            if result.available[split][label] < per_class[split]
        ]
        result.label_warnings = check_csv_labels(handle, layout)
        _write(handle, chosen, data_dir, replace, progress)
        return result
    finally:
        handle.close()


def _write(handle, chosen: dict[tuple[str, str], list[str]], data_dir: Path, replace: bool, progress: Progress) -> None:
    jobs = sorted(((name, split, label) for (split, label), names in chosen.items() for name in names), key=lambda job: handle.order(job[0]))
    try:
        with building_dataset(data_dir, replace, progress) as staging:
            for split in SPLITS:
                for label in CLASSES:
                    (staging / split / label).mkdir(parents=True)
            rows = []
            with progress.task("Copying the sampled images", total=len(jobs), unit="images") as task:
                for name, split, label in jobs:
                    file_name = name.rsplit("/", 1)[1]
                    handle.copy(name, staging / split / label / file_name)
                    rows.append((f"{split}/{label}/{file_name}", label, split, name))
                    task.advance()
            _write_manifest(staging / MANIFEST, sorted(rows))
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by you. {data_dir} is as it was before.", hint="Run the same command again when you are ready.") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise DataError(
            f"{handle.path} is damaged: an image inside could not be read ({error}). Nothing was written to {data_dir}.",
            hint=f"Download the zip again from {DATASET_URL} (a download that stopped early or a full disk can cause this).",
        ) from None
    except OSError as error:
        raise from_os_error(error, f"write the dataset to {data_dir}") from None


def _write_manifest(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(KAGGLE_COLUMNS)  # data.origin recognises the dataset by it
        writer.writerows(rows)


def _check_space(data_dir: Path, needed: int) -> None:
    folder = data_dir.resolve()
    while not folder.exists():
        folder = folder.parent
    margin = needed // 20 + 10 * 2**20  # file-system overhead per small file, and the manifest
    free = _free_bytes(folder)
    if needed + margin > free:
        raise DataError(
            f"The sample needs about {(needed + margin) / 10**6:,.0f} MB and {folder} has {free / 10**6:,.0f} MB free.",
            hint="Free some space, choose another --data-dir, or take fewer images (--train-per-class 2000, for example).",
        )


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def download_archive(
    download_dir: Path,
    found=None,
    progress: Progress = NO_PROGRESS,
    env: KaggleEnv | None = None,
):
    """The dataset's zip in `download_dir`, downloaded with Kaggle's API (a complete zip already
    there is reused, a partial one resumed). Returns a `kaggle.download.Downloaded`."""
    from deepfake_coach.kaggle.api import no_credentials_error
    from deepfake_coach.kaggle.credentials import find_credentials, read_auth
    from deepfake_coach.kaggle.download import Downloaded, download_dataset_zip, zip_path

    target = zip_path(download_dir, DATASET_REF)
    if target.is_file() and zipfile.is_zipfile(target):  # downloaded before: no credentials, no network needed
        return Downloaded(target, target.stat().st_size, reused=True)
    found = found or find_credentials(env)
    if found is None:
        raise no_credentials_error()
    return download_dataset_zip(DATASET_REF, download_dir, found, read_auth(found, env), progress)


def obtain_archive(download_dir: Path, output, progress: Progress = NO_PROGRESS) -> Path:
    """The dataset's zip, downloaded with the credentials installed here (or found from an earlier
    download), saying what happened; a token other users can read is pointed out, not used silently."""
    from deepfake_coach.kaggle.credentials import find_credentials

    found = find_credentials()
    if found is not None and found.too_open:
        output.warn(f"{found.path} can be read by other users of this computer. Make it private with: dfcoach kaggle setup --fix-permissions")
    downloaded = download_archive(download_dir, found=found, progress=progress)
    size = f"{downloaded.size / 10**9:.1f} GB"
    if downloaded.reused:
        output.info(f"Using {downloaded.path} ({size}), downloaded before.")
    else:
        resumed = f", continued from {downloaded.resumed_from / 10**6:,.0f} MB" if downloaded.resumed_from else ""
        output.success(f"Downloaded {downloaded.path} ({size}{resumed}).")
    return downloaded.path


def get(request, output, progress: Progress = NO_PROGRESS) -> Prepared:
    """The 140k sample, as the `kaggle_140k` source of a DatasetRequest: from `archive`, else downloaded."""
    archive = request.archive if request.archive is not None else obtain_archive(request.download_dir, output, progress)
    return prepare_dataset(Path(archive).expanduser(), request.data_dir, request.per_class, request.seed, request.replace, progress)
