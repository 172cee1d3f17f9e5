"""`dfcoach train`: a run on one device, or on several (--devices, or under torchrun)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import Session, app, command, session
from deepfake_coach.cli._options import DataDir, ImageSize
from deepfake_coach.errors import CoachError, Interrupted, UsageError


@command(app, "train")
def train(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option("--quick", help="The test run: 5 epochs, batches of 16.")] = False,
    data_dir: DataDir = None,
    model: Annotated[Optional[str], typer.Option(help="efficientnet_lite0, noise_cnn, custom_cnn, meso4, resnet18, efficientnet_b0 or mobilenet_v3_small. [default: efficientnet_lite0]", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training images. [default: 30, --quick 5]", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Images per step. [default: 32, --quick 16]", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate. [default: 0.001]", show_default=False)] = None,
    image_size: ImageSize = None,
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
    from deepfake_coach.usecases.training import TrainRequest

    settings = dict(model=model, epochs=epochs, batch_size=batch_size, lr=lr, image_size=image_size, device=device, patience=patience, seed=seed)
    request = TrainRequest(quick, data_dir, settings, pretrained, resume)
    world = distributed.world()  # under torchrun, this process's place among the run's processes
    with _said_once(world, session(ctx)):
        if devices is not None and devices > 1:
            _launch(session(ctx), request, devices, world, find_lr)
        elif find_lr:
            _find_lr(session(ctx), request)
        else:
            _train(session(ctx), request, world)


def _train(current: Session, request, world) -> None:
    from deepfake_coach.checklist import success_checklist
    from deepfake_coach.ui.training import ConsoleReporter, render_summary
    from deepfake_coach.usecases.training import train_run

    project = current.project
    result = train_run(request, project, current.progress(), ConsoleReporter(current.output))
    if world.leader:
        checklist = success_checklist(project.data_dir(request.data_dir), project.root, project.env_file())
        render_summary(result, checklist, current.output)


def _find_lr(current: Session, request) -> None:
    from deepfake_coach.ui.training import render_lr_finding
    from deepfake_coach.usecases.training import find_learning_rate, train_config

    finding = find_learning_rate(request, current.project, current.progress())
    data_dir = current.project.data_dir(request.data_dir)
    render_lr_finding(finding, train_config(request, current.project), request.quick, current.output, data_dir)


def _launch(current: Session, request, devices: int, world, find_lr: bool) -> None:
    from deepfake_coach.train.launcher import check_devices, launch
    from deepfake_coach.usecases.training import train_config

    if world.distributed:
        raise UsageError("--devices starts the training processes itself; under torchrun, leave it out.",
                         hint="torchrun's --nproc-per-node (and --nnodes) say how many processes train.")
    if find_lr:
        raise UsageError("--find-lr tries learning rates on one device; it cannot be combined with --devices.", hint="Run it without --devices.")
    check_devices(devices, train_config(request, current.project).device)
    raise typer.Exit(launch(devices, _train_arguments(current, request)))


def _train_arguments(current: Session, request) -> list[str]:
    """`dfcoach ... train ...` as each training process runs it: the options given, less --devices."""
    arguments = [*(["--quiet"] if current.quiet else []), *(["--no-color"] if current.no_color else []),
                 *(["--no-input"] if current.no_input else []), "--progress", current.progress_mode.value, "train"]
    arguments += ["--quick"] if request.quick else []
    arguments += ["--data-dir", str(request.data_dir)] if request.data_dir is not None else []
    for name, value in request.settings.items():
        if value is not None:
            arguments += [f"--{name.replace('_', '-')}", str(value)]
    arguments += [] if request.pretrained is None else ["--pretrained" if request.pretrained else "--from-scratch"]
    arguments += ["--resume", request.resume] if request.resume else []
    return arguments


@contextmanager
def _said_once(world, current: Session):
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
            current.output.error(error)
        raise typer.Exit(error.exit_code) from None
    except Exception as error:
        if peer_gone(error):  # another process stopped first, and said why
            raise typer.Exit(1) from None
        raise
