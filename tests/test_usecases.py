"""Each step of the journey has one implementation in usecases/: `dfcoach <command>` and the wizard
(`dfcoach init`) both call it, with equivalent requests, and get the same result on disk.

The use-case functions are wrapped with recorders that call the real ones, so a test sees that
both routes went through the same function, and with what. One demo journey is run each way
(module-scoped: training is the slow part), in two project folders side by side.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from conftest import Cli, make_faces_folder
from deepfake_coach.config import load_project_config
from deepfake_coach.io.output import Output
from deepfake_coach.io.progress import NO_PROGRESS
from deepfake_coach.io.prompts import NoInputPrompter
from deepfake_coach.wizard import STEPS, InitOptions, run_wizard

TINY = dict(images_per_class=20, image_size=64)  # 40 demo faces at 64 px: seconds per run
MODEL = "custom_cnn"  # the quickest to train; the quick run is 5 epochs whatever dfcoach.yaml says

USE_CASES = (
    ("deepfake_coach.usecases.dataset", "get_dataset"),
    ("deepfake_coach.usecases.training", "train_run"),
    ("deepfake_coach.usecases.evaluation", "evaluate_run"),
    ("deepfake_coach.usecases.deployment", "deploy"),
    ("deepfake_coach.usecases.deployment", "check_service"),
)


@dataclass
class Call:
    route: str  # "command" or "wizard"
    name: str
    args: tuple
    result: Any
    extra: dict = field(default_factory=dict)


class Recorder:
    """Wraps each use case so that every call is recorded (route, arguments, result), then done for real."""

    def __init__(self):
        self.calls: list[Call] = []
        self.route = "?"

    def install(self, monkeypatch) -> "Recorder":
        import importlib

        for module_name, name in USE_CASES:
            module = importlib.import_module(module_name)
            monkeypatch.setattr(module, name, self._wrap(name, getattr(module, name)))
        return self

    def _wrap(self, name, real):
        def recorded(*args, **kwargs):
            extra = {}
            if name == "train_run":  # the settings the run will use, resolved while the project is as it was
                from deepfake_coach.usecases.training import train_config

                extra["config"] = train_config(args[0], args[1])
            result = real(*args, **kwargs)
            self.calls.append(Call(self.route, name, args, result, extra))
            return result

        return recorded

    def of(self, route: str, name: str) -> list[Call]:
        return [call for call in self.calls if call.route == route and call.name == name]

    def one_each(self, name: str) -> tuple[Call, Call]:
        command, wizard = self.of("command", name), self.of("wizard", name)
        assert len(command) == 1, f"`dfcoach` called {name} {len(command)} times"
        assert len(wizard) == 1, f"the wizard called {name} {len(wizard)} times"
        return command[0], wizard[0]


def run_the_wizard(steps, **options) -> str:
    """The wizard in the current folder, without a terminal; returns everything it printed."""
    out, err = io.StringIO(), io.StringIO()
    run_wizard(steps, InitOptions(**{**TINY, **options}), NoInputPrompter(), NO_PROGRESS,
               Output(Console(file=out, width=200), Console(file=err, width=200)))
    return out.getvalue() + err.getvalue()


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset, by its path inside it (dfcoach's own cache folder aside)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and ".dfcoach" not in path.relative_to(folder).parts}


def per_split_and_class(files: dict[str, bytes]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in files:
        parts = name.split("/")
        if len(parts) == 3:
            counts[f"{parts[0]}/{parts[1]}"] = counts.get(f"{parts[0]}/{parts[1]}", 0) + 1
    return counts


def only_run(project: Path) -> Path:
    (run,) = list((project / "runs").iterdir())
    return run


def env_values(env_file: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#"))


def epochs_without_times(run: Path) -> list[dict[str, str]]:
    import csv

    with open(run / "metrics.csv") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


def on_a_gpu() -> bool:
    """Training on `device: auto` uses a GPU when there is one, where results may differ in the last digits."""
    import torch

    return torch.cuda.is_available() or (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())


LIVE_CHECK = ("GET /health: the model is loaded", "POST /inference/analyze-frame: a test picture was judged")


@dataclass
class Journeys:
    command: Path  # the project folder the commands ran in
    wizard: Path  # the project folder the wizard ran in
    said: dict[str, str]  # what each route printed, stdout and stderr
    recorder: Recorder


@pytest.fixture(scope="module")
def journeys(tmp_path_factory) -> Journeys:
    """The demo journey twice: typed as commands, and through `dfcoach init --yes`."""
    root = tmp_path_factory.mktemp("journeys")
    command, wizard = root / "command", root / "wizard"
    command.mkdir()
    wizard.mkdir()
    recorder, said = Recorder(), {}
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DFCOACH_DEBUG", "DFCOACH_PROGRESS"):
            mp.delenv(name, raising=False)
        mp.setenv("COLUMNS", "2000")
        recorder.install(mp)

        mp.chdir(command)
        recorder.route = "command"
        cli, printed = Cli(), []
        for args in (("data", "download", "tiny_demo", "--images-per-class", TINY["images_per_class"]),
                     ("train", "--quick", "--model", MODEL, "--image-size", TINY["image_size"]),
                     ("evaluate",),
                     ("deploy", "--check")):
            result = cli(*args)
            assert result.exit_code == 0, f"dfcoach {' '.join(map(str, args))}:\n{result.output}"
            printed.append(result.stdout + result.stderr)
        said["command"] = "\n".join(printed)

        mp.chdir(wizard)
        recorder.route = "wizard"
        said["wizard"] = run_the_wizard(STEPS, dataset="tiny_demo", model=MODEL, yes=True)
    return Journeys(command, wizard, said, recorder)


# --- getting a dataset ------------------------------------------------------------------------------


def test_tiny_demo_through_data_download_and_the_wizard(journeys):
    command, wizard = journeys.recorder.one_each("get_dataset")
    assert command.args[0] == wizard.args[0]  # the same DatasetRequest, field by field
    assert command.args[0].name == "tiny_demo" and command.args[0].images_per_class == 20 and command.args[0].replace
    # the same 40 files, byte for byte: the demo is seeded
    made = {route: files_under(project / "dataset") for route, project in (("command", journeys.command), ("wizard", journeys.wizard))}
    assert made["command"] == made["wizard"]
    assert per_split_and_class(made["command"]) == {"train/real": 14, "train/fake": 14, "val/real": 4, "val/fake": 4,
                                                    "test/real": 2, "test/fake": 2}
    assert "manifest.csv" in made["command"]
    for project in (journeys.command, journeys.wizard):
        saved = load_project_config(project / "dfcoach.yaml").data
        assert (saved.source, saved.dir) == ("tiny_demo", Path("dataset"))


def test_your_own_folder_through_data_organize_and_the_wizard(tmp_path, monkeypatch, cli):
    source = make_faces_folder(tmp_path / "my_faces", real=20, fake=20)
    recorder = Recorder().install(monkeypatch)
    projects = {route: tmp_path / route for route in ("command", "wizard")}
    for project in projects.values():
        project.mkdir()

    monkeypatch.chdir(projects["command"])
    recorder.route = "command"
    result = cli("data", "organize", source)
    assert result.exit_code == 0, result.output

    monkeypatch.chdir(projects["wizard"])
    recorder.route = "wizard"
    dataset_steps = STEPS[: [step.name for step in STEPS].index("dataset") + 1]  # up to the dataset: no training
    said = run_the_wizard(dataset_steps, dataset="folder", source=source, yes=True)
    assert "Organized 40 images from" in said

    command, wizard = recorder.one_each("get_dataset")
    asked = {route: call.args[0] for route, call in (("command", command), ("wizard", wizard))}
    assert asked["command"].name == "folder" and asked["command"].source == source and asked["command"].replace
    # the same request, but for the demo's size (which the wizard passes to every source, and the folder source ignores)
    assert replace(asked["wizard"], images_per_class=asked["command"].images_per_class) == asked["command"]
    made = {route: files_under(project / "dataset") for route, project in projects.items()}
    assert set(made["command"]) == set(made["wizard"])  # the same pictures in the same splits, for the same seed
    assert made["command"] == made["wizard"]
    assert sum(per_split_and_class(made["command"]).values()) == 40
    for project in projects.values():
        saved = load_project_config(project / "dfcoach.yaml").data
        assert (saved.source, saved.dir) == ("folder", Path("dataset"))


@pytest.mark.parametrize("kind", ["tiny_demo", "folder", "sample"])
def test_get_dataset_records_the_choice_in_dfcoach_yaml(tmp_path, kind):
    from deepfake_coach.data.sources import DatasetRequest
    from deepfake_coach.project import Project
    from deepfake_coach.usecases.dataset import get_dataset

    (tmp_path / "dfcoach.yaml").write_text("train:\n  epochs: 2\n")
    data_dir = tmp_path / "my_data"  # not the default folder: where it lies is recorded too
    source = make_faces_folder(tmp_path / "faces", real=10, fake=10) if kind == "folder" else None
    request = DatasetRequest(kind, data_dir, seed=0, images_per_class=10, source=source)
    project = Project.open(tmp_path)
    get_dataset(request, project, Output(Console(file=io.StringIO()), Console(file=io.StringIO())))

    saved = load_project_config(tmp_path / "dfcoach.yaml")
    assert (saved.data.source, saved.data.dir) == (kind, Path("my_data"))  # written from the project folder, which holds it
    assert saved.train.epochs == 2  # the rest of the file is kept
    assert (project.config.data.source, project.data_dir()) == (kind, data_dir)  # the open project agrees
    assert (data_dir / "train" / "real").is_dir() and (data_dir / "test" / "fake").is_dir()
    pictures = list(data_dir.rglob("*.jpg"))
    assert len(pictures) == {"tiny_demo": 20, "folder": 20, "sample": 0}[kind]


# --- training ---------------------------------------------------------------------------------------


def test_quick_run_through_train_and_the_wizard(journeys):
    command, wizard = journeys.recorder.one_each("train_run")
    assert command.args[0].quick and wizard.args[0].quick
    assert command.args[0].resume is None and wizard.args[0].resume is None
    assert command.extra["config"] == wizard.extra["config"]  # the same settings, resolved
    assert (command.extra["config"].model, command.extra["config"].image_size, command.extra["config"].epochs) == (MODEL, 64, 5)
    runs = {route: only_run(project) for route, project in (("command", journeys.command), ("wizard", journeys.wizard))}
    configs = {route: yaml.safe_load((run / "config.yaml").read_text()) for route, run in runs.items()}
    assert configs["command"] == configs["wizard"]
    assert configs["command"]["pretrained"] is False and configs["command"]["data_dir"] == "dataset"
    for route, run in runs.items():
        assert json.loads((run / "state.json").read_text())["status"] == "finished", route
        assert (getattr(journeys, route) / "models" / f"best_model_{MODEL}_{run.name}.pth").is_file(), route
        assert len((run / "metrics.csv").read_text().splitlines()) == 1 + 5, route  # a header and 5 epochs
        assert "Epoch 5/5: train loss" in journeys.said[route], route
    if not on_a_gpu():  # on the CPU, the same seed, settings and pictures train the same model, epoch for epoch
        assert epochs_without_times(runs["command"]) == epochs_without_times(runs["wizard"])


# --- evaluation -------------------------------------------------------------------------------------


def test_evaluation_through_evaluate_and_the_wizard(journeys):
    command, wizard = journeys.recorder.one_each("evaluate_run")
    assert command.args[0] == wizard.args[0]  # the newest model, the test images, the model's own threshold
    assert command.args[0].split == "test" and command.args[0].model is None and command.args[0].threshold is None
    reports = {}
    for route, project in (("command", journeys.command), ("wizard", journeys.wizard)):
        run = only_run(project)
        reports[route] = json.loads((run / "report.json").read_text())
        assert (run / "confusion.png").is_file() and (run / "roc.png").is_file(), route
    assert set(reports["command"]) == set(reports["wizard"])
    # the same 4 test images judged the same way, each with the model trained in its own project
    judged = {route: call.result.to_dict() for route, call in (("command", command), ("wizard", wizard))}
    for key in ("data_dir", "split", "counts", "threshold_source"):
        assert judged["command"][key] == judged["wizard"][key], key
    assert judged["command"]["counts"] == {"real": 2, "fake": 2}
    assert judged["command"]["threshold_source"] == "validation"
    for route, report in reports.items():
        assert report["metrics"] == judged[route]["metrics"], route  # report.json is what the use case returned
    if not on_a_gpu():  # the same model (see the training test) gets the same marks
        assert (judged["command"]["threshold"], judged["command"]["metrics"]) == (judged["wizard"]["threshold"], judged["wizard"]["metrics"])


# --- deployment -------------------------------------------------------------------------------------


def test_deploy_and_live_check_through_deploy_check_and_the_wizard(journeys):
    command, wizard = journeys.recorder.one_each("deploy")
    assert command.args[0] == wizard.args[0]  # the newest model into .env
    assert command.args[0].model is None and command.args[0].env_file == Path(".env")
    for route, project in (("command", journeys.command), ("wizard", journeys.wizard)):
        env = env_values(project / ".env")
        run = only_run(project)
        assert env == {"MODEL_TYPE": "custom", "MODEL_PATH": f"./models/best_model_{MODEL}_{run.name}.pth",
                       "CUSTOM_MODEL_TYPE": MODEL}, route

    command, wizard = journeys.recorder.one_each("check_service")
    assert command.args[0] == wizard.args[0] == Path(".env")
    for route, call in (("command", command), ("wizard", wizard)):
        assert call.result.ok, (route, call.result.problem)
        assert call.result.health.get("model") == MODEL and call.result.analysis["label"] in ("real", "fake"), route
        for line in LIVE_CHECK:
            assert line in journeys.said[route], (route, line)
