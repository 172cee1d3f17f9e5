"""What a dataset is made of, read from the files its source leaves in it, so a model can say what
it was trained on: the demo's drawn faces, photographs, or faces cut from video frames.

A model trained on the demo judges real photos with confidence and means nothing by it (ten FFHQ
photos were all "fake" at 94-99.9%); `outside_training` lets predict and the service say so."""

from __future__ import annotations

import csv
from pathlib import Path

from deepfake_coach.data.layout import IMAGE_EXTENSIONS, VIDEOS_CSV

MANIFEST = "manifest.csv"
# The manifests' headers, which tiny_demo and kaggle_140k write from here (tiny_demo loads OpenCV: this
# module, read by training and the service, does not).
DEMO_COLUMNS = ["file", "label", "split", "artifact"]
KAGGLE_COLUMNS = ["file", "label", "split", "source"]
KINDS = ("demo", "photos", "video frames")


def is_demo(data_dir: Path) -> bool:
    """Whether `data_dir` is the generated demo (kaggle_140k writes a manifest.csv too, with other columns)."""
    return _manifest_columns(Path(data_dir) / MANIFEST) == DEMO_COLUMNS


def dataset_origin(data_dir: Path) -> dict:
    """{"name", "kind"} and, for the demo, "picture_size" ([width, height] of its pictures)."""
    data_dir = Path(data_dir)
    if is_demo(data_dir):
        origin = {"name": "tiny_demo", "kind": "demo"}
        size = _first_picture_size(data_dir / "train")
        return origin | ({"picture_size": list(size)} if size else {})
    if _manifest_columns(data_dir / MANIFEST) == KAGGLE_COLUMNS:
        return {"name": "kaggle_140k", "kind": "photos"}
    if (data_dir / VIDEOS_CSV).is_file():
        return {"name": "videos", "kind": "video frames"}
    return {"name": "folder", "kind": "photos"}


def _manifest_columns(path: Path) -> list[str] | None:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _first_picture_size(folder: Path) -> tuple[int, int] | None:
    from deepfake_coach.images import UnreadablePicture, read_header

    for path in sorted(folder.glob("*/*")):
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            try:
                header = read_header(path)
            except UnreadablePicture:
                continue
            return header.width, header.height
    return None


def trained_on(checkpoint: dict) -> dict | None:
    """The checkpoint's `dataset`, when it is one dfcoach wrote (a model file is untrusted input)."""
    origin = checkpoint.get("dataset")
    if not isinstance(origin, dict) or not isinstance(origin.get("name"), str) or origin.get("kind") not in KINDS:
        return None
    size = origin.get("picture_size")
    valid_size = isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) and 0 < n < 100_000 for n in size)
    return {"name": origin["name"][:100], "kind": origin["kind"]} | ({"picture_size": size} if valid_size else {})


DEMO_WARNING = ("This model learned from dfcoach's drawn demo faces, not from photographs: on a real photo its answer "
                "means nothing, however sure it sounds. To judge photos, train on real faces (dfcoach init --restart: "
                "kaggle_140k, or your own folder of real and fake faces).")


def outside_training(origin: dict | None, picture_size: tuple[int, int] | None) -> str | None:
    """A warning when a picture is plainly not the kind the model learned from: a demo model and a
    picture that is not one of the demo's (they are all drawn at one size)."""
    if origin is None or origin["kind"] != "demo":
        return None
    if picture_size is not None and list(picture_size) == origin.get("picture_size"):
        return None
    return DEMO_WARNING
