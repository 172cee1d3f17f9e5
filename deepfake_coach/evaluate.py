"""How good is the detector really? Metrics on a split it never trained on, a sentence a beginner
understands, and the pictures (confusion.png, roc.png, mistakes.png) beside report.json.

Fake is the positive class throughout: "precision" is about the images called fake, "recall" about the
fake images. The numbers come from scikit-learn; the pictures from `evaluation_plots`.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_coach.data.layout import CLASSES, DEFAULT_DATA_DIR, SPLITS
from deepfake_coach.errors import DataError, UsageError, from_os_error
from deepfake_coach.inference import explain_threshold
from deepfake_coach.predict import check_threshold, judge_pictures
from deepfake_coach.io.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from deepfake_coach.inference import Detector

FAKE = CLASSES.index("fake")
DEMO_MANIFEST = "manifest.csv"  # tiny_demo: file,label,split,artifact
VIDEOS_CSV = "videos.csv"  # frames cut from videos: file,video_id,frame
MISTAKES_KEPT = 100  # in report.json; the picture shows the first MISTAKES_SHOWN
UNBALANCED = 1.5  # one class this many times the other: accuracy alone misleads


@dataclass
class Judged:
    """One image of the split and what the model made of it."""

    file: str  # relative to the dataset folder, posix
    label: str  # the truth: "real" or "fake"
    fake_probability: float

    def called(self, threshold: float) -> str:
        return "fake" if self.fake_probability >= threshold else "real"

    def wrongness(self) -> float:
        """How strongly the model believed the wrong answer (0: fully right, 1: fully wrong)."""
        return 1.0 - self.fake_probability if self.label == "fake" else self.fake_probability


@dataclass
class Evaluation:
    model: dict
    data_dir: str
    split: str
    threshold: float  # the one used: the model's own unless --threshold
    threshold_source: str  # validation, model_file, default or command_line (inference.FROM_*)
    threshold_meaning: str  # the threshold and why, in words
    counts: dict[str, int]
    metrics: dict[str, float | None]
    confusion: dict[str, dict[str, int]]  # truth -> called -> images
    summary: str
    auc_meaning: str
    balance_note: str | None
    per_kind: dict[str, dict] | None = None
    videos: dict | None = None
    unreadable: list[dict] = field(default_factory=list)
    mistakes: list[dict] = field(default_factory=list)
    pictures: dict[str, str] = field(default_factory=dict)
    report_path: str | None = None
    evaluated_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict:
        return asdict(self)


# --- the images to judge ----------------------------------------------------------------------


def split_images(data_dir: Path, split: str) -> list[tuple[Path, str]]:
    """Every image of one split with its label; a clear error when the split cannot be judged."""
    if split not in SPLITS:
        raise UsageError(f"--split {split}: there is no such split.", hint=f"Use one of {', '.join(SPLITS)} (test is the one the model never saw).")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(
            f"Dataset not found: there is no folder {data_dir}.",
            hint="Pass the dataset's folder with --data-dir, or get one: dfcoach data download tiny_demo.",
        )
    if not (data_dir / split).is_dir():
        raise DataError(
            f"The dataset {data_dir} has no {split}/ folder.",
            hint=f"Run `dfcoach data check --data-dir {data_dir}` to see its layout, or choose another --split.",
        )
    from deepfake_coach.train.data import split_files

    files = split_files(data_dir, split)
    for index, label in enumerate(CLASSES):
        if not any(label_index == index for _, label_index in files):
            raise DataError(
                f"The {split} split has no {label} images ({data_dir / split / label} is missing or empty).",
                hint="A model can only be measured on both real and fake images. "
                     f"Run `dfcoach data check --data-dir {data_dir}` to see what is missing.",
            )
    return [(path, CLASSES[label_index]) for path, label_index in files]


def judge_split(detector: "Detector", images: list[tuple[Path, str]], data_dir: Path, progress: Progress = NO_PROGRESS
                ) -> tuple[list[Judged], list[tuple[Path, str]]]:
    labels = {path: label for path, label in images}
    verdicts, unreadable = judge_pictures(detector, [path for path, _ in images], progress=progress)
    judged = [Judged(_relative(path, data_dir), labels[path], verdict.fake_probability) for path, verdict in verdicts]
    return judged, unreadable


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


# --- the numbers ------------------------------------------------------------------------------


def classification_metrics(truth: list[int], fake_probabilities: list[float], threshold: float) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1 (fake is positive) and ROC AUC; AUC is None with only one class."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

    called = [int(p >= threshold) for p in fake_probabilities]
    both_classes = len(set(truth)) == 2
    return {
        "accuracy": float(accuracy_score(truth, called)),
        "precision": float(precision_score(truth, called, pos_label=FAKE, zero_division=0)),
        "recall": float(recall_score(truth, called, pos_label=FAKE, zero_division=0)),
        "f1": float(f1_score(truth, called, pos_label=FAKE, zero_division=0)),
        "roc_auc": float(roc_auc_score(truth, fake_probabilities)) if both_classes else None,
    }


def confusion(truth: list[int], called: list[int]) -> dict[str, dict[str, int]]:
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(truth, called, labels=list(range(len(CLASSES))))
    return {CLASSES[t]: {CLASSES[c]: int(matrix[t][c]) for c in range(len(CLASSES))} for t in range(len(CLASSES))}


def plain_summary(matrix: dict[str, dict[str, int]]) -> str:
    """The confusion matrix as a sentence: what was caught, what was wrongly flagged."""
    fakes, reals = sum(matrix["fake"].values()), sum(matrix["real"].values())
    caught, flagged = matrix["fake"]["fake"], matrix["real"]["fake"]
    return (f"Of {fakes:,} fake faces it caught {caught:,} ({caught / fakes:.1%}); "
            f"it wrongly flagged {flagged:,} of {reals:,} real ones as fake ({flagged / reals:.1%}).")


def auc_meaning(auc: float | None) -> str:
    if auc is None:
        return "ROC AUC needs both real and fake images to be measured."
    return (f"ROC AUC {auc:.3f}: pick one fake and one real face at random, and {auc:.0%} of the time the model gives "
            "the fake one the higher fake probability (0.5 is guessing, 1.0 is perfect). It does not depend on "
            "the threshold, nor on how many images of each class there are.")


def balance_note(counts: dict[str, int]) -> str | None:
    """When one class dominates, say what always guessing it would score, and that AUC is not fooled by it."""
    bigger = max(CLASSES, key=lambda label: counts[label])
    smaller = min(counts.values())
    if smaller and counts[bigger] / smaller < UNBALANCED:
        return None
    share = counts[bigger] / sum(counts.values())
    return (f"The classes are unbalanced ({counts['real']:,} real, {counts['fake']:,} fake): a model that always "
            f"answered {bigger} would score {share:.1%} accuracy while detecting nothing. Trust ROC AUC, recall "
            "and precision more than accuracy here.")


def accuracy_by_kind(data_dir: Path, judged: list[Judged], threshold: float) -> dict[str, dict] | None:
    """With the demo's manifest: how well each kind of artifact (and the real faces) is recognised."""
    manifest = Path(data_dir) / DEMO_MANIFEST
    if not manifest.is_file():
        return None
    with open(manifest, newline="", encoding="utf-8") as handle:
        kinds = {row["file"]: row["artifact"] for row in csv.DictReader(handle) if row.get("file") and row.get("artifact")}
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind -> [right, images]
    for item in judged:
        kind = kinds.get(item.file)
        if kind is None:
            continue
        kind = "real (no artifact)" if kind == "none" else kind
        tally[kind][0] += item.called(threshold) == item.label
        tally[kind][1] += 1
    if not tally:
        return None
    return {kind: {"images": n, "right": right, "accuracy": right / n} for kind, (right, n) in sorted(tally.items())}


def video_level(data_dir: Path, judged: list[Judged], threshold: float) -> dict | None:
    """With videos.csv (frames cut from videos): each video judged by its frames' mean fake probability."""
    listing = Path(data_dir) / VIDEOS_CSV
    if not listing.is_file():
        return None
    with open(listing, newline="", encoding="utf-8") as handle:
        video_of = {row["file"]: row["video_id"] for row in csv.DictReader(handle) if row.get("file") and row.get("video_id")}
    frames: dict[str, list[Judged]] = defaultdict(list)
    for item in judged:
        if item.file in video_of:
            frames[video_of[item.file]].append(item)
    if not frames:
        return None
    truth, probabilities = [], []
    for items in frames.values():
        fake_frames = sum(item.label == "fake" for item in items)
        truth.append(int(fake_frames * 2 >= len(items)))  # a video's frames share its label
        probabilities.append(sum(item.fake_probability for item in items) / len(items))
    metrics = classification_metrics(truth, probabilities, threshold)
    return {"videos": len(frames), "frames": sum(len(items) for items in frames.values()),
            "accuracy": metrics["accuracy"], "roc_auc": metrics["roc_auc"]}


# --- the run folder and the whole evaluation --------------------------------------------------


def run_folder_for(model_path: Path, project_dir: Path = Path(".")) -> Path:
    """The training run that saved this model (it recorded it as its best); else runs/<model file name>/."""
    from deepfake_coach.train.run import RunFolder

    return RunFolder.of_model(Path(model_path), Path(project_dir)).path


def evaluate(detector: "Detector", data_dir: Path = DEFAULT_DATA_DIR, split: str = "test", threshold: float | None = None,
             run_dir: Path | None = None, progress: Progress = NO_PROGRESS) -> Evaluation:
    """Judge every image of `split`, compute the metrics, draw the pictures and write report.json.
    `threshold` None means the model's own, the one training chose on the validation images."""
    from deepfake_coach.evaluation_plots import plot_confusion, plot_mistakes, plot_roc

    check_threshold(threshold)
    threshold, threshold_source = detector.threshold_in_use(threshold)
    data_dir = Path(data_dir)
    judged, unreadable = judge_split(detector, split_images(data_dir, split), data_dir, progress)
    counts = {label: sum(item.label == label for item in judged) for label in CLASSES}
    if not all(counts.values()):
        missing = next(label for label in CLASSES if not counts[label])
        raise DataError(f"None of the {missing} images of the {split} split could be read.",
                        hint=f"Run `dfcoach data check --data-dir {data_dir}` to find the damaged files.")
    truth = [CLASSES.index(item.label) for item in judged]
    probabilities = [item.fake_probability for item in judged]
    metrics = classification_metrics(truth, probabilities, threshold)
    matrix = confusion(truth, [int(p >= threshold) for p in probabilities])
    mistakes = sorted((item for item in judged if item.called(threshold) != item.label), key=Judged.wrongness, reverse=True)

    from deepfake_coach.train.run import RunFolder  # the owner of every file in runs/<run>/

    run = RunFolder(Path(run_dir)) if run_dir is not None else RunFolder.of_model(detector.path or Path("model"))
    run_dir, pictures = run.path, run.evaluation_pictures()
    try:
        plot_confusion(matrix, threshold, pictures["confusion"])
        plot_roc(truth, probabilities, threshold, pictures["roc"])
        plot_mistakes([(data_dir / item.file, item) for item in mistakes], len(judged), threshold, pictures["mistakes"])
    except OSError as error:
        raise from_os_error(error, f"save the evaluation's pictures in {run_dir}") from None

    evaluation = Evaluation(
        model=detector.describe(), data_dir=str(data_dir), split=split, threshold=threshold,
        threshold_source=threshold_source, threshold_meaning=explain_threshold(threshold, threshold_source, detector.threshold),
        counts=counts,
        metrics=metrics, confusion=matrix, summary=plain_summary(matrix), auc_meaning=auc_meaning(metrics["roc_auc"]),
        balance_note=balance_note(counts), per_kind=accuracy_by_kind(data_dir, judged, threshold),
        videos=video_level(data_dir, judged, threshold),
        unreadable=[{"file": _relative(path, data_dir), "reason": reason} for path, reason in unreadable],
        mistakes=[{**asdict(item), "called": item.called(threshold)} for item in mistakes[:MISTAKES_KEPT]],
        pictures={name: str(path) for name, path in pictures.items()},
        report_path=str(run.report_file),
    )
    try:
        run.save_report(json.dumps(evaluation.to_dict(), indent=2))
    except OSError as error:
        raise from_os_error(error, f"save {run_dir}/report.json") from None
    return evaluation
