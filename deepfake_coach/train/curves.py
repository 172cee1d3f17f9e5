"""curves.png: loss and accuracy per epoch, training against validation, readable at a glance."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from deepfake_coach.plotting import pyplot, save_figure
from deepfake_coach.train.coach import EpochMetrics, best_epoch


def plot_curves(history: Sequence[EpochMetrics], path: Path) -> None:
    plt = pyplot()
    epochs = [m.epoch for m in history]
    best = best_epoch(history)
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs, [m.train_loss for m in history], "o-", label="training")
    loss_axes.plot(epochs, [m.val_loss for m in history], "o-", label="validation")
    loss_axes.set(title="Loss (lower is better)", xlabel="epoch", ylabel="loss")
    acc_axes.plot(epochs, [100 * m.train_acc for m in history], "o-", label="training")
    acc_axes.plot(epochs, [100 * m.val_acc for m in history], "o-", label="validation")
    acc_axes.axhline(50, color="grey", linestyle=":", label="chance (50%)")
    acc_axes.axvline(best.epoch, color="green", linestyle="--", label=f"best: {best.val_acc:.1%} (epoch {best.epoch})")
    acc_axes.set(title="Accuracy (higher is better)", xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 100))
    for axes in (loss_axes, acc_axes):
        axes.grid(alpha=0.3)
        axes.legend()
        axes.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    save_figure(figure, path)
