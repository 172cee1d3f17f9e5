"""`dfcoach train` through the CLI, on a few dozen tiny images the test writes."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from conftest import ctrl_c_at_training_step, make_dataset
from deepfake_coach.train import loop
from deepfake_coach.train.checkpoint import load_checkpoint, model_from_checkpoint

FAST = ("--image-size", "64", "--batch-size", "8", "--epochs", "2")  # the default model, efficientnet_lite0


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (12, 12), "val": (4, 4), "test": (2, 2)}, size=32)
    return tmp_path


def only_run(project):
    (run,) = list((project / "runs").iterdir())
    return run


def test_a_run_saves_everything_and_shows_the_checklist(cli, project):
    result = cli("train", *FAST)
    assert result.exit_code == 0, result.output
    run = only_run(project)
    for name in ("config.yaml", "metrics.csv", "curves.png", "last.pth", "train.log", "state.json"):
        assert (run / name).is_file(), name
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_balanced_acc", "val_auc", "threshold", "lr", "seconds"}
    (best,) = list((project / "models").glob(f"best_model_efficientnet_lite0_{run.name}.pth"))
    checkpoint = load_checkpoint(best)
    assert checkpoint["image_size"] == 64 and checkpoint["model_name"] == "efficientnet_lite0"
    model_from_checkpoint(checkpoint)
    assert json.loads((run / "state.json").read_text())["status"] == "finished"
    assert "Epoch 1/2: train loss" in result.stderr and "New best model saved: models/best_model_efficientnet_lite0_" in result.stderr
    assert "Success checklist" in result.stdout and "✓ Model saved in models/" in result.stdout


def test_quick_preset_and_settings_from_dfcoach_yaml(cli, project):
    (project / "dfcoach.yaml").write_text("train:\n  epochs: 1\n  image_size: 32\n  model: meso4\n")
    assert cli("train").exit_code == 0
    run = only_run(project)
    config = (run / "config.yaml").read_text()
    assert "model: meso4" in config and "epochs: 1" in config and "batch_size: 32" in config
    assert cli("train", "--quick", "--epochs", "1").exit_code == 0  # flags win; --quick sets batch 16
    newest = sorted((project / "runs").iterdir())[-1]
    assert "batch_size: 16" in (newest / "config.yaml").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (("--batch-size", "0"), "--batch-size 0"),
        (("--lr", "-1"), "--lr -1.0"),
        (("--model", "yolo"), "no model called 'yolo'"),
        (("--device", "cuda"), "no usable NVIDIA GPU"),
        (("--resume", "nope"), "no run called nope"),
        (("--model", "meso4", "--image-size", "16"), "too small for meso4"),
    ],
)
def test_bad_settings_are_usage_errors(cli, project, args, message):
    if args[0] == "--device" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = cli("train", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_no_dataset_or_a_single_class(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("train", *FAST)
    assert result.exit_code == 1 and "There is no dataset" in result.stderr
    make_dataset(tmp_path / "dataset", {"train": (6, 0), "val": (2, 2)})
    (tmp_path / "dataset" / "train" / "fake").mkdir(exist_ok=True)
    result = cli("train", *FAST)
    assert result.exit_code == 1 and "train split has no usable fake images" in result.stderr
    (tmp_path / "dataset").rename(tmp_path / "faces")
    result = cli("train", *FAST, "--data-dir", "faces")  # the command to run next names the folder given
    assert result.exit_code == 1 and "Run `dfcoach data check --data-dir faces`" in result.stderr


def test_out_of_memory_halves_the_batch_and_redoes_the_epoch(cli, project, monkeypatch):
    real_step = loop.train_step

    def small_memory(model, x, *args):
        if x.shape[0] > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(model, x, *args)

    monkeypatch.setattr(loop, "train_step", small_memory)
    result = cli("train", *FAST)
    assert result.exit_code == 0, result.output
    assert "ran out of memory with batches of 8" in result.stderr and "--batch-size 4" in result.stderr
    assert len(list(csv.DictReader(open(only_run(project) / "metrics.csv")))) == 2


def test_out_of_memory_at_batch_size_one_stops_clearly(cli, project, monkeypatch):
    def no_memory(*args):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(loop, "train_step", no_memory)
    result = cli("train", *FAST)
    assert result.exit_code == 1
    assert "does not fit in the GPU's memory even one image at a time" in result.stderr
    assert json.loads((only_run(project) / "state.json").read_text())["status"] == "failed"


def test_ctrl_c_saves_and_resume_finishes_the_run(cli, project, monkeypatch):
    train_again = ctrl_c_at_training_step(monkeypatch, 5)  # 3 batches per epoch: the second batch of epoch 2
    result = cli("train", *FAST)
    assert result.exit_code == 130
    run = only_run(project)
    assert f"dfcoach train --resume {run.name}" in result.stderr
    assert load_checkpoint(run / "last.pth")["epoch"] == 1
    # The person's own choice, said as such, with what is kept and the curves so far drawn
    assert "Error" not in result.stderr and "How to fix" not in result.stderr
    assert f"Stopped during epoch 2. Epoch 1 is saved in runs/{run.name}/last.pth" in result.stderr
    assert (run / "curves.png").is_file()

    train_again()
    result = cli("train", "--resume", "last")
    assert result.exit_code == 0, result.output
    assert "Resuming efficientnet_lite0" in result.stderr
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert len(list((project / "runs").iterdir())) == 1
    result = cli("train", "--resume", run.name)
    assert result.exit_code == 2 and "already finished" in result.stderr


def metrics_rows(run):
    with open(run / "metrics.csv") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def test_resume_continues_exactly(cli, tmp_path, monkeypatch):
    """An interrupted and resumed run ends with the same numbers as one that was never stopped."""
    if torch.cuda.is_available():  # on a GPU, equal numbers twice also need cuDNN's deterministic algorithms
        monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    for name in ("straight", "stopped"):
        make_dataset(tmp_path / name / "dataset", {"train": (12, 12), "val": (4, 4)}, size=32)
    monkeypatch.chdir(tmp_path / "straight")
    assert cli("train", *FAST, "--epochs", "3").exit_code == 0

    monkeypatch.chdir(tmp_path / "stopped")
    train_again = ctrl_c_at_training_step(monkeypatch, 4)  # the first batch of epoch 2
    assert cli("train", *FAST, "--epochs", "3").exit_code == 130
    train_again()
    assert cli("train", "--resume", "last").exit_code == 0
    assert metrics_rows(only_run(tmp_path / "stopped")) == metrics_rows(only_run(tmp_path / "straight"))


@pytest.mark.parametrize("flag, pretrained", [((), True), (("--from-scratch",), False)])
def test_the_default_model_starts_from_its_installed_weights_unless_from_scratch(cli, project, flag, pretrained):
    from deepfake_coach.train import efficientnet_lite

    result = cli("train", *FAST, "--epochs", "1", *flag)
    assert result.exit_code == 0, result.output
    run = only_run(project)
    assert f"pretrained: {str(pretrained).lower()}" in (run / "config.yaml").read_text()
    stem = load_checkpoint(run / "last.pth")["state_dict"]["conv_stem.weight"]
    installed = efficientnet_lite.port_state_dict(torch.load(efficientnet_lite.shipped_weights_path(), weights_only=True))
    assert torch.equal(stem, installed["conv_stem.weight"]) is pretrained  # kept as ImageNet made it, or trained from random
    assert ("only the new last layer learns" in result.stderr) is False  # one epoch: no room for a head-only stage


def test_resume_never_writes_where_the_run_file_says(cli, tmp_path, monkeypatch):
    """last.pth is data from a file: a best_path in it pointing elsewhere must not be written to."""
    project = tmp_path / "project"
    make_dataset(project / "dataset", {"train": (12, 12), "val": (4, 4)}, size=32)
    victim = tmp_path / "OUTSIDE" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("my notes")
    monkeypatch.chdir(project)
    train_again = ctrl_c_at_training_step(monkeypatch, 4)
    assert cli("train", *FAST, "--epochs", "3").exit_code == 130
    train_again()
    run = only_run(project)
    poisoned = load_checkpoint(run / "last.pth")
    poisoned["best_path"] = "../OUTSIDE/victim.txt"
    torch.save(poisoned, run / "last.pth")
    result = cli("train", "--resume", "last")
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "my notes"
    assert "victim" not in result.output
    assert (project / "models" / f"best_model_efficientnet_lite0_{run.name}.pth").is_file()


def test_pretrained_weights_from_the_torch_cache(cli, project, monkeypatch):
    import torchvision

    from deepfake_coach.train.models import get_spec, pretrained_weights_path

    from deepfake_coach.train import models

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("TORCH_HOME", str(project / "torch"))
    monkeypatch.setattr(models.torch.hub, "download_url_to_file", offline)
    tiny = ("--image-size", "64", "--epochs", "1", "--batch-size", "8")
    result = cli("train", "--model", "mobilenet_v3_small", "--pretrained", *tiny)
    assert result.exit_code == 1 and "one-time download" in result.stderr
    assert not (project / "runs").exists()
    path = pretrained_weights_path(get_spec("mobilenet_v3_small"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), path)
    result = cli("train", "--model", "mobilenet_v3_small", "--pretrained", *tiny)
    assert result.exit_code == 0, result.output
    assert "pretrained: true" in (sorted((project / "runs").iterdir())[-1] / "config.yaml").read_text()


def test_a_corrupt_image_is_skipped_and_reported(cli, project):
    (project / "dataset" / "train" / "fake" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    result = cli("train", *FAST)
    assert result.exit_code == 0, result.output
    assert "Skipped 1 image that could not be used" in result.stderr
    assert "train/fake/broken.jpg: damaged or not a picture" in result.stderr
    assert "skipped train/fake/broken.jpg" in (only_run(project) / "train.log").read_text()


def test_a_full_disk_when_saving_is_reported_and_keeps_what_was_saved(cli, project, monkeypatch):
    from deepfake_coach.train import checkpoint

    real_write, writes = checkpoint.atomic_write_bytes, []

    def fill_up(path, data, mode=None):
        writes.append(path)
        if len(writes) > 3:  # last.pth at the start, then epoch 1's best and last, then the disk is full
            raise OSError(28, "No space left on device", str(path))
        return real_write(path, data, mode)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", fill_up)
    result = cli("train", *FAST)
    assert result.exit_code == 1
    assert "disk is full" in result.stderr and "Traceback" not in result.output
    run = only_run(project)
    assert load_checkpoint(run / "last.pth")["epoch"] == 1
    assert json.loads((run / "state.json").read_text())["status"] == "failed"


def test_a_full_disk_while_decoding_leaves_nothing_half_written(cli, project, monkeypatch):
    from deepfake_coach.train import data

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.os, "fsync", no_space)  # where a full disk shows up for a file being written
    result = cli("train", *FAST)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Could not save the decoded train images" in result.stderr and "the disk is full" in result.stderr
    assert not list((project / "dataset").rglob("*.partial"))


def test_after_a_full_disk_at_a_save_resume_lists_each_epoch_once(cli, project, monkeypatch):
    from deepfake_coach.train import checkpoint

    real_write, last_writes = checkpoint.atomic_write_bytes, []

    def fill_up(path, data, mode=None):
        if path.name == "last.pth":
            last_writes.append(path)
            if len(last_writes) == 3:  # at the start, after epoch 1, then epoch 2's: the disk is full
                raise OSError(28, "No space left on device", str(path))
        return real_write(path, data, mode)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", fill_up)
    assert cli("train", *FAST, "--epochs", "3").exit_code == 1
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", real_write)  # space freed
    run = only_run(project)
    assert [r["epoch"] for r in metrics_rows(run)] == ["1", "2"]  # epoch 2 measured, its last.pth not saved
    result = cli("train", "--resume", "last")
    assert result.exit_code == 0, result.output
    assert [r["epoch"] for r in metrics_rows(run)] == ["1", "2", "3"]


def test_coaching_appears_while_training_and_early_stopping_ends_the_run(cli, project, monkeypatch):
    def coin_toss(model, spec, data, batch_size, criterion, device, threshold=None):
        return loop.Validation(loss=0.69, accuracy=0.5, fake_share=0.5, balanced_accuracy=0.5, roc_auc=0.5, threshold=0.5)  # learns nothing

    monkeypatch.setattr(loop, "validate", coin_toss)
    result = cli("train", "--image-size", "64", "--batch-size", "8", "--epochs", "10", "--patience", "3")
    assert result.exit_code == 0, result.output
    assert "Stuck at chance: after 3 epochs the model ranks fake validation images above real ones no better than a coin toss" in result.stderr
    assert "dfcoach train --lr 0.0001" in result.stderr
    assert "Early stopping: validation accuracy has not improved for 3 epochs" in result.stderr
    assert "Training stopped early" in result.stdout
    assert len(metrics_rows(only_run(project))) == 4
    assert "coach: stuck_at_chance" in (only_run(project) / "train.log").read_text()


def test_quiet_leaves_the_results_and_the_coach_but_not_the_epoch_lines(cli, project):
    result = cli("--quiet", "train", *FAST)
    assert result.exit_code == 0, result.output
    assert "Epoch 1/2" not in result.stderr and "Training efficientnet_lite0" not in result.stderr
    assert "Success checklist" in result.stdout  # results stay


def test_resume_goes_on_with_the_dataset_the_run_started_on(cli, project, monkeypatch):
    """A run started with --data-dir is resumed on those images, not on dfcoach.yaml's (or dataset/)."""
    (project / "dataset").rename(project / "faces")
    train_again = ctrl_c_at_training_step(monkeypatch, 5)
    assert cli("train", *FAST, "--data-dir", "faces").exit_code == 130
    train_again()
    result = cli("train", "--resume", "last")  # no --data-dir: there is no dataset/ here at all
    assert result.exit_code == 0, result.output
    assert [r["epoch"] for r in csv.DictReader(open(only_run(project) / "metrics.csv"))] == ["1", "2"]
