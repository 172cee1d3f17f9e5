"""The training loop: plain functions in the shape of pytorch/examples.

`fit(config, data_dir)` trains, coaches, saves, and returns a `TrainResult`. It
prints nothing itself: it tells each event to its listeners, the run's folder
(train/run.py writes its files) and a `TrainReporter` (the CLI's shows rich
output; the default stays silent), so `deepfake_coach.train.loop.fit` works
from Python without Typer.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepfake_coach.config import TrainConfig
from deepfake_coach.data.layout import DEFAULT_DATA_DIR
from deepfake_coach.data.origin import dataset_origin
from deepfake_coach.errors import CoachError, DataError, Interrupted, UsageError
from deepfake_coach.project import MODELS
from deepfake_coach.train.checkpoint import make_checkpoint, save_checkpoint
from deepfake_coach.train.coach import Advice, Coach, EpochMetrics, best_epoch
from deepfake_coach.train import recipe
from deepfake_coach.train import distributed
from deepfake_coach.train.distributed import World
from deepfake_coach.train.data import SplitImages, batches, load_split, pinned, prefetch, to_tensor, training_batches, typical_image_size
from deepfake_coach.train.models import CLASS_NAMES, ModelSpec, build_model, check_image_size, default_image_size, get_spec, starts_pretrained
from deepfake_coach.train.report import RunInfo, TrainReporter, TrainResult
from deepfake_coach.train.run import RunFolder, runs_dir
from deepfake_coach.train.stop_signals import StopSignal, finish_stopping, stop_signals_as_interrupts
from deepfake_coach.train.threshold import choose_threshold
from deepfake_coach.train.weight_average import WeightAverage
from deepfake_coach.io.progress import NO_PROGRESS, Progress

__all__ = ["RunInfo", "TrainReporter", "TrainResult", "fit", "train_one_epoch", "train_step", "validate"]


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



# --- the run ---------------------------------------------------------------------------------


@dataclass
class _Training:
    """What one run trains with and how far it is, made once by `_set_up`; the epoch loop moves it on."""

    config: TrainConfig
    world: World
    device: torch.device
    spec: ModelSpec
    size: int
    pretrained: bool
    train: SplitImages
    val: SplitImages
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    criterion: nn.Module
    origin: dict | None  # what the model learns from, so it can say when a picture is outside that
    batch_size: int
    folder: RunFolder = None  # type: ignore[assignment]  # set by `_set_up`, like the two below
    best_path: Path = None  # type: ignore[assignment]
    average: WeightAverage = None  # type: ignore[assignment]
    history: list[EpochMetrics] = field(default_factory=list)
    start_epoch: int = 1
    epoch: int = 0  # the epoch under way (the one before `start_epoch` until the first begins)
    resumed: bool = False
    stage: str | None = None  # fine-tuning's stage, told when it changes
    trained: nn.Module | None = None  # the model as it learns in this stage (DDP's wrapper on several devices)

    @property
    def fine_tune(self):
        return fine_tune_for(self.spec, self.pretrained)

    @property
    def crop(self) -> int | None:
        return self.spec.crop_size(self.size)


@dataclass
class _Listeners:
    """Each event of a run told to its folder (the files, for `dfcoach doctor` and people) and to the reporter (the screen)."""

    folder: RunFolder
    reporter: TrainReporter

    def started(self, run: RunInfo, resumed: bool) -> None:
        on = f"{run.processes} processes on the {run.device}" if run.processes > 1 else run.device
        self.folder.record_start(resumed=resumed, model=run.model_name, size=run.image_size, on=on, train_images=run.train_images,
                                 val_images=run.val_images, batch_size=run.batch_size, skipped=run.skipped, best_path=run.best_path)
        self.reporter.started(run)

    def note(self, message: str) -> None:
        self.folder.log(message)
        self.reporter.note(message)

    def epoch_done(self, metrics: EpochMetrics, total_epochs: int, saved: Path | None) -> None:
        self.folder.record_epoch(metrics, saved)
        self.reporter.epoch_done(metrics, total_epochs, saved)

    def advice(self, advice: Advice) -> None:
        self.folder.record_advice(advice)
        self.reporter.advice(advice)


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
    """Set up, train the epochs, and tell the listeners how it went: finished, stopped or failed."""
    started = time.monotonic()
    run = _set_up(config, Path(data_dir), Path(project_dir), pretrained, resume, progress, world, device)
    info = RunInfo(run.folder.path, run.best_path, run.config.model, run.size, run.device.type if world.distributed else str(run.device),
                   len(run.train), len(run.val), run.batch_size, run.config.epochs, run.start_epoch, run.train.skipped + run.val.skipped,
                   processes=world.size)
    listeners = _Listeners(run.folder, reporter)
    listeners.started(info, run.resumed)
    try:
        stopped_early = _train_epochs(run, listeners, progress)
    except KeyboardInterrupt as stop:
        raise _stopped(run, stop) from None
    except Exception as error:  # recorded for `dfcoach doctor`, then reported by the CLI
        told = _failed(run, error)
        if told is error:
            raise
        raise told from None
    run.folder.record_finished(best_epoch(run.history), len(run.history))
    _draw_curves(run)
    return TrainResult(info, run.history, stopped_early, time.monotonic() - started, run.batch_size)


def _set_up(config: TrainConfig, data_dir: Path, project_dir: Path, pretrained: bool | None, resume: str | None, progress: Progress,
            world: World, device: torch.device | None) -> _Training:
    """What the run trains with, in an order that keeps runs reproducible (the seed, the images, then
    the model), and its folder: the resumed run's, or a new one once the model is made."""
    last = None
    if resume:
        folder, last = world.from_leader(lambda: _resumed_run(runs_dir(project_dir), resume))
        config = folder.saved_config(last)
    # Whether the run started from ImageNet weights decides its recipe (fine-tuning's stages or not);
    # a resumed run takes its weights from last.pth and its recipe from what it started with.
    pretrained = starts_pretrained(config.model, pretrained) if last is None else last.get("pretrained") is True
    if last is not None:
        size = int(last["image_size"])  # what the run started with, even if the images changed since
        check_image_size(config.model, size)
    else:
        size = training_image_size(config, data_dir)  # checked there
    device = device if device is not None else resolve_device(config.device)
    torch.manual_seed(config.seed)
    train, val = world.leader_first(lambda: load_training_splits(data_dir, size, progress))
    model, optimizer, scaler, criterion = training_parts(config, device, pretrained, load_weights=last is None)
    run = _Training(config, world, device, get_spec(config.model), size, pretrained, train, val, world.prepare(model), optimizer,
                    scaler, criterion, dataset_origin(data_dir), config.batch_size)
    models_dir = project_dir / MODELS
    if last is not None:
        run.folder = RunFolder(folder.path, writes=world.leader)
        _restore(run, last)
        # Derived from the run's own folder, never read from the file: a model file is untrusted
        # input, and its best_path could name any file on the computer.
        run.best_path = run.folder.best_model_path(models_dir, run.spec.name)
    else:
        made = world.from_leader(lambda: _new_run(runs_dir(project_dir), config, size, pretrained, data_dir))
        run.folder = RunFolder(made.path, writes=world.leader)
        run.best_path = run.folder.best_model_path(models_dir, config.model)
    # The model judged, saved and deployed is the average of the weights over about the last epoch;
    # made after a resumed run's weights are loaded, so a run saved before it existed starts from those.
    run.average = WeightAverage(run.model, horizon=math.ceil(len(train) / config.batch_size))
    if last is not None and last.get("weight_average"):
        run.average.load_state_dict(last["weight_average"])
    run.epoch = run.start_epoch - 1
    return run


def _restore(run: _Training, last: dict) -> None:
    """A resumed run where its last.pth left it: weights, optimizer, random generators, loss scale, epochs."""
    run.model.load_state_dict(last["state_dict"])
    run.optimizer.load_state_dict(last["optimizer"])
    torch.set_rng_state(last["rng"])
    if run.device.type == "cuda" and last.get("cuda_rng"):  # dropout on a GPU draws from the GPU's generator
        torch.cuda.set_rng_state_all(last["cuda_rng"])
    if run.scaler is not None and last.get("grad_scaler"):  # mixed precision's loss scale, learned as it went
        run.scaler.load_state_dict(last["grad_scaler"])
    run.history = [EpochMetrics(**m) for m in last["history"]]
    run.folder.rewrite_metrics(run.history)  # it may list an epoch last.pth lost (the disk filled up between the two)
    run.batch_size, run.start_epoch, run.resumed = last["batch_size"], last["epoch"] + 1, True


def _resumed_run(runs: Path, which: str) -> tuple[RunFolder, dict]:
    folder = RunFolder.find(runs, which)
    return folder, folder.load_last()


def _new_run(runs: Path, config: TrainConfig, size: int, pretrained: bool, data_dir: Path) -> RunFolder:
    folder = RunFolder.create(runs)
    folder.save_config(config, size, pretrained, data_dir)
    return folder


def _train_epochs(run: _Training, listeners: _Listeners, progress: Progress) -> bool:
    """The epochs from `run.start_epoch` to the last; whether the coach stopped the run early."""
    coach = Coach(patience=run.config.patience, command="dfcoach train")
    if not run.resumed:
        _save_last(run, 0)
    with stop_signals_as_interrupts(), progress.task("Training", total=run.config.epochs, unit="epochs") as epochs_task:
        epochs_task.advance(run.start_epoch - 1)
        run.epoch = run.start_epoch
        while run.epoch <= run.config.epochs:
            epoch_started = time.monotonic()
            before = _snapshot(run.model, run.optimizer, run.average)
            _enter_stage(run, listeners)
            try:
                train_loss, train_acc = _train_epoch(run, progress, epochs_task)
            except OutOfMemory:
                run.batch_size = _recover_from_oom(run, before, listeners)
                continue  # the same epoch again, with smaller batches
            metrics, stop = run.world.from_leader(lambda: _end_of_epoch(run, coach, listeners, epochs_task, train_loss, train_acc, epoch_started))
            if not run.world.leader:
                run.history.append(metrics)
            if stop:
                return True
            run.epoch += 1
    return False


def _enter_stage(run: _Training, listeners: _Listeners) -> None:
    """Fine-tuning's stage for this epoch (which layers learn); said when it changes, but for the whole network's."""
    stage = recipe.stage_of(run.fine_tune, run.epoch, run.config.epochs)
    recipe.set_stage(run.model, run.fine_tune, stage)
    if stage != run.stage:
        run.stage = stage
        run.trained = run.world.wrap(run.model, run.device)  # DDP takes the parameters that learn when it is made
        if stage != "all":
            listeners.note(recipe.stage_message(stage, run.epoch, run.config.epochs))


def _train_epoch(run: _Training, progress: Progress, epochs_task) -> tuple[float, float]:
    """One pass over the training images at this epoch's learning rates; (loss, accuracy)."""
    config, epoch, fine_tune = run.config, run.epoch, run.fine_tune
    n_batches = (len(run.train) + run.batch_size - 1) // run.batch_size
    done_in_epoch = 0

    def after_step(_trained) -> None:
        nonlocal done_in_epoch
        run.average.update(run.model)
        done_in_epoch += 1  # the whole run's bar moves per batch, so its estimate is there from the start
        epochs_task.reach(epoch - 1 + min(1.0, done_in_epoch / n_batches))

    return train_one_epoch(run.trained, run.spec, run.train, run.batch_size, run.optimizer, run.criterion, run.device, config.seed, epoch,
                           progress, f"Epoch {epoch}/{config.epochs}", run.scaler, crop=run.crop, balanced=unequal_classes(run.train),
                           lr_at=lambda share: recipe.learning_rate(fine_tune, epoch, share, config.epochs, config.lr),
                           after_step=after_step, world=run.world)


def _end_of_epoch(run: _Training, coach: Coach, listeners: _Listeners, epochs_task, train_loss: float, train_acc: float,
                  epoch_started: float) -> tuple[EpochMetrics, bool]:
    """The leader's work after each epoch: validate, record, save, report, coach; (the epoch's figures, stop now?)."""
    plain_loss = nn.CrossEntropyLoss()  # validation loss without smoothing: 0.69 is a coin toss, 0 is perfect
    checked = validate(run.average.average, run.spec, run.val, run.batch_size, plain_loss, run.device)
    val_majority = float(max(np.mean(run.val.labels == 0), np.mean(run.val.labels == 1)))
    metrics = EpochMetrics(run.epoch, train_loss, train_acc, checked.loss, checked.accuracy, checked.fake_share, val_majority,
                           run.optimizer.param_groups[-1]["lr"], time.monotonic() - epoch_started,
                           val_balanced_acc=checked.balanced_accuracy, val_auc=checked.roc_auc, threshold=checked.threshold)
    run.history.append(metrics)
    run.folder.add_metrics(metrics)  # before last.pth: a resumed run writes metrics.csv again from last.pth
    saved = _save_best(run, metrics) if best_epoch(run.history) is metrics else None
    _save_last(run, run.epoch)
    listeners.epoch_done(metrics, run.config.epochs, saved)
    epochs_task.reach(run.epoch)
    advice = coach.after_epoch(run.history)
    for item in advice:
        listeners.advice(item)
    return metrics, any(item.stop for item in advice)


def _save_best(run: _Training, metrics: EpochMetrics) -> Path:
    """The averaged model of this epoch, the best so far, in models/ with the threshold chosen on validation."""
    save_checkpoint(run.best_path, make_checkpoint(run.average.average, run.config.model, run.size, asdict(metrics),
                                                   run.config.model_dump(mode="json"), metrics.epoch, threshold=metrics.threshold,
                                                   threshold_source="validation", dataset=run.origin))
    return run.best_path


def _save_last(run: _Training, epoch: int) -> None:
    """last.pth: everything a resumed run needs to go on exactly where this one is, after `epoch` (0: none yet)."""
    if not run.folder.writes:
        return
    device, scaler = run.device, run.scaler
    run.folder.save_last(make_checkpoint(
        run.model, run.config.model, run.size, asdict(run.history[-1]) if run.history else {}, run.config.model_dump(mode="json"),
        epoch, optimizer=run.optimizer.state_dict(), rng=torch.get_rng_state(),
        cuda_rng=torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
        grad_scaler=scaler.state_dict() if scaler is not None else None, weight_average=run.average.state_dict(),
        history=[asdict(m) for m in run.history], batch_size=run.batch_size, best_path=str(run.best_path), pretrained=run.pretrained,
        dataset=run.origin))


def _stopped(run: _Training, stop: KeyboardInterrupt) -> Interrupted:
    """Records a run stopped by Ctrl-C or a stop signal; what to tell the person (what is kept, how to go on)."""
    if run.world.distributed and run.world.leader:
        finish_stopping()
    signalled = isinstance(stop, StopSignal)
    why = stop.why if signalled else "the person"
    run.folder.record_interrupted(why, stop.name if signalled else "ctrl-c", run.epoch, len(run.history))
    if run.history:
        _draw_curves(run)  # what it learned so far, to look at while it waits
    said = run.folder.stopped_message(run.epoch, len(run.history))
    return Interrupted(said if why == "the person" else f"{why[0].upper()}{why[1:]}. {said}",
                       hint=f"Continue where it stopped with: {run.world.command(f'--resume {run.folder.name}')}")


def _failed(run: _Training, error: Exception) -> BaseException:
    """Records a failure for `dfcoach doctor`; the error to raise (a process lost on several devices, said as such)."""
    told = distributed.lost_peer(error, run.world) if run.world.distributed and distributed.peer_gone(error) else error
    run.folder.record_failed(told.message if isinstance(told, CoachError) else f"{type(error).__name__}: {error}")
    return told


def _draw_curves(run: _Training) -> None:
    if run.folder.writes:
        from deepfake_coach.train.curves import plot_curves

        plot_curves(run.history, run.folder.curves_file)


# --- running out of memory -------------------------------------------------------------------


def _snapshot(*parts) -> tuple:
    """Each part's state_dict() copied to the CPU: what an out-of-memory rewind restores. On a GPU the
    copies would take the very memory that ran short, and a whole model and its optimizer's state more."""
    return tuple(_on_cpu(part.state_dict()) for part in parts)


def _on_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        copied = type(value)((key, _on_cpu(item)) for key, item in value.items())
        if hasattr(value, "_metadata"):  # the modules' versions, which load_state_dict reads
            copied._metadata = copy.deepcopy(value._metadata)
        return copied
    if type(value) in (list, tuple):
        return type(value)(_on_cpu(item) for item in value)
    return copy.deepcopy(value)


def _recover_from_oom(run: _Training, before: tuple, listeners: _Listeners) -> int:
    """Free the GPU's cache, restore the epoch's starting weights, and halve the batch size."""
    if run.device.type == "cuda":
        torch.cuda.empty_cache()
    run.model.load_state_dict(before[0])
    run.optimizer.load_state_dict(before[1])
    run.average.load_state_dict(before[2])
    if run.batch_size <= 1:
        run.folder.log("out of memory at batch size 1")
        raise CoachError(
            "The model does not fit in the GPU's memory even one image at a time.",
            hint="Use a smaller model (--model custom_cnn or meso4), a smaller --image-size, or train on the CPU with --device cpu.",
        )
    smaller = run.batch_size // 2
    listeners.note(f"The GPU ran out of memory with batches of {run.batch_size} images. dfcoach freed it and is redoing this "
                   f"epoch with batches of {smaller}. Next time, start with --batch-size {smaller}.")
    return smaller
