"""Model files: self-describing, atomic, and loaded with weights_only=True."""

from __future__ import annotations

import pytest
import torch

from deepfake_coach.errors import CoachError
from deepfake_coach.train.checkpoint import load_checkpoint, make_checkpoint, model_from_checkpoint, save_checkpoint
from deepfake_coach.train.models import build_model


def test_round_trip_describes_itself(tmp_path):
    model = build_model("meso4")
    path = tmp_path / "models" / "best_model_meso4_20240205_143022.pth"
    optimizer = torch.optim.Adam(model.parameters())
    save_checkpoint(path, make_checkpoint(model, "meso4", 256, {"val_acc": 0.91}, {"lr": 0.001}, epoch=3, optimizer=optimizer.state_dict()))
    loaded = load_checkpoint(path)
    assert loaded["model_name"] == "meso4" and loaded["image_size"] == 256
    assert loaded["class_names"] == ["real", "fake"]
    assert loaded["normalization"]["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert loaded["metrics"]["val_acc"] == 0.91 and loaded["epoch"] == 3
    assert loaded["versions"]["torch"] == torch.__version__
    rebuilt = model_from_checkpoint(loaded)
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(rebuilt(x), model.eval()(x))
    assert [p.name for p in path.parent.iterdir()] == [path.name]


class Payload:
    def __reduce__(self):
        return (print, ("this ran code",))


def test_a_file_that_would_run_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    torch.save({"format": "dfcoach-checkpoint", "payload": Payload()}, path)
    with pytest.raises(CoachError, match="cannot be loaded safely"):
        load_checkpoint(path)
    assert "this ran code" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [(b"", "not a readable model file"), (b"PK\x03\x04truncated", "not a readable model file")],
)
def test_damaged_files(tmp_path, content, message):
    path = tmp_path / "m.pth"
    path.write_bytes(content)
    with pytest.raises(CoachError, match=message):
        load_checkpoint(path)


def test_other_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CoachError, match="not a dfcoach model file"):
        load_checkpoint(tmp_path / "other.pth")
    with pytest.raises(CoachError, match="no model file"):
        load_checkpoint(tmp_path / "missing.pth")


def test_weights_of_another_model_are_reported(tmp_path):
    checkpoint = make_checkpoint(build_model("custom_cnn"), "meso4", 128)
    with pytest.raises(CoachError, match="do not fit a meso4 model"):
        model_from_checkpoint(checkpoint)


def test_a_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    from deepfake_coach.train import checkpoint as checkpoint_module

    path = tmp_path / "best.pth"
    save_checkpoint(path, make_checkpoint(build_model("meso4"), "meso4", 256, epoch=1))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint_module, "atomic_write_bytes", disk_full)
    with pytest.raises(CoachError, match="disk is full"):
        save_checkpoint(path, make_checkpoint(build_model("meso4"), "meso4", 256, epoch=2))
    assert load_checkpoint(path)["epoch"] == 1


@pytest.mark.parametrize("change, words", [
    ({"model_name": None}, "model_name None is not a model this dfcoach knows"),
    ({"model_name": "../../evil"}, "is not a model this dfcoach knows"),
    ({"image_size": 60000}, "image_size 60000 is not a whole number of pixels"),
    ({"image_size": "64"}, "image_size '64' is not a whole number"),
    ({"normalization": {"mean": [0.5, 0.5, 0.5], "std": [0, 0.5, 0.5]}}, "must be above 0"),
    ({"normalization": {"mean": [0.5, float("nan"), 0.5], "std": [0.5, 0.5, 0.5]}}, "normalization mean"),
    ({"class_names": ["cat", "dog"]}, "class_names ['cat', 'dog'] should be"),
    ({"state_dict": None}, "it holds no weights"),
    ({"config": "epochs: 3"}, "config is not a set of named values"),
])
def test_a_model_file_with_odd_fields_is_refused_in_plain_words(cli, tmp_path, monkeypatch, change, words):
    """Through predict and deploy --check: a clear message, no traceback, nothing deployed."""
    from conftest import write_image, write_model

    monkeypatch.chdir(tmp_path)
    path = write_model(tmp_path / "models" / "best_model_custom_cnn_20261201_000000.pth")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint.update(change)
    torch.save(checkpoint, path)
    picture = write_image(tmp_path / "face.jpg", 1)
    for args in (("predict", picture, "--json"), ("deploy", "--check")):
        result = cli(*args)
        assert result.exit_code != 0
        assert "has a setting dfcoach cannot use" in result.stderr and words in result.stderr, result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / ".env").exists()


def test_resume_with_settings_dfcoach_cannot_use_says_so(cli, tmp_path, monkeypatch):
    from conftest import make_dataset, write_model

    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (4, 4), "val": (2, 2)}, size=32)
    run = tmp_path / "runs" / "20261201_000000"
    run.mkdir(parents=True)
    write_model(run / "last.pth")
    checkpoint = torch.load(run / "last.pth", weights_only=True)
    checkpoint["config"] = {"model": "custom_cnn", "epochs": 2, "surprise": 1}
    torch.save(checkpoint, run / "last.pth")
    result = cli("train", "--resume", run.name)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "does not hold the settings the run was started with" in result.stderr
