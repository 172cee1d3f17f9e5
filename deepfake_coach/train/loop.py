"""The training loop: plain functions in the shape of pytorch/examples.

`fit(config, data_dir)` trains, coaches, saves, and returns a `TrainResult`. It
prints nothing itself: it reports to a `TrainReporter` (the CLI's shows rich
output; the default stays silent), so `deepfake_coach.train.loop.fit` works
from Python without Typer.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from deepfake_coach.config import TrainConfig
from deepfake_coach.data.layout import DEFAULT_DATA_DIR
from deepfake_coach.data.origin import dataset_origin
from deepfake_coach.errors import CoachError, DataError, Interrupted, UsageError
from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.train.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from deepfake_coach.train.coach import Advice, Coach, EpochMetrics, best_epoch
from deepfake_coach.train import recipe
from deepfake_coach.train import distributed
from deepfake_coach.train.distributed import World
from deepfake_coach.train.data import SplitImages, batches, load_split, pinned, prefetch, to_tensor, training_batches, typical_image_size
from deepfake_coach.train.models import CLASS_NAMES, ModelSpec, build_model, check_image_size, default_image_size, get_spec, starts_pretrained
from deepfake_coach.train.stop_signals import StopSignal, finish_stopping, process_alive, stop_signals_as_interrupts
from deepfake_coach.train.threshold import choose_threshold
from deepfake_coach.train.weight_average import WeightAverage
from deepfake_coach.ui.progress import NO_PROGRESS, Progress

RUN_STATE = "state.json"


class TrainReporter:
    """What the loop tells the person; every method may be left as it is (silent)."""

    def started(self, run: "RunInfo") -> None: ...

    def epoch_done(self, metrics: EpochMetrics, total_epochs: int, saved: Path | None) -> None: ...

    def advice(self, advice: Advice) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class RunInfo:
    run_dir: Path
    best_path: Path
    model_name: str
    image_size: int
    device: str
    train_images: int
    val_images: int
    batch_size: int
    epochs: int
    start_epoch: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    processes: int = 1  # one per device (train/distributed.py)


@dataclass
class TrainResult:
    run: RunInfo
    history: list[EpochMetrics]
    stopped_early: bool
    seconds: float
    batch_size: int

    @property
    def best(self) -> EpochMetrics:
        return best_epoch(self.history)


class OutOfMemory(Exception):
    """A batch did not fit in the device's memory."""


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for, but this computer has no usable NVIDIA GPU.", hint="Use --device auto (or cpu); training on a CPU works, only slower.")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps was asked for, but Apple's GPU is not available here.", hint="Use --device auto (or cpu).")
    return torch.device(requested)


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or (isinstance(error, RuntimeError) and "out of memory" in str(error).lower())


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer, criterion, scaler) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step; returns (logits, loss), detached."""
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type=x.device.type, enabled=scaler is not None):
        logits = model(x)
        loss = criterion(logits, y)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return logits.detach(), loss.detach()


def uses_channels_last(spec: ModelSpec, device: torch.device) -> bool:
    return device.type == "cuda" or spec.channels_last


def train_one_epoch(model, spec: ModelSpec, data: SplitImages, batch_size: int, optimizer, criterion, device, seed: int, epoch: int,
                    progress: Progress, description: str, scaler=None, crop: int | None = None, balanced: bool = False,
                    lr_at=None, after_step=None, world: World = World()) -> tuple[float, float]:
    """One pass over the training images (drawn class-balanced when `balanced`), on random `crop`-pixel
    crops when given; `lr_at(share of the epoch done)` sets the learning rate before each step (each
    parameter group at its `lr_scale` of it), and `after_step(model)` runs after each one. `spec` gives
    the input normalisation and memory layout. With several processes (`world`), each trains on its
    share of every batch and the figures returned are the whole batch's (train/distributed.py)."""
    channels_last = uses_channels_last(spec, device)
    recipe.train_mode(model)
    n_batches = (len(data) + batch_size - 1) // batch_size
    # Sums stay on the device: reading them back waits for the GPU, so on CUDA the live figures are
    # read every few batches and the GPU works ahead meanwhile.
    total_loss, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device, dtype=torch.long), 0
    shown_every = 10 if device.type == "cuda" else 1
    with progress.task(description, total=n_batches, unit="batches") as task:
        made = training_batches(data, batch_size, seed, epoch, balanced, crop, part=world.part)
        for index, (images, labels, flip) in enumerate(prefetch(pinned(made) if device.type == "cuda" else made)):
            if lr_at is not None:
                recipe.set_learning_rate(optimizer, lr_at(index / n_batches))
            x = to_tensor(images, spec.mean, spec.std, device, flip, channels_last=channels_last)
            y = torch.as_tensor(labels).to(device, non_blocking=True)
            share = world.share(min(batch_size, len(data) - index * batch_size))
            if index == 0 and not world.fits(model, x, y, criterion, _is_out_of_memory):
                raise OutOfMemory("a training process ran out of memory trying the epoch's first batch")
            try:
                logits, loss = train_step(model, x, y, optimizer, share.weighted(criterion), scaler)
            except Exception as error:
                if _is_out_of_memory(error):
                    raise (world.out_of_memory(batch_size, epoch) if world.distributed else OutOfMemory(str(error))) from None
                raise
            if after_step is not None:
                after_step(model)
            total_loss += loss.float() * share.loss_share
            correct += (logits.argmax(1) == y).sum()
            seen += len(labels)
            if (index + 1) % shown_every == 0 or index + 1 == n_batches:
                task.update(loss=f"{float(total_loss) / seen:.4f}", acc=f"{int(correct) / seen:.2%}")
            task.advance()
    loss_sum, hits, seen = world.sum(total_loss, correct, seen)
    return loss_sum / seen, hits / seen


@dataclass(frozen=True)
class Validation:
    """How a model did on whole validation images, judged at `threshold`.

    Balanced accuracy is the mean of the accuracy on real images and on fake images: 50% is
    chance whatever the share of each class, where plain accuracy flatters a model that
    calls everything "real" when most images are real."""

    loss: float
    accuracy: float
    fake_share: float  # share of images called fake
    balanced_accuracy: float
    roc_auc: float | None  # None with one class only
    threshold: float


FAKE = CLASS_NAMES.index("fake")


@torch.no_grad()
def validate(model, spec: ModelSpec, data: SplitImages, batch_size: int, criterion, device,
             threshold: float | None = None) -> Validation:
    """The model on `data`, judged at `threshold`, or (None) at the threshold with the best balanced
    accuracy on these very images (train/threshold.py): what the model file will store."""
    from sklearn.metrics import roc_auc_score

    model.eval()
    total_loss, probabilities = 0.0, []
    for images, labels in batches(data, batch_size, shuffle=False):
        x = to_tensor(images, spec.mean, spec.std, device, channels_last=uses_channels_last(spec, device))
        logits = model(x).float()
        total_loss += float(criterion(logits, torch.from_numpy(labels).to(device))) * len(labels)
        probabilities.append(torch.softmax(logits, dim=1)[:, FAKE].cpu().numpy())
    fake_probability = np.concatenate(probabilities)
    is_fake = data.labels == FAKE
    if threshold is None:
        threshold = choose_threshold(is_fake, fake_probability)
    called_fake = fake_probability >= threshold
    hits = called_fake == is_fake
    per_class = [float(hits[is_fake == c].mean()) for c in (False, True) if np.any(is_fake == c)]
    auc = float(roc_auc_score(is_fake, fake_probability)) if len(per_class) == 2 else None
    return Validation(total_loss / len(data), float(hits.mean()), float(called_fake.mean()), float(np.mean(per_class)), auc, threshold)


# --- the run ---------------------------------------------------------------------------------


def _timestamp() -> str:
    return datetime.now().strftime("%Y%m%d_%H%M%S")


def _new_run_dir(runs_dir: Path) -> tuple[Path, str]:
    stamp = _timestamp()
    run_dir, n = runs_dir / stamp, 2
    while run_dir.exists():
        run_dir, n = runs_dir / f"{stamp}_{n}", n + 1
    run_dir.mkdir(parents=True)
    return run_dir, run_dir.name


def _saved_config(previous: dict, run_dir: Path) -> TrainConfig:
    """The settings a stopped run was started with, checked like any file's contents."""
    from pydantic import ValidationError

    try:
        return TrainConfig(**previous["config"])
    except (KeyError, TypeError, ValidationError):
        raise CoachError(
            f"{run_dir}/last.pth does not hold the settings the run was started with in a form dfcoach can use.",
            hint="The file was changed or damaged; start a new run with: dfcoach train",
        ) from None


def best_model_path(models_dir: Path, model_name: str, run_dir: Path) -> Path:
    """models/best_model_<model>_<run>.pth, as the beginner's guide names it (the run's name is its start time)."""
    return Path(models_dir) / f"best_model_{model_name}_{run_dir.name}.pth"


def training_image_size(config: TrainConfig, data_dir: Path) -> int:
    """--image-size, else the model's own size (for a model that follows the data, its images' size up to that)."""
    spec = get_spec(config.model)
    size = config.image_size or default_image_size(config.model, typical_image_size(Path(data_dir)) if spec.follows_data else None)
    check_image_size(config.model, size)
    return size


def fine_tune_for(spec: ModelSpec, pretrained: bool):
    """Fine-tuning's stages (head first, early layers frozen) are for ImageNet weights; a network
    starting from random weights trains whole from the first step."""
    return spec.fine_tune if pretrained else None


def training_parts(config: TrainConfig, device: torch.device, pretrained: bool | None = None, load_weights: bool = True):
    """(model, optimizer, scaler, criterion) of dfcoach's recipe (train/recipe.py): channels-last memory
    on CUDA (and on the CPU for models that run faster so); a gradient scaler for mixed precision on
    CUDA (None elsewhere); AdamW with weight decay, a parameter group for each layer group a
    pretrained model fine-tunes at its own rate; label smoothing. `pretrained` None: the model's
    installed ImageNet weights when it has some. `load_weights` False: the recipe of a pretrained run,
    the weights left to the caller (a resumed run loads its own)."""
    spec = get_spec(config.model)
    pretrained = starts_pretrained(config.model, pretrained)
    model = build_model(config.model, pretrained=pretrained and load_weights).to(device)
    if uses_channels_last(spec, device):
        model = model.to(memory_format=torch.channels_last)
    optimizer = recipe.optimizer_for(model, fine_tune_for(spec, pretrained), config.lr)
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None
    return model, optimizer, scaler, recipe.criterion()


def unequal_classes(split: SplitImages) -> bool:
    """Whether training should draw the classes evenly (see `epoch_order`)."""
    return len(set(np.bincount(split.labels, minlength=2).tolist())) > 1


def load_training_splits(data_dir: Path, size: int, progress: Progress) -> tuple[SplitImages, SplitImages]:
    if not (data_dir / "train").is_dir():
        raise DataError(f"There is no dataset at {data_dir} (no {data_dir}/train folder).", hint="Get one first: dfcoach data download tiny_demo, or dfcoach data organize YOUR_FOLDER.")
    train = load_split(data_dir, "train", size, progress)
    val = load_split(data_dir, "val", size, progress)
    for name, split in (("train", train), ("val", val)):
        missing = [label for i, label in enumerate(CLASS_NAMES) if not np.any(split.labels == i)]
        if missing:
            raise DataError(
                f"The {name} split has no usable {missing[0]} images." if len(split) else f"The {name} split has no usable images.",
                hint=f"A model needs both real and fake images to learn and to be judged. Run `dfcoach data check --data-dir {data_dir}` to see what is missing.",
            )
    return train, val



class RunLog:
    """runs/<id>/train.log: everything the run said, with times, for `dfcoach doctor` and for people."""

    def __init__(self, path: Path | None):
        self.path = path  # None: a process that is not the leader of a run on several devices writes nothing

    def write(self, message: str) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{datetime.now().isoformat(timespec='seconds')} {message}\n")


def _write_state(run_dir: Path, **state) -> None:
    path = run_dir / RUN_STATE
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(state)
    atomic_write_text(path, json.dumps(current, indent=2))


METRICS_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_balanced_acc", "val_auc", "threshold", "lr", "seconds"]


def _metrics_fields(path: Path) -> list[str]:
    """The columns of metrics.csv: a run started by an older dfcoach keeps the ones its file began with."""
    if not path.exists():
        return METRICS_FIELDS
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), None) or METRICS_FIELDS


def _append_metrics(path: Path, metrics: EpochMetrics) -> None:
    new = not path.exists()
    fields = _metrics_fields(path)
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(_metrics_row(metrics))


def _rewrite_metrics(path: Path, history: list[EpochMetrics]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_metrics_fields(path), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for metrics in history:
        writer.writerow(_metrics_row(metrics))
    atomic_write_text(path, buffer.getvalue())


def _metrics_row(metrics: EpochMetrics) -> dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(metrics).items()}


def find_run(runs_dir: Path, which: str) -> Path:
    """`last` (the newest unfinished run) or a run's name or path."""
    if which == "last":
        candidates = sorted((p for p in runs_dir.glob("*/") if (p / "last.pth").exists()), key=lambda p: p.name, reverse=True)
        unfinished = [p for p in candidates if run_status(p) != "finished"]
        if not unfinished:
            raise UsageError("There is no unfinished run to resume.", hint="Start a new one with: dfcoach train")
        return unfinished[0]
    path = Path(which)
    run_dir = path if path.is_dir() else runs_dir / which
    if not (run_dir / "last.pth").exists():
        raise UsageError(f"There is no run called {which} to resume.", hint=f"See the runs in {runs_dir}/, or use --resume last.")
    if run_status(run_dir) == "finished":
        raise UsageError(f"The run {run_dir.name} already finished.", hint="Start a new run with: dfcoach train")
    return run_dir


def latest_run(runs_dir: Path) -> Path | None:
    """The newest run folder that recorded its state (run names sort by time), or None."""
    runs = sorted((p for p in Path(runs_dir).glob("*/") if (p / RUN_STATE).is_file()), key=lambda p: p.name)
    return runs[-1] if runs else None


def run_status(run_dir: Path) -> str:
    """finished, running, interrupted, failed, unknown, or `cut_off`: recorded as running by a process
    of this computer that is gone (killed, or the computer restarted)."""
    try:
        state = json.loads((run_dir / RUN_STATE).read_text())
    except (OSError, ValueError):
        return "unknown"
    return status_of(state)


def status_of(state: object) -> str:
    """`run_status` for a state.json already read."""
    status = state.get("status", "unknown") if isinstance(state, dict) else "unknown"
    if status == "running" and state.get("host") == socket.gethostname() and not process_alive(state.get("pid")):
        return "cut_off"
    return status if isinstance(status, str) else "unknown"


def fit(config: TrainConfig, data_dir: Path = DEFAULT_DATA_DIR, project_dir: Path = Path("."), pretrained: bool | None = None,
        resume: str | None = None, progress: Progress = NO_PROGRESS, reporter: TrainReporter | None = None) -> TrainResult:
    """Train `config.model` on `data_dir`; best model in models/, the run's files in runs/<id>/.
    `pretrained` None: start from the model's installed ImageNet weights when it has some.
    Started by torchrun on several processes, each is one of them (train/distributed.py); the first
    one (the leader) validates, saves, writes the run's files and reports, the others stay silent."""
    reporter = reporter or TrainReporter()
    world = distributed.world()
    if not world.distributed:
        return _fit(config, data_dir, project_dir, pretrained, resume, progress, reporter, world)
    if not world.leader:
        progress, reporter = NO_PROGRESS, TrainReporter()
    # A run on several devices trains on the devices it is started on, resumed or not: the processes
    # must agree on them before the leader can hand them a resumed run's last.pth.
    device = world.place(resolve_device(config.device))
    world.start(device)
    result = _fit(config, data_dir, project_dir, pretrained, resume, progress, reporter, world, device)
    world.stop()  # after a failure the process ends instead: a group left waiting cannot be closed cleanly
    return result


def _fit(config: TrainConfig, data_dir: Path, project_dir: Path, pretrained: bool | None, resume: str | None, progress: Progress,
         reporter: TrainReporter, world: World, device: torch.device | None = None) -> TrainResult:
    started = time.monotonic()
    runs_dir, models_dir = Path(project_dir) / "runs", Path(project_dir) / "models"
    previous = None
    if resume:
        run_dir, previous = world.from_leader(lambda: _resumed_run(runs_dir, resume))
        config = _saved_config(previous, run_dir)
    spec = get_spec(config.model)
    # Whether the run started from ImageNet weights decides its recipe (fine-tuning's stages or not);
    # a resumed run takes its weights from last.pth and its recipe from what it started with.
    pretrained = starts_pretrained(config.model, pretrained) if previous is None else previous.get("pretrained") is True
    fine_tune = fine_tune_for(spec, pretrained)
    if previous is not None:
        size = int(previous["image_size"])  # what the run started with, even if the images changed since
        check_image_size(config.model, size)
    else:
        size = training_image_size(config, Path(data_dir))  # checked there
    device = device if device is not None else resolve_device(config.device)
    torch.manual_seed(config.seed)
    train, val = world.leader_first(lambda: load_training_splits(Path(data_dir), size, progress))

    model, optimizer, scaler, criterion = training_parts(config, device, pretrained, load_weights=previous is None)
    model = world.prepare(model)
    plain_loss = nn.CrossEntropyLoss()  # validation loss without smoothing: 0.69 is a coin toss, 0 is perfect
    crop = spec.crop_size(size)
    balanced = unequal_classes(train)
    history: list[EpochMetrics] = []
    batch_size, start_epoch = config.batch_size, 1

    if previous is not None:
        model.load_state_dict(previous["state_dict"])
        optimizer.load_state_dict(previous["optimizer"])
        torch.set_rng_state(previous["rng"])
        if device.type == "cuda" and previous.get("cuda_rng"):  # dropout on a GPU draws from the GPU's generator
            torch.cuda.set_rng_state_all(previous["cuda_rng"])
        if scaler is not None and previous.get("grad_scaler"):  # mixed precision's loss scale, learned as it went
            scaler.load_state_dict(previous["grad_scaler"])
        history = [EpochMetrics(**m) for m in previous["history"]]
        # metrics.csv may list an epoch that last.pth does not have (the disk filled up between the
        # two): it is written again from last.pth, so a resumed run lists every epoch once.
        if world.leader:
            _rewrite_metrics(run_dir / "metrics.csv", history)
        batch_size, start_epoch = previous["batch_size"], previous["epoch"] + 1
        # Derived from the run's own folder, never read from the file: a model file is untrusted
        # input, and its best_path could name any file on the computer.
        best_path = best_model_path(models_dir, get_spec(config.model).name, run_dir)
    else:
        run_dir = world.from_leader(lambda: _new_run(runs_dir, config, size, pretrained, data_dir))
        best_path = best_model_path(models_dir, config.model, run_dir)

    # The model judged, saved and deployed is the average of the weights over about the last epoch;
    # made after a resumed run's weights are loaded, so a run saved before it existed starts from those.
    average = WeightAverage(model, horizon=math.ceil(len(train) / config.batch_size))
    if previous is not None and previous.get("weight_average"):
        average.load_state_dict(previous["weight_average"])

    log = RunLog(run_dir / "train.log" if world.leader else None)
    write_state = (lambda **state: _write_state(run_dir, **state)) if world.leader else (lambda **state: None)
    run = RunInfo(run_dir, best_path, config.model, size, device.type if world.distributed else str(device), len(train), len(val), batch_size,
                  config.epochs, start_epoch, train.skipped + val.skipped, processes=world.size)
    write_state(status="running", model=config.model, best_path=str(best_path), pid=os.getpid(), host=socket.gethostname())
    on = f"{world.size} processes on the {device.type}" if world.distributed else str(device)
    log.write(f"{'resumed' if previous else 'started'}: {config.model}, {size} px, {on}, {len(train)} train / {len(val)} val images, batch {batch_size}")
    for file, why in run.skipped:
        log.write(f"skipped {file}: {why}")
    reporter.started(run)
    origin = dataset_origin(Path(data_dir))  # what the model learns from, so it can say when a picture is outside that

    def save_last(epoch: int) -> None:
        if not world.leader:
            return
        save_checkpoint(run_dir / "last.pth", make_checkpoint(
            model, config.model, size, asdict(history[-1]) if history else {}, config.model_dump(mode="json"), epoch,
            optimizer=optimizer.state_dict(), rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
            grad_scaler=scaler.state_dict() if scaler is not None else None, weight_average=average.state_dict(),
            history=[asdict(m) for m in history], batch_size=batch_size, best_path=str(best_path), pretrained=pretrained, dataset=origin))

    coach = Coach(patience=config.patience, command="dfcoach train")

    def end_of_epoch(epoch: int, train_loss: float, train_acc: float, epoch_started: float) -> tuple[EpochMetrics, bool]:
        """The leader's work after each epoch: validate, record, save, report, coach; (the epoch's figures, stop now?)."""
        checked = validate(average.average, spec, val, batch_size, plain_loss, device)
        metrics = EpochMetrics(epoch, train_loss, train_acc, checked.loss, checked.accuracy, checked.fake_share, val_majority,
                               optimizer.param_groups[-1]["lr"], time.monotonic() - epoch_started,
                               val_balanced_acc=checked.balanced_accuracy, val_auc=checked.roc_auc, threshold=checked.threshold)
        history.append(metrics)
        _append_metrics(run_dir / "metrics.csv", metrics)
        saved = None
        if best_epoch(history) is metrics:
            save_checkpoint(best_path, make_checkpoint(average.average, config.model, size, asdict(metrics), config.model_dump(mode="json"), epoch,
                                                       threshold=metrics.threshold, threshold_source="validation", dataset=origin))
            saved = best_path
        save_last(epoch)
        log.write(f"epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.2%}, val loss {metrics.val_loss:.4f} acc {metrics.val_acc:.2%}" + (f", saved {saved}" if saved else ""))
        reporter.epoch_done(metrics, config.epochs, saved)
        epochs_task.reach(epoch)
        advice = coach.after_epoch(history)
        for item in advice:
            log.write(f"coach: {item.kind}: {item.message}")
            reporter.advice(item)
        return metrics, any(item.stop for item in advice)

    val_majority = float(max(np.mean(val.labels == 0), np.mean(val.labels == 1)))
    stopped_early = False
    stage_told = None
    epoch = start_epoch - 1
    try:
        if previous is None:
            save_last(0)
        with stop_signals_as_interrupts(), progress.task("Training", total=config.epochs, unit="epochs") as epochs_task:
            epochs_task.advance(start_epoch - 1)
            epoch = start_epoch
            while epoch <= config.epochs:
                epoch_started = time.monotonic()
                before = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()), copy.deepcopy(average.state_dict()))
                stage = recipe.stage_of(fine_tune, epoch, config.epochs)
                recipe.set_stage(model, fine_tune, stage)
                if stage != stage_told:
                    stage_told = stage
                    trained = world.wrap(model, device)  # DDP takes the parameters that learn when it is made
                    if stage != "all":
                        message = recipe.stage_message(stage, epoch, config.epochs)
                        log.write(message)
                        reporter.note(message)
                lr_at = lambda share, epoch=epoch: recipe.learning_rate(fine_tune, epoch, share, config.epochs, config.lr)  # noqa: E731
                n_batches = (len(train) + batch_size - 1) // batch_size
                done_in_epoch = 0

                def after_step(_trained, epoch=epoch, n_batches=n_batches):
                    nonlocal done_in_epoch
                    average.update(model)
                    done_in_epoch += 1  # the whole run's bar moves per batch, so its estimate is there from the start
                    epochs_task.reach(epoch - 1 + min(1.0, done_in_epoch / n_batches))

                try:
                    train_loss, train_acc = train_one_epoch(trained, spec, train, batch_size, optimizer, criterion, device, config.seed, epoch, progress,
                                                            f"Epoch {epoch}/{config.epochs}", scaler, crop=crop, balanced=balanced, lr_at=lr_at,
                                                            after_step=after_step, world=world)
                except OutOfMemory:
                    batch_size = _recover_from_oom(model, optimizer, average, before, batch_size, device, reporter, log)
                    continue  # the same epoch again, with smaller batches
                metrics, stop = world.from_leader(lambda: end_of_epoch(epoch, train_loss, train_acc, epoch_started))
                if not world.leader:
                    history.append(metrics)
                if stop:
                    stopped_early = True
                    break
                epoch += 1
    except KeyboardInterrupt as stop:
        if world.distributed and world.leader:
            finish_stopping()
        why = stop.why if isinstance(stop, StopSignal) else "the person"
        write_state(status="interrupted", epoch=len(history), stopped_by=stop.name if isinstance(stop, StopSignal) else "ctrl-c")
        log.write(f"interrupted by {why} during epoch {epoch}")
        if history and world.leader:
            from deepfake_coach.train.curves import plot_curves

            plot_curves(history, run_dir / "curves.png")  # what it learned so far, to look at while it waits
        said = _stopped_message(run_dir, epoch, len(history))
        raise Interrupted(said if why == "the person" else f"{why[0].upper()}{why[1:]}. {said}",
                          hint=f"Continue where it stopped with: {world.command(f'--resume {run_dir.name}')}") from None
    except Exception as error:  # recorded for `dfcoach doctor`, then reported by the CLI
        told = distributed.lost_peer(error, world) if world.distributed and distributed.peer_gone(error) else error
        message = told.message if isinstance(told, CoachError) else f"{type(error).__name__}: {error}"
        write_state(status="failed", error=message)
        log.write(f"failed: {message}")
        if told is error:
            raise
        raise told from None

    best = best_epoch(history)
    write_state(status="finished", epoch=len(history), best_epoch=best.epoch, best_val_acc=best.val_acc,
                best_val_balanced_acc=best.val_balanced_acc)
    if world.leader:
        from deepfake_coach.train.curves import plot_curves

        plot_curves(history, run_dir / "curves.png")
    log.write(f"finished: best val acc {best.val_acc:.2%} at epoch {best.epoch}")
    return TrainResult(run, history, stopped_early, time.monotonic() - started, batch_size)


def _resumed_run(runs_dir: Path, which: str) -> tuple[Path, dict]:
    run_dir = find_run(runs_dir, which)
    return run_dir, load_checkpoint(run_dir / "last.pth")


def _new_run(runs_dir: Path, config: TrainConfig, size: int, pretrained: bool, data_dir: Path) -> Path:
    run_dir, _ = _new_run_dir(runs_dir)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump({**config.model_dump(mode="json"), "image_size": size, "pretrained": pretrained, "data_dir": str(data_dir)}, sort_keys=False))
    return run_dir


def _stopped_message(run_dir: Path, epoch: int, epochs_done: int) -> str:
    if not epochs_done:
        return f"Stopped during epoch {epoch}, before any epoch finished: there is nothing to keep yet."
    saved = "Epoch 1 is" if epochs_done == 1 else f"Epochs 1-{epochs_done} are"
    during = f" during epoch {epoch}" if epoch > epochs_done else ""
    return f"Stopped{during}. {saved} saved in {run_dir}/last.pth; the curves so far are in {run_dir}/curves.png."


def run_history(run_dir: Path) -> list[EpochMetrics]:
    """The epochs a run finished, as its last.pth records them (checked like any file read)."""
    saved = load_checkpoint(Path(run_dir) / "last.pth").get("history") or []
    try:
        return [EpochMetrics(**item) for item in saved]
    except TypeError:
        raise CoachError(f"{run_dir}/last.pth does not list its epochs in a form dfcoach knows.",
                         hint="Start a new run with: dfcoach train") from None


def _recover_from_oom(model, optimizer, average: WeightAverage, before, batch_size: int, device, reporter: TrainReporter, log: RunLog) -> int:
    """Free the GPU's cache, restore the epoch's starting weights, and halve the batch size."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    model.load_state_dict(before[0])
    optimizer.load_state_dict(before[1])
    average.load_state_dict(before[2])
    if batch_size <= 1:
        log.write("out of memory at batch size 1")
        raise CoachError(
            "The model does not fit in the GPU's memory even one image at a time.",
            hint="Use a smaller model (--model custom_cnn or meso4), a smaller --image-size, or train on the CPU with --device cpu.",
        )
    smaller = batch_size // 2
    message = (f"The GPU ran out of memory with batches of {batch_size} images. dfcoach freed it and is redoing this "
               f"epoch with batches of {smaller}. Next time, start with --batch-size {smaller}.")
    log.write(message)
    reporter.note(message)
    return smaller
