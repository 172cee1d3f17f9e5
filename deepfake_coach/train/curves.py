"""curves.png: loss and accuracy per epoch, training against validation, readable at a glance.

The accuracy drawn for validation is the one the best epoch is chosen on (`selection_score`):
balanced accuracy, where 50% is chance however unequal the classes are. Training draws as many
fakes as reals, so its accuracy is balanced too and the two lines compare."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from deepfake_coach.plotting import pyplot, save_figure
from deepfake_coach.train.coach import EpochMetrics, balanced_differs, best_epoch, selection_score


def plot_curves(history: Sequence[EpochMetrics], path: Path) -> None:
    plt = pyplot()
    epochs = [m.epoch for m in history]
    best = best_epoch(history)
    balanced = any(balanced_differs(m.val_acc, m.val_balanced_acc) for m in history)
    known = all(m.val_balanced_acc is not None for m in history)
    # A run from before balanced accuracy was recorded: plain accuracy, whose chance is the bigger class's share.
    chance = 50 if known else 100 * max(0.5, max(m.val_majority for m in history))
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(epochs, [m.train_loss for m in history], "o-", label="training")
    loss_axes.plot(epochs, [m.val_loss for m in history], "o-", label="validation")
    loss_axes.set(title="Loss (lower is better)", xlabel="epoch", ylabel="loss")
    acc_axes.plot(epochs, [100 * m.train_acc for m in history], "o-", label="training")
    acc_axes.plot(epochs, [100 * selection_score(m) for m in history], "o-", label="validation, balanced" if balanced else "validation")
    acc_axes.axhline(chance, color="grey", linestyle=":",
                     label="chance (50%)" if known else f"chance (always the bigger class: {chance:.0f}%)")
    acc_axes.axvline(best.epoch, color="green", linestyle="--",
                     label=f"best: {selection_score(best):.1%}{' balanced' if balanced else ''} (epoch {best.epoch})")
    acc_axes.set(title="Accuracy (higher is better)" + (": validation balanced, as the best is chosen" if balanced else ""),
                 xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 100))
    for axes in (loss_axes, acc_axes):
        axes.grid(alpha=0.3)
        axes.legend()
        axes.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    save_figure(figure, path)
