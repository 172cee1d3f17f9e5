"""`dfcoach predict`: a verdict for each picture a person points at, folders searched recursively.

Unreadable files are listed with the reason, never fatal. Videos are separated from pictures in one
place (`collect_inputs`) and judged in one place (`judge_videos`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from deepfake_coach.data.layout import IMAGE_EXTENSIONS, is_hidden, visible_files
from deepfake_coach.data.sources import DEFAULT_FRAMES
from deepfake_coach.data.video import is_video
from deepfake_coach.errors import DataError, UsageError
from deepfake_coach.inference import DEFAULT_THRESHOLD, FROM_DEFAULT
from deepfake_coach.io.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from deepfake_coach.inference import Detector, Verdict
    from deepfake_coach.video_verdicts import VideoVerdict

JUDGE_CHUNK = 256  # pictures judged between two progress updates


def check_threshold(threshold: float | None) -> float | None:
    """A --threshold given on the command line, checked; None (not given) means the model's own."""
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(
            f"--threshold {threshold} is outside 0 to 1.",
            hint="The threshold is a probability: a picture is called fake from that fake probability on. "
                 "Leave it out to use the model's own threshold (chosen on its validation images).",
        )
    return threshold


def judge_pictures(detector: "Detector", paths: list[Path], threshold: float | None = None, progress: Progress = NO_PROGRESS
                   ) -> tuple[list[tuple[Path, "Verdict"]], list[tuple[Path, str]]]:
    """`Detector.judge_files`, a chunk at a time so the person sees it advance (threshold None: the model's)."""
    verdicts: list[tuple[Path, "Verdict"]] = []
    unreadable: list[tuple[Path, str]] = []
    with progress.task("Judging pictures", total=len(paths), unit="pictures") as task:
        for start in range(0, len(paths), JUDGE_CHUNK):
            chunk = paths[start:start + JUDGE_CHUNK]
            judged, bad = detector.judge_files(chunk, threshold)
            verdicts += judged
            unreadable += bad
            task.advance(len(chunk))
    return verdicts, unreadable


@dataclass
class Predictions:
    verdicts: list[tuple[Path, "Verdict"]] = field(default_factory=list)  # pictures
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    videos: list["VideoVerdict"] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD  # the one the verdicts used
    threshold_source: str = FROM_DEFAULT  # where it comes from (inference.FROM_*)
    outside: dict[Path, str] = field(default_factory=dict)  # files plainly unlike what the model learned from, and why

    @property
    def judged_any(self) -> bool:
        return bool(self.verdicts or self.videos)

    def to_dict(self, detector: "Detector") -> dict:
        return {
            "model": detector.describe(),
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "results": [{"file": str(path), "warning": self.outside.get(path), "verdict": v.label,
                         "fake_probability": round(v.fake_probability, 6), "confidence": round(v.confidence, 6)} for path, v in self.verdicts],
            "videos": [{"warning": self.outside.get(video.path)} | video.to_dict() for video in self.videos],
            "unreadable": [{"file": str(path), "reason": reason} for path, reason in self.unreadable],
        }


def collect_inputs(paths: Iterable[Path]) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """(images, videos, skipped with the reason). Folders are searched at any depth, hidden files left out;
    a file named on the command line is tried whatever its ending (the reader says if it is no picture)."""
    images: list[Path] = []
    videos: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in map(Path, paths):
        if path.is_dir():
            for file in visible_files(path):
                ending = file.suffix.lower()
                if is_video(file):
                    videos.append(file)
                elif ending in IMAGE_EXTENSIONS:
                    images.append(file)
                elif not is_hidden(file.name):
                    skipped.append((file, "not a picture (dfcoach reads JPEG, PNG, WebP, BMP and TIFF)"))
        elif path.is_file():
            (videos if is_video(path) else images).append(path)
        else:
            skipped.append((path, "does not exist"))
    return images, videos, skipped


def judge_videos(detector: "Detector", videos: list[Path], threshold: float | None, frames: int = DEFAULT_FRAMES,
                 progress: Progress = NO_PROGRESS) -> tuple[list["VideoVerdict"], list[tuple[Path, str]]]:
    """(verdicts, unreadable) for video files: each judged on the faces of `frames` evenly spaced frames."""
    from deepfake_coach.data.video import UnreadableVideo
    from deepfake_coach.video_verdicts import judge_video

    verdicts, unreadable = [], []
    if not videos:
        return verdicts, unreadable
    with progress.task("Judging videos", total=len(videos), unit="videos") as task:
        for video in videos:
            try:
                verdicts.append(judge_video(detector, video, frames=frames, threshold=threshold))
            except UnreadableVideo as error:
                unreadable.append((video, error.reason))
            task.advance()
    return verdicts, unreadable


def predict(detector: "Detector", paths: Iterable[Path], threshold: float | None = None, progress: Progress = NO_PROGRESS,
            frames: int = DEFAULT_FRAMES) -> Predictions:
    """Verdicts on `paths`; `threshold` None means the model's own (the one training chose)."""
    check_threshold(threshold)
    threshold, source = detector.threshold_in_use(threshold)
    paths = list(paths)
    images, videos, skipped = collect_inputs(paths)
    if not images and not videos:
        named = ", ".join(str(p) for p in paths)
        if skipped and all(reason == "does not exist" for _, reason in skipped):
            raise DataError(f"Nothing to judge: {named} does not exist.", hint="Check the path for typos.")
        raise DataError(f"Nothing to judge: no pictures or videos in {named}.",
                        hint="Point at image files (JPEG, PNG, WebP, BMP), videos (MP4, AVI, MOV, ...) or a folder that holds some.")
    verdicts, unreadable = judge_pictures(detector, images, threshold, progress)
    video_verdicts, bad_videos = judge_videos(detector, videos, threshold, frames, progress)
    outside = {path: warning for path in [p for p, _ in verdicts] + [v.path for v in video_verdicts]
               if (warning := detector.outside_training(None if is_video(path) else _picture_size(path)))}
    return Predictions(verdicts, skipped + unreadable + bad_videos, video_verdicts, threshold, source, outside)


def _picture_size(path: Path) -> tuple[int, int] | None:
    from deepfake_coach.images import UnreadablePicture, read_header

    try:
        header = read_header(path)  # nothing decoded
    except UnreadablePicture:
        return None
    return header.width, header.height
