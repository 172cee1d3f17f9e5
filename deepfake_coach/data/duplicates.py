"""Finding the same picture twice, even re-encoded or resized.

Two stages. A perceptual hash finds candidates fast: measured on real face
photos (FFHQ and StyleGAN faces, 256 px), re-encoded copies of one photo are
0-2 bits apart, while different faces, even aligned ones, are 6 or more apart,
so 4 bits separates the two. But among tens of thousands of aligned faces a
few different ones fall within 4 bits by chance, so each candidate pair is then
confirmed by comparing small greyscale thumbnails: copies differ by under 1
grey level on average, different faces by 20 or more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

NEAR_DUPLICATE_BITS = 4
SAME_PICTURE_GREY_LEVELS = 6.0  # mean absolute difference of 32x32 greyscale thumbnails, out of 255
_CHUNK = 2048  # rows per block: 2048 x 20,000 distances is ~40 MB of uint8


def near_duplicate_pairs(hashes: Sequence[int], max_distance: int = NEAR_DUPLICATE_BITS) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose 64-bit hashes differ in at most `max_distance` bits."""
    values = np.asarray(hashes, dtype=np.uint64)
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(values), _CHUNK):
        block = values[start : start + _CHUNK]
        distances = np.bitwise_count(block[:, None] ^ values[None, start:])
        rows, cols = np.nonzero(distances <= max_distance)
        for row, col in zip(rows.tolist(), cols.tolist()):
            i, j = start + row, start + col
            if i < j:
                pairs.append((i, j))
    return pairs


def confirm_same_picture(paths: Sequence[Path], pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The candidate pairs whose pictures really are the same (see the module's note)."""
    thumbnails: dict[int, np.ndarray | None] = {}

    def thumbnail(index: int) -> np.ndarray | None:
        if index not in thumbnails:
            thumbnails[index] = _thumbnail(paths[index])
        return thumbnails[index]

    confirmed = []
    for i, j in pairs:
        a, b = thumbnail(i), thumbnail(j)
        if a is not None and b is not None and float(np.abs(a - b).mean()) <= SAME_PICTURE_GREY_LEVELS:
            confirmed.append((i, j))
    return confirmed


def find_same_pictures(paths: Sequence[Path], hashes: Sequence[int]) -> list[tuple[int, int]]:
    """Pairs (i < j) of files that hold the same picture: hash candidates, confirmed by thumbnails."""
    return confirm_same_picture(paths, near_duplicate_pairs(hashes))


def _thumbnail(path: Path) -> np.ndarray | None:
    from PIL import Image

    from deepfake_coach.images import UnreadablePicture, open_picture

    try:
        with open_picture(path, 64, draft_mode="L") as picture:
            return np.asarray(picture.image.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float32)
    except UnreadablePicture:
        return None


def group_duplicates(count: int, pairs: list[tuple[int, int]]) -> list[int]:
    """A group id for each of `count` items, equal for items linked by `pairs` (union-find)."""
    parent = list(range(count))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for i, j in pairs:
        parent[root(i)] = root(j)
    return [root(item) for item in range(count)]
