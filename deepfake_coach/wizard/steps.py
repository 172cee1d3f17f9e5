"""The wizard's steps. Each explains what is about to happen, gathers its answers
through `Answers`, and calls the same library functions as the matching command:
the wizard adds no behaviour of its own that the commands lack."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.markup import escape
from rich.padding import Padding

from deepfake_coach.errors import DataError, UsageError
from deepfake_coach.io.prompts import Choice
from deepfake_coach.wizard import texts
from deepfake_coach.wizard.flow import InitOptions, Step, Wizard

# --- 1. welcome ---------------------------------------------------------------------------------


def welcome(wizard: Wizard) -> None:
    wizard.output.print(texts.WELCOME)


# --- 2. environment -----------------------------------------------------------------------------

ENVIRONMENT_CHECKS = ["python", "torch", "device", "disk"]


def environment(wizard: Wizard) -> None:
    from deepfake_coach.doctor import DoctorContext, run_checks
    from deepfake_coach.ui.health import render_checks

    project = wizard.project
    context = DoctorContext(project_dir=project.root, data_dir=project.data_dir(), env_file=project.env_file(),
                            model=wizard.options.model or wizard.config.train.model)
    results = run_checks(context, only=ENVIRONMENT_CHECKS)
    render_checks(results, wizard.output)
    failed = [result for result in results if result.status == "fail"]
    if failed:
        raise DataError(f"This computer is not ready yet: {failed[0].title.lower()}.",
                        hint=f"{failed[0].fix} Then run `dfcoach init` again to continue.")


# --- 3. dataset ---------------------------------------------------------------------------------


def choose_dataset(wizard: Wizard) -> None:
    from deepfake_coach.data.sources import SOURCES

    options, config = wizard.options, wizard.config
    choices = [Choice(c.name, f"{c.name}: {c.summary}" + (" (recommended)" if c.recommended else "")) for c in SOURCES]
    # Continuing an earlier session, dfcoach.yaml answers what was chosen then; starting afresh, it is asked again.
    given = options.dataset or (config.data.source if wizard.continuing else None)
    _check_dataset_name(given)
    name = wizard.answers.select("Which images will you train on?", choices, flag="--dataset", given=given, default=config.data.source or "tiny_demo")
    data_dir = wizard.project.data_dir(options.data_dir)  # a flag as given; dfcoach.yaml's from the project folder
    config.data.source, config.data.dir = name, wizard.project.as_written(data_dir)
    wizard.save()

    if _keep_existing_dataset(wizard, data_dir):
        wizard.output.print(f"Using the dataset already in {escape(str(data_dir))}/.")
    else:
        DATASET_GETTERS[name](wizard, data_dir)
    _check_dataset(wizard, data_dir)


def _check_dataset_name(name: str | None) -> None:
    if name is not None and name not in DATASET_GETTERS:
        raise UsageError(f"There is no dataset choice called {name!r}.", hint=f"Use --dataset with one of: {', '.join(DATASET_GETTERS)}.")


def check_dataset_options(options: InitOptions) -> None:
    _check_dataset_name(options.dataset)
    for flag, path in (("--source", options.source), ("--archive", options.archive)):
        if path is not None and not Path(path).expanduser().exists():
            raise UsageError(f"{flag} {path}: there is nothing at that path.", hint="Check it for typos.")
    from deepfake_coach.data.download import check_images_per_class

    check_images_per_class(options.images_per_class)


def _keep_existing_dataset(wizard: Wizard, data_dir: Path) -> bool:
    """The same rule as the commands' --force (data.replace): only a dataset is ever replaced."""
    from deepfake_coach.data.replace import decide_replace

    def ask() -> bool:
        return wizard.answers.confirm(
            f"{data_dir}/ already holds a dataset. Replace it with the one you chose? (No keeps it and trains on it; "
            "the old one is deleted only once the new one is complete and passes the check.)",
            flag="--replace-data or --keep-data", given=None, default=False,
        )

    return not decide_replace(data_dir, wizard.options.replace_data, ask, keep_flag="--keep-data")


def _request(wizard: Wizard, name: str, data_dir: Path, **fields) -> "DatasetRequest":
    """What the wizard asks of a source: the defaults of `dfcoach data download` and `data organize`. The
    dataset folder was checked before (_keep_existing_dataset): a dataset in it may be replaced."""
    from deepfake_coach.data.sources import DatasetRequest

    return DatasetRequest(name, data_dir, wizard.options.seed, replace=True, images_per_class=wizard.options.images_per_class, **fields)


def _get(wizard: Wizard, request) -> None:
    """The same use case as `dfcoach data download` / `data organize`, and the same report of what it made."""
    from deepfake_coach.ui.reports import render_dataset_made
    from deepfake_coach.usecases.dataset import get_dataset

    result = get_dataset(request, wizard.project, wizard.output, wizard.progress)
    render_dataset_made(result, request.data_dir, request.seed, wizard.output)


def _get_tiny_demo(wizard: Wizard, data_dir: Path) -> None:
    _get(wizard, _request(wizard, "tiny_demo", data_dir))


def _get_sample(wizard: Wizard, data_dir: Path) -> None:
    _get(wizard, _request(wizard, "sample", data_dir))
    raise DataError(
        f"Created the empty folders in {data_dir}/: put your real faces in {data_dir}/train/real, {data_dir}/val/real, "
        f"{data_dir}/test/real, and the fakes in the matching fake/ folders.",
        hint=f"When they hold images, run `dfcoach init` again to continue (read {data_dir}/README.txt for details).",
    )


def _get_folder(wizard: Wizard, data_dir: Path) -> None:
    wizard.output.print(texts.FOLDER_LAYOUT)
    _get(wizard, _request(wizard, "folder", data_dir, source=_ask_for_source(wizard, "Where is your folder with real/ and fake/ inside?")))


def _get_faceforensics(wizard: Wizard, data_dir: Path) -> None:
    wizard.output.print(texts.FACEFORENSICS_INTRO)
    source = _ask_for_source(wizard, "Where did the FaceForensics++ download script put the videos?")
    _get(wizard, _request(wizard, "faceforensics", data_dir, source=source))


def _ask_for_source(wizard: Wizard, question: str) -> Path:
    given = str(wizard.options.source) if wizard.options.source else None
    return Path(wizard.answers.text(question, flag="--source", default=None, given=given, validate=_existing_path)).expanduser()


def _get_kaggle_140k(wizard: Wizard, data_dir: Path) -> None:
    """Credentials and the download when possible; a zip downloaded in a browser otherwise. A zip or
    folder typed in that is not the 140k dataset is explained, and the person chooses what next."""
    from deepfake_coach.data.sources.kaggle_140k import NotThe140k, obtain_archive
    from deepfake_coach.errors import CoachError, Interrupted
    from deepfake_coach.kaggle.setup import setup_credentials

    archive, typed = wizard.options.archive, False
    if archive is None:
        wizard.output.print(texts.KAGGLE_INTRO)
        try:
            setup_credentials(wizard.answers.prompter, wizard.output)
            archive = obtain_archive(wizard.project.downloads_dir, wizard.output, wizard.progress)  # as `data download` gets it
        except Interrupted:
            raise  # Ctrl-C means stop, not "use a zip instead"
        except CoachError as error:  # no token, offline, refused, "not now": the browser route still works
            wizard.output.print(f"[yellow]{escape(error.message)}[/yellow]")
            wizard.output.print(texts.KAGGLE_BROWSER_ROUTE)
            archive, typed = _ask_for_archive(wizard), True
    while True:
        archive = Path(archive).expanduser()
        try:
            _get(wizard, _request(wizard, "kaggle_140k", data_dir, archive=archive))
            return
        except NotThe140k as error:
            own_folder = _has_real_and_fake(archive)
            if wizard.options.archive is not None:  # a flag: fail naming it, rather than ask what the flag answered
                raise _not_the_140k_from_flag(error, archive, own_folder) from None
            if not typed:  # the zip dfcoach downloaded itself: the advice to download it again stands
                raise
            wizard.output.print(f"[yellow]{escape(error.message)}[/yellow]")
            if error.hint and not own_folder:  # with real/ and fake/ inside, the choices below say what to do
                wizard.output.print(escape(error.hint))
            choice = _after_not_the_140k(wizard, archive, own_folder)
        if choice == "folder":
            # these images are the person's own: the use case records "folder", which later steps and `init` again say
            _get(wizard, _request(wizard, "folder", data_dir, source=archive))
            return
        if choice == "stop":
            raise DataError(f"Stopped: {archive} is not the 140k dataset, and nothing was written to {data_dir}/.",
                            hint="Run `dfcoach init` again when you have the zip from kaggle.com/datasets/xhlulu/140k-real-and-fake-faces "
                                 "(it continues from this step).")
        archive = _ask_for_archive(wizard)


def _ask_for_archive(wizard: Wizard) -> str:
    return wizard.answers.text("Where is the zip you downloaded (or the folder you unzipped it into)?",
                               flag="--archive", given=None, default=None, validate=_existing_path).strip()


def _has_real_and_fake(path: Path) -> bool:
    """Whether `path` is a folder that `dfcoach data organize` (the "folder" route) can use."""
    from deepfake_coach.data.organize import find_source

    if not path.is_dir():
        return False
    try:
        find_source(path)
    except DataError:
        return False
    return True


def _after_not_the_140k(wizard: Wizard, archive: Path, own_folder: bool) -> str:
    choices = [Choice("another", "Try another path: the 140k zip, or the folder you unzipped it into")]
    if own_folder:
        choices.append(Choice("folder", f"Train on {archive} as your own images: it has real/ and fake/ folders, which "
                                        "dfcoach splits into train/val/test (the 'folder' choice)"))
    choices.append(Choice("stop", "Stop here (run `dfcoach init` again later to continue from this step)"))
    return wizard.answers.select("That is not the 140k dataset. What now?", choices, flag="--archive (again)",
                                 given=None, default="another")


def _not_the_140k_from_flag(error, archive: Path, own_folder: bool) -> DataError:
    """The error for an --archive flag that is not the 140k dataset: what is wrong, and the flags that work."""
    from deepfake_coach.data.sources.kaggle_140k import DATASET_URL, NotThe140k

    if own_folder:
        hint = (f"These look like your own images (real/ and fake/ inside): train on them with "
                f"`dfcoach init --continue --dataset folder --source {shlex.quote(str(archive))}`. For the 140k dataset, download "
                f"its zip from {DATASET_URL} and run `dfcoach init --continue --archive PATH` with it.")
    else:
        hint = f"{error.hint} Then run `dfcoach init --continue --archive PATH` with the 140k zip."
    return NotThe140k(f"--archive {archive}: {error.message}", hint=hint)


def _existing_path(text: str) -> str | None:
    return None if text.strip() and Path(text.strip()).expanduser().exists() else "There is nothing at that path; check it for typos."


DATASET_GETTERS = {
    "tiny_demo": _get_tiny_demo,
    "kaggle_140k": _get_kaggle_140k,
    "faceforensics": _get_faceforensics,
    "folder": _get_folder,
    "sample": _get_sample,
}


def _check_dataset(wizard: Wizard, data_dir: Path) -> None:
    from deepfake_coach.data.checks import check_dataset
    from deepfake_coach.ui.reports import render_dataset_report

    report = check_dataset(data_dir, progress=wizard.progress)
    render_dataset_report(report, wizard.output)
    if not report.fit_to_train:
        raise DataError(
            f"The dataset in {data_dir}/ is not ready to train on yet.",
            hint="Fix the problems listed above, then run `dfcoach init` again: it continues from this step.",
        )


# --- 4. model and quick run -----------------------------------------------------------------------


def quick_run(wizard: Wizard) -> None:
    from deepfake_coach.train.models import MODELS, pretrained_available

    options, train = wizard.options, wizard.config.train
    on_disk = {name for name in MODELS if pretrained_available(name)}  # ImageNet weights already here: no download
    choices = [Choice(name, f"{name}: {spec.summary}" + (" (ImageNet weights on this computer)" if name in on_disk else ""))
               for name, spec in MODELS.items()]
    check_model_options(options)
    saved = train.model if wizard.continuing and "model" in train.model_fields_set else None
    model = wizard.answers.select("Which model will you train?", choices, flag="--model", given=options.model or saved, default=train.model)
    if model != train.model:
        train.model = model
    if options.image_size is not None:
        train.image_size = options.image_size
    state = wizard.config.wizard
    if options.pretrained is not None:
        state.pretrained = options.pretrained
    elif MODELS[model].shipped_weights is not None:  # installed with dfcoach: nothing to ask
        state.pretrained = True
    elif model in on_disk:
        state.pretrained = wizard.answers.confirm(
            f"ImageNet weights for {model} are on this computer. Start from them? (From few real photos, a model "
            "that has already learned to see usually learns faster.)", flag="--pretrained or --from-scratch", given=None, default=True)
    else:
        state.pretrained = False
    wizard.save()  # later `dfcoach train` runs use the same choices

    if state.pretrained and MODELS[model].shipped_weights is not None:
        wizard.output.print(texts.SHIPPED_WEIGHTS.format(model=model))
    history = _finished_quick_run(wizard)
    if history is None:
        wizard.output.print(texts.QUICK_RUN_INTRO)
        history = _train(wizard, quick=True, resume=_unfinished_run(wizard, state.quick_run)).history
    wizard.config.wizard.quick_epoch_seconds = round(texts.typical_epoch_seconds(history), 2)
    wizard.output.print("\n[bold]What your quick run shows[/bold]")
    for line in texts.read_run(history):
        wizard.output.print(Padding(f"• {escape(line)}", (0, 0, 0, 2), expand=False))


def check_model_options(options: InitOptions) -> None:
    if options.model is None:  # the model comes from dfcoach.yaml or the default, checked when training
        return
    from deepfake_coach.train.models import MODELS, check_image_size  # imports torch: only when there is a --model to check

    if options.model not in MODELS:
        raise UsageError(f"There is no model called {options.model!r}.", hint=f"Use --model with one of: {', '.join(MODELS)}.")
    if options.image_size is not None:
        check_image_size(options.model, options.image_size)


def _train(wizard: Wizard, quick: bool, resume: str | None = None):
    """The same use case as `dfcoach train`, with the settings chosen in the wizard."""
    from deepfake_coach.ui.training import ConsoleReporter, render_summary
    from deepfake_coach.usecases.training import TrainRequest, train_run

    request = TrainRequest(quick, settings={"seed": wizard.options.seed}, pretrained=wizard.config.wizard.pretrained, resume=resume)
    reporter = _RememberingReporter(wizard, ConsoleReporter(wizard.output), "quick_run" if quick else "full_run")
    result = train_run(request, wizard.project, wizard.progress, reporter)
    render_summary(result, [], wizard.output)
    return result


class _RememberingReporter:
    """The console reporter, plus: the run's name is saved at once (as `quick_run` or `full_run`), so a
    stopped run is resumed and a finished one is not run again."""

    def __init__(self, wizard: Wizard, inner, remember_as: str):
        self.wizard, self.inner, self.remember_as = wizard, inner, remember_as

    def started(self, run) -> None:
        setattr(self.wizard.config.wizard, self.remember_as, run.run_dir.name)
        self.wizard.save()
        self.inner.started(run)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# --- 5. full run --------------------------------------------------------------------------------


def full_run(wizard: Wizard) -> None:
    from deepfake_coach.usecases.training import TrainRequest, train_config

    state = wizard.config.wizard
    unfinished = _unfinished_run(wizard, state.full_run)
    if unfinished:
        question = f"Your full run ({unfinished}) was stopped before it finished. Continue it now?"
    else:
        config = train_config(TrainRequest(), wizard.project)  # what `dfcoach train` will use
        if state.quick_epoch_seconds:
            estimate = texts.full_run_estimate(state.quick_epoch_seconds, config.epochs, config.patience)
            wizard.output.print(texts.FULL_RUN_INTRO.format(**estimate))
            question = f"Start the full run now? It takes up to about {estimate['longest']} here (early stopping often ends it sooner)."
        else:  # the quick run's times are unknown (a dfcoach.yaml from an older dfcoach)
            wizard.output.print(texts.FULL_RUN_INTRO.format(epochs=config.epochs, patience=config.patience, how_long=""))
            question = "Start the full run now?"
    if not wizard.answers.confirm(question, flag="--full or --skip-full", given=wizard.options.full, default=False):
        wizard.output.print("Skipped. Run it whenever you like with: [bold cyan]dfcoach train[/bold cyan]")
        return
    _train(wizard, quick=False, resume=unfinished)


def _unfinished_run(wizard: Wizard, name: str | None) -> str | None:
    """The run the wizard started earlier, when it was stopped before it finished."""
    from deepfake_coach.errors import CoachError
    from deepfake_coach.train.run import RunFolder

    if not _plain_run_name(name) or not wizard.continuing:
        return None
    try:
        return RunFolder.find(wizard.project.runs_dir, name).name
    except CoachError:  # finished, or deleted since
        return None


def _plain_run_name(name: str | None) -> bool:
    """dfcoach.yaml is a file anyone can edit: a run is only ever looked for inside runs/."""
    return bool(name) and name == Path(name).name and name not in (".", "..")


def _finished_quick_run(wizard: Wizard):
    """The epochs of the quick run the wizard started earlier, when it finished (stopped just after its
    last epoch, before this step was marked done): continuing does not run it again."""
    from deepfake_coach.errors import CoachError
    from deepfake_coach.train.run import RunFolder

    name = wizard.config.wizard.quick_run
    run = RunFolder(wizard.project.runs_dir / name) if _plain_run_name(name) else None
    if not wizard.continuing or run is None or run.status() != "finished":
        return None
    try:
        history = run.history()
    except CoachError:
        return None
    if history:
        wizard.output.print(f"Your quick run ({escape(name)}) finished last time: dfcoach uses it rather than running it again.")
    return history or None


# --- 6. evaluation -----------------------------------------------------------------------------


def evaluation(wizard: Wizard) -> None:
    from deepfake_coach.ui.evaluation import render_evaluation
    from deepfake_coach.usecases.evaluation import EvaluateRequest, evaluate_run

    wizard.output.print(texts.EVALUATE_INTRO)
    # the newest best model (the full run's when there was one), with its own threshold, as `dfcoach evaluate` judges it
    render_evaluation(evaluate_run(EvaluateRequest(), wizard.project, wizard.progress), wizard.output)


# --- 7. deployment -----------------------------------------------------------------------------


def deployment(wizard: Wizard) -> None:
    from deepfake_coach.ui.deploy import render_deployment
    from deepfake_coach.usecases import deployment

    wizard.output.print(texts.DEPLOY_INTRO)
    options = wizard.options
    if not wizard.answers.confirm("Write your model into the .env file the inference service reads?", flag="--deploy or --no-deploy",
                                  given=options.deploy, default=True):
        wizard.output.print("Skipped. Do it whenever you like with: [bold cyan]dfcoach deploy[/bold cyan]")
        return
    project = wizard.project
    given = str(options.env_file) if options.env_file else (str(project.env_file()) if wizard.continuing else None)
    env_file = Path(wizard.answers.text("Which .env file? (its other lines are kept, and a backup is made)", flag="--env-file",
                                        given=given, default=str(project.env_file()))).expanduser()
    wizard.config.deploy.env_file = project.as_written(env_file)
    wizard.save()
    render_deployment(deployment.deploy(deployment.DeployRequest(env_file=env_file), wizard.project), wizard.output)
    outcome = deployment.check_service(env_file, wizard.output)  # as `dfcoach deploy --check` does
    if not outcome.ok:  # the model is deployed all the same: a warning and the fix, not a stop
        wizard.output.print(f"[yellow]The service did not answer as expected: {escape(outcome.problem or '')}[/yellow]")
        if outcome.fix:
            wizard.output.print(f"[bold]How to fix:[/bold] {escape(outcome.fix)}")


# --- 8. success checklist -----------------------------------------------------------------------


def checklist(wizard: Wizard) -> None:
    from deepfake_coach.ui.health import render_checklist

    render_checklist(_checklist(wizard), wizard.output)


def _checklist(wizard: Wizard):
    from deepfake_coach.checklist import success_checklist

    project = wizard.project
    return success_checklist(project.data_dir(), project.root, project.env_file())


# --- the end ------------------------------------------------------------------------------------


def farewell(wizard: Wizard) -> None:
    from deepfake_coach.deploy import example_picture
    from deepfake_coach.serve.settings import env_file_flag

    serve = f"dfcoach serve{env_file_flag(wizard.project.env_file())}"
    picture = example_picture(wizard.project.data_dir())
    demo = wizard.config.data.source == "tiny_demo"
    wizard.output.print(texts.farewell(_checklist(wizard), escape(serve), escape(picture), demo))


STEPS = [
    Step("welcome", "Welcome", welcome),
    Step("environment", "Your computer", environment),
    Step("dataset", "Choose and prepare a dataset", choose_dataset, check=check_dataset_options),
    Step("quick_run", "A quick training run", quick_run, check=check_model_options),
    Step("full_run", "The full training run", full_run),
    Step("evaluate", "The final exam: the test images", evaluation),
    Step("deploy", "Put your model in the inference service", deployment),
    Step("checklist", "The success checklist", checklist),
    Step("farewell", "What next", farewell),
]
