"""`dfcoach train --find-lr`: which learning rate suits this model and dataset.

The learning-rate range test of Leslie Smith (2015), as fastai's `lr_find` runs it: from freshly
made weights, train for up to `steps` batches while the learning rate grows exponentially from
`start` to `end`, and record the loss. At first nothing happens (too small to learn), then the
loss falls (a good range), then it shoots up (too large: the steps overshoot). The suggestion is a
tenth of the rate where the smoothed loss was lowest: fast, but well before the blow-up. That is
the peak (`--lr`) of dfcoach's one-cycle schedule. Nothing is saved but the picture of the curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from deepfake_coach.config import TrainConfig
from deepfake_coach.data.layout import DEFAULT_DATA_DIR
from deepfake_coach.errors import CoachError
from deepfake_coach.plotting import pyplot, save_figure
from deepfake_coach.train import recipe
from deepfake_coach.train.data import to_tensor, training_batches
from deepfake_coach.train.loop import (
    fine_tune_for, load_training_splits, resolve_device, train_step, training_image_size, training_parts, unequal_classes,
    uses_channels_last,
)
from deepfake_coach.train.models import get_spec, starts_pretrained
from deepfake_coach.train.run import lr_finding_plot
from deepfake_coach.io.progress import NO_PROGRESS, Progress

START_LR, END_LR, STEPS = 1e-6, 1.0, 100
SMOOTHING = 0.9  # exponential moving average of the loss: single batches are too noisy to read
BLOW_UP = 4.0  # stop once the smoothed loss is this many times its lowest
CLEAR_FALL = 0.1  # the loss must fall by a tenth for the curve to suggest a rate


@dataclass
class LrFinding:
    learning_rates: list[float]
    losses: list[float]  # smoothed
    suggestion: float | None  # None when the loss never fell
    lowest_at: float | None
    stopped_early: bool  # the loss blew up before the last step
    plot: Path | None = None


def suggest(learning_rates: list[float], losses: list[float]) -> tuple[float | None, float | None]:
    """(a tenth of the rate at the lowest loss, that rate); (None, None) when the loss never fell
    clearly (by a tenth) below where it started, so the curve recommends nothing. The first tenth of
    the points only sets where it started: the smoothed loss is still settling there, and a lucky
    early batch is no reason to train at 1e-7."""
    skip = max(1, len(losses) // 10)
    if len(losses) < skip + 5:
        return None, None
    start_level = float(np.median(losses[:skip]))
    lowest = skip + int(np.argmin(losses[skip:]))
    if losses[lowest] > (1 - CLEAR_FALL) * start_level:
        return None, None
    return learning_rates[lowest] / 10, learning_rates[lowest]


def find_lr(config: TrainConfig, data_dir: Path = DEFAULT_DATA_DIR, project_dir: Path = Path("."), pretrained: bool | None = None,
            progress: Progress = NO_PROGRESS, start: float = START_LR, end: float = END_LR, steps: int = STEPS) -> LrFinding:
    """Run the range test on `data_dir`'s training images with `config`'s model, size and batch size."""
    data_dir = Path(data_dir)
    size = training_image_size(config, data_dir)
    train, _ = load_training_splits(data_dir, size, progress)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model, optimizer, scaler, criterion = training_parts(config, device, pretrained)  # the rate is set at each step
    spec = get_spec(config.model)
    crop = spec.crop_size(size)
    # the rate being chosen is the one the body stage peaks at
    recipe.set_stage(model, fine_tune_for(spec, starts_pretrained(config.model, pretrained)), "body")
    balanced = unequal_classes(train)
    growth = (end / start) ** (1 / max(1, steps - 1))

    def batches():  # as many epochs as the steps need
        epoch = 0
        while True:
            epoch += 1
            yield from training_batches(train, config.batch_size, config.seed, epoch, balanced, crop)

    recipe.train_mode(model)
    rates, losses, average, lowest, stopped = [], [], 0.0, math.inf, False
    with progress.task("Trying learning rates", total=steps, unit="steps") as task:
        for step, (images, labels, flip) in zip(range(steps), batches()):
            rate = start * growth**step
            recipe.set_learning_rate(optimizer, rate)
            x = to_tensor(images, spec.mean, spec.std, device, flip, channels_last=uses_channels_last(spec, device))
            _, loss = train_step(model, x, torch.as_tensor(labels).to(device), optimizer, criterion, scaler)
            value = float(loss)
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            smoothed = average / (1 - SMOOTHING ** (step + 1))  # bias-corrected, as Adam does
            task.advance()
            if not math.isfinite(smoothed) or smoothed > BLOW_UP * lowest:
                stopped = True
                break
            rates.append(rate)
            losses.append(smoothed)
            lowest = min(lowest, smoothed)
    if not rates:
        raise CoachError("The loss could not be measured even at the smallest learning rate.",
                         hint=f"Check the dataset with `dfcoach data check --data-dir {data_dir}`, then try again.")
    suggestion, lowest_at = suggest(rates, losses)
    finding = LrFinding(rates, losses, suggestion, lowest_at, stopped)
    finding.plot = plot_finding(finding, lr_finding_plot(project_dir, config.model, f"{datetime.now():%Y%m%d_%H%M%S}"))
    return finding


def plot_finding(finding: LrFinding, path: Path) -> Path:
    """The loss against the learning rate (log scale), the suggestion marked."""
    figure, axes = pyplot().subplots(figsize=(7, 4))
    axes.plot(finding.learning_rates, finding.losses)
    axes.set_xscale("log")
    axes.set(title="Loss while the learning rate grows", xlabel="learning rate (log scale)", ylabel="loss (smoothed)")
    if finding.suggestion is not None:
        axes.axvline(finding.suggestion, color="green", linestyle="--", label=f"suggested --lr {finding.suggestion:.0e}")
        axes.axvline(finding.lowest_at, color="grey", linestyle=":", label="lowest loss")
        axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path)
