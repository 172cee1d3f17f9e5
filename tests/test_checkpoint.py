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
