"""The `folder` source: the person's own pictures (or videos) in real/ and fake/, split into train/val/test."""

from __future__ import annotations

from pathlib import Path

from deepfake_coach.data.sources import DatasetRequest
from deepfake_coach.errors import UsageError
from deepfake_coach.io.progress import NO_PROGRESS, Progress


def get(request: DatasetRequest, output, progress: Progress = NO_PROGRESS):
    """An OrganizeResult for pictures; a VideoDatasetResult with `videos`, whose faces are cut out."""
    source = Path(request.source).expanduser()
    if request.videos:
        return _from_videos(request, source, progress)
    from deepfake_coach.data.organize import organize

    return organize(source, request.data_dir, request.split, request.seed, request.link, request.replace, progress)


def _from_videos(request: DatasetRequest, source: Path, progress: Progress):
    from deepfake_coach.data.sources.faceforensics import is_faceforensics
    from deepfake_coach.data.video_dataset import organize_videos

    if request.link:
        raise UsageError("--link does not go with --videos: the dataset holds face pictures cut from the videos, not the videos.",
                         hint="Leave out --link.")
    if source.is_dir() and is_faceforensics(source):
        raise UsageError(
            f"{source} is a FaceForensics++ download.",
            hint=f"Prepare it with: dfcoach data download faceforensics --source {source}  (it knows its real and fake folders and its splits)",
        )
    return organize_videos(source, request.data_dir, request.split, request.seed, request.frames, request.balance, request.replace, progress)
