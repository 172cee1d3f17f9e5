"""Real MP4 files for the video tests, written with OpenCV, and a FaceForensics++-shaped tree."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cv2
import numpy as np

from deepfake_coach.data.sources import tiny_demo

# Demo-generator seeds whose 128 px face OpenCV's Haar cascade finds in every frame of a
# video written by `write_face_video` (checked once over seeds 0-119; most other seeds'
# drawn faces are too stylised for it). Each seed is a different person.
FACE_SEEDS = (5, 8, 9, 20, 24, 26, 27, 28, 29, 30, 32, 34, 38, 39, 40, 41, 46, 48, 51, 52, 54, 57, 60, 61, 62, 63, 69, 70)
SIZE = 128


@functools.lru_cache(maxsize=None)
def demo_face(seed: int, size: int = SIZE) -> np.ndarray:
    return tiny_demo.render_face(np.random.default_rng(seed), image_size=size)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """An MP4 (mp4v) of RGB frames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MP4 here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_face_video(path: Path, seed: int, frames: int = 4) -> Path:
    """A few frames of one demo person, moving a pixel a frame (so the frames differ)."""
    face = demo_face(seed)
    return write_video(path, [np.roll(face, i, axis=1) for i in range(frames)])


def no_face_frame(size: int = SIZE, shade: int = 0) -> np.ndarray:
    """A sky-and-grass picture: colour and edges, no face."""
    frame = np.zeros((size, size, 3), np.uint8)
    frame[: size // 2] = (110, 160, 230 - shade)
    frame[size // 2 :] = (60, 140 + shade // 2, 50)
    return frame


def write_no_face_video(path: Path, frames: int = 4) -> Path:
    return write_video(path, [no_face_frame(shade=4 * i) for i in range(frames)])


def write_counting_video(path: Path, frames: int) -> Path:
    """Frame i is a flat grey of brightness i (frames < 256): what was read shows which frame it was."""
    return write_video(path, [np.full((48, 64, 3), i, np.uint8) for i in range(frames)])


def make_faceforensics_tree(root: Path, pairs: list[tuple[str, str]], methods=("Deepfakes", "Face2Face"),
                            compression: str = "c23", frames: int = 4) -> Path:
    """FaceForensics++ as its download script leaves it: a real video per id, and per method a fake
    each way round per pair (target_source), each with a face of its own."""
    seeds = iter(FACE_SEEDS)
    for a, b in pairs:
        for video_id in (a, b):
            write_face_video(root / "original_sequences/youtube" / compression / "videos" / f"{video_id}.mp4", next(seeds), frames)
    for method in methods:
        for a, b in pairs:
            for target, source in ((a, b), (b, a)):
                folder = root / "manipulated_sequences" / method / compression / "videos"
                write_face_video(folder / f"{target}_{source}.mp4", next(seeds), frames)
    return root


def write_splits(folder: Path, splits: dict[str, list[tuple[str, str]]]) -> Path:
    """The official splits' format: train.json, val.json, test.json, each a list of id pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        (folder / f"{split}.json").write_text(json.dumps([list(pair) for pair in pairs]))
    return folder
