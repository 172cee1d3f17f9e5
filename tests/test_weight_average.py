"""The moving average of the weights that dfcoach judges, saves and deploys."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import ctrl_c_at_training_step, make_dataset
from deepfake_coach.train.checkpoint import load_checkpoint
from deepfake_coach.train.weight_average import WeightAverage


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2)).eval()


def test_the_average_follows_the_model_smoothly():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, horizon=100)
    with torch.no_grad():
        model.weight.fill_(1.0)
    average.update(model)  # early on the decay is small: the random start is soon forgotten
    assert average.average.weight.item() == pytest.approx(1 - 2 / 11)
    for _ in range(1000):
        average.update(model)
    assert average.decay() == pytest.approx(0.99)  # then it settles at 1 - 1/horizon
    assert average.average.weight.item() == pytest.approx(1.0)
    with torch.no_grad():
        model.weight.fill_(2.0)
    average.update(model)
    assert average.average.weight.item() == pytest.approx(1.01)  # one step moves it 1/100 of the way


def test_batchnorm_statistics_are_averaged_and_counters_copied():
    model = nn.BatchNorm2d(3)
    average = WeightAverage(model, horizon=4)
    model.train()
    model(torch.randn(8, 3, 5, 5) * 3 + 2)
    average.update(model)
    assert not torch.equal(average.average.running_mean, torch.zeros(3))  # moved towards the model's
    assert not torch.equal(average.average.running_mean, model.running_mean)  # but only part of the way
    assert average.average.num_batches_tracked.item() == 1
    assert not average.average.training and not any(p.requires_grad for p in average.average.parameters())


def test_its_state_survives_a_safe_save_and_load(tmp_path):
    model = small_model()
    model(torch.zeros(1, 3, 6, 6))  # sizes the lazy layer
    average = WeightAverage(model, horizon=10)
    for _ in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1)
        average.update(model)
    torch.save(average.state_dict(), tmp_path / "average.pth")
    again = WeightAverage(model, horizon=10)
    again.load_state_dict(torch.load(tmp_path / "average.pth", weights_only=True))
    assert again.steps == 3 and again.decay() == average.decay()
    for mine, theirs in zip(again.average.state_dict().values(), average.average.state_dict().values()):
        assert torch.equal(mine, theirs)


def test_the_saved_model_is_the_average(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (12, 12), "val": (4, 4)}, size=32)
    assert cli("train", "--image-size", "64", "--batch-size", "8", "--epochs", "1").exit_code == 0
    (best_path,) = (tmp_path / "models").iterdir()
    best = load_checkpoint(best_path)["state_dict"]
    (run,) = (tmp_path / "runs").iterdir()
    last = load_checkpoint(run / "last.pth")
    assert last["weight_average"]["steps"] == 3  # 24 images in batches of 8
    for name, weights in last["weight_average"]["weights"].items():
        assert torch.equal(best[name], weights), name
    assert any(not torch.equal(best[name], raw) for name, raw in last["state_dict"].items() if raw.is_floating_point())


def test_a_run_saved_before_the_average_existed_resumes_from_its_own_weights(cli, tmp_path, monkeypatch):
    from deepfake_coach.train import loop
    from deepfake_coach.train.checkpoint import save_checkpoint

    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (12, 12), "val": (4, 4)}, size=32)
    train_again = ctrl_c_at_training_step(monkeypatch, 4)  # the first batch of epoch 2
    assert cli("train", "--image-size", "64", "--batch-size", "8", "--epochs", "3").exit_code == 130
    train_again()
    (run,) = (tmp_path / "runs").iterdir()
    older = load_checkpoint(run / "last.pth")
    del older["weight_average"]  # as an earlier dfcoach saved it
    save_checkpoint(run / "last.pth", older)

    started_from = []

    class Watched(WeightAverage):
        def __init__(self, model, horizon):
            super().__init__(model, horizon)
            started_from.append({name: value.clone() for name, value in self.average.state_dict().items()})

    monkeypatch.setattr(loop, "WeightAverage", Watched)
    assert cli("train", "--resume", "last").exit_code == 0
    for name, value in older["state_dict"].items():
        assert torch.equal(started_from[0][name], value), name
