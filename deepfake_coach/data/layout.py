"""The dataset layout training reads: `dataset/{train,val,test}/{real,fake}/*.jpg`.

Also the names people's own folders use for the same things ("Real", "valid",
"validation"), so organize can recognise them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SPLITS = ("train", "val", "test")
CLASSES = ("real", "fake")
DEFAULT_DATA_DIR = Path("dataset")
DERIVED_DIR = ".dfcoach"  # dataset/.dfcoach: caches and reports, safe to delete
VIDEOS_CSV = "videos.csv"  # in a dataset made from videos: file,video_id,frame for every face picture

# What Pillow decodes and torchvision's ImageFolder reads by extension.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# Pillow's format name -> the extension a file of that format should carry. Formats
# not listed here (GIF, ICO, ...) are not trained on.
FORMAT_EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}
# Files operating systems drop into folders; never images, never worth reporting.
SYSTEM_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})

NAME_LIMIT = 240  # bytes in a file name: file systems allow 255; the rest is room for "_2" and the like

SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test", "testing": "test"}
CLASS_NAMES = {"real": "real", "fake": "fake"}


def split_of(name: str) -> str | None:
    return SPLIT_NAMES.get(name.lower())


def class_of(name: str) -> str | None:
    return CLASS_NAMES.get(name.lower())


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def fit_name(stem: str, suffix: str = "", limit: int = NAME_LIMIT) -> str:
    """`stem + suffix`, or where that is too long for a file name, a shorter one: 8 characters that
    tell it apart from others shortened alike, then the end of the stem (the file's own name)."""
    name = stem + suffix
    if len(os.fsencode(name)) <= limit:
        return name
    digest = hashlib.sha1(os.fsencode(name)).hexdigest()[:8]
    room = max(limit - len(os.fsencode(suffix)) - len(digest) - 2, 1)
    tail = os.fsencode(stem)[-room:]
    while tail and tail[0] & 0xC0 == 0x80:  # never start in the middle of a character
        tail = tail[1:]
    return f"{digest}__{os.fsdecode(tail).lstrip('_')}{suffix}"


def visible_files(folder: Path) -> list[Path]:
    """Every file below `folder` at any depth, except hidden ones and those in hidden folders."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(is_hidden(part) for part in path.relative_to(folder).parts)
    )


def expected_tree(data_dir: Path) -> str:
    """The folder tree training expects, drawn for a message."""
    lines = [f"{data_dir}/"]
    for i, split in enumerate(SPLITS):
        last_split = i == len(SPLITS) - 1
        lines.append(f"{'└──' if last_split else '├──'} {split}/")
        for j, label in enumerate(CLASSES):
            branch = "    " if last_split else "│   "
            lines.append(f"{branch}{'└──' if j == len(CLASSES) - 1 else '├──'} {label}/   (images of {label} faces)")
    return "\n".join(lines)
