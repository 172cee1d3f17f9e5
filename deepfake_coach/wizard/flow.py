"""The wizard's run: the steps in order, skipping what is already done, saving after each.

Where the person stands lives in `dfcoach.yaml` (`wizard.completed`), so `dfcoach init`
run again continues where it stopped, or starts over without deleting anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from deepfake_coach.config import ProjectConfig, WizardState
from deepfake_coach.errors import CoachError, Interrupted
from deepfake_coach.io.output import Output
from deepfake_coach.project import Project
from deepfake_coach.io.progress import Progress
from deepfake_coach.io.prompts import Choice, Prompter
from deepfake_coach.io.answers import Answers


@dataclass
class InitOptions:
    """Everything the wizard can ask, as flags; None means "not given"."""

    dataset: str | None = None
    data_dir: Path | None = None
    source: Path | None = None  # a folder of your own images, or a FaceForensics++ download
    archive: Path | None = None  # the Kaggle zip downloaded in a browser
    model: str | None = None
    pretrained: bool | None = None  # start a torchvision model from ImageNet weights
    image_size: int | None = None
    images_per_class: int = 500  # the demo's size
    seed: int = 0
    replace_data: bool | None = None
    restart: bool | None = None
    full: bool | None = None
    deploy: bool | None = None
    env_file: Path | None = None
    yes: bool = False


@dataclass
class Wizard:
    """What the steps share: the options, where answers come from, the project, the output."""

    options: InitOptions
    answers: Answers
    project: Project
    progress: Progress
    output: Output  # the story and results on stdout; progress and coaching on stderr, as the commands print them
    continuing: bool = False  # picking up an earlier session: its answers in dfcoach.yaml stand

    @property
    def config(self) -> ProjectConfig:
        return self.project.config

    def save(self) -> None:
        self.project.save()


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: Callable[[Wizard], None]
    # Checks the flags this step will use, before any step runs: a typo in --dataset is reported at
    # once, not after the steps before it have run.
    check: Callable[[InitOptions], None] | None = None


def run_wizard(steps: list[Step], options: InitOptions, prompter: Prompter, progress: Progress, output: Output,
               project_dir: Path = Path(".")) -> None:
    for step in steps:
        if step.check is not None:
            step.check(options)
    wizard = Wizard(options, Answers(prompter, options.yes), Project.open(project_dir), progress, output)
    if not _start_or_continue(wizard, steps):
        return
    for number, step in enumerate(steps, start=1):
        if step.name in wizard.config.wizard.completed:
            continue
        output.print()
        output.rule(f"Step {number} of {len(steps)}: {step.title}", align="left")
        try:
            step.run(wizard)
        except (Interrupted, KeyboardInterrupt) as stop:
            wizard.save()
            stopped_run = isinstance(stop, Interrupted) and "--resume" in (stop.hint or "")  # what training saved, said by it
            if not stopped_run:
                what = ". Everything finished before it is saved."
            elif stop.message.startswith("Stopped"):  # "Stopped during epoch 3. Epochs 1-2 are saved ..."
                what = stop.message.removeprefix("Stopped")
            else:  # "A stop signal (SIGTERM) arrived. Stopped ..."
                what = f". {stop.message}"
            raise Interrupted(
                f"Stopped at step {number}, “{step.title}”{what}",
                hint="Run `dfcoach init` again to continue from there" + (": the run picks up where it stopped." if stopped_run else "."),
            ) from None
        except CoachError:
            wizard.save()  # what the person chose so far is kept for the next try
            raise
        wizard.config.wizard.completed.append(step.name)
        wizard.save()


def _start_or_continue(wizard: Wizard, steps: list[Step]) -> bool:
    """Ask whether to continue an earlier session or start over (data is never deleted here)."""
    done = [step for step in steps if step.name in wizard.config.wizard.completed]
    if not done:
        return True
    remaining = [step for step in steps if step.name not in wizard.config.wizard.completed]
    if remaining:
        question = f"You stopped at “{remaining[0].title}” last time. Continue from there?"
        choices = [Choice("continue", f"Continue from “{remaining[0].title}”"), Choice("restart", "Start over from the beginning (your data and models are kept)")]
    else:
        question = "You finished the whole journey before. What now?"
        choices = [Choice("restart", "Go through it again (your data and models are kept)"), Choice("continue", "Nothing: leave it as it is")]
    given = None if wizard.options.restart is None else ("restart" if wizard.options.restart else "continue")
    if wizard.answers.select(question, choices, flag="--restart or --continue", given=given, default="continue") == "restart":
        wizard.config.wizard = WizardState()
        wizard.save()
        return True
    if not remaining:
        wizard.output.print("Everything is done already. `dfcoach checklist` shows where you stand; `dfcoach init --restart` goes through it again.")
        return False
    wizard.continuing = True
    wizard.output.print(f"Continuing: {len(done)} of {len(steps)} steps were done before.")
    return True
