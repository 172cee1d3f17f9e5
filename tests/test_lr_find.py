"""`dfcoach train --find-lr`: the learning-rate range test, on a small dataset the test writes."""

from __future__ import annotations

import pytest

from conftest import make_dataset
from deepfake_coach.config import TrainConfig
from deepfake_coach.train import lr_find
from deepfake_coach.train.lr_find import find_lr, suggest


def test_the_suggestion_is_a_tenth_of_the_rate_at_the_lowest_loss():
    rates = [10.0**e for e in range(-6, 1)]  # 1e-6 .. 1
    losses = [0.70, 0.69, 0.60, 0.40, 0.30, 0.50, 2.0]
    assert suggest(rates, losses) == (pytest.approx(1e-3), pytest.approx(1e-2))


FLAT_AFTER_A_LUCKY_START = [0.71, 0.67, 0.68] + [0.70, 0.71, 0.70, 0.69, 0.70] * 6 + [0.8, 0.9]  # seen on real faces


@pytest.mark.parametrize("losses", [[0.7, 0.7, 0.69, 0.7, 0.71, 0.9], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [0.7, 0.6], FLAT_AFTER_A_LUCKY_START])
def test_no_suggestion_when_the_loss_never_clearly_fell(losses):
    rates = [10.0**-e for e in range(len(losses))][::-1]
    assert suggest(rates, losses) == (None, None)


def test_cli_finds_a_rate_saves_the_curve_and_trains_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (12, 12), "val": (4, 4)}, size=32)
    result = cli("train", "--find-lr", "--quick", "--image-size", "32", "--batch-size", "8", "--model", "noise_cnn")
    assert result.exit_code == 0, result.output
    (plot,) = (tmp_path / "runs").glob("lr_find_noise_cnn_*.png")
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "models").exists()  # nothing trained, nothing saved
    assert "Learning-rate finder (noise_cnn, batches of 8): tried 100 rates" in result.stdout
    assert "Next: dfcoach train --quick" in result.stdout


def test_the_rates_grow_exponentially_and_a_blow_up_stops_the_test(tmp_path):
    make_dataset(tmp_path / "dataset", {"train": (8, 8), "val": (2, 2)}, size=32)
    config = TrainConfig(model="custom_cnn", image_size=32, batch_size=4)
    finding = find_lr(config, tmp_path / "dataset", tmp_path, start=1e-5, end=1e3, steps=40)
    rates = finding.learning_rates
    assert rates[0] == pytest.approx(1e-5) and all(b / a == pytest.approx(rates[1] / rates[0]) for a, b in zip(rates, rates[1:]))
    assert finding.stopped_early and len(rates) < 40  # a learning rate of 1000 sends the loss far up
    assert finding.plot is not None and finding.plot.is_file()


def test_a_suggestion_that_cannot_be_made_is_explained(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (8, 8), "val": (2, 2)}, size=32)
    monkeypatch.setattr(lr_find, "suggest", lambda rates, losses: (None, None))
    result = cli("train", "--find-lr", "--image-size", "64", "--model", "custom_cnn")
    assert result.exit_code == 0, result.output
    assert "did not fall at any of these rates" in result.stdout and "dfcoach train --model custom_cnn" in result.stdout


def test_find_lr_with_resume_is_a_usage_error(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("train", "--find-lr", "--resume", "last")
    assert result.exit_code == 2 and "cannot be combined with --resume" in result.stderr


def test_find_lr_without_a_dataset_says_how_to_get_one(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("train", "--find-lr")
    assert result.exit_code == 1 and "There is no dataset" in result.stderr and "Traceback" not in result.output
