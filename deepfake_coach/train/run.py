"""A training run's folder, runs/<YYYYMMDD_HHMMSS>/, and the one owner of its files.

    config.yaml   the settings it started with
    state.json    running, finished, interrupted or failed, and the figures `dfcoach doctor` shows
    train.log     everything the run said, with times, for `dfcoach doctor` and for people
    metrics.csv   a row per finished epoch
    last.pth      all it needs to continue (its format is train/checkpoint.py's)
    curves.png    the learning curves (drawn by train/curves.py)

Everything else (the training loop, doctor, evaluate, the checklist, the wizard) reads and writes these
through `RunFolder`, so a file's name and format live in one place. No torch here: doctor and the
checklist look at runs without loading it (last.pth is read and written through checkpoint.py, imported
only when it is).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import yaml

from deepfake_coach.config import TrainConfig
from deepfake_coach.errors import CoachError, UsageError
from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.project import RUNS
from deepfake_coach.train.coach import Advice, EpochMetrics
from deepfake_coach.train.stop_signals import process_alive

CONFIG, STATE, LOG, METRICS, LAST, CURVES = "config.yaml", "state.json", "train.log", "metrics.csv", "last.pth", "curves.png"
REPORT = "report.json"  # the evaluation's, beside its pictures
EVALUATION_PICTURES = {"confusion": "confusion.png", "roc": "roc.png", "mistakes": "mistakes.png"}
METRICS_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_balanced_acc", "val_auc", "threshold", "lr", "seconds"]
ADVICE_LINE = re.compile(r"coach: ([A-Za-z0-9_]+):")


def runs_dir(project_dir: Path) -> Path:
    """The project's runs/ folder."""
    return Path(project_dir) / RUNS


def lr_finding_plot(project_dir: Path, model: str, when: str) -> Path:
    """Where the learning-rate range test draws its curve: runs/lr_find_<model>_<when>.png, beside the runs."""
    return runs_dir(project_dir) / f"lr_find_{model}_{when}.png"


@dataclass(frozen=True)
class LogSummary:
    """What a run's train.log says, as `dfcoach doctor` reads it."""

    epochs: int  # epochs that finished (one "epoch N: train loss ..." line each)
    advice: tuple[str, ...]  # the kinds of coach advice given, in order, each once
    out_of_memory: bool  # the GPU ran out of memory at some point
    last_epoch: str | None  # the last epoch's line, without its time


class RunFolder:
    """One run's folder. `writes` False: a process that is not the leader of a run on several devices,
    which shares the leader's folder and leaves every file to it."""

    def __init__(self, path: Path, writes: bool = True):
        self.path = Path(path)
        self.writes = writes

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # --- finding runs ---

    @classmethod
    def create(cls, runs: Path) -> RunFolder:
        """A new, empty folder named after the time it starts (`_2`, `_3`... when two start in one second)."""
        stamp = datetime.now().strftime("%Y%m%d_%H%M%S")
        path, n = Path(runs) / stamp, 2
        while path.exists():
            path, n = Path(runs) / f"{stamp}_{n}", n + 1
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def all(cls, runs: Path) -> list[RunFolder]:
        """The runs that recorded their state, oldest first (their names sort by time)."""
        return [cls(p) for p in sorted((p for p in Path(runs).glob("*/") if (p / STATE).is_file()), key=lambda p: p.name)]

    @classmethod
    def latest(cls, runs: Path) -> RunFolder | None:
        """The newest run that recorded its state, or None."""
        found = cls.all(runs)
        return found[-1] if found else None

    @classmethod
    def find(cls, runs: Path, which: str) -> RunFolder:
        """The run to resume: `last` (the newest unfinished one) or a run's name or path."""
        runs = Path(runs)
        if which == "last":
            candidates = sorted((p for p in runs.glob("*/") if (p / LAST).exists()), key=lambda p: p.name, reverse=True)
            unfinished = [folder for folder in map(cls, candidates) if folder.status() != "finished"]
            if not unfinished:
                raise UsageError("There is no unfinished run to resume.", hint="Start a new one with: dfcoach train")
            return unfinished[0]
        path = Path(which)
        folder = cls(path if path.is_dir() else runs / which)
        if not folder.has_last():
            raise UsageError(f"There is no run called {which} to resume.", hint=f"See the runs in {runs}/, or use --resume last.")
        if folder.status() == "finished":
            raise UsageError(f"The run {folder.name} already finished.", hint="Start a new run with: dfcoach train")
        return folder

    @classmethod
    def that_saved(cls, model_path: Path, project_dir: Path = Path(".")) -> RunFolder | None:
        """The run whose state.json names `model_path` as its best model, newest first; None if none does."""
        for folder in reversed(cls.all(runs_dir(project_dir))):
            best = (folder.state() or {}).get("best_path")
            if best and _same_file(Path(best), Path(model_path), Path(project_dir)):
                return folder
        return None

    @classmethod
    def of_model(cls, model_path: Path, project_dir: Path = Path(".")) -> RunFolder:
        """Where a model's evaluation goes: the run that saved it; else runs/<model file name>/ (a model
        trained elsewhere, or whose run was deleted)."""
        return cls.that_saved(model_path, project_dir) or cls(runs_dir(project_dir) / Path(model_path).stem)

    # --- its files ---

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def state_file(self) -> Path:
        return self.path / STATE

    @property
    def log_file(self) -> Path:
        return self.path / LOG

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def last_file(self) -> Path:
        return self.path / LAST

    @property
    def curves_file(self) -> Path:
        return self.path / CURVES

    @property
    def report_file(self) -> Path:
        return self.path / REPORT

    def evaluation_pictures(self) -> dict[str, Path]:
        return {kind: self.path / name for kind, name in EVALUATION_PICTURES.items()}

    def save_report(self, text: str) -> None:
        atomic_write_text(self.report_file, text)

    def has_last(self) -> bool:
        """Whether last.pth is there, so the run can be continued."""
        return self.last_file.is_file()

    def best_model_path(self, models_dir: Path, model_name: str) -> Path:
        """models/best_model_<model>_<run>.pth, as the beginner's guide names it (the run's name is its start time)."""
        return Path(models_dir) / f"best_model_{model_name}_{self.name}.pth"

    # --- state.json ---

    def state(self) -> dict | None:
        """state.json's contents; None when it cannot be read, {} when it holds something else than an object."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else {}

    def write_state(self, **state) -> None:
        """Adds `state` to what state.json says (written whole, so a reader never sees half a file)."""
        if not self.writes:
            return
        current = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        current.update(state)
        atomic_write_text(self.state_file, json.dumps(current, indent=2))

    def status(self, state: dict | None = None) -> str:
        """finished, running, interrupted, failed, unknown, or `cut_off`: recorded as running by a process
        of this computer that is gone (killed, or the computer restarted). `state`: state.json already read."""
        return status_of(self.state() if state is None else state)

    def last_written(self) -> float:
        """When the run last wrote to its log (or, without one, to state.json), in seconds since the epoch."""
        return (self.log_file if self.log_file.is_file() else self.state_file).stat().st_mtime

    # --- train.log ---

    def log(self, message: str) -> None:
        if not self.writes:
            return
        with open(self.log_file, "a", encoding="utf-8") as handle:
            handle.write(f"{datetime.now().isoformat(timespec='seconds')} {message}\n")

    def log_summary(self) -> LogSummary:
        text = self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.is_file() else ""
        epochs = [line for line in text.splitlines() if " epoch " in line and ": train loss " in line]
        advice = tuple(dict.fromkeys(ADVICE_LINE.findall(text)))
        last = epochs[-1].split(" ", 1)[-1] if epochs else None
        return LogSummary(len(epochs), advice, "out of memory" in text.lower(), last)

    # --- what the training loop records ---

    def record_start(self, *, resumed: bool, model: str, size: int, on: str, train_images: int, val_images: int,
                     batch_size: int, skipped: list[tuple[str, str]], best_path: Path) -> None:
        self.write_state(status="running", model=model, best_path=str(best_path), pid=os.getpid(), host=socket.gethostname())
        self.log(f"{'resumed' if resumed else 'started'}: {model}, {size} px, {on}, {train_images} train / {val_images} val images, batch {batch_size}")
        for file, why in skipped:
            self.log(f"skipped {file}: {why}")

    def record_epoch(self, metrics: EpochMetrics, saved: Path | None) -> None:
        """The epoch's line in train.log (its row of metrics.csv is `add_metrics`, written before the model files)."""
        self.log(f"epoch {metrics.epoch}: train loss {metrics.train_loss:.4f} acc {metrics.train_acc:.2%}, "
                 f"val loss {metrics.val_loss:.4f} acc {metrics.val_acc:.2%}" + (f", saved {saved}" if saved else ""))

    def record_advice(self, advice: Advice) -> None:
        self.log(f"coach: {advice.kind}: {advice.message}")  # what `log_summary` finds again

    def record_interrupted(self, why: str, stopped_by: str, epoch: int, epochs_done: int) -> None:
        self.write_state(status="interrupted", epoch=epochs_done, stopped_by=stopped_by)
        self.log(f"interrupted by {why} during epoch {epoch}")

    def record_failed(self, message: str) -> None:
        self.write_state(status="failed", error=message)
        self.log(f"failed: {message}")

    def record_finished(self, best: EpochMetrics, epochs_done: int) -> None:
        self.write_state(status="finished", epoch=epochs_done, best_epoch=best.epoch, best_val_acc=best.val_acc,
                         best_val_balanced_acc=best.val_balanced_acc)
        self.log(f"finished: best val acc {best.val_acc:.2%} at epoch {best.epoch}")

    def stopped_message(self, epoch: int, epochs_done: int) -> str:
        """What a stopped run tells the person: what is kept, and where."""
        if not epochs_done:
            return f"Stopped during epoch {epoch}, before any epoch finished: there is nothing to keep yet."
        saved = "Epoch 1 is" if epochs_done == 1 else f"Epochs 1-{epochs_done} are"
        during = f" during epoch {epoch}" if epoch > epochs_done else ""
        return f"Stopped{during}. {saved} saved in {self.last_file}; the curves so far are in {self.curves_file}."

    # --- metrics.csv ---

    def add_metrics(self, metrics: EpochMetrics) -> None:
        if not self.writes:
            return
        new = not self.metrics_file.exists()
        with open(self.metrics_file, "a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._metrics_fields(), extrasaction="ignore", lineterminator="\n")
            if new:
                writer.writeheader()
            writer.writerow(_metrics_row(metrics))

    def rewrite_metrics(self, history: list[EpochMetrics]) -> None:
        """metrics.csv written again from `history`: it may list an epoch that last.pth does not have (the
        disk filled up between the two), and a resumed run lists every epoch once."""
        if not self.writes:
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._metrics_fields(), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for metrics in history:
            writer.writerow(_metrics_row(metrics))
        atomic_write_text(self.metrics_file, buffer.getvalue())

    def metrics(self) -> list[dict[str, float | int | None]]:
        """metrics.csv's rows, numbers as numbers (an empty cell, such as an AUC with one class, as None)."""
        if not self.metrics_file.is_file():
            return []
        with open(self.metrics_file, newline="", encoding="utf-8") as handle:
            return [{key: _number(key, value) for key, value in row.items()} for row in csv.DictReader(handle)]

    def _metrics_fields(self) -> list[str]:
        """The columns of metrics.csv: a run started by an older dfcoach keeps the ones its file began with."""
        if not self.metrics_file.exists():
            return METRICS_FIELDS
        with open(self.metrics_file, newline="", encoding="utf-8") as handle:
            return next(csv.reader(handle), None) or METRICS_FIELDS

    # --- config.yaml and last.pth ---

    def save_config(self, config: TrainConfig, size: int, pretrained: bool, data_dir: Path) -> None:
        if self.writes:
            atomic_write_text(self.config_file, yaml.safe_dump({**config.model_dump(mode="json"), "image_size": size, "pretrained": pretrained,
                                                                "data_dir": str(data_dir)}, sort_keys=False))

    def saved_data_dir(self) -> Path | None:
        """The dataset folder the run was started on (config.yaml's data_dir); None when it cannot be told."""
        try:
            saved = yaml.safe_load(self.config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        data_dir = saved.get("data_dir") if isinstance(saved, dict) else None
        return Path(data_dir) if isinstance(data_dir, str) and data_dir else None

    def saved_config(self, last: dict) -> TrainConfig:
        """The settings the run was started with, from its last.pth (`last`), checked like any file's contents."""
        from pydantic import ValidationError

        try:
            return TrainConfig(**last["config"])
        except (KeyError, TypeError, ValidationError):
            raise CoachError(
                f"{self.last_file} does not hold the settings the run was started with in a form dfcoach can use.",
                hint="The file was changed or damaged; start a new run with: dfcoach train",
            ) from None

    def load_last(self) -> dict:
        from deepfake_coach.train.checkpoint import load_checkpoint

        return load_checkpoint(self.last_file)

    def save_last(self, checkpoint: dict) -> None:
        """last.pth, with all a resumed run needs (`checkpoint` is made by checkpoint.make_checkpoint)."""
        if not self.writes:
            return
        from deepfake_coach.train.checkpoint import save_checkpoint

        save_checkpoint(self.last_file, checkpoint)

    def history(self) -> list[EpochMetrics]:
        """The epochs the run finished, as its last.pth records them (checked like any file read)."""
        saved = self.load_last().get("history") or []
        try:
            return [EpochMetrics(**item) for item in saved]
        except TypeError:
            raise CoachError(f"{self.last_file} does not list its epochs in a form dfcoach knows.",
                             hint="Start a new run with: dfcoach train") from None


def status_of(state: object) -> str:
    """A run's status from its state.json, already read (None: it could not be): see `RunFolder.status`."""
    status = state.get("status", "unknown") if isinstance(state, dict) else "unknown"
    if status == "running" and state.get("host") == socket.gethostname() and not process_alive(state.get("pid")):
        return "cut_off"
    return status if isinstance(status, str) else "unknown"


def _metrics_row(metrics: EpochMetrics) -> dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(metrics).items()}


def _number(key: str, value: str | None) -> float | int | None:
    if value is None or value == "":
        return None
    return int(value) if key == "epoch" else float(value)


def _same_file(recorded: Path, model_path: Path, project_dir: Path) -> bool:
    recorded = recorded if recorded.is_absolute() else project_dir / recorded
    try:
        return recorded.resolve() == model_path.resolve()
    except OSError:
        return False
