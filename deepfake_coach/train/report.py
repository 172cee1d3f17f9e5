"""What a training run tells the person: `TrainReporter` hears it (the CLI's shows rich output; the
default stays silent), `RunInfo` is the run's set-up, `TrainResult` what `fit` returns. No torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deepfake_coach.train.coach import Advice, EpochMetrics, best_epoch


class TrainReporter:
    """What the loop tells the person; every method may be left as it is (silent)."""

    def started(self, run: "RunInfo") -> None: ...

    def epoch_done(self, metrics: EpochMetrics, total_epochs: int, saved: Path | None) -> None: ...

    def advice(self, advice: Advice) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class RunInfo:
    run_dir: Path
    best_path: Path
    model_name: str
    image_size: int
    device: str
    train_images: int
    val_images: int
    batch_size: int
    epochs: int
    start_epoch: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    processes: int = 1  # one per device (train/distributed.py)


@dataclass
class TrainResult:
    run: RunInfo
    history: list[EpochMetrics]
    stopped_early: bool
    seconds: float
    batch_size: int

    @property
    def best(self) -> EpochMetrics:
        return best_epoch(self.history)
