"""The models a beginner can train, by name, each with its native input size.

`efficientnet_lite0` (the default) is an ImageNet-trained EfficientNet-Lite0 whose weights install
with dfcoach: a network that has already learned to see, fine-tuned to tell real faces from fake
ones (train/recipe.py). From a thousand pictures, that works where a network starting from random
weights learns nothing (docs/real-faces.md).

`noise_cnn` looks for what fakes leave behind in the fine noise of
an image: fixed high-pass filters first, then a small CNN; it trains on crops at
the image's own resolution and judges the whole image (see docs/real-faces.md).
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
from deepfake_coach.train import efficientnet_lite
from deepfake_coach.train.recipe import FineTune

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


# The three classic high-pass filters of image forensics' "rich models" (SRM; Fridrich & Kodovsky,
# 2012, as used by Zhou et al., 2018): a 3x3 and a 5x5 second-order residual and a
# horizontal second difference; the vertical one is added as the fourth. Each predicts a pixel from
# its neighbours and keeps the error, which removes the face and keeps the noise.
SRM_KERNELS = (
    ((0, 0, 0, 0, 0), (0, -1, 2, -1, 0), (0, 2, -4, 2, 0), (0, -1, 2, -1, 0), (0, 0, 0, 0, 0)),
    ((-1, 2, -2, 2, -1), (2, -6, 8, -6, 2), (-2, 8, -12, 8, -2), (2, -6, 8, -6, 2), (-1, 2, -2, 2, -1)),
    ((0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (0, 1, -2, 1, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0)),
    ((0, 0, 0, 0, 0), (0, 0, 1, 0, 0), (0, 0, -2, 0, 0), (0, 0, 1, 0, 0), (0, 0, 0, 0, 0)),
)
SRM_SCALES = (4, 12, 2, 2)


class HighPass(nn.Module):
    """Fixed SRM filters on each colour channel: 3 channels in, 12 noise residuals out. Not trained:
    with a few hundred images, a learned first layer would rather learn the faces than their noise."""

    def __init__(self):
        super().__init__()
        kernels = torch.tensor(SRM_KERNELS, dtype=torch.float32) / torch.tensor(SRM_SCALES, dtype=torch.float32).view(-1, 1, 1)
        self.register_buffer("weight", kernels.unsqueeze(1).repeat(3, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight, padding=2, groups=3)


class NoiseCNN(nn.Module):
    """High-pass residuals, normalised, then a small CNN that keeps full resolution in its first
    block (no early downsampling: that is where the traces are), global average pooling and a linear
    layer. Fully convolutional: trained on crops, it judges a whole image at once."""

    def __init__(self, num_classes: int = 2, width: int = 16):
        super().__init__()
        self.residuals = HighPass()
        self.features = nn.Sequential(
            nn.BatchNorm2d(12),
            *_conv_block(12, width)[:-1],  # full resolution
            _conv_block(width, width),
            _conv_block(width, 2 * width),
            _conv_block(2 * width, 4 * width),
            _conv_block(4 * width, 4 * width),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.residuals(x)))


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
    # Training on random crops of this share of the image size, at full resolution, and judging the
    # whole image (fully convolutional); None: whole images both times.
    train_crop: float | None = None
    # Work at the images' own resolution, up to native_size, rather than resizing them to native_size:
    # upscaling small pictures would smear the fine detail this model reads.
    follows_data: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN  # the input normalisation its weights expect
    std: tuple[float, float, float] = IMAGENET_STD
    # Loads ImageNet weights that installed with dfcoach (no download); such a model starts from them
    # unless --from-scratch is given.
    shipped_weights: Callable[[nn.Module], None] | None = None
    fine_tune: FineTune | None = None  # how its pretrained weights are fine-tuned; None: everything trains throughout
    # Channels-last memory on the CPU too (always on a GPU): oneDNN's depthwise convolutions run
    # faster so (efficientnet_lite0 trains 1.5x faster); plain CNNs gain nothing.
    channels_last: bool = False

    def crop_size(self, image_size: int) -> int | None:
        return None if self.train_crop is None else max(self.min_size, round(image_size * self.train_crop))


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


EFFICIENTNET_LITE0_FINE_TUNE = FineTune(
    efficientnet_lite.layer_groups,
    frozen=4,  # the stem and the first three stages (up to 1/8 of the resolution) stay ImageNet's
    head_epochs=1,
    lr_ratio=10.0,
    body_lr_share=1.0,  # fastai halves the rate for the body; on real faces the full rate did better on validation
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("efficientnet_lite0", "dfcoach's default: EfficientNet-Lite0, trained on ImageNet, fine-tuned to your faces "
                  "(weights installed with dfcoach)", 256, efficientnet_lite.build, min_size=64, train_crop=0.875,
                  follows_data=True, mean=efficientnet_lite.MEAN, std=efficientnet_lite.STD,
                  shipped_weights=efficientnet_lite.load_shipped_weights, fine_tune=EFFICIENTNET_LITE0_FINE_TUNE, channels_last=True),
        ModelSpec("noise_cnn", "looks at the fine noise where fakes leave traces; learns from few images",
                  256, NoiseCNN, min_size=32, train_crop=0.5, follows_data=True),
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


def needs_torchvision(name: str) -> bool:
    """Whether the model `name` needs torchvision besides torch: torchvision's own classifiers (the models
    with a torchvision weights enum) do, and so does efficientnet_lite0, built by timm, which imports
    torchvision. The others are plain torch."""
    spec = MODELS.get(name)
    return spec is not None and (spec.weights is not None or spec.build is efficientnet_lite.build)


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"There is no model called {name!r}.", hint=f"Choose one of: {', '.join(MODELS)}.") from None


def default_image_size(name: str, typical_size: int | None) -> int:
    """The image size a model trains at when --image-size is not given: its native size, or for a model
    that follows the data, the images' own size (`typical_size`) within [min_size, native_size]."""
    spec = get_spec(name)
    if spec.follows_data and typical_size:
        return max(spec.min_size, min(spec.native_size, typical_size))
    return spec.native_size


def check_image_size(name: str, size: int) -> None:
    spec = get_spec(name)
    if size < spec.min_size:
        raise UsageError(
            f"--image-size {size} is too small for {name}: it needs at least {spec.min_size} pixels.",
            hint=f"Leave --image-size out to use {name}'s own size ({spec.native_size} px).",
        )


def starts_pretrained(name: str, pretrained: bool | None) -> bool:
    """Whether a new run of `name` starts from ImageNet weights: as asked, else (None) when they
    installed with dfcoach."""
    return get_spec(name).shipped_weights is not None if pretrained is None else pretrained


def build_model(name: str, pretrained: bool | None = False, num_classes: int = len(CLASS_NAMES)) -> nn.Module:
    """A new `name` model; `pretrained` None means "the shipped weights when there are some"."""
    spec = get_spec(name)
    model = spec.build(num_classes)
    if starts_pretrained(name, pretrained):
        if spec.shipped_weights is not None:
            spec.shipped_weights(model)
        else:
            _load_pretrained(spec, model)
    return model


def for_inference(model: nn.Module, device="cpu") -> nn.Module:
    """A copy of `model` made for judging only: each BatchNorm folded into the convolution before it
    (one operation instead of two; the same answers up to float rounding) and channels-last memory,
    which oneDNN's CPU convolutions and a GPU's tensor cores run fastest on. Together about 3x faster
    for custom_cnn on a CPU (benchmarks/serve_load.py). A model torch.fx cannot trace is only moved."""
    import copy

    model = copy.deepcopy(model).eval()
    try:
        from torch.fx.experimental.optimization import fuse

        model = fuse(model, inplace=True)
    except Exception:  # tracing fails on data-dependent control flow; the model still works unfused
        pass
    return model.to(device=device, memory_format=torch.channels_last)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pretrained_weights_path(spec: ModelSpec) -> Path:
    """Where torchvision keeps the ImageNet weights of `spec` (the torch hub cache)."""
    weights = _weights_entry(spec)
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def pretrained_available(name: str) -> bool:
    """Whether ImageNet weights for `name` are on this computer: installed with dfcoach, or downloaded before."""
    spec = get_spec(name)
    return spec.shipped_weights is not None or (spec.weights is not None and pretrained_weights_path(spec).is_file())


def _weights_entry(spec: ModelSpec):
    import torchvision

    if spec.weights is None:
        raise UsageError(
            f"{spec.name} has no pretrained weights: it is trained from scratch.",
            hint="Leave out --pretrained, or choose efficientnet_lite0 (its weights are installed), resnet18, efficientnet_b0 "
                 "or mobilenet_v3_small.",
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
