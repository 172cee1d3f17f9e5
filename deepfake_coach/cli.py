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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from deepfake_coach import __version__
from deepfake_coach.errors import CoachError, DataError, Interrupted, debug_enabled
from deepfake_coach.ui import console
from deepfake_coach.ui.progress import ProgressMode, make_progress
from deepfake_coach.ui.prompts import make_prompter

app = typer.Typer(
    name="dfcoach",
    help="Train your first deepfake detector, step by step. Start with: dfcoach data download tiny_demo",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
data_app = typer.Typer(help="Get a dataset, organize your own images, and check them.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@dataclass
class Session:
    """What the global options decided, for every command of one invocation."""

    progress_mode: ProgressMode = ProgressMode.AUTO
    quiet: bool = False
    no_input: bool = False

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
    ctx.obj = Session(progress_mode=progress, quiet=quiet, no_input=no_input)


# --- dfcoach data ------------------------------------------------------------------------------

DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", "-d", help="The dataset folder (train/, val/, test/ inside). [default: data.dir in dfcoach.yaml, else dataset]", show_default=False),
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing dataset without asking (it is deleted).")]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed gives the same result.")]


@_command(data_app, "list")
def data_list() -> None:
    """Show the datasets you can train on, and which one to pick."""
    from deepfake_coach.data.catalog import CHOICES
    from deepfake_coach.ui.reports import render_dataset_choices

    render_dataset_choices(CHOICES, console.out())
    console.next_step("dfcoach data download tiny_demo", why="A first run, offline, in seconds")


@_command(data_app, "download")
def data_download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="tiny_demo (offline demo faces) or sample (empty folders to fill).", show_default=False)],
    data_dir: DataDir = None,
    images_per_class: Annotated[int, typer.Option(help="tiny_demo: images of each class (split 70/20/10).")] = 500,
    seed: Seed = 0,
    force: Force = False,
) -> None:
    """Get a dataset: the offline demo faces, or an empty skeleton to fill by hand."""
    from deepfake_coach.data import download

    session, data_dir = _session(ctx), _data_dir(data_dir)
    if name == "sample":
        created = download.create_sample(data_dir)
        what = f"Created {len(created)} folders and files" if created else "Everything was already there"
        console.success(f"{what} in {data_dir}/. Read {data_dir}/README.txt for where images go.")
        console.next_step(f"dfcoach data check --data-dir {data_dir}", why="When you have added images")
        return
    if name != "tiny_demo":
        raise download.not_downloadable(name)
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
) -> None:
    """Sort your own real and fake images into train/val/test, then check them."""
    from deepfake_coach.data.organize import organize, parse_split

    session, data_dir = _session(ctx), _data_dir(data_dir)
    fractions = parse_split(split)
    replace = _may_replace(data_dir, force, session)
    result = organize(src, data_dir, fractions, seed, link, replace, session.progress())
    _print_organize_summary(result, data_dir)
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
    model: Annotated[Optional[str], typer.Option(help="noise_cnn, custom_cnn, meso4, resnet18, efficientnet_b0 or mobilenet_v3_small. [default: noise_cnn]", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training images. [default: 30, --quick 5]", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Images per step. [default: 32, --quick 16]", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate. [default: 0.001]", show_default=False)] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Pixels per side. [default: the model's own size]", show_default=False)] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or mps. [default: auto]", show_default=False)] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after this many epochs without improvement. [default: 5]", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed. [default: 0]", show_default=False)] = None,
    pretrained: Annotated[bool, typer.Option("--pretrained", help="Start from ImageNet weights (torchvision models; a one-time download).")] = False,
    resume: Annotated[Optional[str], typer.Option(help="Continue a stopped run: its name in runs/, or `last`.", show_default=False)] = None,
) -> None:
    """Train a detector, with coaching while it learns. Start with --quick."""
    from deepfake_coach.checklist import success_checklist
    from deepfake_coach.train.settings import resolve_train_config
    from deepfake_coach.train.loop import fit
    from deepfake_coach.ui.training import ConsoleReporter, render_summary

    from deepfake_coach.config import load_project_config

    session, project = _session(ctx), load_project_config()
    data_dir = data_dir if data_dir is not None else project.data.dir
    flags = dict(model=model, epochs=epochs, batch_size=batch_size, lr=lr, image_size=image_size, device=device, patience=patience, seed=seed)
    config = resolve_train_config(flags, project.train, quick=quick)
    result = fit(config, data_dir, pretrained=pretrained, resume=resume, progress=session.progress(), reporter=ConsoleReporter(console.err()))
    render_summary(result, success_checklist(data_dir), console.out())


def _data_dir(flag: Path | None) -> Path:
    """The flag, else dfcoach.yaml's data.dir, else dataset/ (flags win over the file, the file over defaults)."""
    from deepfake_coach.config import load_project_config

    return flag if flag is not None else load_project_config().data.dir


def _may_replace(data_dir: Path, force: bool, session: Session) -> bool:
    """Whether an existing dataset may be replaced: --force, or a yes from the person."""
    from deepfake_coach.data.layout import dataset_has_content

    if data_dir.is_file():  # never replaced, even with --force: it is not a dataset
        raise DataError(f"{data_dir} is a file, not a folder.", hint="Choose another place with --data-dir.")
    if not dataset_has_content(data_dir) or force:
        return True
    question = f"{data_dir}/ already holds a dataset. Delete it and replace it with the new one?"
    if session.prompter().confirm(question, flag="--force (or choose another --data-dir)", default=False):
        return True
    raise DataError(f"Left {data_dir}/ as it was.", hint="Choose another folder with --data-dir, or pass --force to replace it.")


def _print_organize_summary(result, data_dir: Path) -> None:
    how = f"linked {result.linked:,}" if result.linked else f"copied {result.copied:,}"
    console.success(f"Organized {result.total:,} images from {result.source_root} into {data_dir}/ ({how}).")
    if result.presplit:
        console.info("Your folder was already split into train/val/test; dfcoach kept those splits.")
    if result.carved:
        console.info(f"It had no {' or '.join(result.carved)} split, so dfcoach set aside part of train for it.")
    if result.renamed:
        console.info(f"{result.renamed:,} images had names that did not end like an image; they were given the right ending.")
    if result.skipped:
        console.warn(f"skipped {len(result.skipped):,} files that are not usable images:")
        for file, why in result.skipped[:10]:
            console.err().print(f"  - {file}: {why}", markup=False)
        if len(result.skipped) > 10:
            console.err().print(f"  ... and {len(result.skipped) - 10:,} more (listed in {data_dir}/.dfcoach/organize.json)", markup=False)


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


def main() -> None:
    app()
