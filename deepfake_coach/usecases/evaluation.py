"""The final exam: a model judged on pictures it never trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_coach.project import Project
from deepfake_coach.io.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class EvaluateRequest:
    model: Path | None = None  # None: the newest best model in the project's models/
    data_dir: Path | None = None  # None: the project's
    split: str = "test"
    threshold: float | None = None  # None: the model's own, chosen on its validation images


def evaluate_run(request: EvaluateRequest, project: Project, progress: Progress = NO_PROGRESS):
    """The Evaluation (metrics, pictures, report.json in the run that made the model)."""
    from deepfake_coach.evaluate import evaluate, run_folder_for
    from deepfake_coach.inference import Detector
    from deepfake_coach.predict import check_threshold

    check_threshold(request.threshold)  # before the slow part
    detector = Detector.load(request.model, models_dir=project.models_dir)
    run_dir = run_folder_for(detector.path, project.root)
    return evaluate(detector, project.data_dir(request.data_dir), request.split, request.threshold, run_dir=run_dir, progress=progress)
