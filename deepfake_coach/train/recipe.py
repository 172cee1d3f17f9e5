"""dfcoach's training recipe: the optimizer, the learning-rate schedule, and how a pretrained network
is fine-tuned (docs/real-faces.md says why each choice; benchmarks/real_faces.py measures it).

Fine-tuning follows fastai's `fine_tune`: first only the new head learns, on top of a body that stays
as ImageNet made it (a head of random weights would otherwise send large, random corrections through
the whole network); then the body learns too, each layer group at a lower rate the nearer it is to
the input (discriminative learning rates: early layers hold general features worth keeping). The
first few groups, edges and textures that any picture needs, never train: no backward pass runs
through them, which is what makes a quick run on a CPU quick, and their BatchNorm statistics stay
ImageNet's instead of being re-estimated from batches of 16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch import nn

WEIGHT_DECAY = 1e-4  # AdamW: keeps weights small, so a few hundred images are not simply memorised
LABEL_SMOOTHING = 0.1  # aim for 0.95, not 1.0: an over-confident model stops learning from images it already gets right
WARMUP_SHARE = 0.2  # one-cycle schedule: the learning rate climbs for the first 20% of the steps, then falls

Stage = Literal["head", "body", "all"]


@dataclass(frozen=True)
class FineTune:
    """How a pretrained network is fine-tuned."""

    groups: Callable[[nn.Module], list[list[nn.Module]]]  # from input to output; the last one is the new head
    frozen: int  # the first `frozen` groups never train
    head_epochs: int = 1  # epochs in which only the head learns
    lr_ratio: float = 10.0  # the earliest group that trains learns this many times slower than the head
    body_lr_share: float = 0.5  # the body stage peaks at this share of --lr (fastai's fine_tune halves it)

    def head_epochs_for(self, epochs: int) -> int:
        """A run of one epoch has no room for a head-only stage."""
        return self.head_epochs if epochs > self.head_epochs else 0


def stage_of(fine_tune: FineTune | None, epoch: int, epochs: int) -> Stage:
    if fine_tune is None:
        return "all"
    return "head" if epoch <= fine_tune.head_epochs_for(epochs) else "body"


def set_stage(model: nn.Module, fine_tune: FineTune | None, stage: Stage) -> None:
    """Which parameters learn in `stage`; the others get no gradient (and no backward pass)."""
    if fine_tune is None:
        return
    groups = fine_tune.groups(model)
    learning = groups[-1:] if stage == "head" else groups[fine_tune.frozen:]
    learning_ids = {id(p) for group in learning for module in group for p in module.parameters()}
    for p in model.parameters():
        p.requires_grad_(id(p) in learning_ids)


def train_mode(model: nn.Module) -> None:
    """`model.train()`, except that a BatchNorm whose weights are frozen keeps its running statistics:
    a frozen layer must compute what it computed on ImageNet."""
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight is not None and not module.weight.requires_grad:
            module.eval()


def parameter_groups(model: nn.Module, fine_tune: FineTune | None) -> list[dict]:
    """The optimizer's parameter groups, each with the share of the scheduled rate it learns at (`lr_scale`)."""
    if fine_tune is None:
        return [{"params": list(model.parameters()), "lr_scale": 1.0}]
    trained = fine_tune.groups(model)[fine_tune.frozen:]
    steps = max(1, len(trained) - 1)
    return [{"params": [p for module in group for p in module.parameters()], "lr_scale": fine_tune.lr_ratio ** (k / steps - 1)}
            for k, group in enumerate(trained)]


def one_cycle_lr(done: float, peak: float, warmup: float = WARMUP_SHARE) -> float:
    """The learning rate when a share `done` (0 to 1) of training is done: from peak/25 up to `peak`
    (a warm-up, while the weights are still random), then down to nearly zero along a cosine
    (Smith's one-cycle schedule). A function of progress, so a resumed run or smaller batches
    after running out of memory follow the same curve."""
    done = min(max(done, 0.0), 1.0)
    if done < warmup:
        return peak / 25 + (peak - peak / 25) * done / warmup
    return peak / 1e4 + (peak - peak / 1e4) * 0.5 * (1 + math.cos(math.pi * (done - warmup) / (1 - warmup)))


def learning_rate(fine_tune: FineTune | None, epoch: int, share: float, epochs: int, peak: float) -> float:
    """The head's learning rate at a `share` of `epoch` (1-based): one cycle over the whole run, or, when
    fine-tuning, one cycle for the head stage and another for the body stage."""
    head_epochs = fine_tune.head_epochs_for(epochs) if fine_tune is not None else 0
    if epoch <= head_epochs:
        return one_cycle_lr((epoch - 1 + share) / head_epochs, peak)
    body_peak = peak * (fine_tune.body_lr_share if fine_tune is not None else 1.0)
    return one_cycle_lr((epoch - 1 - head_epochs + share) / (epochs - head_epochs), body_peak)


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = rate * group.get("lr_scale", 1.0)


def optimizer_for(model: nn.Module, fine_tune: FineTune | None, lr: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(parameter_groups(model, fine_tune), lr=lr, weight_decay=WEIGHT_DECAY)


def criterion() -> nn.Module:
    return nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)


def stage_message(stage: Stage, epoch: int, epochs: int) -> str:
    """What the person is told when a fine-tuning stage begins."""
    if stage == "head":
        return (f"Epoch {epoch}: only the new last layer learns. The rest of the network keeps what it learned on "
                "ImageNet's million photos, so the new layer's first random guesses cannot spoil it.")
    return (f"Epochs {epoch}-{epochs}: the network learns too, more gently the nearer a layer is to the picture; the "
            "first layers (edges and textures, which every picture needs) stay as ImageNet made them.")
