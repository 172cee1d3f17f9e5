"""Reading a few evenly spaced frames from a video, whatever state the file is in.

OpenCV (with the FFmpeg inside opencv-python) decodes the video. A file that is
empty, damaged, not a video, or in a codec OpenCV lacks raises `UnreadableVideo`
with a plain reason, so a batch can report it and go on with the other videos.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepfake_coach.data.sources import DEFAULT_FRAMES
from deepfake_coach.errors import DataError, debug_enabled

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp"})
# Between two wanted frames further apart than this, jump (decoding from the nearest
# key frame) instead of decoding every frame in between: a long clip costs 32 jumps,
# not thousands of decoded frames.
SEEK_GAP = 48


if not debug_enabled():
    # FFmpeg's own level (AV_LOG_QUIET), read once, when the process first opens a video: set on import.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class UnreadableVideo(DataError):
    """A file that is not a video dfcoach can read; `reason` is a few plain words."""

    def __init__(self, reason: str, hint: str | None = None):
        super().__init__(f"This file is not a video dfcoach can read: {reason}.", hint=hint)
        self.reason = reason


@dataclass(frozen=True)
class Frame:
    index: int  # position in the video, counting from 0
    image: np.ndarray  # RGB, uint8, height x width x 3


def is_video(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def evenly_spaced(frame_count: int, wanted: int) -> list[int]:
    """`wanted` frame positions spread evenly over `frame_count`, each in the middle of its stretch
    (so the black frames of a fade at either end are avoided); every frame when there are fewer."""
    if frame_count <= wanted:
        return list(range(frame_count))
    return [int((i + 0.5) * frame_count / wanted) for i in range(wanted)]


def _quiet_opencv() -> None:
    """OpenCV and FFmpeg print their own warnings for broken files ("moov atom not found");
    dfcoach reports them in plain words instead. DFCOACH_DEBUG=1 keeps them."""
    import cv2

    if debug_enabled():
        return
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:  # builds without the logging module: the warnings just show
        pass


def _open(path: Path):
    import cv2

    path = Path(path)
    if not path.exists():
        raise UnreadableVideo("it does not exist", hint="Check the path for typos.")
    if not path.is_file():
        raise UnreadableVideo("it is a folder, not a file")
    if path.stat().st_size == 0:
        raise UnreadableVideo("the file is empty (0 bytes)", hint="The download or copy probably failed; get the video again.")
    _quiet_opencv()
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise UnreadableVideo(
            "it is damaged, not a video, or in a format OpenCV cannot decode",
            hint="Check that it plays in a video player; if it does, convert it to MP4 (H.264), for example: "
            f'ffmpeg -i "{path.name}" -c:v libx264 converted.mp4',
        )
    return capture


def count_frames(path: Path) -> int:
    """How many frames the video holds, as its header says (0 when it does not say)."""
    import cv2

    capture = _open(path)
    try:
        return max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def _count_by_decoding(path: Path) -> int:
    """For containers whose header does not say how many frames they hold."""
    capture = _open(path)
    try:
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()


def read_frames(path: Path, frames: int = DEFAULT_FRAMES) -> list[Frame]:
    """`frames` evenly spaced frames of the video at `path` (fewer if it is shorter, or ends early).

    Raises `UnreadableVideo` when not a single frame can be decoded."""
    import cv2

    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    capture = _open(path)
    try:
        total = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        if total == 0:
            capture.release()
            total = _count_by_decoding(path)
            capture = _open(path)
        if total == 0:
            raise UnreadableVideo("it holds no frames that can be decoded (damaged, or a codec OpenCV lacks)")
        taken: list[Frame] = []
        position = 0  # the frame the next read returns
        for index in evenly_spaced(total, frames):
            if index - position > SEEK_GAP and capture.set(cv2.CAP_PROP_POS_FRAMES, index):
                position = index
            while position < index and capture.grab():
                position += 1
            ok, bgr = capture.read() if position == index else (False, None)
            if not ok:
                break  # the video ends before its header said: keep what was read
            position += 1
            taken.append(Frame(index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    finally:
        capture.release()
    if not taken:
        raise UnreadableVideo("none of its frames could be decoded (damaged, or a codec OpenCV lacks)")
    return taken
