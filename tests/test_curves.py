"""curves.png draws what the run is judged on: the best epoch is the highest validation point."""

from __future__ import annotations

from deepfake_coach.train import curves
from deepfake_coach.train.coach import EpochMetrics


def drawn(monkeypatch, history, tmp_path):
    figures = []
    monkeypatch.setattr(curves, "save_figure", lambda figure, path: figures.append(figure))
    curves.plot_curves(history, tmp_path / "curves.png")
    (figure,) = figures
    accuracy = figure.axes[1]
    return {line.get_label(): list(line.get_ydata()) for line in accuracy.get_lines()} | {
        "x of " + line.get_label(): list(line.get_xdata()) for line in accuracy.get_lines()}


def test_with_unequal_classes_the_validation_line_is_balanced_and_the_best_is_its_highest_point(monkeypatch, tmp_path):
    # 72% real images: epoch 2 calls nearly everything real (higher plain accuracy, lower balanced)
    history = [EpochMetrics(1, 0.6, 0.7, 0.5, 0.75, val_majority=0.72, val_balanced_acc=0.80),
               EpochMetrics(2, 0.5, 0.8, 0.5, 0.78, val_majority=0.72, val_balanced_acc=0.60)]
    lines = drawn(monkeypatch, history, tmp_path)
    assert [round(y) for y in lines["validation, balanced"]] == [80, 60]
    assert lines["chance (50%)"] == [50, 50]
    (best,) = [label for label in lines if label.startswith("best")]  # a vertical line at the best epoch
    assert best == "best: 80.0% balanced (epoch 1)" and lines["x of " + best] == [1, 1]


def test_an_old_run_without_balanced_accuracy_draws_chance_at_the_bigger_class(monkeypatch, tmp_path):
    history = [EpochMetrics(1, 0.6, 0.7, 0.5, 0.72, val_majority=0.72), EpochMetrics(2, 0.5, 0.8, 0.5, 0.81, val_majority=0.72)]
    lines = drawn(monkeypatch, history, tmp_path)
    assert [round(y) for y in lines["validation"]] == [72, 81]
    assert "chance (always the bigger class: 72%)" in lines
