"""`dfcoach init`: the guided journey (wizard/), each of its flags an answer given early."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import app, command, session
from deepfake_coach.cli._options import DataDir, ImageSize, Seed
from deepfake_coach.data import sources


@command(app, "init")
def init(
    ctx: typer.Context,
    dataset: Annotated[Optional[str], typer.Option(help=f"{sources.listed(sources.NAMES)}.", show_default=False)] = None,
    data_dir: DataDir = None,
    source: Annotated[Optional[Path], typer.Option(help="folder: your folder with real/ and fake/; faceforensics: the download folder.", show_default=False)] = None,
    archive: Annotated[Optional[Path], typer.Option(help="kaggle_140k: the zip you downloaded in a browser (or its unzipped folder).", show_default=False)] = None,
    model: Annotated[Optional[str], typer.Option(help="The model to train (see `dfcoach train --help`).", show_default=False)] = None,
    pretrained: Annotated[Optional[bool], typer.Option("--pretrained/--from-scratch", help="torchvision models: start from ImageNet weights. [default: yes when they are on this computer]", show_default=False)] = None,
    image_size: ImageSize = None,
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

    current = session(ctx)
    options = InitOptions(dataset=dataset, data_dir=data_dir, source=source, archive=archive, model=model, pretrained=pretrained, image_size=image_size,
                          images_per_class=images_per_class, seed=seed, replace_data=replace_data, restart=restart, full=full,
                          deploy=deploy, env_file=env_file, yes=yes)
    run_wizard(STEPS, options, current.prompter(), current.progress(), current.output)
