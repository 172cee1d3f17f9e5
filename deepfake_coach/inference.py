"""Using a trained model: load a checkpoint, prepare pictures exactly as training did, predict.

`dfcoach evaluate`, `dfcoach predict`, `dfcoach deploy --check` and the service
all go through `Detector`, so a picture is judged the same way everywhere. The
preprocessing (size, normalisation) is read from the checkpoint, never assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from deepfake_coach.data.origin import outside_training, trained_on
from deepfake_coach.errors import CoachError
from deepfake_coach.images import UnreadablePicture, open_picture
from deepfake_coach.project import MODELS

MODELS_DIR = Path(MODELS)  # a library caller's default: the project in the current folder
MODEL_GLOB = "best_model_*.pth"
DEFAULT_THRESHOLD = 0.5  # for model files saved before training chose a threshold
# Where the threshold in use comes from, as reports and JSON name it
FROM_VALIDATION = "validation"  # chosen by training on the validation images
FROM_MODEL_FILE = "model_file"  # stored in the model file, with no record of how it was chosen
FROM_DEFAULT = "default"  # the model file stores none: the standard 0.5
FROM_COMMAND_LINE = "command_line"  # --threshold


UnreadableImage = UnreadablePicture  # a file or upload dfcoach cannot judge: `reason` is a few plain words, `kind` why


def newest_model(models_dir: Path = MODELS_DIR) -> Path:
    """The most recently saved best model, which is what every command uses by default."""
    models = sorted(Path(models_dir).glob(MODEL_GLOB), key=lambda p: (p.stat().st_mtime, p.name))
    if not models:
        raise CoachError(
            f"There is no trained model in {models_dir}/ yet.",
            hint="Train one first: dfcoach train --quick (or pass the model file's path).",
        )
    return models[-1]


def open_image(source: Path | bytes | BinaryIO, size: int | None = None, formats=None):
    """An opened, decoded PIL image, or `UnreadableImage` saying in plain words why not (deepfake_coach.images).

    With `size`, a larger picture is reduced as it is decoded to a shorter side of `size` to 2 x `size`
    (JPEG: draft decoding; other formats: Image.reduce), as the training cache does."""
    return open_picture(source, size, formats=formats).image


def stored_threshold(checkpoint: dict) -> tuple[float, str]:
    """(threshold, source) from a checkpoint; 0.5 for files that store none. The file is untrusted
    input, so anything but a number strictly between 0 and 1 is refused rather than judged with."""
    if "threshold" not in checkpoint:
        return DEFAULT_THRESHOLD, FROM_DEFAULT
    value = checkpoint["threshold"]
    # bool is an int in Python, and True would read as 1.0: refused like any other non-number
    usable = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0.0 < value < 1.0
    if not usable:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise CoachError(
            f"This model file stores a decision threshold of {shown}, which is not a probability between 0 and 1.",
            hint="The file may be damaged or edited by hand: train a new model with `dfcoach train`, "
                 "or use another model file.",
        )
    source = FROM_VALIDATION if checkpoint.get("threshold_source") == FROM_VALIDATION else FROM_MODEL_FILE
    return float(value), source


def explain_threshold(threshold: float, source: str, model_threshold: float | None = None) -> str:
    """The threshold in use and why, in a beginner's words."""
    rule = (f"Threshold {threshold:g}: a picture is called fake when the model gives it a fake probability "
            f"of {threshold:g} or more.")
    if source == FROM_VALIDATION:
        why = ("It was chosen on the validation images, where it gave the best balanced accuracy; "
               "0.5 is not always the best cut.")
    elif source == FROM_COMMAND_LINE:
        own = f" (the model's own is {model_threshold:g})" if model_threshold is not None else ""
        why = f"It was set with --threshold{own}."
    elif source == FROM_MODEL_FILE:
        why = "It is the threshold stored in the model file."
    else:
        why = ("This is the standard cut: the model file was saved before dfcoach chose a threshold "
               "on the validation images.")
    return f"{rule} {why}"


@dataclass(frozen=True)
class Verdict:
    fake_probability: float
    threshold: float = 0.5

    @property
    def label(self) -> str:
        return "fake" if self.fake_probability >= self.threshold else "real"

    @property
    def confidence(self) -> float:
        """How sure the model is of the label it gave (0.5 to 1)."""
        return self.fake_probability if self.label == "fake" else 1.0 - self.fake_probability


class Detector:
    """A trained model, ready to judge pictures.

    Callers use `judge`, `judge_images` and `judge_files`; `prepare` and `fake_probabilities`
    are the preprocessing and the forward pass behind them, which a recipe may change."""

    def __init__(self, checkpoint: dict, path: Path | None = None, device: str = "cpu"):
        import torch

        from deepfake_coach.train.checkpoint import PREPROCESSING, model_from_checkpoint
        from deepfake_coach.train.models import for_inference

        preprocessing = checkpoint.get("preprocessing")
        if preprocessing != PREPROCESSING:
            raise CoachError(
                f"This model was made with a preprocessing this dfcoach does not know ({preprocessing}).",
                hint="Update dfcoach (pip install -U deepfake-coach), or train a new model with `dfcoach train`.",
            )
        self.path = path
        self.checkpoint = checkpoint
        self.model_name: str = checkpoint["model_name"]
        self.image_size: int = int(checkpoint["image_size"])
        self.class_names: list[str] = list(checkpoint.get("class_names", ["real", "fake"]))
        self.fake_index = self.class_names.index("fake")
        self.mean = tuple(checkpoint["normalization"]["mean"])
        self.std = tuple(checkpoint["normalization"]["std"])
        self.metrics: dict = dict(checkpoint.get("metrics", {}))
        # the fake probability from which a picture is called fake, and where that number comes from
        self.threshold, self.threshold_source = stored_threshold(checkpoint)
        self.trained_on = trained_on(checkpoint)  # the dataset's name and kind (None for older models)
        self.device = torch.device(device)
        self.model = for_inference(model_from_checkpoint(checkpoint), self.device)

    @classmethod
    def load(cls, path: Path | None = None, device: str = "cpu", models_dir: Path = MODELS_DIR) -> "Detector":
        """The model at `path` (default: the newest in `models_dir`), checked to load safely."""
        from deepfake_coach.train.checkpoint import load_checkpoint

        path = Path(path) if path is not None else newest_model(models_dir)
        return cls(load_checkpoint(path), path, device)

    def prepare(self, image) -> np.ndarray:
        """The uint8 square the model sees, made the way training made it."""
        from deepfake_coach.train.data import square_image

        return square_image(image, self.image_size)

    def fake_probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Fake probability of each picture in a uint8 NHWC batch."""
        import torch

        from deepfake_coach.train.data import to_tensor

        with torch.inference_mode():
            x = to_tensor(np.require(pixels, np.uint8, ["C", "W"]), self.mean, self.std, self.device, channels_last=True)
            logits = self.model(x).float()
            return torch.softmax(logits, dim=1)[:, self.fake_index].cpu().numpy()

    def outside_training(self, picture_size: tuple[int, int] | None) -> str | None:
        """A warning when the picture is plainly not what the model learned from (see data.origin)."""
        return outside_training(self.trained_on, picture_size)

    def threshold_in_use(self, threshold: float | None = None) -> tuple[float, str]:
        """(threshold, source): the caller's when given (--threshold), else the model's own."""
        if threshold is None:
            return self.threshold, self.threshold_source
        return float(threshold), FROM_COMMAND_LINE

    def judge(self, image, threshold: float | None = None) -> Verdict:
        """The verdict on one PIL image (best opened with `open_image(source, detector.image_size)`);
        `threshold` None means the model's own."""
        threshold, _ = self.threshold_in_use(threshold)
        return Verdict(float(self.fake_probabilities(self.prepare(image)[None])[0]), threshold)

    def judge_images(self, images, threshold: float | None = None, batch_size: int = 32) -> list[Verdict]:
        """Verdicts on several PIL images (video frames, say), in batches."""
        threshold, _ = self.threshold_in_use(threshold)
        verdicts: list[Verdict] = []
        for start in range(0, len(images), batch_size):
            pixels = np.stack([self.prepare(image) for image in images[start : start + batch_size]])
            verdicts += [Verdict(float(p), threshold) for p in self.fake_probabilities(pixels)]
        return verdicts

    def judge_files(self, paths: Iterable[Path], threshold: float | None = None, batch_size: int = 32
                    ) -> tuple[list[tuple[Path, Verdict]], list[tuple[Path, str]]]:
        """(verdicts, unreadable files with the reason); an unreadable file never stops the others."""
        threshold, _ = self.threshold_in_use(threshold)
        verdicts: list[tuple[Path, Verdict]] = []
        unreadable: list[tuple[Path, str]] = []
        batch: list[tuple[Path, np.ndarray]] = []

        def flush() -> None:
            if batch:
                probabilities = self.fake_probabilities(np.stack([pixels for _, pixels in batch]))
                verdicts.extend((path, Verdict(float(p), threshold)) for (path, _), p in zip(batch, probabilities))
                batch.clear()

        for path in paths:
            try:
                with open_image(Path(path), self.image_size) as image:
                    batch.append((Path(path), self.prepare(image)))
            except UnreadableImage as error:
                unreadable.append((Path(path), error.reason))
            if len(batch) >= batch_size:
                flush()
        flush()
        return verdicts, unreadable

    def describe(self) -> dict:
        """What the service's /health and the reports say about the model."""
        return {
            "model": self.model_name,
            "path": str(self.path) if self.path else None,
            "image_size": self.image_size,
            "device": str(self.device),
            "val_acc": self.metrics.get("val_acc"),
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "trained_on": self.trained_on,  # {"name", "kind"} of its dataset, None for older models
        }
