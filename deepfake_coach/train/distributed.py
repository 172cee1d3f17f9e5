"""Training on several processes at once, one per GPU (on a computer without one, processes sharing
the CPU), with torch.distributed, started by torchrun (`dfcoach train --devices N` starts it:
train/launcher.py; `torchrun ... -m deepfake_coach train ...` works as well).

The rule behind everything here: N processes train the very model one process trains. Each process
draws every batch whole, exactly as one process would (the same pictures, crops and flips:
`training_batches`), and works on its own share of it. DistributedDataParallel averages the
gradients; BatchNorm takes the whole batch's statistics; dropout draws the whole batch's mask and
keeps its own rows; each share's loss is weighted by its size, so a last batch that does not divide
evenly averages as it does on one process. `--devices 2` with batches of 32 is one process with
batches of 32, to float rounding, and a run may resume on another number of devices.

Validation, saving, the run's files and everything printed happen on the first process (rank 0,
the leader); it hands its decisions (the epoch's figures, whether to stop) to the others.

Outside torchrun `World()` (one process) makes every method here do nothing, or return what it is
given: the single-process path is the one dfcoach always had.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F

from deepfake_coach.errors import CoachError, UsageError
from deepfake_coach.train.data import share_of

T = TypeVar("T")

# How long a process waits in a collective (a barrier, a gradient average) before it gives up with an
# error instead of hanging: long enough for the leader to decode a large dataset or validate on many
# images while the others wait, short enough that a stuck process does not hold the GPUs all day.
# Ctrl-C does not wait for it: torchrun passes the signal on, and a process that is gone closes its
# connections, which ends the others' waits at once.
TIMEOUT = timedelta(minutes=60)


class RankError(CoachError):
    """A failure only this process knows about (the others stop because it is gone): printed by the
    process that has it, whichever it is, where other errors print once."""


@dataclass(frozen=True)
class World:
    """This process's place among the processes of one run (torchrun's RANK, WORLD_SIZE, LOCAL_RANK,
    LOCAL_WORLD_SIZE); `World()` is a run of one process."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        return self.rank == 0

    @property
    def part(self) -> tuple[int, int]:
        """(rank, processes), as `training_batches` takes it."""
        return self.rank, self.size

    # --- the process group ---------------------------------------------------------------------

    def place(self, device: torch.device) -> torch.device:
        """The device this process trains on: on a GPU machine its own GPU (LOCAL_RANK)."""
        if not self.distributed:
            return device
        if device.type == "mps":
            raise UsageError("Training on several devices needs NVIDIA GPUs or the CPU; Apple's GPU is one device.",
                             hint="Leave out --devices, or add --device cpu to use processes on the CPU.")
        if device.type == "cuda":
            have = torch.cuda.device_count()
            if self.local_rank >= have:
                raise UsageError(f"{self.local_size} processes were started on this computer, but it has {have} GPU{'' if have == 1 else 's'}.",
                                 hint=f"Start at most {have} (--devices {have}, or torchrun's --nproc-per-node {have}).")
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def start(self, device: torch.device) -> None:
        """Join the other processes: NCCL between GPUs, gloo between CPU processes."""
        if self.distributed and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)

    def stop(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    # --- sharing results -----------------------------------------------------------------------

    def from_leader(self, make: Callable[[], T]) -> T:
        """`make()` run on the leader only, its result handed to every process: the run's folder, a
        resumed run's last.pth, the epoch's figures and the decision to stop."""
        if not self.distributed:
            return make()
        box = [make() if self.leader else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def leader_first(self, make: Callable[[], T]) -> T:
        """`make()` on every process, the leader's first: the decoded-image cache is built once (by
        the leader, then by the first process of each other computer, in case it does not share the
        leader's disk) and read by the others once it is there."""
        if not self.distributed:
            return make()
        result = make() if self.leader else None
        dist.barrier()
        if self.local_rank == 0 and not self.leader:
            result = make()
        dist.barrier()
        return make() if self.local_rank != 0 else result

    def sum(self, *values) -> list[float]:
        """Each value summed over the processes (the epoch's loss, hits and images seen)."""
        if not self.distributed:
            return [float(v) for v in values]
        device = next((v.device for v in values if isinstance(v, torch.Tensor)), torch.device("cpu"))
        total = torch.stack([torch.as_tensor(v, device=device).to(torch.float64) for v in values])
        dist.all_reduce(total)
        return total.tolist()

    def all(self, yes: bool) -> bool:
        """True on every process when it is true on every process."""
        if not self.distributed:
            return yes
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
        flag = torch.tensor([1 if yes else 0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    # --- the model -----------------------------------------------------------------------------

    def prepare(self, model: nn.Module) -> nn.Module:
        """`model`, changed in place to compute over the whole batch when there are several
        processes: BatchNorm's statistics and dropout's mask. Parameters, buffers and their names
        stay as they were, so the optimizer, last.pth and the saved model do not change."""
        if not self.distributed:
            return model
        if next(model.parameters()).device.type == "cuda":
            model = _sync_batchnorm(model)
        else:
            _replace(model, lambda m: type(m) in _PLAIN_BATCHNORM or _is_timm_batchnorm_act(m), SharedBatchNorm.like)
        _replace(model, lambda m: type(m) is nn.Dropout, lambda m: WholeBatchDropout(m.p))
        drop_rate = getattr(model, "drop_rate", 0.0)
        if isinstance(drop_rate, float) and drop_rate > 0 and isinstance(getattr(model, "classifier", None), nn.Module):
            # timm's models drop out in forward_head with F.dropout, not with a module
            model.drop_rate = 0.0
            model.classifier.register_forward_pre_hook(_dropout_before(drop_rate))
        return model

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """DistributedDataParallel around `model` when there are several processes; wrapped again
        whenever the parameters that learn change (fine-tuning's stages), as DDP takes them at the start.
        Buffers are not sent around at each step: whole-batch BatchNorm keeps them equal."""
        if not self.distributed:
            return model
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        no_buffer_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                          else {"broadcast_buffers": False})  # the name before torch 2.13
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None, **no_buffer_sync)

    def share(self, total: int) -> "Share":
        """This process's rows of the next batch of `total` images, which dropout draws its mask for."""
        global _current
        if not self.distributed:
            return Share(slice(0, total), total, 1)
        _current = Share(share_of(total, self.rank, self.size), total, self.size)
        return _current

    def fits(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, criterion, is_out_of_memory: Callable[[BaseException], bool]) -> bool:
        """Whether a training step on this batch fits in every process's memory, agreed by all.

        A process that runs out of memory in the middle of a step leaves the others waiting in that
        step's gradient average, so no process can redo the epoch with smaller batches from there.
        The first step of each epoch is therefore tried first on each process alone (no collective
        in it: BatchNorm on the process's own rows), its effects undone (BatchNorm's statistics,
        the random generator, the gradients), and the processes agree on the answer: together they
        halve the batch and redo the epoch, as one process does. (The memory of the first step of
        an epoch is the most an epoch takes: every batch after it is the same size or smaller.)"""
        if not self.distributed:
            return True
        module = getattr(model, "module", model)
        fits = True
        if len(y):
            buffers = [b.detach().clone() for b in module.buffers()]
            cuda = x.device.type == "cuda"
            rng, cuda_rng = torch.get_rng_state(), torch.cuda.get_rng_state(x.device) if cuda else None
            try:
                with self._alone(module), torch.autocast(device_type=x.device.type, enabled=cuda):
                    loss = criterion(module(x), y)
                loss.backward()
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                fits = False
            finally:
                loss = None
                for p in module.parameters():
                    p.grad = None
                with torch.no_grad():
                    for buffer, saved in zip(module.buffers(), buffers):
                        buffer.copy_(saved)
                torch.set_rng_state(rng)
                if cuda:
                    torch.cuda.set_rng_state(cuda_rng, x.device)
                    if not fits:
                        torch.cuda.empty_cache()
        return self.all(fits)

    @contextmanager
    def _alone(self, module: nn.Module) -> Iterator[None]:
        """BatchNorm on this process's rows only, for the duration."""
        global _solo
        if _solo is None:
            _solo = [dist.new_group([r]) for r in range(self.size)][self.rank]  # every process makes every group
        layers = [m for m in module.modules() if isinstance(m, (nn.SyncBatchNorm, SharedBatchNorm))]
        for layer in layers:
            layer.process_group = _solo
        try:
            yield
        finally:
            for layer in layers:
                layer.process_group = None

    def out_of_memory(self, batch_size: int, epoch: int) -> RankError:
        smaller = max(1, batch_size // 2)
        return RankError(
            f"Training process {self.rank} ran out of GPU memory during epoch {epoch}, with its share of batches of {batch_size} "
            "images. The processes cannot redo the epoch together from the middle of a step, so all of them stop.",
            hint=f"Continue from the last finished epoch with: {self.command('--resume last')} "
                 f"(if it runs out of memory again, start a new run with --batch-size {smaller}).",
        )

    def command(self, options: str) -> str:
        """The dfcoach command that runs `options` on as many devices as this run."""
        if self.size > self.local_size:
            return f"the same torchrun command, ending in: train {options}"
        return f"dfcoach train --devices {self.size} {options}" if self.distributed else f"dfcoach train {options}"


def world(environ=None) -> World:
    """This process's World, from the variables torchrun sets; `World()` outside torchrun."""
    environ = os.environ if environ is None else environ
    try:
        size = int(environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return World()
        return World(int(environ["RANK"]), size, int(environ.get("LOCAL_RANK", "0")), int(environ.get("LOCAL_WORLD_SIZE", str(size))))
    except (KeyError, ValueError):
        raise UsageError("WORLD_SIZE is set, but RANK or LOCAL_RANK is missing or not a number: dfcoach was not started as torchrun starts it.",
                         hint="Use dfcoach train --devices N, or torchrun ... -m deepfake_coach train ...") from None


def lost_peer(error: BaseException, world: World) -> CoachError:
    """What a process says when its collective failed because another process stopped first."""
    return CoachError("Training stopped: another of its processes stopped first (its message, if it left one, is above).",
                      hint=f"Fix what it says, then continue with: {world.command('--resume last')}")


def peer_gone(error: BaseException) -> bool:
    """Whether `error` is a collective that failed because another process stopped (or timed out)."""
    if isinstance(error, getattr(dist, "DistError", ())):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(sign in text for sign in ("Connection closed by peer", "Connection reset by peer", "gloo", "NCCL"))


# --- whole-batch layers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """The `rows` of a batch of `total` images shared among `processes`."""

    rows: slice
    total: int
    processes: int

    @property
    def count(self) -> int:
        return len(range(*self.rows.indices(self.total)))

    @property
    def loss_share(self) -> float:
        """What this share's (weighted) loss times this is summed to the batch's loss times its size."""
        return self.total / self.processes

    def weighted(self, criterion):
        """`criterion` weighted so that DDP's average of the processes' losses is the whole batch's
        mean loss, however unevenly the batch divides (a process with no rows adds nothing)."""
        if self.processes == 1:
            return criterion
        if self.count == 0:
            return lambda logits, labels: logits.sum() * 0.0  # still part of every collective
        scale = self.count * self.processes / self.total
        return criterion if scale == 1.0 else (lambda logits, labels: criterion(logits, labels) * scale)


_current: Share | None = None  # the batch being trained on, for WholeBatchDropout
_solo = None  # this process's group of one, made on first use


def whole_batch_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout's mask (times 1/(1-p)) for this process's rows: the mask of the whole batch, as one
    process draws it, cut to the rows. Every process draws the same one (their random generators
    are seeded alike), so no two processes drop out alike and the result is one process's."""
    share = _current
    if share is None or share.processes == 1 or share.count != x.shape[0]:
        return F.dropout(torch.ones_like(x), p, True)
    return F.dropout(x.new_ones((share.total, *x.shape[1:])), p, True)[share.rows]


class WholeBatchDropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * whole_batch_mask(x, self.p)


def _dropout_before(p: float):
    def hook(module, args):
        if not module.training:
            return None
        return (args[0] * whole_batch_mask(args[0], p), *args[1:])

    return hook


class _SumOverProcesses(torch.autograd.Function):
    """all_reduce(SUM) that gradients flow through (their sum over the processes, too)."""

    @staticmethod
    def forward(ctx, tensor, group):
        ctx.group = group
        tensor = tensor.clone()
        dist.all_reduce(tensor, group=group)
        return tensor

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


_PLAIN_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _is_timm_batchnorm_act(module: nn.Module) -> bool:
    """timm's BatchNorm with its activation built in (EfficientNet-Lite0's): a plain BatchNorm in its
    place would lose the activation, which torch's convert_sync_batchnorm does."""
    return type(module).__name__ == "BatchNormAct2d" and type(module).__module__.startswith("timm.")


def _sync_batchnorm(model: nn.Module) -> nn.Module:
    """torch's SyncBatchNorm in place of each BatchNorm, through timm's converter where timm is
    installed (it keeps the activation of its BatchNormAct2d)."""
    try:
        from timm.layers import convert_sync_batchnorm
    except ImportError:
        convert_sync_batchnorm = nn.SyncBatchNorm.convert_sync_batchnorm
    return convert_sync_batchnorm(model)


class SharedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the whole batch, all processes' rows together, on the CPU (torch's
    SyncBatchNorm runs on GPUs only): the mean and variance of one process's BatchNorm on the whole
    batch, summed over the processes (the statistics in float64, as the CPU's own BatchNorm does).
    In place of timm's BatchNormAct2d it keeps that layer's `drop` and `act` and applies them after,
    as it does; they hold no weights, so the names in the state dict stay the same."""

    process_group = None  # None: all processes

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    @classmethod
    def like(cls, layer: nn.modules.batchnorm._BatchNorm) -> "SharedBatchNorm":
        shared = cls(layer.num_features, layer.eps, layer.momentum, layer.affine, layer.track_running_stats)
        if layer.affine:
            shared.weight, shared.bias = layer.weight, layer.bias  # the same parameters: the optimizer keeps them
        if layer.track_running_stats:
            shared.running_mean, shared.running_var, shared.num_batches_tracked = layer.running_mean, layer.running_var, layer.num_batches_tracked
        for name, child in layer.named_children():  # timm's drop and act
            shared.add_module(name, child)
        shared.train(layer.training)
        return shared

    def _after(self, y: torch.Tensor) -> torch.Tensor:
        if "drop" in self._modules:
            y = self.drop(y)
        if "act" in self._modules:
            y = self.act(y)
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        group = self.process_group or dist.group.WORLD
        if not (self.training and dist.is_initialized() and dist.get_world_size(group) > 1):
            return self._after(super().forward(x))
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() // x.shape[1]], dtype=torch.float64)
        sums = _SumOverProcesses.apply(torch.cat([x.sum(dims, dtype=torch.float64), count]), group)
        n = sums[-1]
        mean = sums[:-1] / n
        centred = x - mean.to(x.dtype).view(shape)
        var = _SumOverProcesses.apply((centred.double() ** 2).sum(dims), group) / n
        y = centred * torch.rsqrt(var + self.eps).to(x.dtype).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.training and self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - momentum).add_(mean.to(x.dtype), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_((var * n / (n - 1)).to(x.dtype), alpha=momentum)
        return self._after(y)


def _replace(model: nn.Module, match: Callable[[nn.Module], bool], make: Callable[[nn.Module], nn.Module]) -> None:
    for name, child in list(model.named_children()):
        if match(child):
            setattr(model, name, make(child))
        else:
            _replace(child, match, make)
