"""An exponential moving average of the weights (Polyak averaging), the model dfcoach judges with.

With a few hundred images the weights jump about from one step to the next, and a model judged at
one instant can call almost everything "fake" one epoch and "real" the next. The average over the
last epoch or so of steps moves smoothly: validation figures stop swinging on that noise, early
stopping stops less often by chance, and the model saved is the steadier one. (timm's `ModelEma`,
TensorFlow's `ExponentialMovingAverage`: the same idea.)
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """`average` follows `model`: after each step, every weight and BatchNorm statistic moves a share
    `1 - decay` of the way towards the model's. The decay grows from 0.1 to `1 - 1/horizon` over the
    first steps (as in TensorFlow's), so the random starting weights are soon forgotten."""

    def __init__(self, model: nn.Module, horizon: int):
        self.average = copy.deepcopy(model).eval()
        self.average.requires_grad_(False)
        self.horizon = max(1, horizon)
        self.steps = 0

    def decay(self) -> float:
        return min(1 - 1 / self.horizon, (1 + self.steps) / (10 + self.steps))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.steps += 1
        decay = self.decay()
        for mine, theirs in zip(self.average.state_dict().values(), model.state_dict().values()):
            if mine.is_floating_point():
                mine.lerp_(theirs, 1 - decay)
            else:
                mine.copy_(theirs)  # counters such as BatchNorm's num_batches_tracked

    def state_dict(self) -> dict:
        return {"weights": self.average.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.average.load_state_dict(state["weights"])
        self.steps = int(state["steps"])
