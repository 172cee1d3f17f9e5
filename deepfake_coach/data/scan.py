"""Look at every image once: can it be decoded, how big is it, and what is its
perceptual hash (for finding the same picture in two splits).

Pictures are decoded reduced to about 64 px (deepfake_coach.images: JPEG's
DCT scaling, Image.reduce for other formats): the whole compressed stream is
still read, so truncated and damaged files are caught, at a fraction of the
cost of a full decode. Results are cached in
`dataset/.dfcoach/scan-cache.json`, keyed by path, size and modification time,
so checking the same dataset again is nearly instant.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.images import os_error_problem
from deepfake_coach.io.progress import NO_PROGRESS, Progress

CACHE_VERSION = 2  # 2: the reasons of deepfake_coach.images, a `kind`, pictures up to its pixel limit
HASH_SIDE = 64  # pictures are decoded reduced to about this shorter side for the perceptual hash


@dataclass(frozen=True)
class ImageInfo:
    """What one file turned out to be. `problem` is None for a usable image."""

    format: str | None = None
    width: int = 0
    height: int = 0
    phash: int | None = None  # 64-bit DCT perceptual hash
    problem: str | None = None  # why it cannot be used, in a few plain words
    kind: str | None = None  # which kind of problem (deepfake_coach.images: "damaged", "too_large", ...)

    @property
    def ok(self) -> bool:
        return self.problem is None


def inspect_image(path: Path) -> ImageInfo:
    """Decode `path` (cheaply: reduced to about 64 px as it is decoded) and describe it; never raises
    for a bad file. The size is the one stored in the file."""
    import imagehash

    from deepfake_coach.images import UnreadablePicture, open_picture

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF data; what matters is reported instead
            with open_picture(path, HASH_SIDE) as picture:
                grey = picture.image.convert("L")
                header = picture.header
    except UnreadablePicture as error:
        return ImageInfo(problem=error.reason, kind=error.kind)
    return ImageInfo(format=header.format, width=header.width, height=header.height, phash=_hash_to_int(imagehash.phash(grey)))


def _hash_to_int(image_hash) -> int:
    value = 0
    for bit in image_hash.hash.flatten():
        value = (value << 1) | int(bit)
    return value


class ScanCache:
    """Results of earlier scans of one dataset, valid while a file's size and mtime are unchanged."""

    def __init__(self, path: Path | None):
        self.path = path
        self._entries: dict[str, list] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION and isinstance(data["entries"], dict):
                    self._entries = data["entries"]
            except (OSError, ValueError, KeyError, AttributeError):
                self._entries = {}  # a damaged cache is only a slower scan

    @staticmethod
    def _stamp(stat: os.stat_result) -> list[int]:
        return [stat.st_size, stat.st_mtime_ns]

    def get(self, key: str, stat: os.stat_result) -> ImageInfo | None:
        entry = self._entries.get(key)
        try:
            if entry is None or entry[0] != self._stamp(stat):
                return None
            info = ImageInfo(**entry[1])
        except (TypeError, KeyError, IndexError, ValueError):  # an entry of another shape: look at the file again
            return None
        kinds_fit = (all(isinstance(text, (str, type(None))) for text in (info.format, info.problem, info.kind))
                     and all(isinstance(n, int) and not isinstance(n, bool) for n in (info.width, info.height))
                     and isinstance(info.phash, (int, type(None))) and not isinstance(info.phash, bool))
        return info if kinds_fit else None

    def put(self, key: str, stat: os.stat_result, info: ImageInfo) -> None:
        self._entries[key] = [self._stamp(stat), asdict(info)]
        self._dirty = True

    def retain(self, keys: set[str]) -> None:
        """Forget files that are gone, so the cache does not grow forever."""
        stale = set(self._entries) - keys
        for key in stale:
            del self._entries[key]
        self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            atomic_write_text(self.path, json.dumps({"version": CACHE_VERSION, "entries": self._entries}))
        except OSError:
            pass  # read-only dataset: the cache is an optimisation, not a requirement
        self._dirty = False


def scan_images(
    paths: Iterable[Path],
    root: Path,
    cache: ScanCache | None = None,
    progress: Progress = NO_PROGRESS,
    description: str = "Looking at images",
) -> dict[Path, ImageInfo]:
    """Inspect each file (relative keys under `root` for the cache)."""
    paths = list(paths)
    results: dict[Path, ImageInfo] = {}
    with progress.task(description, total=len(paths), unit="files") as task:
        for path in paths:
            key = path.relative_to(root).as_posix()
            try:
                stat = path.stat()
            except OSError as error:
                problem = os_error_problem(error, None)
                results[path] = ImageInfo(problem=problem.reason, kind=problem.kind)
                task.advance()
                continue
            info = cache.get(key, stat) if cache else None
            if info is None:
                info = inspect_image(path)
                if cache:
                    cache.put(key, stat, info)
            results[path] = info
            task.advance()
    return results
