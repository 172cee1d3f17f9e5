"""The evaluation's pictures: confusion.png, roc.png and mistakes.png, readable without knowing the jargon."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from deepfake_coach.data.layout import CLASSES
from deepfake_coach.plotting import pyplot, save_figure


class Judged(Protocol):
    """What a picture needs to be drawn: evaluate.Judged (described here, so this module needs nothing above it)."""

    file: str
    label: str
    fake_probability: float

    def called(self, threshold: float) -> str: ...

MISTAKES_SHOWN = 16  # a 4x4 grid: enough to see a pattern, small enough to look at each one
THUMBNAIL = 160


def plot_confusion(matrix: dict[str, dict[str, int]], threshold: float, path: Path) -> None:
    """Rows: what the images really are; columns: what the model called them. The diagonal is right."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5.5, 4.5))
    values = [[matrix[truth][called] for called in CLASSES] for truth in CLASSES]
    shares = [[n / (sum(row) or 1) for n in row] for row in values]  # coloured by share, so a small class still shows
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for t, truth in enumerate(CLASSES):
        total = sum(values[t]) or 1
        for c, called in enumerate(CLASSES):
            n = values[t][c]
            verdict = "right" if truth == called else "wrong"
            axes.text(c, t, f"{n:,}\n{n / total:.1%} of {truth}\n({verdict})", ha="center", va="center",
                      color="white" if shares[t][c] > 0.5 else "black")
    axes.set_xticks(range(len(CLASSES)), [f"called {label}" for label in CLASSES])
    axes.set_yticks(range(len(CLASSES)), [f"really {label}" for label in CLASSES])
    axes.set_title(f"Confusion matrix (threshold {threshold:g})")
    figure.tight_layout()
    save_figure(figure, path)


def plot_roc(truth: Sequence[int], fake_probabilities: Sequence[float], threshold: float, path: Path) -> None:
    """The ROC curve: every threshold's trade-off, with the one in use marked."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = pyplot()
    false_positive, true_positive, _ = roc_curve(truth, fake_probabilities)
    auc = roc_auc_score(truth, fake_probabilities)
    called = [p >= threshold for p in fake_probabilities]
    fakes = sum(truth) or 1
    reals = (len(truth) - sum(truth)) or 1
    here_tpr = sum(c and t for c, t in zip(called, truth)) / fakes
    here_fpr = sum(c and not t for c, t in zip(called, truth)) / reals
    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot(false_positive, true_positive, label=f"this model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="guessing (AUC 0.5)")
    axes.plot([here_fpr], [here_tpr], "o", color="red", label=f"threshold {threshold:g}")
    axes.set(title="ROC curve: higher and further left is better", xlim=(0, 1), ylim=(0, 1.02),
             xlabel="real faces wrongly flagged as fake (false positive rate)",
             ylabel="fake faces caught (true positive rate)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    save_figure(figure, path)


def plot_mistakes(mistakes: Sequence[tuple[Path, Judged]], judged: int, threshold: float, path: Path) -> None:
    """The most confidently wrong images, worst first: where the model fails is where to look for bad labels."""
    from deepfake_coach.inference import UnreadableImage, open_image

    plt = pyplot()
    shown = list(mistakes[:MISTAKES_SHOWN])
    if not shown:
        figure, axes = plt.subplots(figsize=(5, 1.5))
        axes.axis("off")
        axes.text(0.5, 0.5, f"No mistakes on {judged:,} images at threshold {threshold:g}.", ha="center", va="center")
        save_figure(figure, path)
        return
    columns = min(4, len(shown))
    rows = (len(shown) + columns - 1) // columns
    figure, grid = plt.subplots(rows, columns, figsize=(2.6 * columns, 3.3 * rows), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, (file, item) in zip(grid.flat, shown):
        try:
            with open_image(file, THUMBNAIL) as image:
                picture = image.convert("RGB")
                picture.thumbnail((THUMBNAIL, THUMBNAIL))
            axes.imshow(picture)
        except UnreadableImage:
            axes.text(0.5, 0.5, "(cannot be shown)", ha="center", va="center")
        called = item.called(threshold)
        sure = item.fake_probability if called == "fake" else 1 - item.fake_probability
        axes.set_title(f"called {called} ({sure:.0%} sure)\nreally {item.label}\n{Path(item.file).name}", fontsize=8)
    figure.suptitle(f"The {len(shown)} most confidently wrong of {len(mistakes):,} mistakes", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path)
