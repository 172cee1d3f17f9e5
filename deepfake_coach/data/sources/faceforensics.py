"""FaceForensics++ as its download script leaves it, into a face dataset.

    original_sequences/youtube/<c23|c40|raw>/videos/000.mp4                      real
    manipulated_sequences/<method>/<c23|c40|raw>/videos/000_003.mp4              fake: 000's video, 003's face

FaceForensics++ cannot be downloaded by dfcoach: access is granted per person
(a form), and its own script downloads the videos. dfcoach prepares what it left.

Splits never mix identities. The official splits (`splits/train.json`, `val.json`,
`test.json` in the FaceForensics repository) are lists of id pairs; a pair's two
real videos and the fakes made from them all go to that pair's split. Without
them, ids joined by a fake are grouped the same way and the groups are split 70/20/10.
"""

from __future__ import annotations

import json
from pathlib import Path

from deepfake_coach.data.layout import CLASSES, SPLITS
from deepfake_coach.data.sources import DEFAULT_FRAMES, DEFAULT_SPLIT, FACEFORENSICS_METHODS, DatasetRequest
from deepfake_coach.data.video import VIDEO_EXTENSIONS
from deepfake_coach.data.video_dataset import (
    SourceVideo,
    VideoDatasetResult,
    assign_splits,
    build_video_dataset,
    drop_unreadable,
    require_every_split,
)
from deepfake_coach.errors import DataError, UsageError
from deepfake_coach.io.progress import NO_PROGRESS, Progress

DEFAULT_METHODS = FACEFORENSICS_METHODS  # the four of the FaceForensics++ paper
METHODS = (*DEFAULT_METHODS, "FaceShifter")  # which came later
COMPRESSIONS = ("c23", "c40", "raw")  # c23: light compression, what most papers train on
DEFAULT_COMPRESSION = "c23"
REAL_DIR = Path("original_sequences") / "youtube"
FAKE_DIR = Path("manipulated_sequences")
SEARCH_DEPTH = 2  # the tree may sit a level or two below the folder given
SPLITS_URL = "https://github.com/ondyari/FaceForensics/tree/master/dataset/splits"
ACCESS_HINT = (
    "FaceForensics++ is handed out on request: fill in the form at github.com/ondyari/FaceForensics, "
    "run the download script you receive (see docs/faceforensics.md), then: "
    "dfcoach data download faceforensics --source FOLDER_YOU_DOWNLOADED_TO"
)


def parse_methods(text: str) -> tuple[str, ...]:
    """"Deepfakes,face2face" (any case, commas or spaces) or "all" -> the methods' proper names."""
    by_lower = {method.lower(): method for method in METHODS}
    names = [part for part in text.replace(",", " ").split() if part]
    if [name.lower() for name in names] == ["all"]:
        return METHODS
    unknown = [name for name in names if name.lower() not in by_lower]
    if unknown or not names:
        raise UsageError(
            f"--methods {text!r}: {'unknown method ' + ', '.join(unknown) if unknown else 'no method given'}.",
            hint=f"Choose from {', '.join(METHODS)} (comma-separated), or all.",
        )
    return tuple(dict.fromkeys(by_lower[name.lower()] for name in names))


def parse_compression(text: str) -> str:
    if text.lower() not in COMPRESSIONS:
        raise UsageError(f"--compression {text!r} is not one FaceForensics++ has.", hint="Choose c23 (the usual choice), c40 or raw.")
    return text.lower()


def is_faceforensics(folder: Path) -> bool:
    return (folder / "original_sequences").is_dir() or (folder / "manipulated_sequences").is_dir()


def find_root(src: Path) -> Path:
    """The folder holding original_sequences/ and manipulated_sequences/: `src` or one a level or two below."""
    src = Path(src)
    if not src.is_dir():
        raise DataError(f"{src} is not a folder." if src.exists() else f"{src} does not exist.", hint=ACCESS_HINT)
    frontier = [src]
    for _ in range(SEARCH_DEPTH + 1):
        for folder in frontier:
            if is_faceforensics(folder):
                return folder
        frontier = [child for folder in frontier for child in _subfolders(folder)]
    raise DataError(
        f"{src} does not look like FaceForensics++: there is no original_sequences/ or manipulated_sequences/ folder in it.",
        hint="Pass the folder you gave the download script as its output path. For a folder of your own videos in real/ and fake/, "
        "run: dfcoach data organize FOLDER --videos",
    )


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(child for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))
    except OSError:  # a folder we may not read is not where the download went
        return []


def _videos_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith("."))


def what_is_there(root: Path) -> dict[str, dict[str, int]]:
    """Videos found per part (original, then each method) and compression, for messages."""
    found: dict[str, dict[str, int]] = {}
    for part, base in [("original", root / REAL_DIR), *[(m, root / FAKE_DIR / m) for m in METHODS]]:
        for compression in COMPRESSIONS:
            count = len(_videos_in(base / compression / "videos"))
            if count:
                found.setdefault(part, {})[compression] = count
    return found


def _describe(found: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{part}: " + ", ".join(f"{n} {c}" for c, n in by.items()) for part, by in found.items()) or "no videos at all"


class _Identities:
    """Union-find over video ids: ids joined by a fake (000_003 joins 000 and 003) are one group."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, name: str) -> str:
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def join(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)


def discover(root: Path, methods: tuple[str, ...] = DEFAULT_METHODS, compression: str = DEFAULT_COMPRESSION
             ) -> tuple[list[SourceVideo], list[tuple[str, str]], list[str]]:
    """(the videos to use, files skipped and why, notes for the person). Groups are set; splits are not."""
    found = what_is_there(root)
    real = _videos_in(root / REAL_DIR / compression / "videos")
    fakes = {method: _videos_in(root / FAKE_DIR / method / compression / "videos") for method in methods}
    notes = [f"{method}: no {compression} videos downloaded, left out." for method, paths in fakes.items() if not paths]
    if not real or not any(fakes.values()):
        missing = "original (real) videos" if not real else f"videos of {', '.join(methods)}"
        other = [c for c in COMPRESSIONS if c != compression and any(c in by for by in found.values())]
        hint = f"Found: {_describe(found)}."
        if other:
            hint += f" Pass --compression {other[0]} to use those."
        else:
            hint += (" Download them with the FaceForensics++ script, for example: "
                     f"python download-FaceForensics.py {root} -d {'original' if not real else methods[0]} -c {compression} -t videos -n 20")
        raise DataError(f"There are no {compression} {missing} in {root}.", hint=hint)

    identities = _Identities()
    videos: list[SourceVideo] = []
    skipped: list[tuple[str, str]] = []
    for path in real:
        identities.find(path.stem)
        videos.append(SourceVideo(path, "real", path.stem, path.stem))
    for method, paths in fakes.items():
        for path in paths:
            ids = path.stem.split("_")
            if len(ids) != 2 or not all(ids):
                skipped.append((path.relative_to(root).as_posix(), "its name is not TARGET_SOURCE (like 000_003), so its people are unknown"))
                continue
            identities.join(*ids)
            videos.append(SourceVideo(path, "fake", f"{method}_{path.stem}", ids[0]))
    for video in videos:
        video.group = identities.find(video.group)
    return videos, skipped, notes


def load_official_splits(folder: Path) -> dict[str, str]:
    """Video id -> split, from FaceForensics++'s train.json, val.json and test.json (lists of id pairs)."""
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path = folder / f"{split}.json"
        try:
            pairs = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path} is missing.", hint=f"The official splits are three files, train.json, val.json and test.json, from {SPLITS_URL}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError(f"{path} cannot be read as JSON ({error}).", hint=f"Download it again from {SPLITS_URL}") from None
        if not isinstance(pairs, list) or not all(isinstance(p, list) and all(isinstance(i, str) for i in p) for p in pairs):
            raise DataError(f"{path} is not a list of id pairs like [[\"071\", \"054\"], ...].", hint=f"Download it again from {SPLITS_URL}")
        for pair in pairs:
            for video_id in pair:
                split_of[video_id] = split
    return split_of


def apply_official_splits(videos: list[SourceVideo], split_of: dict[str, str], root: Path
                          ) -> tuple[list[SourceVideo], list[tuple[str, str]]]:
    """Each video in its group's official split; videos whose ids the splits do not list are left out."""
    kept: list[SourceVideo] = []
    skipped: list[tuple[str, str]] = []
    for video in videos:
        ids = video.path.stem.split("_")
        splits = {split_of.get(i) for i in ids}
        if None in splits:
            skipped.append((video.path.relative_to(root).as_posix(), "not listed in the official splits"))
            continue
        # A fake's two people are a pair in the official splits, so they share a split; if not, the target's wins.
        video.split = split_of[ids[0]]
        kept.append(video)
    return kept, skipped


def _official_splits_fit(videos: list[SourceVideo]) -> list[str]:
    """The split/class folders the official splits would leave empty (with a few videos downloaded, several)."""
    return [f"{s}/{c}" for s in SPLITS for c in CLASSES if not any(v.split == s and v.label == c for v in videos)]


def prepare(
    source: Path,
    data_dir: Path,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    compression: str = DEFAULT_COMPRESSION,
    official_splits: Path | None = None,
    split: tuple[float, float, float] = DEFAULT_SPLIT,
    seed: int = 0,
    frames: int = DEFAULT_FRAMES,
    balance: bool = True,
    replace: bool = False,
    progress: Progress = NO_PROGRESS,
) -> VideoDatasetResult:
    """The face dataset in `data_dir` from the FaceForensics++ download in `source`.

    Official splits are used when `official_splits` is given or `source` has a splits/ folder;
    if they would leave a split without videos (only some videos downloaded), the videos are
    split by identity instead, and a note says so."""
    from deepfake_coach.data.replace import look_at_target

    look_at_target(Path(data_dir), source=Path(source)).allow(replace)
    root = find_root(Path(source))
    videos, skipped, notes = discover(root, methods, compression)
    videos, unreadable = drop_unreadable(videos, root, progress)
    skipped += unreadable
    if official_splits is None and (root / "splits").is_dir():
        official_splits = root / "splits"
    split_by = "identity (the two people of a swap, and every video made from them, stay together)"
    if official_splits is not None:
        split_of = load_official_splits(official_splits)
        listed, unlisted = apply_official_splits([_copy(v) for v in videos], split_of, root)
        empty = _official_splits_fit(listed)
        if not empty:
            videos, skipped, split_by = listed, skipped + unlisted, f"the official FaceForensics++ splits ({official_splits})"
        else:
            notes.append(
                f"The official splits would leave {', '.join(empty)} without videos (with only part of FaceForensics++ downloaded), "
                "so dfcoach split your videos by identity instead."
            )
    if all(video.split is None for video in videos):
        assign_splits(videos, split, seed)
    require_every_split(videos)
    return build_video_dataset(videos, data_dir, root, split_by, frames, balance, skipped, notes, replace, progress)


def _copy(video: SourceVideo) -> SourceVideo:
    return SourceVideo(video.path, video.label, video.video_id, video.group, video.split)


def get(request: DatasetRequest, output, progress: Progress = NO_PROGRESS) -> VideoDatasetResult:
    """The faces of a FaceForensics++ download, as the `faceforensics` source of a DatasetRequest."""
    return prepare(require_source(request.source), request.data_dir, request.methods, request.compression, request.official_splits,
                   request.split, seed=request.seed, frames=request.frames, balance=request.balance, replace=request.replace, progress=progress)


def require_source(source: Path | None) -> Path:
    """Its download folder: dfcoach cannot fetch FaceForensics++ (access is by request form)."""
    if source is None:
        raise UsageError("dfcoach cannot download FaceForensics++ itself: pass the folder you downloaded it to with --source.", hint=ACCESS_HINT)
    return Path(source).expanduser()
