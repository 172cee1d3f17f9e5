"""A training run, as `dfcoach train` and the wizard's quick and full runs start it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfake_coach.config import TrainConfig
from deepfake_coach.project import Project
from deepfake_coach.io.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class TrainRequest:
    quick: bool = False  # the 5-epoch test run
    data_dir: Path | None = None  # None: the project's
    settings: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields given as flags; None: not given
    pretrained: bool | None = None  # None: the model's own default
    resume: str | None = None  # a run's name in runs/, or "last"


def train_config(request: TrainRequest, project: Project) -> TrainConfig:
    """The settings of the run: flags, then dfcoach.yaml, then the preset (--quick or full)."""
    from deepfake_coach.train.settings import resolve_train_config

    return resolve_train_config(request.settings, project.config.train, quick=request.quick)


def train_run(request: TrainRequest, project: Project, progress: Progress = NO_PROGRESS, reporter=None):
    """Train, coaching through `reporter`; returns the TrainResult."""
    from deepfake_coach.train.loop import fit

    return fit(train_config(request, project), data_dir(request, project), project.root, pretrained=request.pretrained,
               resume=request.resume, progress=progress, reporter=reporter)


def data_dir(request: TrainRequest, project: Project) -> Path:
    """The flag; else, resuming, the folder the run started on (its model, size and recipe come from its
    last.pth: the run goes on whole); else the project's."""
    if request.data_dir is not None:
        return Path(request.data_dir)
    if request.resume:
        from deepfake_coach.train.run import RunFolder

        saved = RunFolder.find(project.runs_dir, request.resume).saved_data_dir()
        if saved is not None:
            return saved
    return project.data_dir()


def find_learning_rate(request: TrainRequest, project: Project, progress: Progress = NO_PROGRESS):
    """The learning-rate range test, on the same settings a run would use."""
    from deepfake_coach.errors import UsageError
    from deepfake_coach.train.lr_find import find_lr

    if request.resume:
        raise UsageError("--find-lr starts from new weights; it cannot be combined with --resume.", hint="Run one of them at a time.")
    return find_lr(train_config(request, project), project.data_dir(request.data_dir), project.root,
                   pretrained=request.pretrained, progress=progress)
