"""`dfcoach doctor`: a registry of checks, each saying what it saw and, when something is off, the fix.

A check is a function of a `DoctorContext` that returns `ok(saw)`, `warn(saw, fix)` or `fail(saw, fix)`;
`@check(id, title)` registers it, in the order shown. Adding one:

    @check("gpu_driver", "NVIDIA driver")
    def gpu_driver(context: DoctorContext) -> Finding:
        version = _driver_version()
        if version is None:
            return ok("No NVIDIA driver: training runs on the CPU.")
        if version < MIN_DRIVER:
            return warn(f"NVIDIA driver {version} is older than CUDA needs.", "Update the driver from nvidia.com.")
        return ok(f"NVIDIA driver {version}.")

Checks read the world through small functions (`_installed_version`, `port_is_free`, `shutil.disk_usage`,
`torch.cuda`...) so tests inject situations by replacing them. Every fix links to a section of
docs/troubleshooting.md named after the check's id. A check that crashes becomes a warning, never a crash.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from deepfake_coach.checklist import PASS_ACCURACY, validation_score
from deepfake_coach.data.layout import DEFAULT_DATA_DIR
from deepfake_coach.io.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:
    from deepfake_coach.train.run import LogSummary, RunFolder

Status = Literal["ok", "warn", "fail"]
TROUBLESHOOTING = "docs/troubleshooting.md"
MIN_PYTHON = (3, 11)
GIB = 1024**3
DISK_FAIL_BELOW = 1 * GIB  # not even the demo and a few checkpoints fit
DISK_WARN_BELOW = 10 * GIB  # the Kaggle 140k zip and its extracted images need about 8 GB
GPU_MEMORY_WARN_BELOW = 1 * GIB
STALE_RUN_SECONDS = 15 * 60  # a "running" run whose log has been silent this long has died
DEFAULT_PORT = 5000


@dataclass(frozen=True)
class Finding:
    status: Status
    saw: str
    fix: str | None = None  # on an ok finding: the next step, if there is one


def ok(saw: str, next_step: str | None = None) -> Finding:
    return Finding("ok", saw, next_step)


def warn(saw: str, fix: str) -> Finding:
    return Finding("warn", saw, fix)


def fail(saw: str, fix: str) -> Finding:
    return Finding("fail", saw, fix)


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: Status
    saw: str
    fix: str | None
    doc: str  # where the troubleshooting page explains this check

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class DoctorContext:
    """Where to look: the project folder and the places dfcoach.yaml names."""

    project_dir: Path = Path(".")
    data_dir: Path = DEFAULT_DATA_DIR
    env_file: Path = Path(".env")
    port: int = DEFAULT_PORT
    progress: Progress = NO_PROGRESS  # for the slow checks (the dataset's, the first time)
    model: str | None = None  # the model to train, for what it needs; None: dfcoach.yaml's train.model


Check = Callable[[DoctorContext], Finding]
CHECKS: dict[str, tuple[str, Check]] = {}


def check(check_id: str, title: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS[check_id] = (title, function)
        return function

    return register


def run_check(check_id: str, context: DoctorContext) -> CheckResult:
    title, function = CHECKS[check_id]
    try:
        finding = function(context)
    except Exception as error:  # a broken check must not hide the others
        finding = warn(f"This check could not run: {type(error).__name__}: {error}",
                       "Run `DFCOACH_DEBUG=1 dfcoach doctor` and report the error if it persists.")
    return CheckResult(check_id, title, finding.status, finding.saw, finding.fix, f"{TROUBLESHOOTING}#{check_id.replace('_', '-')}")


def run_checks(context: DoctorContext | None = None, only: list[str] | None = None) -> list[CheckResult]:
    """Every registered check in order (or those named in `only`, which the wizard uses)."""
    context = context or DoctorContext()
    return [run_check(check_id, context) for check_id in (only or list(CHECKS))]


def results_json(results: list[CheckResult]) -> str:
    counts = {status: sum(r.status == status for r in results) for status in ("ok", "warn", "fail")}
    return json.dumps({"healthy": counts["fail"] == 0, "counts": counts, "checks": [r.to_dict() for r in results]}, indent=2)


# --- the probes tests replace -----------------------------------------------------------------


def _python_version() -> tuple[int, int, int]:
    return tuple(sys.version_info[:3])


def _installed_version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    from deepfake_coach.serve.runner import port_is_free as free

    return free(port, host)


# --- the checks, in the order they are shown --------------------------------------------------


@check("python", "Python version")
def python_version(context: DoctorContext) -> Finding:
    version = _python_version()
    shown = ".".join(map(str, version))
    if version[:2] < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return fail(f"Python {shown}; dfcoach needs {need} or newer.",
                    f"Install Python {need} or newer (python.org, or `uv python install {need}`), then reinstall dfcoach with it.")
    return ok(f"Python {shown}.")


@check("torch", "PyTorch and torchvision")
def torch_and_torchvision(context: DoctorContext) -> Finding:
    torch_version, vision_version = _installed_version("torch"), _installed_version("torchvision")
    if torch_version is None:
        return fail(f"{'torch and torchvision are' if vision_version is None else 'torch is'} not installed.", INSTALL_TORCH)
    if vision_version is None:
        return _without_torchvision(context, torch_version)
    expected = _matching_torchvision(torch_version)
    pair = f"torch {torch_version}, torchvision {vision_version}"
    if expected is None:
        return warn(f"{pair}: dfcoach cannot tell whether this pair matches.",
                    "If importing torchvision fails, reinstall both together: pip install --upgrade torch torchvision")
    if _minor(vision_version) != expected:
        return fail(f"{pair} do not match: this torch goes with torchvision 0.{expected[1]}.",
                    "Reinstall both together so pip picks a matching pair: pip install --upgrade torch torchvision")
    return ok(f"{pair} (a matching pair).")


INSTALL_TORCH = "Install both together, so their versions match: pip install torch torchvision"


def _without_torchvision(context: DoctorContext, torch_version: str) -> Finding:
    """torch without torchvision: a failure when the model to train needs it, else a warning naming the models that do."""
    models = _models_by_torchvision()
    if models is None:
        return fail("torchvision is not installed.", INSTALL_TORCH)
    needing, plain = models
    model = context.model or _configured_model(Path(context.project_dir))
    if model in needing:
        return fail(f"torchvision is not installed; {model}, the model to train, needs it.",
                    f"{INSTALL_TORCH}. Or choose a model that needs only torch ({', '.join(plain)}): --model, or train.model in dfcoach.yaml.")
    return warn(f"torch {torch_version}; torchvision is not installed. {model} does not need it; {', '.join(needing)} do.",
                f"To train one of those: {INSTALL_TORCH}")


def _models_by_torchvision() -> tuple[list[str], list[str]] | None:
    """The models that need torchvision and those that need only torch (train/models.py); None when the
    registry cannot be imported (a broken torch, which the device check reports)."""
    try:
        from deepfake_coach.train.models import MODELS, needs_torchvision
    except Exception:
        return None
    return [name for name in MODELS if needs_torchvision(name)], [name for name in MODELS if not needs_torchvision(name)]


def _configured_model(project_dir: Path) -> str:
    """dfcoach.yaml's train.model, as `dfcoach train` reads it (the default model without a readable dfcoach.yaml)."""
    from deepfake_coach.config import CONFIG_FILE, TrainConfig, load_project_config
    from deepfake_coach.errors import CoachError

    try:
        return load_project_config(project_dir / CONFIG_FILE).train.model
    except CoachError:
        return TrainConfig().model


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split("+")[0].split(".")[:2]
    return int(major), int(minor)


def _matching_torchvision(torch_version: str) -> tuple[int, int] | None:
    """torch 2.N ships with torchvision 0.(N+15): 2.0 with 0.15, 2.14 with 0.29."""
    major, minor = _minor(torch_version)
    return (0, minor + 15) if major == 2 else None


@check("device", "Device for training")
def device(context: DoctorContext) -> Finding:
    import torch

    if torch.cuda.is_available():
        try:
            name = torch.cuda.get_device_name(0)
            free, total = torch.cuda.mem_get_info(0)
        except Exception as error:
            return fail(f"PyTorch sees an NVIDIA GPU but cannot use it ({error}).",
                        "Update the NVIDIA driver, or install the torch build for your CUDA version (pytorch.org). "
                        "Meanwhile training works on the CPU: dfcoach train --device cpu")
        memory = f"{free / GIB:.1f} GiB free of {total / GIB:.1f} GiB"
        if free < GPU_MEMORY_WARN_BELOW:
            return warn(f"CUDA GPU {name}, but only {memory}: other programs are using it.",
                        "Close them (nvidia-smi lists them), or train with smaller batches: dfcoach train --batch-size 8")
        return ok(f"CUDA GPU {name}, {memory}: training runs on the GPU, many times faster than on a CPU.")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return ok("Apple GPU (MPS): training runs on it, several times faster than on the CPU.")
    return ok("CPU only, no GPU found. That is fine for the demo (a quick run takes about a minute) and for "
              "custom_cnn or meso4; a full run on 140,000 real faces takes hours, so start with --quick.")


@check("disk", "Free disk space")
def disk_space(context: DoctorContext) -> Finding:
    free = shutil.disk_usage(Path(context.project_dir).resolve()).free
    saw = f"{free / GIB:.1f} GiB free in {Path(context.project_dir).resolve()}."
    if free < DISK_FAIL_BELOW:
        return fail(saw + " Datasets, caches and models will not fit.",
                    "Free at least a few GB (empty the trash, delete old runs/ folders or dataset/.dfcoach, which is a cache).")
    if free < DISK_WARN_BELOW:
        return warn(saw + " Enough for the demo; the Kaggle 140k dataset needs about 8 GB.",
                    "Free some space before downloading a real dataset, or use the demo (dfcoach data download tiny_demo).")
    return ok(saw)


@check("kaggle_credentials", "Kaggle credentials")
def kaggle_credentials(context: DoctorContext) -> Finding:
    """What Kaggle would use, never its value; checked with Kaggle only by `dfcoach kaggle setup`, so the doctor works offline."""
    from deepfake_coach.kaggle.credentials import find_credentials

    found = find_credentials()
    if found is None:
        return warn("No Kaggle credentials found. Only the kaggle_140k download needs them.",
                    "Run `dfcoach kaggle setup`, or download the zip in a browser and use `dfcoach data download kaggle_140k --archive ZIP`.")
    if not found.usable:
        return fail(f"Found {found.description}, but it cannot be used: {found.problem}", "Run `dfcoach kaggle setup` to install a working token.")
    if found.too_open:
        return warn(f"Kaggle will use {found.description}, but other users of this computer can read it.",
                    "Make it private with: dfcoach kaggle setup --fix-permissions")
    return ok(f"Kaggle will use {found.description}.", "dfcoach kaggle setup checks it with Kaggle.")


@check("dataset", "Dataset")
def dataset(context: DoctorContext) -> Finding:
    from deepfake_coach.data.checks import check_dataset

    data_dir = Path(context.data_dir)
    if not data_dir.exists():
        return ok(f"No dataset at {data_dir}/ yet.", "dfcoach data download tiny_demo (offline, seconds), or dfcoach data organize YOUR_FOLDER")
    report = check_dataset(data_dir, progress=context.progress, save_report=False)
    train = report.counts["train"]
    saw = f"{report.total:,} images in {data_dir}/ ({train['real']:,} real and {train['fake']:,} fake to train on). {report.verdict}"
    command = f"dfcoach data check --data-dir {data_dir}"
    if report.errors:
        titles = "; ".join(problem.title for problem in report.errors[:3])
        return fail(f"{saw} {titles}", f"Run `{command}`: it explains each problem and its fix.")
    if report.warnings:
        titles = "; ".join(problem.title for problem in report.warnings[:3])
        return warn(f"{saw} {titles}", f"Run `{command}` to read why each matters.")
    return ok(saw)


@check("last_run", "Last training run")
def last_run(context: DoctorContext) -> Finding:
    from deepfake_coach.train.run import RunFolder, runs_dir

    run = RunFolder.latest(runs_dir(context.project_dir))
    if run is None:
        return ok("No training run yet.", "dfcoach train --quick")
    state = run.state()  # read once: the status and the figures shown come from the same moment
    if state is None:
        return warn(f"{run.state_file} cannot be read.", "Start a new run: dfcoach train --quick")
    log = run.log_summary()
    status = run.status(state)  # what state.json says, and whether a "running" run's process is still there
    resume = f"dfcoach train --resume {run.name}" if run.has_last() else "dfcoach train"
    if status == "failed":
        error = state.get("error", "an unknown error")
        fix = (_oom_fix(log.out_of_memory or "out of memory" in str(error).lower())
               or "Read the error above, fix it (`dfcoach doctor --explain \"<the error>\"` helps), then: dfcoach train")
        return fail(f"The run {run.name} failed: {error}", fix)
    if status == "running":
        silent = time.time() - run.last_written()
        if silent < STALE_RUN_SECONDS:
            return ok(f"The run {run.name} is training now (epoch {log.epochs + 1}).")
        return warn(f"The run {run.name} stopped without finishing (nothing written for {silent / 60:.0f} minutes: "
                    "the computer slept, or the process was killed).", f"Continue it: {resume}")
    if status == "cut_off":
        return warn(f"The run {run.name} was cut off during epoch {log.epochs + 1}: its process is gone (killed, "
                    "or the computer restarted) without finishing. What finished before is saved.", f"Continue where it stopped: {resume}")
    if status == "interrupted":
        epoch = state.get("epoch") if isinstance(state.get("epoch"), int) else 0
        why = {"SIGHUP": " when its terminal was closed", "SIGTERM": " by a stop signal (SIGTERM)"}.get(state.get("stopped_by"), "")
        return warn(f"The run {run.name} was stopped{why} during epoch {epoch + 1}.", f"Continue where it stopped: {resume}")
    if status != "finished":
        return warn(f"The run {run.name} is in an unknown state ({status}).", "Start a new run: dfcoach train --quick")
    return _finished_run_health(run, state, log)


def _oom_fix(out_of_memory: bool) -> str | None:
    if not out_of_memory:
        return None
    return ("The GPU ran out of memory: train with smaller batches (dfcoach train --batch-size 8), a smaller "
            "--image-size, or a smaller model (--model custom_cnn).")


RECOVERED_FROM_CHANCE = 0.60  # a best (balanced) accuracy this far above 50% learned something


def _finished_run_health(run: "RunFolder", state: dict, log: "LogSummary") -> Finding:
    best, said = validation_score(*(value if isinstance(value, (int, float)) else None
                                    for value in (state.get("best_val_acc"), state.get("best_val_balanced_acc"))))
    saw = f"The run {run.name} finished" + (f" with a best validation accuracy of {said}." if best is not None else ".")
    coached = set(log.advice) & {"overfitting", "stuck_at_chance", "one_class"}
    # Near chance for a few epochs and then learning is common on faint evidence: judge by the best epoch.
    if coached & {"stuck_at_chance", "one_class"} and (best is None or best < RECOVERED_FROM_CHANCE):
        return warn(saw + " It was stuck at chance: the model did not learn to tell real from fake.",
                    "Check the labels (are the images in the right real/ and fake/ folders?), then try a smaller "
                    "learning rate: dfcoach train --lr 0.0001. `dfcoach doctor --explain \"accuracy stuck at 50%\"` says more.")
    if "overfitting" in coached:
        return warn(saw + " It overfitted: it memorised its training images.",
                    "The best model was kept. Next time more images help most; fewer epochs help too.")
    if log.out_of_memory:
        return warn(saw + " The GPU ran out of memory along the way (dfcoach halved the batch size and went on).",
                    _oom_fix(True))
    if isinstance(best, (int, float)) and best <= PASS_ACCURACY:
        return warn(saw + f" That is not above {PASS_ACCURACY:.0%}, the guide's bar for a model that has learned something.",
                    "Train longer (dfcoach train, the full run), or with more images (dfcoach data list).")
    return ok(saw)


@check("deployed_model", "Deployed model")
def deployed_model(context: DoctorContext) -> Finding:
    """What the service would load from .env, judged exactly as `dfcoach serve` judges it."""
    from deepfake_coach.deploy import read_deployment
    from deepfake_coach.serve.settings import env_file_flag

    env_file = Path(context.env_file)
    deploy = f"dfcoach deploy{env_file_flag(env_file)}"
    status = read_deployment(env_file)
    if not status.env_exists:
        return ok(f"Not deployed yet (no {env_file}).", deploy)
    if not status.model_path:
        return ok(f"{env_file} names no MODEL_PATH: not deployed yet.", deploy)
    if not status.loads:
        return fail(f"The service could not use what {env_file} names: {status.problem}", status.fix or deploy)
    return ok(f"{env_file} points at {status.resolved_model_path}, which loads ({status.model_name}); `dfcoach serve` will use it.")


@check("port", "Port for dfcoach serve")
def port(context: DoctorContext) -> Finding:
    from deepfake_coach.serve.runner import free_port_after

    if port_is_free(context.port):
        return ok(f"Port {context.port} is free for `dfcoach serve`.")
    return warn(f"Port {context.port} is in use by another program (on macOS, AirPlay Receiver uses port 5000).",
                f"Serve on another port: dfcoach serve --port {free_port_after(context.port)}, or stop the other program "
                f"(`lsof -i :{context.port}` names it).")
