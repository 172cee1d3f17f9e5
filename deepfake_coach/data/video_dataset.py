"""Videos into a face dataset: a few frames of each video, the face cut out of each.

Used by `dfcoach data organize SRC --videos` (a folder of videos in real/ and fake/)
and `dfcoach data download faceforensics --source DIR` (the FaceForensics++ tree).

No leakage: all frames of one video go to one split, and so do all videos of one
identity (a group: the videos of one subfolder, or in FaceForensics++ the two
people of a swap and every video made from them). Otherwise the test set shows
the model faces, backgrounds and lighting it trained on, and its accuracy lies.

Balanced: FaceForensics++ has four fakes per real video; taking the same number of
frames from each video would give four fake faces per real one. The class with
more videos gives fewer frames per video instead, so both classes get about as
many pictures (and every video still contributes).

Output: `<split>/<class>/<video-id>_<frame>.jpg` (256x256 JPEG face crops) and
`videos.csv` (`file,video_id,frame`), which `dfcoach evaluate` reads to judge
whole videos; the dataset is built in a staging folder and appears only when complete.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from deepfake_coach.data.faces import crop_face, find_largest_face
from deepfake_coach.data.layout import CLASSES, DERIVED_DIR, IMAGE_EXTENSIONS, NAME_LIMIT, SPLITS, VIDEOS_CSV, fit_name, visible_files
from deepfake_coach.data.organize import split_counts, find_source
from deepfake_coach.data.sources import DEFAULT_FRAMES, DEFAULT_SPLIT
from deepfake_coach.data.replace import building_dataset, look_at_target
from deepfake_coach.data.video import VIDEO_EXTENSIONS, UnreadableVideo, count_frames, is_video, read_frames
from deepfake_coach.errors import DataError, Interrupted, from_os_error
from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.io.progress import NO_PROGRESS, Progress

JPEG_QUALITY = 95


@dataclass
class SourceVideo:
    path: Path
    label: str  # "real" or "fake"
    video_id: str  # unique in the dataset; names its frames
    group: str  # videos of one group (one identity) always share a split
    split: str | None = None  # decided by the source (its own split folders, or the official splits)


@dataclass
class VideoOutcome:
    file: str  # as shown to the person: relative to the source
    video_id: str
    label: str
    split: str
    frames_read: int = 0
    faces_found: int = 0
    problem: str | None = None  # why nothing came from it


@dataclass
class VideoDatasetResult:
    source_root: Path
    split_by: str  # how the splits were decided, in words
    frames_per_video: dict[str, int]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # face pictures per split and class
    videos: list[VideoOutcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): files that were not used at all
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(sum(by_class.values()) for by_class in self.counts.values())

    @property
    def used(self) -> list[VideoOutcome]:
        return [v for v in self.videos if v.faces_found > 0]


# --- planning ----------------------------------------------------------------------------------


def drop_unreadable(videos: list[SourceVideo], root: Path, progress: Progress = NO_PROGRESS
                    ) -> tuple[list[SourceVideo], list[tuple[str, str]]]:
    """(the videos OpenCV can open, the others with the reason), before any split is decided:
    a broken file must not take the place of a good video in val or test."""
    readable: list[SourceVideo] = []
    unreadable: list[tuple[str, str]] = []
    with progress.task("Opening the videos", total=len(videos), unit="videos") as task:
        for video in videos:
            try:
                count_frames(video.path)
                readable.append(video)
            except UnreadableVideo as error:
                unreadable.append((_shown(video.path, root), error.reason))
            task.advance()
    return readable, unreadable


def frames_per_video(videos: list[SourceVideo], frames: int, balance: bool = True) -> dict[str, int]:
    """Frames to take from each video of each class: `frames` for the class with fewer videos,
    proportionally fewer (at least 1) for the other, so both classes end up with about as many faces."""
    per_class = {label: sum(v.label == label for v in videos) for label in CLASSES}
    if not balance or min(per_class.values()) == 0:
        return {label: frames for label in CLASSES}
    fewest = min(per_class.values())
    return {label: max(1, round(frames * fewest / count)) for label, count in per_class.items()}


def assign_splits(videos: list[SourceVideo], fractions: tuple[float, ...] = DEFAULT_SPLIT, seed: int = 0,
                  splits: tuple[str, ...] = SPLITS) -> None:
    """Give every video without a split one of `splits`, whole groups at a time: groups of the same
    kind (real only, fake only, both) are shuffled (seeded) and shared out by `fractions` of their count."""
    groups: dict[str, list[SourceVideo]] = {}
    for video in videos:
        if video.split is None:
            groups.setdefault(video.group, []).append(video)
    kinds: dict[tuple[str, ...], list[str]] = {}
    for name, members in sorted(groups.items()):
        kinds.setdefault(tuple(sorted({v.label for v in members})), []).append(name)
    for kind, names in sorted(kinds.items()):
        random.Random(f"{seed}-{'+'.join(kind)}").shuffle(names)
        bounds = list(accumulate(split_counts(len(names), fractions)))
        for position, name in enumerate(names):
            split = splits[next(i for i, bound in enumerate(bounds) if position < bound)]
            for video in groups[name]:
                video.split = split


def require_every_split(videos: list[SourceVideo]) -> None:
    """Each split needs videos of both classes, or it can neither train nor measure anything."""
    for label in CLASSES:
        count = sum(v.label == label for v in videos)
        if count == 0:
            raise DataError(
                f"There are no {label} videos.",
                hint=f"A detector learns the difference between real and fake, so it needs {label} videos too.",
            )
        if count < len(SPLITS):
            raise DataError(
                f"Too few {label} videos to split: {count}, and at least {len(SPLITS)} are needed, one for each of train, val and test.",
                hint="Add more videos; every video gives many face pictures, but a detector needs many different people (100+ videos per class is a good start).",
            )
    empty = [f"{split}/{label}" for split in SPLITS for label in CLASSES if not any(v.split == split and v.label == label for v in videos)]
    if empty:
        raise DataError(
            f"No videos would go to {', '.join(empty)}: there are too few groups (people) to share out.",
            hint="Videos in one subfolder count as one person and stay together; put clips of different people in different subfolders, or add videos.",
        )


# --- extracting --------------------------------------------------------------------------------


def _encode_jpeg(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _extract(video: SourceVideo, wanted: int, folder: Path, shown: str, task) -> tuple[VideoOutcome, list[tuple[str, int]]]:
    """Face crops of `wanted` evenly spaced frames of one video, written into `folder`; never raises for a bad video."""
    outcome = VideoOutcome(shown, video.video_id, video.label, video.split or "")
    written: list[tuple[str, int]] = []
    try:
        frames = read_frames(video.path, wanted)
    except UnreadableVideo as error:
        outcome.problem = error.reason
        task.advance(wanted)
        return outcome, written
    outcome.frames_read = len(frames)
    for frame in frames:
        box = find_largest_face(frame.image)
        if box is not None:
            name = f"{video.video_id}_{frame.index:04d}.jpg"
            (folder / name).write_bytes(_encode_jpeg(crop_face(frame.image, box)))
            written.append((name, frame.index))
            outcome.faces_found += 1
        task.advance()
    task.advance(wanted - len(frames))  # frames the video did not have
    if outcome.faces_found == 0:
        outcome.problem = f"no face found in {len(frames)} frame{'s' if len(frames) != 1 else ''}"
    return outcome, written


def build_video_dataset(
    videos: list[SourceVideo],
    data_dir: Path,
    source_root: Path,
    split_by: str,
    frames: int = DEFAULT_FRAMES,
    balance: bool = True,
    skipped: list[tuple[str, str]] | None = None,
    notes: list[str] | None = None,
    replace: bool = False,
    progress: Progress = NO_PROGRESS,
) -> VideoDatasetResult:
    """Write the face dataset for `videos` (each with its split set) into `data_dir`, atomically."""
    data_dir, source_root = Path(data_dir), Path(source_root)
    per_video = frames_per_video(videos, frames, balance)
    result = VideoDatasetResult(
        source_root, split_by, per_video, {s: {c: 0 for c in CLASSES} for s in SPLITS},
        skipped=list(skipped or []), notes=list(notes or []),
    )
    rows: list[tuple[str, str, int]] = []
    planned_frames = sum(per_video[v.label] for v in videos)
    ordered = sorted(videos, key=lambda v: (SPLITS.index(v.split), CLASSES.index(v.label), v.video_id))
    try:
        with building_dataset(data_dir, replace, progress) as staging:
            for split in SPLITS:
                for label in CLASSES:
                    (staging / split / label).mkdir(parents=True)
            with progress.task("Videos", total=len(videos), unit="videos") as video_task, \
                    progress.task("Frames", total=planned_frames, unit="frames") as frame_task:
                for video in ordered:
                    folder = staging / video.split / video.label
                    shown = _shown(video.path, source_root)
                    outcome, written = _extract(video, per_video[video.label], folder, shown, frame_task)
                    result.videos.append(outcome)
                    result.counts[video.split][video.label] += len(written)
                    rows += [(f"{video.split}/{video.label}/{name}", video.video_id, index) for name, index in written]
                    video_task.advance()
                    video_task.update(faces=f"{len(rows):,}")
            if not rows:
                raise DataError(
                    f"No face was found in any of the {len(videos):,} videos, so there is nothing to train on.",
                    hint="dfcoach looks for frontal faces, big enough to see. Check a few of the videos in a player; "
                    "if the faces are small, turned away or very dark, these videos will not do.",
                )
            _write_index(staging / VIDEOS_CSV, rows)
            _write_record(staging, result)
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by you before the dataset was finished. {data_dir} is as it was before.", hint="Run the same command again when you are ready.") from None
    except FileExistsError:
        raise DataError(f"{data_dir} appeared while the dataset was being built.", hint="Run the command again with --force to replace it.") from None
    except OSError as error:
        raise from_os_error(error, f"write the dataset to {data_dir}") from None
    return result


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _write_index(path: Path, rows: list[tuple[str, str, int]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("file", "video_id", "frame"))
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _write_record(staging: Path, result: VideoDatasetResult) -> None:
    record = {
        "source": str(result.source_root.resolve()),
        "from": "videos",
        "split_by": result.split_by,
        "frames_per_video": result.frames_per_video,
        "counts": result.counts,
        "videos": [vars(outcome) for outcome in result.videos],
        "skipped": [{"file": f, "why": why} for f, why in result.skipped],
        "notes": result.notes,
    }
    atomic_write_text(staging / DERIVED_DIR / "organize.json", json.dumps(record, indent=2))


# --- a folder of videos: `dfcoach data organize SRC --videos` -----------------------------------


FRAME_NAME_ROOM = len("_0000.jpg")  # what a video id gets for each of its face pictures


def find_folder_videos(src: Path, exclude: Path | None = None
                       ) -> tuple[Path, bool, list[SourceVideo], list[tuple[str, str]], list[tuple[str, str]]]:
    """(the folder holding real/ and fake/, whether it is split already, its videos, files skipped and why,
    videos whose id was shortened and that id).

    A video's group is its subfolder below real/ or fake/ (clips of one person kept
    together), or the video alone when it lies directly in real/ or fake/."""
    layout = find_source(Path(src), exclude=exclude)
    videos: list[SourceVideo] = []
    skipped: list[tuple[str, str]] = []
    shortened: list[tuple[str, str]] = []
    taken: set[str] = set()
    for (split, label), folders in sorted(layout.folders.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        for folder in folders:
            for path in visible_files(folder):
                shown = path.relative_to(layout.root).as_posix()
                if not is_video(path):
                    why = "a picture, not a video (organize pictures without --videos)" if path.suffix.lower() in IMAGE_EXTENSIONS else "not a video"
                    skipped.append((shown, why))
                    continue
                relative = path.relative_to(folder)
                joined = "__".join(relative.with_suffix("").parts)
                video_id = _unique(fit_name(joined, limit=NAME_LIMIT - FRAME_NAME_ROOM), taken)
                if not video_id.startswith(joined):  # too long a name for its pictures otherwise
                    shortened.append((shown, video_id))
                group = f"{split}/{label}/{relative.parent.as_posix()}" if len(relative.parts) > 1 else f"{split}/{label}/{relative.as_posix()}"
                videos.append(SourceVideo(path, label, video_id, group, split))
    if not videos:
        raise DataError(
            f"There are no videos in {layout.root} (looked for {', '.join(sorted(VIDEO_EXTENSIONS))}).",
            hint="Put your videos in real/ and fake/ folders. For pictures, run the same command without --videos.",
        )
    return layout.root, layout.presplit, videos, skipped, shortened


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`...: a real/clip.mp4 and a fake/clip.mp4 must not share a video id."""
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def organize_videos(
    src: Path,
    data_dir: Path,
    split: tuple[float, float, float] = DEFAULT_SPLIT,
    seed: int = 0,
    frames: int = DEFAULT_FRAMES,
    balance: bool = True,
    replace: bool = False,
    progress: Progress = NO_PROGRESS,
) -> VideoDatasetResult:
    """A face dataset in `data_dir` from the videos in `src`'s real/ and fake/ folders."""
    src, data_dir = Path(src), Path(data_dir)
    look_at_target(data_dir, source=src).allow(replace)
    root, presplit, videos, skipped, shortened = find_folder_videos(src, exclude=data_dir)
    videos, unreadable = drop_unreadable(videos, root, progress)
    skipped += unreadable
    notes = [f"{file}: its name, with the folders it is in, is too long for a file name, so its face pictures are "
             f"named {video_id}_NNNN.jpg." for file, video_id in shortened]
    if presplit:
        missing = [s for s in SPLITS if not any(v.split == s for v in videos)]
        if missing:  # as organize does for pictures: carve the missing splits out of train
            share = dict(zip(SPLITS, split))
            train = [v for v in videos if v.split == "train"]
            for video in train:
                video.split = None
            assign_splits(train, tuple(share[s] for s in ["train", *missing]), seed, ("train", *missing))
            notes.append(f"Your folder had no {' or '.join(missing)} split, so dfcoach set aside part of train for it.")
        split_by = "your folder's own train/val/test split"
    else:
        assign_splits(videos, split, seed)
        split_by = "video (clips in one subfolder kept together)"
    require_every_split(videos)
    return build_video_dataset(videos, data_dir, root, split_by, frames, balance, skipped, notes, replace, progress)

