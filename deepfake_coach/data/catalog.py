"""The dataset choices a beginner has, described once for `data list` and the wizard."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetChoice:
    name: str
    title: str
    size: str
    account: str  # what is needed to get it, "no" when nothing
    time_to_get: str
    summary: str
    how_to_get: str
    recommended: bool = False
    good_first: bool = False


CHOICES: tuple[DatasetChoice, ...] = (
    DatasetChoice(
        name="tiny_demo",
        title="Offline demo faces",
        size="1,000 images, ~7 MB",
        account="no",
        time_to_get="~10 seconds",
        summary="Synthetic faces; the fakes carry real deepfake artifacts. Works offline. Best for a first run.",
        how_to_get="dfcoach data download tiny_demo",
        good_first=True,
    ),
    DatasetChoice(
        name="kaggle_140k",
        title="140k Real and Fake Faces, on Kaggle",
        size="140,000 images, ~4 GB",
        account="free Kaggle",
        time_to_get="10-30 minutes",
        summary="Real FFHQ photos vs StyleGAN faces. The real thing, and what the guide recommends.",
        how_to_get="dfcoach kaggle setup, then dfcoach data download kaggle_140k (or, with the zip from "
        "kaggle.com/datasets/xhlulu/140k-real-and-fake-faces downloaded in a browser: "
        "dfcoach data download kaggle_140k --archive ZIP)",
        recommended=True,
    ),
    DatasetChoice(
        name="faceforensics",
        title="FaceForensics++",
        size="videos, 10+ GB",
        account="request form",
        time_to_get="days",
        summary="Face-swap videos used in research; dfcoach cuts the faces out of their frames.",
        how_to_get="request access at github.com/ondyari/FaceForensics, run its download script (docs/faceforensics.md), "
        "then: dfcoach data download faceforensics --source DOWNLOAD_FOLDER",
    ),
    DatasetChoice(
        name="folder",
        title="Your own images",
        size="yours",
        account="no",
        time_to_get="a minute",
        summary="A folder with real/ and fake/ subfolders, split for you into train/val/test.",
        how_to_get="dfcoach data organize FOLDER  (FOLDER holds real/ and fake/)",
    ),
    DatasetChoice(
        name="sample",
        title="Empty skeleton",
        size="0 images",
        account="no",
        time_to_get="instant",
        summary="The empty dataset/{train,val,test}/{real,fake} folders, to fill by hand.",
        how_to_get="dfcoach data download sample",
    ),
)


def get_choice(name: str) -> DatasetChoice:
    return next(choice for choice in CHOICES if choice.name == name)
