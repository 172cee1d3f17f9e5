"""The models a beginner can train, by name, each with its native input size.

`custom_cnn` is dfcoach's own small network, fast on a CPU. `meso4` is MesoNet
(Afchar et al., 2018), a detector designed for deepfakes: few parameters,
attention to mesoscopic detail. The torchvision backbones are the classic
image classifiers; `--pretrained` starts them from ImageNet weights when those
are on disk or can be downloaded.

Every model outputs two logits, in the order of `CLASS_NAMES` (fake = 1, the
positive class).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from deepfake_coach.errors import CoachError, UsageError

CLASS_NAMES = ("real", "fake")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DOWNLOAD_TIMEOUT_S = 10


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class CustomCNN(nn.Module):
    """Four conv blocks (16-32-64-128), global average pooling, dropout, a linear layer.

    The first block works at full resolution, where the traces of fakes are; narrow
    early blocks keep that affordable: measured on the demo's quick run, 16-32-64-128
    trains 3x faster than 32-64-128-128 (about 6 s against 16 s an epoch on 2 cores)
    at the same accuracy. Global pooling makes it work at any image size.
    """

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.features = nn.Sequential(_conv_block(3, 16), _conv_block(16, 32), _conv_block(32, 64), _conv_block(64, 128))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Meso4(nn.Module):
    """MesoNet's Meso-4: 3x3 then 5x5 convolutions with 8-8-16-16 channels, each with
    BatchNorm and pooling, then dropout, a 16-unit dense layer, dropout, the output.
    About 28k parameters at its native 256 px."""

    def __init__(self, num_classes: int = 2):
        super().__init__()

        def block(c_in: int, c_out: int, kernel: int, pool: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU(inplace=True), nn.BatchNorm2d(c_out), nn.MaxPool2d(pool)]

        self.features = nn.Sequential(*block(3, 8, 3, 2), *block(8, 8, 5, 2), *block(8, 16, 5, 2), *block(16, 16, 5, 4))
        # At 256 px the maps are already 8x8; pooling to 8x8 lets other sizes work too.
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(8),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(16 * 8 * 8, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.5),
            nn.Linear(16, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class ModelSpec:
    name: str
    summary: str
    native_size: int
    build: Callable[[int], nn.Module]  # num_classes -> an untrained model
    weights: str | None = None  # torchvision weights enum ("ResNet18_Weights") when pretrained weights exist
    min_size: int = 32  # smaller inputs vanish in the pooling layers


def _torchvision(name: str, replace_head: Callable[[nn.Module, int], None]) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        import torchvision

        model = torchvision.models.get_model(name, weights=None)
        replace_head(model, num_classes)
        return model

    return build


def _resnet_head(model: nn.Module, n: int) -> None:
    model.fc = nn.Linear(model.fc.in_features, n)


def _last_linear_head(model: nn.Module, n: int) -> None:
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, n)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("custom_cnn", "dfcoach's small CNN: fast on a CPU, a good first model", 128, CustomCNN, min_size=16),
        ModelSpec("meso4", "MesoNet (2018), built for deepfakes: 28k parameters", 256, Meso4),
        ModelSpec("resnet18", "ResNet-18 (torchvision): 11M parameters, strong with --pretrained", 224,
                  _torchvision("resnet18", _resnet_head), "ResNet18_Weights"),
        ModelSpec("efficientnet_b0", "EfficientNet-B0 (torchvision): 5M parameters, accurate, slow on a CPU", 224,
                  _torchvision("efficientnet_b0", _last_linear_head), "EfficientNet_B0_Weights"),
        ModelSpec("mobilenet_v3_small", "MobileNetV3-Small (torchvision): 2.5M parameters, fast", 224,
                  _torchvision("mobilenet_v3_small", _last_linear_head), "MobileNet_V3_Small_Weights"),
    )
}


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"There is no model called {name!r}.", hint=f"Choose one of: {', '.join(MODELS)}.") from None


def check_image_size(name: str, size: int) -> None:
    spec = get_spec(name)
    if size < spec.min_size:
        raise UsageError(
            f"--image-size {size} is too small for {name}: it needs at least {spec.min_size} pixels.",
            hint=f"Leave --image-size out to use {name}'s own size ({spec.native_size} px).",
        )


def build_model(name: str, pretrained: bool = False, num_classes: int = len(CLASS_NAMES)) -> nn.Module:
    spec = get_spec(name)
    model = spec.build(num_classes)
    if pretrained:
        _load_pretrained(spec, model)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pretrained_weights_path(spec: ModelSpec) -> Path:
    """Where torchvision keeps the ImageNet weights of `spec` (the torch hub cache)."""
    weights = _weights_entry(spec)
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def pretrained_available(name: str) -> bool:
    spec = get_spec(name)
    return spec.weights is not None and pretrained_weights_path(spec).is_file()


def _weights_entry(spec: ModelSpec):
    import torchvision

    if spec.weights is None:
        raise UsageError(
            f"{spec.name} has no pretrained weights: it is trained from scratch.",
            hint="Leave out --pretrained, or choose resnet18, efficientnet_b0 or mobilenet_v3_small.",
        )
    return getattr(torchvision.models, spec.weights).DEFAULT


def _load_pretrained(spec: ModelSpec, model: nn.Module) -> None:
    weights = _weights_entry(spec)
    path = pretrained_weights_path(spec)
    if not path.is_file():
        _download(weights, path, spec)
    state = torch.load(path, map_location="cpu", weights_only=True)
    # The ImageNet classifier has 1,000 outputs; ours is new, so it keeps its fresh weights.
    own = model.state_dict()
    compatible = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(compatible) < len(own) * 0.9:
        raise CoachError(f"The file {path} does not hold {spec.name}'s ImageNet weights.", hint=f"Delete it and try again: rm {path}")
    model.load_state_dict(compatible, strict=False)


def _download(weights, path: Path, spec: ModelSpec) -> None:
    size_mb = weights.meta.get("_file_size")
    size = f" ({size_mb:.0f} MB)" if size_mb else ""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(path.name)  # torchvision names files with their hash's prefix
        torch.hub.download_url_to_file(weights.url, str(path), hash_prefix=match.group(1) if match else None, progress=False)
    except Exception:
        path.unlink(missing_ok=True)
        raise CoachError(
            f"--pretrained needs a one-time download of {spec.name}'s ImageNet weights{size}, and it failed: "
            "this computer seems to be offline.",
            hint=f"Connect to the internet and run the command again, or copy the file {os.path.basename(weights.url)} "
            f"into {path.parent}/, or train without --pretrained.",
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
