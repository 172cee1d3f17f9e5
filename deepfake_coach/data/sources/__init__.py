"""Where a dataset comes from: the generated demo, an empty skeleton, Kaggle, FaceForensics++, a folder.

The registry below is the one list of them: `data list`, the commands' choices and help, the checks on
dfcoach.yaml's `data.source` and the wizard's menu are all made from it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from deepfake_coach.errors import UsageError

# Defaults of a request, here so that making one imports nothing heavy (their modules import OpenCV).
DEFAULT_SPLIT = (0.7, 0.2, 0.1)
DEFAULT_FRAMES = 32  # frames taken from each video, as DeepfakeBench does
DOWNLOADS = "downloads"  # where a downloaded dataset zip is kept, so that a second run reuses it
FACEFORENSICS_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")  # the paper's four; FaceShifter came later


@dataclass(frozen=True)
class DatasetRequest:
    """Everything that getting one dataset can take; each source reads the fields it needs.

    `replace` is already decided (data.replace's rule, asked by the command or the wizard): a
    dataset found in `data_dir` is replaced only when it is true."""

    name: str
    data_dir: Path
    seed: int = 0
    replace: bool = False
    images_per_class: int = 500  # tiny_demo
    archive: Path | None = None  # kaggle_140k: the zip (or its unzipped folder); None downloads it
    download_dir: Path = Path(DOWNLOADS)  # kaggle_140k: where the downloaded zip is kept
    per_class: Mapping[str, int] | None = None  # kaggle_140k: images of each class per split
    source: Path | None = None  # folder: real/ and fake/ inside; faceforensics: its download folder
    split: tuple[float, float, float] = DEFAULT_SPLIT
    link: bool = False  # folder: link the pictures rather than copy them
    videos: bool = False  # folder: it holds videos, whose faces are cut out
    methods: tuple[str, ...] = FACEFORENSICS_METHODS
    compression: str = "c23"
    official_splits: Path | None = None
    frames: int = DEFAULT_FRAMES
    balance: bool = True


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    size: str
    account: str  # what is needed to get it, "no" when nothing
    time_to_get: str
    summary: str
    how_to_get: str
    downloadable: bool  # `dfcoach data download NAME` makes it (folder: `dfcoach data organize`)
    get: str  # "module:function" that makes it from a DatasetRequest, imported only when it is used
    needs: tuple[str, ...] = ()  # the request's fields it cannot do without, each answered by the flag of its name
    recommended: bool = False
    good_first: bool = False

    def getter(self) -> Callable[..., Any]:
        module, function = self.get.split(":")
        return getattr(importlib.import_module(module), function)


SOURCES: tuple[Source, ...] = (
    Source(
        name="tiny_demo",
        title="Offline demo faces",
        size="1,000 images, ~7 MB",
        account="no",
        time_to_get="~10 seconds",
        summary="Synthetic faces; the fakes carry real deepfake artifacts. Works offline. Best for a first run.",
        how_to_get="dfcoach data download tiny_demo",
        get="deepfake_coach.data.download:get_tiny_demo",
        downloadable=True,
        good_first=True,
    ),
    Source(
        name="kaggle_140k",
        title="140k Real and Fake Faces, on Kaggle",
        size="140,000 images, ~4 GB",
        account="free Kaggle",
        time_to_get="10-30 minutes",
        summary="Real FFHQ photos vs StyleGAN faces. The real thing, and what the guide recommends.",
        how_to_get="dfcoach kaggle setup, then dfcoach data download kaggle_140k (or, with the zip from "
        "kaggle.com/datasets/xhlulu/140k-real-and-fake-faces downloaded in a browser: "
        "dfcoach data download kaggle_140k --archive ZIP)",
        get="deepfake_coach.data.sources.kaggle_140k:get",
        downloadable=True,
        recommended=True,
    ),
    Source(
        name="faceforensics",
        title="FaceForensics++",
        size="videos, 10+ GB",
        account="request form",
        time_to_get="days",
        summary="Face-swap videos used in research; dfcoach cuts the faces out of their frames.",
        how_to_get="request access at github.com/ondyari/FaceForensics, run its download script (docs/faceforensics.md), "
        "then: dfcoach data download faceforensics --source DOWNLOAD_FOLDER",
        get="deepfake_coach.data.sources.faceforensics:get",
        needs=("source",),
        downloadable=True,
    ),
    Source(
        name="folder",
        title="Your own images",
        size="yours",
        account="no",
        time_to_get="a minute",
        summary="A folder with real/ and fake/ subfolders, split for you into train/val/test.",
        how_to_get="dfcoach data organize FOLDER  (FOLDER holds real/ and fake/)",
        get="deepfake_coach.data.sources.folder:get",
        needs=("source",),
        downloadable=False,
    ),
    Source(
        name="sample",
        title="Empty skeleton",
        size="0 images",
        account="no",
        time_to_get="instant",
        summary="The empty dataset/{train,val,test}/{real,fake} folders, to fill by hand.",
        how_to_get="dfcoach data download sample",
        get="deepfake_coach.data.download:get_sample",
        downloadable=True,
    ),
)

# The demo's smallest size: enough for every split to get pictures of both classes. Here, not in
# tiny_demo.py, so commands can check --images-per-class without importing OpenCV.
DEMO_MIN_IMAGES_PER_CLASS = 10

NAMES: tuple[str, ...] = tuple(source.name for source in SOURCES)
DOWNLOADABLE: tuple[str, ...] = tuple(source.name for source in SOURCES if source.downloadable)


def get_source(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    raise UsageError(f"There is no dataset called {name!r}.", hint=f"Choose one of: {', '.join(NAMES)} (see `dfcoach data list`).")


def listed(names: tuple[str, ...]) -> str:
    """"a, b or c", for help texts."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
