"""The model registry: names, sizes, parameter counts, and pretrained weights from the torch cache."""

from __future__ import annotations

import pytest
import torch

from deepfake_coach.errors import CoachError, UsageError
from deepfake_coach.train import models
from deepfake_coach.train.models import MODELS, build_model, count_parameters, get_spec, pretrained_available, pretrained_weights_path


def test_registry_has_the_guide_models_with_native_sizes():
    assert set(MODELS) >= {"custom_cnn", "meso4", "resnet18", "efficientnet_b0", "mobilenet_v3_small"}
    assert get_spec("meso4").native_size == 256
    assert get_spec("resnet18").native_size == 224
    assert get_spec("custom_cnn").native_size == 128


def test_meso4_is_mesonet_sized():
    model = build_model("meso4")
    assert 27_000 <= count_parameters(model) <= 29_000
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16]
    assert [c.kernel_size for c in convs] == [(3, 3), (5, 5), (5, 5), (5, 5)]


@pytest.mark.parametrize("name", ["custom_cnn", "meso4"])
@pytest.mark.parametrize("size", [64, 128])
def test_small_models_give_two_logits_at_any_size(name, size):
    out = build_model(name).eval()(torch.zeros(2, 3, size, size))
    assert out.shape == (2, 2)


def test_torchvision_backbones_get_a_two_class_head():
    out = build_model("mobilenet_v3_small").eval()(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, 2)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UsageError) as caught:
        get_spec("yolo")
    assert "custom_cnn" in caught.value.hint and "meso4" in caught.value.hint


def test_pretrained_weights_are_read_from_the_torch_cache(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    spec = get_spec("mobilenet_v3_small")
    path = pretrained_weights_path(spec)
    assert path.parent == tmp_path / "hub" / "checkpoints"
    assert not pretrained_available("mobilenet_v3_small")
    imagenet = torchvision.models.mobilenet_v3_small(weights=None)  # stands in for the downloaded file
    path.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), path)
    assert pretrained_available("mobilenet_v3_small")
    model = build_model("mobilenet_v3_small", pretrained=True)
    first = "features.0.0.weight"
    assert torch.equal(model.state_dict()[first], imagenet.state_dict()[first])
    assert model.classifier[-1].out_features == 2


def test_pretrained_offline_says_a_download_is_needed(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(models.torch.hub, "download_url_to_file", offline)
    with pytest.raises(CoachError) as caught:
        build_model("resnet18", pretrained=True)
    assert "one-time download" in caught.value.message and "offline" in caught.value.message
    assert "resnet18-f37072fd.pth" in caught.value.hint
    assert not list(tmp_path.rglob("*.pth"))


def test_a_wrong_file_in_the_cache_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = pretrained_weights_path(get_spec("mobilenet_v3_small"))
    path.parent.mkdir(parents=True)
    torch.save({"something": torch.zeros(3)}, path)
    with pytest.raises(CoachError, match="does not hold"):
        build_model("mobilenet_v3_small", pretrained=True)


def test_models_without_imagenet_weights_refuse_pretrained():
    with pytest.raises(UsageError, match="trained from scratch"):
        build_model("custom_cnn", pretrained=True)


def test_noise_cnn_trains_on_half_size_crops():
    spec = get_spec("noise_cnn")
    assert spec.native_size == 256
    assert spec.crop_size(256) == 128 and spec.crop_size(40) == 32  # never below the model's minimum
    assert get_spec("custom_cnn").crop_size(128) is None  # the others see whole images


def test_noise_cnn_high_pass_removes_the_picture_and_keeps_the_noise():
    from deepfake_coach.train.models import HighPass

    high_pass = HighPass()
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    ramp = (0.3 * rows + 0.1 * cols).expand(1, 3, 32, 32)  # smooth shading, like a cheek
    inside = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # away from the zero padding
    assert high_pass(ramp)[inside].abs().max() < 1e-4
    noise = torch.randn(1, 3, 32, 32)
    assert high_pass(ramp + noise)[inside].abs().mean() > 0.5
    assert high_pass(noise).shape == (1, 12, 32, 32)
    assert not any(p.numel() == high_pass.weight.numel() for p in build_model("noise_cnn").parameters())  # fixed, not learned
    assert "residuals.weight" not in build_model("noise_cnn").state_dict()  # and not stored in model files


@pytest.mark.parametrize("size", [32, 96, 256])
def test_noise_cnn_is_fully_convolutional(size):
    out = build_model("noise_cnn").eval()(torch.zeros(2, 3, size, size))
    assert out.shape == (2, 2)


@pytest.mark.parametrize("name", list(MODELS))
def test_the_inference_copy_gives_the_same_answers_with_batchnorm_folded(name):
    torch.manual_seed(0)
    model = build_model(name)
    with torch.no_grad():  # trained-looking BatchNorm statistics, so folding them changes real numbers
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
    model.eval()
    fast = models.for_inference(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(fast(x.contiguous(memory_format=torch.channels_last)), model(x), atol=1e-4, rtol=1e-3)
    if name in ("custom_cnn", "resnet18"):  # every BatchNorm follows a convolution: all folded
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert model.training is False and any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched
