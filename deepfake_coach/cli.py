"""The `dfcoach` command: one thin function per command.

This is the only module that imports Typer. Each command gathers its answers,
calls the library, and renders the result; expected failures are `CoachError`s,
printed once by `_guarded` without a traceback (DFCOACH_DEBUG=1 shows it).
Heavy libraries (torch, cv2, PIL) are imported inside the functions that need
them, so `dfcoach --help` stays fast.
"""

from __future__ import annotations

import functools
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from deepfake_coach import __version__
from deepfake_coach.data import sources
from deepfake_coach.errors import CoachError, DataError, Interrupted, UsageError, debug_enabled
from deepfake_coach.ui import console
from deepfake_coach.ui.progress import ProgressMode, make_progress
from deepfake_coach.ui.prompts import make_prompter

app = typer.Typer(
    name="dfcoach",
    help="Train your first deepfake detector, step by step. Start with: dfcoach init",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
def _flags_show_no_type() -> None:
    """Typer's help prints `<bool>` beside on/off flags (`--quick <bool>`), which reads as if
    `--quick true` were wanted; Click refuses that, rightly. A flag takes no value: show none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    TyperOption.display_type_rich = lambda self, ctx: None if self.is_flag else shown(self, ctx)


_flags_show_no_type()
data_app = typer.Typer(help="Get a dataset, organize your own images, and check them.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@dataclass
class Session:
    """What the global options decided, for every command of one invocation."""

    progress_mode: ProgressMode = ProgressMode.AUTO
    quiet: bool = False
    no_input: bool = False
    no_color: bool = False

    def progress(self):
        return make_progress(ProgressMode.OFF if self.quiet else self.progress_mode, console.err())

    def prompter(self):
        return make_prompter(self.no_input)


def _guarded(function: Callable) -> Callable:
    """Expected failures become a message and an exit code; the rest a short apology."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except typer.Exit:
            raise
        except CoachError as error:
            console.report_error(error)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            error = Interrupted("Stopped by you.")
            console.report_error(error)
            raise typer.Exit(error.exit_code) from None
        except Exception as error:
            if debug_enabled():
                raise
            console.report_crash(error)
            raise typer.Exit(1) from None

    return wrapper


def _command(group: typer.Typer, name: str | None = None, **kwargs) -> Callable:
    def register(function: Callable) -> Callable:
        group.command(name, **kwargs)(_guarded(function))
        return function

    return register


def _session(ctx: typer.Context) -> Session:
    return ctx.find_root().obj or Session()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dfcoach {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only results and errors.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR=1 does the same).")] = False,
    progress: Annotated[ProgressMode, typer.Option(help="Progress display: bars on a terminal, plain lines otherwise.")] = ProgressMode.AUTO,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never ask questions; fail with the flag to pass instead.")] = False,
) -> None:
    """Train your first deepfake detector, step by step."""
    console.configure(quiet=quiet, no_color=no_color)
    ctx.obj = Session(progress_mode=progress, quiet=quiet, no_input=no_input, no_color=no_color)


# --- dfcoach init -----------------------------------------------------------------------------


@_command(app, "init")
def init(
    ctx: typer.Context,
    dataset: Annotated[Optional[str], typer.Option(help=f"{sources.listed(sources.NAMES)}.", show_default=False)] = None,
    data_dir: DataDir = None,
    source: Annotated[Optional[Path], typer.Option(help="folder: your folder with real/ and fake/; faceforensics: the download folder.", show_default=False)] = None,
    archive: Annotated[Optional[Path], typer.Option(help="kaggle_140k: the zip you downloaded in a browser (or its unzipped folder).", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option(help="The model to train (see `dfcoach train --help`).", show_default=False)] = None,
    pretrained: Annotated[Optional[bool], typer.Option("--pretrained/--from-scratch", help="torchvision models: start from ImageNet weights. [default: yes when they are on this computer]", show_default=False)] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Pixels per side. [default: the model's own size]", show_default=False)] = None,
    images_per_class: Annotated[int, typer.Option(help="tiny_demo: images of each class.")] = 500,
    seed: Seed = 0,
    replace_data: Annotated[Optional[bool], typer.Option("--replace-data/--keep-data", help="Replace a dataset already in the data folder, or train on it.", show_default=False)] = None,
    restart: Annotated[Optional[bool], typer.Option("--restart/--continue", help="Start over, or continue where you stopped last time.", show_default=False)] = None,
    full: Annotated[Optional[bool], typer.Option("--full/--skip-full", help="Run the full training after the quick run. [default with --yes: skip]", show_default=False)] = None,
    deploy: Annotated[Optional[bool], typer.Option("--deploy/--no-deploy", help="Write the model into the .env of the inference service.", show_default=False)] = None,
    env_file: Annotated[Optional[Path], typer.Option(help="The .env file to write. [default: .env]", show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Take the default answer to every question.")] = False,
) -> None:
    """The guided journey: dataset, quick run, full run, evaluation, checklist, deployment."""
    from deepfake_coach.wizard import STEPS, InitOptions, run_wizard

    session = _session(ctx)
    options = InitOptions(dataset=dataset, data_dir=data_dir, source=source, archive=archive, model=model, pretrained=pretrained, image_size=image_size,
                          images_per_class=images_per_class, seed=seed, replace_data=replace_data, restart=restart, full=full,
                          deploy=deploy, env_file=env_file, yes=yes)
    run_wizard(STEPS, options, session.prompter(), session.progress(), console.out(), console.err())


# --- dfcoach data ------------------------------------------------------------------------------

DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", "-d", help="The dataset folder (train/, val/, test/ inside). [default: data.dir in dfcoach.yaml, else dataset]", show_default=False),
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing dataset without asking: the old one is deleted once the new one is complete and passes the check. A folder holding anything else is never replaced.")]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed gives the same result.")]
VideoFrames = Annotated[int, typer.Option("--frames", min=1, help="Videos: frames taken from each video, evenly spaced.")]
Balance = Annotated[bool, typer.Option("--balance/--no-balance", help="Videos: fewer frames per video from the class with more videos, so both classes get as many faces.")]


@_command(data_app, "list")
def data_list() -> None:
    """Show the datasets you can train on, and which one to pick."""
    from deepfake_coach.data.sources import SOURCES
    from deepfake_coach.ui.reports import render_dataset_choices

    render_dataset_choices(SOURCES, console.out())
    console.next_step("dfcoach data download tiny_demo", why="A first run, offline, in seconds")


@_command(data_app, "download")
def data_download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"{sources.listed(sources.DOWNLOADABLE)} (`dfcoach data list` says what each is).", show_default=False)],
    data_dir: DataDir = None,
    images_per_class: Annotated[int, typer.Option(help="tiny_demo: images of each class (split 70/20/10).")] = 500,
    archive: Annotated[Optional[Path], typer.Option(help="kaggle_140k: the zip you downloaded in a browser, or the folder you unzipped it into (no Kaggle token needed).", show_default=False)] = None,
    download_dir: Annotated[Path, typer.Option(help="kaggle_140k: where the downloaded zip is kept (a second run reuses it).")] = Path("downloads"),
    train_per_class: Annotated[int, typer.Option(help="kaggle_140k: training images of each class.")] = 7000,
    val_per_class: Annotated[int, typer.Option(help="kaggle_140k: validation images of each class.")] = 2000,
    test_per_class: Annotated[int, typer.Option(help="kaggle_140k: test images of each class.")] = 1000,
    seed: Seed = 0,
    force: Force = False,
    source: Annotated[Optional[Path], typer.Option(help="faceforensics: the folder its download script wrote to.", show_default=False)] = None,
    methods: Annotated[str, typer.Option(help="faceforensics: fake methods to use, comma-separated, or all.")] = "Deepfakes,Face2Face,FaceSwap,NeuralTextures",
    compression: Annotated[str, typer.Option(help="faceforensics: c23, c40 or raw.")] = "c23",
    official_splits: Annotated[Optional[Path], typer.Option(help="faceforensics: folder with the official train/val/test.json. [default: SOURCE/splits when there]", show_default=False)] = None,
    frames: VideoFrames = 32,
    balance: Balance = True,
) -> None:
    """Get a dataset: the offline demo faces, Kaggle's 140k real and fake faces, faces from your FaceForensics++ videos, or an empty skeleton."""
    from deepfake_coach.data import download

    session, data_dir = _session(ctx), _data_dir(data_dir)
    if name not in sources.DOWNLOADABLE:
        raise download.not_downloadable(name)
    if name == "kaggle_140k":
        per_class = {"train": train_per_class, "val": val_per_class, "test": test_per_class}
        _download_kaggle_140k(session, data_dir, archive, download_dir, per_class, seed, force)
        return
    if name == "faceforensics":
        _prepare_faceforensics(session, data_dir, source, methods, compression, official_splits, seed, frames, balance, force)
        return
    if name == "sample":
        created = download.create_sample(data_dir)
        what = f"Created {len(created)} folders and files" if created else "Everything was already there"
        console.success(f"{what} in {data_dir}/. Read {data_dir}/README.txt for where images go.")
        console.next_step(f"dfcoach data check --data-dir {data_dir}", why="When you have added images")
        return
    replace = _may_replace(data_dir, force, session)
    count = download.download_tiny_demo(data_dir, images_per_class, seed, replace, session.progress())
    console.success(f"Wrote {count:,} demo images to {data_dir}/ (which image has which artifact: {data_dir}/manifest.csv).")
    _check_and_exit(data_dir, session)


@_command(data_app, "organize")
def data_organize(
    ctx: typer.Context,
    src: Annotated[Path, typer.Argument(help="Your folder with real/ and fake/ inside (or already split into train/val/test).", show_default=False)],
    data_dir: DataDir = None,
    split: Annotated[str, typer.Option(help="Shares for train/val/test.")] = "70/20/10",
    seed: Seed = 0,
    link: Annotated[bool, typer.Option("--link/--copy", help="Link the images instead of copying them (saves space).")] = False,
    force: Force = False,
    videos: Annotated[bool, typer.Option("--videos", help="SRC holds videos: take frames, cut out the faces.")] = False,
    frames: VideoFrames = 32,
    balance: Balance = True,
) -> None:
    """Sort your own real and fake images (or videos, with --videos) into train/val/test, then check them."""
    from deepfake_coach.data.organize import organize, parse_split
    from deepfake_coach.ui.reports import render_organize_summary

    session, data_dir = _session(ctx), _data_dir(data_dir)
    fractions = parse_split(split)
    if videos:
        _organize_videos(session, src, data_dir, fractions, seed, frames, balance, link, force)
        return
    replace = _may_replace(data_dir, force, session, source=src)
    result = organize(src, data_dir, fractions, seed, link, replace, session.progress())
    render_organize_summary(result, data_dir)
    _check_and_exit(data_dir, session)


@_command(data_app, "check")
def data_check(
    ctx: typer.Context,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON, for scripts.")] = False,
) -> None:
    """Count the images, judge whether they are fit to train on, and explain every problem.

    Exit code 0 when the dataset is fit to train, 1 when it is not.
    """
    _check_and_exit(_data_dir(data_dir), _session(ctx), as_json=as_json)


# --- dfcoach train ----------------------------------------------------------------------------


@_command(app, "train")
def train(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option("--quick", help="The test run: 5 epochs, batches of 16.")] = False,
    data_dir: DataDir = None,
    model: Annotated[Optional[str], typer.Option(help="efficientnet_lite0, noise_cnn, custom_cnn, meso4, resnet18, efficientnet_b0 or mobilenet_v3_small. [default: efficientnet_lite0]", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training images. [default: 30, --quick 5]", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Images per step. [default: 32, --quick 16]", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate. [default: 0.001]", show_default=False)] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Pixels per side. [default: the model's own size]", show_default=False)] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or mps. [default: auto]", show_default=False)] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many epochs without improvement. [default: 5]", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed. [default: 0]", show_default=False)] = None,
    pretrained: Annotated[Optional[bool], typer.Option("--pretrained/--from-scratch", help="Start from ImageNet weights: installed for efficientnet_lite0 (its default), a one-time download for the torchvision models. --from-scratch starts from random weights.", show_default=False)] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue a stopped run: its name in runs/, or `last`.", show_default=False)] = None,
    find_lr: Annotated[bool, typer.Option("--find-lr", help="Do not train: try learning rates for 100 batches and suggest an --lr.")] = False,
    devices: Annotated[Optional[int], typer.Option(min=1, help="Train on N GPUs at once, through torchrun; on a computer without a GPU, in N processes sharing the CPU. --batch-size stays the images of one step, shared among them, so the model learns as it does on one device.", show_default=False)] = None,
) -> None:
    """Train a detector, with coaching while it learns. Start with --quick."""
    from deepfake_coach.train import distributed

    world = distributed.world()  # under torchrun, this process's place among the run's processes
    with _said_once(world):
        _train(ctx, quick, data_dir, model, epochs, batch_size, lr, image_size, device, patience, seed, pretrained, resume, find_lr, devices, world)


def _train(ctx, quick, data_dir, model, epochs, batch_size, lr, image_size, device, patience, seed, pretrained, resume, find_lr, devices, world) -> None:
    from deepfake_coach.checklist import success_checklist
    from deepfake_coach.train.settings import resolve_train_config
    from deepfake_coach.train.loop import fit
    from deepfake_coach.ui.training import ConsoleReporter, render_summary

    from deepfake_coach.config import load_project_config

    session, project = _session(ctx), load_project_config()
    given_data_dir = data_dir
    data_dir = data_dir if data_dir is not None else project.data.dir
    flags = dict(model=model, epochs=epochs, batch_size=batch_size, lr=lr, image_size=image_size, device=device, patience=patience, seed=seed)
    config = resolve_train_config(flags, project.train, quick=quick)
    if devices is not None and devices > 1:
        from deepfake_coach.train.launcher import check_devices, launch

        if world.distributed:
            raise UsageError("--devices starts the training processes itself; under torchrun, leave it out.",
                             hint="torchrun's --nproc-per-node (and --nnodes) say how many processes train.")
        if find_lr:
            raise UsageError("--find-lr tries learning rates on one device; it cannot be combined with --devices.", hint="Run it without --devices.")
        check_devices(devices, config.device)
        raise typer.Exit(launch(devices, _train_arguments(session, quick, given_data_dir, flags, pretrained, resume)))
    if find_lr:
        from deepfake_coach.train.lr_find import find_lr as run_range_test
        from deepfake_coach.ui.training import render_lr_finding

        if resume:
            raise UsageError("--find-lr starts from new weights; it cannot be combined with --resume.", hint="Run one of them at a time.")
        render_lr_finding(run_range_test(config, data_dir, pretrained=pretrained, progress=session.progress()), config, quick, console.out(), data_dir)
        return
    result = fit(config, data_dir, pretrained=pretrained, resume=resume, progress=session.progress(), reporter=ConsoleReporter(console.err()))
    if world.leader:
        render_summary(result, success_checklist(data_dir), console.out())


def _train_arguments(session: Session, quick: bool, data_dir: Path | None, flags: dict, pretrained: bool | None, resume: str | None) -> list[str]:
    """`dfcoach ... train ...` as each training process runs it: the options given, less --devices."""
    arguments = [*(["--quiet"] if session.quiet else []), *(["--no-color"] if session.no_color else []),
                 *(["--no-input"] if session.no_input else []), "--progress", session.progress_mode.value, "train"]
    arguments += ["--quick"] if quick else []
    arguments += ["--data-dir", str(data_dir)] if data_dir is not None else []
    for name, value in flags.items():
        if value is not None:
            arguments += [f"--{name.replace('_', '-')}", str(value)]
    arguments += [] if pretrained is None else ["--pretrained" if pretrained else "--from-scratch"]
    arguments += ["--resume", resume] if resume else []
    return arguments


@contextmanager
def _said_once(world):
    """In a run on several devices every process would say the same: the first one (the leader) says
    it. Another process prints only what it alone knows (a RankError), or, as the first process of
    another computer, the errors it shares with the leader (that computer's terminal shows them)."""
    if not world.distributed or world.leader:
        yield
        return
    from deepfake_coach.errors import EXIT_INTERRUPTED
    from deepfake_coach.train.distributed import RankError, peer_gone

    try:
        yield
    except typer.Exit:
        raise
    except (KeyboardInterrupt, Interrupted):
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except CoachError as error:
        if isinstance(error, RankError) or world.local_rank == 0:
            console.report_error(error)
        raise typer.Exit(error.exit_code) from None
    except Exception as error:
        if peer_gone(error):  # another process stopped first, and said why
            raise typer.Exit(1) from None
        raise


def _data_dir(flag: Path | None) -> Path:
    """The flag, else dfcoach.yaml's data.dir, else dataset/ (flags win over the file, the file over defaults)."""
    from deepfake_coach.config import load_project_config

    return flag if flag is not None else load_project_config().data.dir


def _may_replace(data_dir: Path, force: bool, session: Session, source: Path | None = None) -> bool:
    """Whether to build into `data_dir`: free, or a dataset to replace with --force or a yes (data.replace's rule)."""
    from deepfake_coach.data.replace import decide_replace

    def ask() -> bool:
        question = (f"{data_dir}/ already holds a dataset. Delete it and replace it with the new one? (It is deleted only "
                    "once the new one is complete and passes the check.)")
        return session.prompter().confirm(question, flag="--force (or choose another --data-dir)", default=False)

    if decide_replace(data_dir, True if force else None, ask, source=source):
        return True
    raise DataError(f"Left {data_dir}/ as it was.", hint="Choose another folder with --data-dir, or pass --force to replace it.")


def _check_and_exit(data_dir: Path, session: Session, as_json: bool = False) -> None:
    from deepfake_coach.data.checks import check_dataset
    from deepfake_coach.data.layout import DEFAULT_DATA_DIR
    from deepfake_coach.ui.reports import render_dataset_report

    report = check_dataset(data_dir, progress=session.progress())
    if as_json:
        console.out().print_json(json.dumps(report.to_dict()))
    else:
        render_dataset_report(report, console.out())
        if report.fit_to_train:
            where = "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {data_dir}"
            console.next_step(f"dfcoach train --quick{where}", why="Next, train a first model (5 epochs)")
    raise typer.Exit(0 if report.fit_to_train else 1)


# --- dfcoach evaluate, predict, checklist, doctor ---------------------------------------------

Threshold = Annotated[
    Optional[float],
    typer.Option(help="Fake probability from which an image is called fake (0 to 1). Default: the model's own, "
                      "chosen on its validation images (0.5 for older models).", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON, for scripts.")]
EnvFile = Annotated[
    Optional[Path],
    typer.Option("--env-file", help="The .env the inference service reads. [default: deploy.env_file in dfcoach.yaml, else .env]", show_default=False),
]


def _print_json(text: str) -> None:
    typer.echo(text)  # plain, unwrapped: scripts parse it


@_command(app, "evaluate")
def evaluate_model(
    ctx: typer.Context,
    model: Annotated[Optional[Path], typer.Argument(help="The model file. [default: the newest models/best_model_*.pth]", show_default=False)] = None,
    data_dir: DataDir = None,
    split: Annotated[str, typer.Option(help="Which images to judge: test (never seen in training), val or train.")] = "test",
    threshold: Threshold = None,
    as_json: AsJson = False,
) -> None:
    """Measure the model on images it never trained on: metrics, confusion matrix, and pictures."""
    from deepfake_coach.evaluate import evaluate
    from deepfake_coach.inference import Detector
    from deepfake_coach.predict import check_threshold
    from deepfake_coach.ui.evaluation import render_evaluation

    check_threshold(threshold)  # before the slow part
    session, data_dir = _session(ctx), _data_dir(data_dir)
    evaluation = evaluate(Detector.load(model), data_dir, split, threshold, progress=session.progress())
    if as_json:
        _print_json(json.dumps(evaluation.to_dict(), indent=2))
        return
    render_evaluation(evaluation, console.out())
    console.next_step("dfcoach predict YOUR_PICTURE.jpg", why="Try it on your own pictures")


@_command(app, "predict")
def predict_files(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Pictures, videos, or folders of them (searched at any depth).", show_default=False)],
    model: Annotated[Optional[Path], typer.Option(help="The model file. [default: the newest models/best_model_*.pth]", show_default=False)] = None,
    threshold: Threshold = None,
    frames: Annotated[int, typer.Option(min=1, max=1000, help="Videos: frames taken from each, evenly spaced; the verdict is the mean over the faces found.")] = 32,
    as_json: AsJson = False,
) -> None:
    """Say whether each picture or video is real or fake, with the model's fake probability.

    Exit code 0 when at least one file was judged, 1 when none could be.
    """
    from deepfake_coach.inference import Detector, explain_threshold
    from deepfake_coach.predict import check_threshold, predict
    from deepfake_coach.ui.evaluation import render_predictions, render_unreadable, render_video_predictions

    check_threshold(threshold)
    detector = Detector.load(model)
    predictions = predict(detector, paths, threshold, _session(ctx).progress(), frames)
    if as_json:
        _print_json(json.dumps(predictions.to_dict(detector), indent=2))
    else:
        if predictions.verdicts:
            render_predictions([(str(path), v.label, v.fake_probability) for path, v in predictions.verdicts], console.out())
        if predictions.videos:
            render_video_predictions(predictions.videos, console.out())
        if predictions.judged_any:  # a 40% "fake" surprises unless the cut is said
            console.info(explain_threshold(predictions.threshold, predictions.threshold_source, detector.threshold))
        for warning in dict.fromkeys(predictions.outside.values()):  # said once, however many files it concerns
            console.warn(f"{len(predictions.outside):,} of these files are not like the pictures the model learned from. {warning}")
        if predictions.unreadable:
            render_unreadable([(str(path), reason) for path, reason in predictions.unreadable], console.err())
    if not predictions.judged_any:
        raise CoachError("None of the files could be judged.", hint="Use JPEG, PNG, WebP or BMP pictures, or MP4 videos (the reasons are listed above).")


@_command(app, "checklist")
def checklist(
    data_dir: DataDir = None,
    env_file: EnvFile = None,
    as_json: AsJson = False,
) -> None:
    """The beginner's guide's success checklist, ticked from what is on disk."""
    from deepfake_coach.checklist import success_checklist
    from deepfake_coach.ui.health import render_checklist

    items = success_checklist(_data_dir(data_dir), env_file=_env_file(env_file))
    if as_json:
        _print_json(json.dumps({"done": all(item.done for item in items), "items": [item.to_dict() for item in items]}, indent=2))
        return
    render_checklist(items, console.out())
    undone = next((item for item in items if not item.done), None)
    if undone is not None:
        console.next_step(undone.how, why="Next")


@_command(app, "doctor")
def doctor(
    ctx: typer.Context,
    as_json: AsJson = False,
    explain: Annotated[Optional[str], typer.Option(help="An error message (or `-` to read it from stdin): its usual cause and fix.", show_default=False)] = None,
    data_dir: DataDir = None,
    env_file: EnvFile = None,
    port: Annotated[int, typer.Option(help="The port `dfcoach serve` will use.")] = 5000,
) -> None:
    """Check everything dfcoach needs, and say how to fix what is wrong.

    Exit code 0 when no check fails (warnings are fine), 1 when one does.
    """
    if explain is not None:
        _explain(explain, as_json)
        return
    from deepfake_coach.doctor import DoctorContext, results_json, run_checks
    from deepfake_coach.ui.health import render_checks

    context = DoctorContext(data_dir=_data_dir(data_dir), env_file=_env_file(env_file), port=port, progress=_session(ctx).progress())
    results = run_checks(context)
    if as_json:
        _print_json(results_json(results))
    else:
        render_checks(results, console.out())
    if any(result.status == "fail" for result in results):
        raise typer.Exit(1)


def _explain(text: str, as_json: bool) -> None:
    import sys

    from deepfake_coach.troubleshooting import explain
    from deepfake_coach.ui.health import render_explanations

    text = sys.stdin.read() if text == "-" else text
    troubles = explain(text)
    if as_json:
        _print_json(json.dumps({"matches": [trouble.to_dict() for trouble in troubles]}, indent=2))
    elif troubles:
        render_explanations(troubles, console.out())
    if not troubles:
        raise CoachError(
            "dfcoach does not recognise this error.",
            hint="Paste the last lines of the error (the line naming the error matters most), run `dfcoach doctor` "
                 "for a check of everything, or see docs/troubleshooting.md.",
        )


def _env_file(flag: Path | None) -> Path:
    from deepfake_coach.config import load_project_config

    return flag if flag is not None else load_project_config().deploy.env_file


# --- dfcoach kaggle ---------------------------------------------------------------------------

kaggle_app = typer.Typer(help="Kaggle: set up your API token (needed for the 140k dataset).", no_args_is_help=True)
app.add_typer(kaggle_app, name="kaggle")


@_command(kaggle_app, "setup")
def kaggle_setup(
    ctx: typer.Context,
    token_file: Annotated[Optional[str], typer.Option(help="The kaggle.json or access_token file Kaggle gave you, to install; - reads the token from standard input.", show_default=False)] = None,
    replace: Annotated[Optional[bool], typer.Option("--replace/--keep", help="Replace credentials already installed (a backup is kept), or keep them. [default: ask]", show_default=False)] = None,
    fix_permissions: Annotated[Optional[bool], typer.Option("--fix-permissions/--leave-permissions", help="Make a credentials file others can read private (chmod 600). [default: ask]", show_default=False)] = None,
    validate: Annotated[bool, typer.Option("--validate/--no-validate", help="Check the credentials with Kaggle (needs the internet).")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kaggle's answer.")] = 10.0,
) -> None:
    """Find, install and check your Kaggle API token, step by step. Nothing secret is ever printed."""
    import sys

    from deepfake_coach.kaggle.setup import setup_credentials

    session = _session(ctx)
    token_text = sys.stdin.read() if token_file == "-" else None
    result = setup_credentials(
        session.prompter(),
        tell=console.info,
        token_file=Path(token_file) if token_file not in (None, "-") else None,
        token_text=token_text,
        replace=replace,
        fix_permissions=fix_permissions,
        validate=validate,
        timeout=timeout,
    )
    if result.validated is not None:
        who = f" (Kaggle user {result.validated.username})" if result.validated.username else ""
        console.success(f"Kaggle accepted your credentials{who}.")
    else:
        console.info("Not checked with Kaggle (--no-validate): the first download will tell.")
    console.next_step("dfcoach data download kaggle_140k", why="Next, get the 140k real and fake faces")


def _download_kaggle_140k(session: Session, data_dir: Path, archive: Path | None, download_dir: Path, per_class: dict[str, int], seed: int, force: bool) -> None:
    from deepfake_coach.data.sources import kaggle_140k
    from deepfake_coach.ui.reports import render_kaggle_sample

    per_class = kaggle_140k.parse_counts(**per_class)
    # asked before a download that may take half an hour; the zip (or its download folder) must lie outside the dataset
    replace = _may_replace(data_dir, force, session, source=archive if archive is not None else download_dir)
    if archive is None:
        from deepfake_coach.kaggle.credentials import find_credentials

        found = find_credentials()
        if found is not None and found.too_open:
            console.warn(f"{found.path} can be read by other users of this computer. Make it private with: dfcoach kaggle setup --fix-permissions")
        downloaded = kaggle_140k.download_archive(download_dir, found=found, progress=session.progress())
        size = f"{downloaded.size / 10**9:.1f} GB"
        if downloaded.reused:
            console.info(f"Using {downloaded.path} ({size}), downloaded before.")
        else:
            resumed = f", continued from {downloaded.resumed_from / 10**6:,.0f} MB" if downloaded.resumed_from else ""
            console.success(f"Downloaded {downloaded.path} ({size}{resumed}).")
        archive = downloaded.path
    result = kaggle_140k.prepare_dataset(archive, data_dir, per_class, seed, replace, session.progress())
    render_kaggle_sample(result, data_dir, seed)
    _record_dataset_choice(data_dir, "kaggle_140k")
    _check_and_exit(data_dir, session)


def _record_dataset_choice(data_dir: Path, source: str) -> None:
    """dfcoach.yaml remembers which dataset is in use and where, for the next commands."""
    from deepfake_coach.config import load_project_config, save_project_config

    config = load_project_config()
    config.data.dir, config.data.source = data_dir, source
    save_project_config(config)


# --- deploy and serve -------------------------------------------------------------------------


@_command(app, "deploy")
def deploy(
    model: Annotated[Optional[Path], typer.Argument(help="The model file. [default: the newest models/best_model_*.pth]", show_default=False)] = None,
    env_file: EnvFile = None,
    check: Annotated[bool, typer.Option("--check", help="Then start the service on a free port, send it a test picture, and stop it.")] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port your service listens on, for the commands printed at the end.")] = 5000,
) -> None:
    """Point the inference service at your model: write MODEL_TYPE, MODEL_PATH and CUSTOM_MODEL_TYPE into .env.

    The model is loaded and tried on a picture first; every other line of .env is kept as it was,
    and the old file is backed up beside it.
    """
    from deepfake_coach.deploy import check_service, deploy_model, example_picture
    from deepfake_coach.serve.settings import env_file_flag
    from deepfake_coach.ui.deploy import render_deployment

    env_file = _env_file(env_file)
    result = deploy_model(model, env_file)
    render_deployment(result, console.out())
    if check:
        console.info("Checking the service: starting it on a free port of this computer...")
        outcome = check_service(env_file)
        if not outcome.ok:
            raise CoachError(f"The service started, but the check failed: {outcome.problem}", hint=outcome.fix)
        analysis = outcome.analysis
        console.success(f"GET /health: the model is loaded ({outcome.health.get('model')}, {outcome.health.get('image_size')} px).")
        console.success(
            f"POST /inference/analyze-frame: a test picture was judged {analysis['label']} "
            f"(fake probability {analysis['fake_probability']:.2f}) in {analysis['inference_ms']:.0f} ms."
        )
    url = f"http://127.0.0.1:{port}"
    console.next_step(f"dfcoach serve{env_file_flag(env_file)}" + ("" if port == 5000 else f" --port {port}"),
                      why="Start the service (or restart your own service so it reads the new .env)")
    console.info("Then, in another terminal:")
    console.info(f"  curl {url}/health")
    console.info(f"  curl -X POST -F {example_picture(_data_dir(None))} {url}/inference/analyze-frame")
    console.info(f"  or open {url}/ in a browser and drop a picture on the page.")


@_command(app, "serve")
def serve(
    env_file: EnvFile = None,
    host: Annotated[str, typer.Option(help="The address to listen on: 127.0.0.1 is this computer only; 0.0.0.0 is every network it is on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Processes answering requests, each with its own copy of the model.")] = 1,
    max_upload_mb: Annotated[float, typer.Option(min=0.01, help="The largest upload accepted, in MB (bigger ones get a 413 answer).")] = 10.0,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads each worker's model uses. [default: the CPU cores shared among the workers]", show_default=False)] = None,
) -> None:
    """Run the inference service: GET /health, POST /inference/analyze-frame (form field image), a web page at /.

    It reads MODEL_TYPE, MODEL_PATH and CUSTOM_MODEL_TYPE from the env file (write them with `dfcoach deploy`).
    Stop it with Ctrl-C.
    """
    from deepfake_coach.serve.runner import bind, run_foreground, url_of
    from deepfake_coach.serve.settings import ModelUnavailable, ServeSettings

    settings = ServeSettings.from_env_file(_env_file(env_file), max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    try:
        settings.check_keys()
    except ModelUnavailable as problem:
        console.warn(f"{problem.message} The service starts anyway and answers 503 until this is fixed.")
        console.next_step(problem.hint or "dfcoach deploy", why="Fix")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.warn(
            f"listening on {host} makes the service reachable from other computers on your network "
            "(and beyond, if this computer is reachable from the internet): anyone who can reach it can send it "
            "pictures and read /health and /docs, and there is no password. Use --host 127.0.0.1 to keep it to this computer."
        )
    listening = bind(host, port)  # before announcing anything: the port may be taken
    url = url_of(host, port)
    console.info(f"Serving on {url} (open {url}/ in a browser, or {url}/docs for the API; Ctrl-C stops it).")
    try:
        run_foreground(settings, listening, workers, threads)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a service is meant to stop: exit 0, as uvicorn's multi-worker mode does too
    console.info("The service has stopped.")


# --- videos -----------------------------------------------------------------------------------


def _organize_videos(session: Session, src: Path, data_dir: Path, fractions, seed: int, frames: int, balance: bool, link: bool, force: bool) -> None:
    from deepfake_coach.data.sources.faceforensics import is_faceforensics
    from deepfake_coach.data.video_dataset import organize_videos
    from deepfake_coach.ui.reports import render_video_summary

    if link:
        raise UsageError("--link does not go with --videos: the dataset holds face pictures cut from the videos, not the videos.", hint="Leave out --link.")
    if Path(src).is_dir() and is_faceforensics(Path(src)):
        raise UsageError(
            f"{src} is a FaceForensics++ download.",
            hint=f"Prepare it with: dfcoach data download faceforensics --source {src}  (it knows its real and fake folders and its splits)",
        )
    replace = _may_replace(data_dir, force, session, source=src)
    result = organize_videos(src, data_dir, fractions, seed, frames, balance, replace, session.progress())
    render_video_summary(result, data_dir)
    _check_and_exit(data_dir, session)


def _prepare_faceforensics(session: Session, data_dir: Path, source: Path | None, methods: str, compression: str,
                           official_splits: Path | None, seed: int, frames: int, balance: bool, force: bool) -> None:
    from deepfake_coach.data.sources import faceforensics
    from deepfake_coach.ui.reports import render_video_summary

    if source is None:
        raise UsageError("dfcoach cannot download FaceForensics++ itself: pass the folder you downloaded it to with --source.", hint=faceforensics.ACCESS_HINT)
    chosen = faceforensics.parse_methods(methods)
    compression = faceforensics.parse_compression(compression)
    replace = _may_replace(data_dir, force, session, source=source)
    result = faceforensics.prepare(
        source, data_dir, chosen, compression, official_splits, seed=seed, frames=frames, balance=balance,
        replace=replace, progress=session.progress(),
    )
    render_video_summary(result, data_dir)
    _check_and_exit(data_dir, session)


def main() -> None:
    app()
