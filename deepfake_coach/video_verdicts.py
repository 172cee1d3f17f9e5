"""A verdict on a whole video: its faces judged frame by frame, then averaged.

Frames are sampled and faces cropped exactly as the dataset builder does
(`data/video.py`, `data/faces.py`), so a model judges the kind of picture it
learned from. The video's fake probability is the mean over the frames where a
face was found; when no frame shows a face, the whole frames are judged instead,
and the result says so, since a face detector trained on faces is then guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deepfake_coach.data.sources import DEFAULT_FRAMES
from deepfake_coach.inference import Verdict


@dataclass(frozen=True)
class FrameVerdict:
    index: int  # the frame's position in the video, from 0
    fake_probability: float
    face_found: bool


@dataclass
class VideoVerdict:
    path: Path
    threshold: float
    frames_wanted: int
    frames_read: int
    faces_found: int
    frames: list[FrameVerdict] = field(default_factory=list)  # the frames judged: those with a face, else all

    @property
    def whole_frames(self) -> bool:
        """True when no face was found and the whole frames were judged instead."""
        return self.faces_found == 0

    @property
    def verdict(self) -> Verdict:
        return Verdict(sum(f.fake_probability for f in self.frames) / len(self.frames), self.threshold)

    @property
    def fake_probability(self) -> float:
        return self.verdict.fake_probability

    @property
    def label(self) -> str:
        return self.verdict.label

    @property
    def confidence(self) -> float:
        return self.verdict.confidence

    def summary(self) -> str:
        """What the verdict rests on, in words: "mean of 30 faces in 32 frames"."""
        if self.whole_frames:
            return f"no face found in {self.frames_read} frames: whole frames judged, which is less reliable"
        return f"mean of {self.faces_found} face{'s' if self.faces_found != 1 else ''} in {self.frames_read} frames"

    def to_dict(self) -> dict:
        return {
            "file": str(self.path),
            "kind": "video",
            "label": self.label,
            "fake_probability": round(self.fake_probability, 6),
            "confidence": round(self.confidence, 6),
            "threshold": self.threshold,
            "frames_wanted": self.frames_wanted,
            "frames_read": self.frames_read,
            "faces_found": self.faces_found,
            "whole_frames": self.whole_frames,
            "frames": [
                {"index": f.index, "fake_probability": round(f.fake_probability, 6), "face_found": f.face_found}
                for f in self.frames
            ],
        }


def judge_video(detector, path: Path, frames: int = DEFAULT_FRAMES, threshold: float | None = None) -> VideoVerdict:
    """Judge `frames` evenly spaced frames of the video at `path` with `detector` (an inference.Detector),
    calling it fake from `threshold` on (None: the model's own).

    Raises `data.video.UnreadableVideo` (with a plain `.reason`) when the file cannot be read,
    so a batch of videos can report it and go on."""
    from PIL import Image

    from deepfake_coach.data.faces import FACE_SIZE, crop_face, find_largest_face
    from deepfake_coach.data.video import read_frames

    threshold, _ = detector.threshold_in_use(threshold)
    taken = read_frames(Path(path), frames)
    boxes = [find_largest_face(frame.image) for frame in taken]
    with_face = [(frame, box) for frame, box in zip(taken, boxes) if box is not None]
    if with_face:
        pictures = [crop_face(frame.image, box, size=FACE_SIZE) for frame, box in with_face]
        judged = [frame for frame, _ in with_face]
    else:
        pictures = [Image.fromarray(frame.image) for frame in taken]
        judged = taken
    verdicts = detector.judge_images(pictures, threshold=threshold)
    return VideoVerdict(
        path=Path(path),
        threshold=threshold,
        frames_wanted=frames,
        frames_read=len(taken),
        faces_found=len(with_face),
        frames=[FrameVerdict(frame.index, v.fake_probability, bool(with_face)) for frame, v in zip(judged, verdicts)],
    )
