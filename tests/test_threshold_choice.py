"""Training chooses the decision threshold on the validation images and stores it in the model file."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from conftest import make_dataset
from deepfake_coach.config import TrainConfig
from deepfake_coach.train.checkpoint import load_checkpoint
from deepfake_coach.train.loop import fit
from deepfake_coach.train.threshold import DEFAULT_THRESHOLD, choose_threshold


def test_the_cut_between_the_classes_is_found_halfway_between_neighbours():
    # Every fake above 0.2, every real below: 0.5 would call two fakes real.
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.05, 0.10, 0.15, 0.25, 0.30, 0.60, 0.90])
    threshold = choose_threshold(labels, scores)
    assert threshold == pytest.approx(0.20)
    assert balanced_accuracy_score(labels, scores >= threshold) == 1.0
    assert balanced_accuracy_score(labels, scores >= 0.5) < 1.0


def test_it_gives_the_best_balanced_accuracy_of_any_threshold():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3  # unequal classes, as a person's own folder often is
    scores = np.clip(rng.normal(0.35 + 0.2 * labels, 0.15), 0, 1)
    threshold = choose_threshold(labels, scores)
    best = max(balanced_accuracy_score(labels, scores >= t) for t in np.unique(scores))
    assert balanced_accuracy_score(labels, scores >= threshold) == pytest.approx(best)
    assert 0 < threshold < 1
    assert threshold == round(threshold, 3)  # a number people can read, splitting the pictures the same way


def test_ties_go_to_the_cut_nearest_one_half_and_no_signal_keeps_one_half():
    labels = np.array([0, 0, 1, 1])
    assert choose_threshold(labels, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(0.5)  # any cut in (0.2, 0.8) is perfect
    assert choose_threshold(labels, np.array([0.5, 0.5, 0.5, 0.5])) == DEFAULT_THRESHOLD  # nothing separates them
    assert choose_threshold(np.array([1, 1]), np.array([0.3, 0.9])) == DEFAULT_THRESHOLD  # one class only
    assert choose_threshold(labels, np.array([0.9, 0.8, 0.2, 0.1])) == DEFAULT_THRESHOLD  # upside down is no reason to move it


def test_extreme_scores_keep_the_threshold_strictly_inside_zero_and_one():
    labels = np.array([0, 0, 1, 1])
    threshold = choose_threshold(labels, np.array([0.0, 0.0, 1e-9, 1e-9]))
    assert 0 < threshold < 1e-3


def test_each_epoch_records_its_threshold_and_the_best_model_stores_it(tmp_path):
    dataset = make_dataset(tmp_path / "dataset", {"train": (8, 8), "val": (6, 3)}, size=32)
    result = fit(TrainConfig(model="custom_cnn", epochs=2, batch_size=8, image_size=32), dataset, tmp_path)
    checkpoint = load_checkpoint(result.run.best_path)
    best = result.best
    assert checkpoint["threshold"] == best.threshold and checkpoint["threshold_source"] == "validation"
    assert checkpoint["metrics"]["threshold"] == best.threshold
    assert all(0 < m.threshold < 1 and m.val_auc is not None for m in result.history)
    rows = (result.run.run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",")[5:8] == ["val_balanced_acc", "val_auc", "threshold"]
