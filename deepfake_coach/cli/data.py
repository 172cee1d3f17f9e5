"""`dfcoach data`: get a dataset, organize your own images, check them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import Session, command, session
from deepfake_coach.cli._options import Balance, DataDir, Force, Seed, VideoFrames
from deepfake_coach.data import sources
from deepfake_coach.data.sources import DOWNLOADS

data_app = typer.Typer(help="Get a dataset, organize your own images, and check them.", no_args_is_help=True)


@command(data_app, "list")
def data_list(ctx: typer.Context) -> None:
    """Show the datasets you can train on, and which one to pick."""
    from deepfake_coach.ui.reports import render_dataset_choices

    output = session(ctx).output
    render_dataset_choices(sources.SOURCES, output)
    output.next_step("dfcoach data download tiny_demo", why="A first run, offline, in seconds")


@command(data_app, "download")
def data_download(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"{sources.listed(sources.DOWNLOADABLE)} (`dfcoach data list` says what each is).", show_default=False)],
    data_dir: DataDir = None,
    images_per_class: Annotated[int, typer.Option(help="tiny_demo: images of each class (split 70/20/10).")] = 500,
    archive: Annotated[Optional[Path], typer.Option(help="kaggle_140k: the zip you downloaded in a browser, or the folder you unzipped it into (no Kaggle token needed).", show_default=False)] = None,
    download_dir: Annotated[Path, typer.Option(help="kaggle_140k: where the downloaded zip is kept (a second run reuses it).")] = Path(DOWNLOADS),
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

    if name not in sources.DOWNLOADABLE:
        raise download.not_downloadable(name)
    where_from, parsed = None, {}  # where the data comes from (never the dataset folder itself), and flags read as values
    if name == "kaggle_140k":
        from deepfake_coach.data.sources.kaggle_140k import parse_counts

        parsed["per_class"] = parse_counts(train_per_class, val_per_class, test_per_class)
        # asked before a download that may take half an hour; the zip (or its download folder) must lie outside the dataset
        where_from = archive if archive is not None else download_dir
    elif name == "faceforensics":
        from deepfake_coach.data.sources import faceforensics

        where_from = faceforensics.require_source(source)
        parsed.update(methods=faceforensics.parse_methods(methods), compression=faceforensics.parse_compression(compression))
    request = sources.DatasetRequest(name, session(ctx).project.data_dir(data_dir), seed, images_per_class=images_per_class,
                                     archive=archive, download_dir=download_dir, source=source, official_splits=official_splits,
                                     frames=frames, balance=balance, **parsed)
    _get(ctx, request, force, where_from)


@command(data_app, "organize")
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
    from deepfake_coach.data.organize import parse_split

    request = sources.DatasetRequest("folder", session(ctx).project.data_dir(data_dir), seed, source=src, split=parse_split(split),
                                     link=link, videos=videos, frames=frames, balance=balance)
    _get(ctx, request, force, src)


@command(data_app, "check")
def data_check(
    ctx: typer.Context,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON, for scripts.")] = False,
) -> None:
    """Count the images, judge whether they are fit to train on, and explain every problem.

    Exit code 0 when the dataset is fit to train, 1 when it is not.
    """
    _check_and_exit(session(ctx), session(ctx).project.data_dir(data_dir), as_json=as_json)


def _get(ctx: typer.Context, request, force: bool, where_from: Path | None) -> None:
    """Get the dataset `request` names (the use case the wizard calls too), show what it made, check it."""
    from dataclasses import replace as with_changes

    from deepfake_coach.ui.reports import render_dataset_made
    from deepfake_coach.usecases.dataset import get_dataset, may_build_into

    current = session(ctx)
    sample = request.name == "sample"  # made beside what is there, never replacing it
    replace = False if sample else may_build_into(request.data_dir, force, current.answers(), source=where_from)
    result = get_dataset(with_changes(request, replace=replace), current.project, current.output, current.progress())
    render_dataset_made(result, request.data_dir, request.seed, current.output)
    if sample:
        current.output.next_step(f"dfcoach data check --data-dir {request.data_dir}", why="When you have added images")
        return
    _check_and_exit(current, request.data_dir)


def _check_and_exit(current: Session, data_dir: Path, as_json: bool = False) -> None:
    from deepfake_coach.data.checks import check_dataset
    from deepfake_coach.data.layout import DEFAULT_DATA_DIR
    from deepfake_coach.ui.reports import render_dataset_report

    report = check_dataset(data_dir, progress=current.progress())
    if as_json:
        import json

        current.output.out.print_json(json.dumps(report.to_dict()))
    else:
        render_dataset_report(report, current.output)
        if report.fit_to_train:
            where = "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {data_dir}"
            current.output.next_step(f"dfcoach train --quick{where}", why="Next, train a first model (5 epochs)")
    raise typer.Exit(0 if report.fit_to_train else 1)
