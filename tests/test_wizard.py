"""`dfcoach init`: every branch of the journey with scripted answers, and without a terminal."""

from __future__ import annotations

import io
import re

import pytest
import yaml
from rich.console import Console

from conftest import make_faces_folder
from kaggle_fixtures import home, kaggle, make_140k_zip, write_kaggle_json  # noqa: F401  (fixtures)
from deepfake_coach.config import load_project_config
from deepfake_coach.errors import DataError, Interrupted, MissingAnswer
from deepfake_coach.io.output import Output
from deepfake_coach.io.progress import NO_PROGRESS
from deepfake_coach.io.prompts import NoInputPrompter, ScriptedPrompter
from deepfake_coach.wizard import STEPS, InitOptions, run_wizard

TINY = dict(images_per_class=20, image_size=64)  # a demo of 40 faces at 64 px: seconds per run


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder as the current directory, with short training runs."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dfcoach.yaml").write_text("train:\n  epochs: 3\n")
    return tmp_path


class Run:
    def __init__(self, answers: dict | None = None, **options):
        self.prompter = ScriptedPrompter(answers or {}) if answers is not None else NoInputPrompter()
        self.out, self.err = io.StringIO(), io.StringIO()
        self.options = InitOptions(**{**TINY, **options})

    def __call__(self):
        run_wizard(STEPS, self.options, self.prompter, NO_PROGRESS, Output(Console(file=self.out, width=200), Console(file=self.err, width=200)))
        return self

    @property
    def text(self) -> str:
        return self.out.getvalue() + self.err.getvalue()


def completed(project) -> list[str]:
    return load_project_config(project / "dfcoach.yaml").wizard.completed


def test_yes_runs_the_whole_demo_journey(project):
    run = Run(dataset="tiny_demo", yes=True)()
    assert completed(project) == [step.name for step in STEPS]
    assert list((project / "models").glob("best_model_efficientnet_lite0_*.pth"))
    assert "efficientnet_lite0 starts from a network that has already learned to see" in run.text  # and asks nothing about it
    assert "pretrained: true" in next((project / "runs").iterdir()).joinpath("config.yaml").read_text()
    assert "What your quick run shows" in run.text
    assert "It is learning" in run.text or "the model is not learning yet" in run.text
    assert "Skipped. Run it whenever you like with: dfcoach train" in run.text  # --yes skips the long run
    assert "✓ Dataset organized and fit to train" in run.text
    # the printed command names a picture that exists (issue: every command dfcoach prints must work)
    shown = re.search(r"curl -X POST -F image=@(\S+) http://127\.0\.0\.1:5000/inference/analyze-frame", run.text)
    assert shown and (project / shown.group(1)).is_file() and "/test/" in shown.group(1)
    env = (project / ".env").read_text()
    assert "MODEL_TYPE=custom" in env and "MODEL_PATH=./models/best_model_efficientnet_lite0_" in env and "CUSTOM_MODEL_TYPE=efficientnet_lite0" in env
    assert "POST /inference/analyze-frame: a test picture was judged" in run.text  # the live check, as `deploy --check` says it
    assert "cannot judge real photos" in run.text and "dfcoach predict PHOTO" not in run.text  # a demo model
    assert "✓ Deployed: .env points at a model that loads" in run.text
    assert "Accuracy" in run.text or "accuracy" in run.text  # the evaluation on the test images
    assert list((project / "runs").glob("*/confusion.png"))
    saved = yaml.safe_load((project / "dfcoach.yaml").read_text())
    assert saved["data"]["source"] == "tiny_demo" and saved["train"]["image_size"] == 64
    assert saved["wizard"]["quick_epoch_seconds"] > 0


def test_every_question_answered_by_the_person(project):
    faces = make_faces_folder(project / "my_faces", real=20, fake=20)
    (project / "service").mkdir()
    (project / "service" / ".env").write_text("# my service\nPORT=8080\nMODEL_TYPE=pretrained\n")
    run = Run({"--dataset": "folder", "--source": str(faces), "--model": "meso4", "--full or --skip-full": True,
               "--deploy or --no-deploy": True, "--env-file": "service/.env"})()
    assert run.prompter.asked == ["--dataset", "--source", "--model", "--full or --skip-full", "--deploy or --no-deploy", "--env-file"]
    env = (project / "service" / ".env").read_text()
    assert env.startswith("# my service\nPORT=8080\nMODEL_TYPE=custom\n")  # other lines kept, in place
    assert "MODEL_PATH=" in env and "CUSTOM_MODEL_TYPE=meso4" in env
    assert list((project / "service").glob(".env.backup-*"))
    assert "dfcoach serve --env-file service/.env" in run.text
    assert (project / "dataset" / "train" / "real").is_dir()
    assert list((project / "models").glob("best_model_meso4_*.pth"))
    assert len(list((project / "runs").iterdir())) == 2  # the quick run and the full run
    assert load_project_config(project / "dfcoach.yaml").train.model == "meso4"  # later `dfcoach train` agrees
    assert "The full run trains for up to 3 epochs" in run.text and "On this computer that is about" in run.text


def test_flags_answer_every_question(project):
    faces = make_faces_folder(project / "mine", real=20, fake=20)
    run = Run({}, dataset="folder", source=faces, model="custom_cnn", full=False, deploy=False)()
    assert run.prompter.asked == []
    assert not (project / ".env").exists()
    assert "✗ Deployed" in run.text
    assert completed(project)[-1] == "farewell"
    # What next follows the checklist: no service to try before deploying (it would answer 503), deploy is a next step
    farewell = run.out.getvalue().split("What next")[-1]
    assert "dfcoach serve" not in farewell and "Deployed: .env points at a model that loads: dfcoach deploy" in farewell
    assert ("You trained a deepfake detector." in farewell) == ("✓ Validation accuracy above 70%" in run.text)


def test_faceforensics_from_its_download_folder(project):
    from video_files import make_faceforensics_tree

    download = make_faceforensics_tree(project / "ffpp", [("000", "001"), ("002", "003"), ("004", "005")], methods=("Deepfakes",), frames=2)
    run = Run({}, dataset="faceforensics", source=download, model="custom_cnn", full=False, deploy=False)()
    assert run.prompter.asked == []
    assert "github.com/ondyari/FaceForensics" in run.text
    assert (project / "dataset" / "videos.csv").is_file()
    assert list((project / "dataset" / "test" / "fake").glob("Deepfakes_*.jpg"))
    assert load_project_config(project / "dfcoach.yaml").data.source == "faceforensics"
    assert completed(project)[-1] == "farewell"


def test_without_a_terminal_the_missing_answer_names_its_flag(project):
    with pytest.raises(MissingAnswer) as caught:
        Run()()
    assert "--dataset" in caught.value.hint
    assert completed(project) == ["welcome", "environment"]


def test_folder_without_source_names_the_flag_even_with_yes(project):
    with pytest.raises(MissingAnswer) as caught:
        Run(dataset="folder", yes=True)()
    assert "--source" in caught.value.hint


def test_sample_skeleton_stops_with_the_fix_and_resumes_at_the_dataset(project):
    with pytest.raises(DataError) as caught:
        Run(dataset="sample", yes=True)()
    assert "run `dfcoach init` again" in caught.value.hint
    assert completed(project) == ["welcome", "environment"]
    assert (project / "dataset" / "train" / "fake").is_dir()
    # The person fills the folders by hand, then continues.
    make_faces_folder(project / "filled", real=20, fake=20)
    from deepfake_coach.data.organize import organize

    organize(project / "filled", project / "dataset", replace=True)
    run = Run({"--restart or --continue": "continue", "--replace-data or --keep-data": False}, full=False, deploy=False)()
    assert "Continuing: 2 of 9 steps were done before." in run.text
    assert "Using the dataset already in dataset/" in run.text
    assert completed(project)[-1] == "farewell"


def test_continue_and_start_over_never_delete_data(project):
    Run(dataset="tiny_demo", yes=True)()
    first_models = set((project / "models").iterdir())
    run = Run({"--restart or --continue": "continue"})()
    assert "Everything is done already" in run.text
    run = Run({"--restart or --continue": "restart", "--dataset": "tiny_demo", "--replace-data or --keep-data": False,
               "--model": "custom_cnn", "--full or --skip-full": False, "--deploy or --no-deploy": True, "--env-file": ".env"})()
    assert "Using the dataset already in dataset/" in run.text
    assert first_models < set((project / "models").iterdir())  # the old model is still there, a new one beside it


def test_ctrl_c_at_a_question_says_where_it_stopped(project):
    class StopsAtModel(ScriptedPrompter):
        def select(self, question, choices, *, flag, default=None):
            if flag == "--model":
                raise Interrupted("Stopped by you.")
            return super().select(question, choices, flag=flag, default=default)

    run = Run(dataset="tiny_demo")
    run.prompter = StopsAtModel({})
    with pytest.raises(Interrupted) as caught:
        run()
    assert "Stopped at step 4" in caught.value.message and "dfcoach init" in caught.value.hint
    assert completed(project) == ["welcome", "environment", "dataset"]


def test_a_stopped_full_run_is_resumed_not_restarted(project, monkeypatch):
    from deepfake_coach.train import loop

    real_epoch, calls = loop.train_one_epoch, {"n": 0}

    def interrupted_in_full_run(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5 + 2:  # the quick run's 5 epochs, then one full epoch done and the second stopped
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "train_one_epoch", interrupted_in_full_run)
    with pytest.raises(Interrupted) as caught:
        Run(dataset="tiny_demo", yes=True, full=True)()
    assert "dfcoach init" in caught.value.hint
    stopped = load_project_config(project / "dfcoach.yaml").wizard.full_run
    assert stopped and (project / "runs" / stopped / "last.pth").exists()

    monkeypatch.setattr(loop, "train_one_epoch", real_epoch)
    run = Run({"--restart or --continue": "continue"}, full=True, deploy=False)()
    assert "Resuming" in run.text
    state = yaml.safe_load((project / "runs" / stopped / "state.json").read_text())
    assert state["status"] == "finished" and state["epoch"] == 3
    assert len(list((project / "runs").iterdir())) == 2  # no third run


def test_a_quick_run_that_finished_before_a_ctrl_c_is_not_run_again(project, monkeypatch):
    from deepfake_coach.wizard import texts

    real_read_run = texts.read_run

    def ctrl_c_just_after_the_quick_run(history):
        raise KeyboardInterrupt

    monkeypatch.setattr(texts, "read_run", ctrl_c_just_after_the_quick_run)
    with pytest.raises(Interrupted):
        Run(dataset="tiny_demo", yes=True)()
    (quick,) = list((project / "runs").iterdir())
    assert yaml.safe_load((quick / "state.json").read_text())["status"] == "finished"

    monkeypatch.setattr(texts, "read_run", real_read_run)
    run = Run({"--restart or --continue": "continue"}, full=False, deploy=False)()
    assert f"Your quick run ({quick.name}) finished last time" in run.text and "What your quick run shows" in run.text
    assert list((project / "runs").iterdir()) == [quick]


def test_a_stopped_quick_run_is_resumed_and_says_what_was_kept(project, monkeypatch):
    from conftest import ctrl_c_at_training_step

    train_again = ctrl_c_at_training_step(monkeypatch, 4)  # 28 demo faces in batches of 16: epoch 2's second batch
    with pytest.raises(Interrupted) as caught:
        Run(dataset="tiny_demo", yes=True)()
    (quick,) = list((project / "runs").iterdir())
    assert caught.value.message == (f"Stopped at step 4, “A quick training run” during epoch 2. Epoch 1 is saved in "
                                    f"runs/{quick.name}/last.pth; the curves so far are in runs/{quick.name}/curves.png.")
    assert "picks up where it stopped" in caught.value.hint

    train_again()
    run = Run({"--restart or --continue": "continue"}, full=False, deploy=False)()
    assert "Resuming" in run.text
    assert list((project / "runs").iterdir()) == [quick]
    assert yaml.safe_load((quick / "state.json").read_text())["status"] == "finished"


def test_unknown_dataset_lists_the_choices(project):
    from deepfake_coach.errors import UsageError

    with pytest.raises(UsageError) as caught:
        Run(dataset="imagenet", yes=True)()
    assert "tiny_demo" in caught.value.hint


def test_a_wrong_flag_is_reported_before_any_step_runs(cli, project):
    for args, said in ((("--dataset", "tiny_dem"), "no dataset choice called 'tiny_dem'"),
                       (("--model", "yolo"), "no model called 'yolo'"),
                       (("--dataset", "folder", "--source", "no/such/folder"), "--source no/such/folder: there is nothing at that path"),
                       (("--model", "meso4", "--image-size", "8"), "too small for meso4")):
        result = cli("init", *args, "--yes")
        assert result.exit_code == 2 and said in result.stderr, result.output
        assert "Step 1" not in result.stdout and not (project / "dfcoach.yaml").read_text().count("completed")


def test_init_through_the_cli_without_input(cli, project):
    result = cli("init")
    assert result.exit_code == 2
    assert "--dataset" in result.stderr


def test_init_through_the_cli_with_yes(cli, project):
    result = cli("init", "--dataset", "tiny_demo", "--yes", "--images-per-class", "20", "--image-size", "64")
    assert result.exit_code == 0, result.output
    assert "Success checklist" in result.stdout


# --- kaggle_140k ------------------------------------------------------------------------------------


def _short_runs():
    from pathlib import Path

    Path("dfcoach.yaml").write_text("train:\n  epochs: 3\n")


def test_kaggle_from_a_browser_zip_asks_nothing_about_credentials(home):
    _short_runs()
    archive = make_140k_zip(home.parent / "140k.zip")
    run = Run({}, dataset="kaggle_140k", archive=archive, model="custom_cnn", full=False, deploy=False)()
    assert run.prompter.asked == []
    messages = run.err.getvalue()  # the same lines `dfcoach data download kaggle_140k` prints, through the wizard's output
    assert "images sampled from" in messages
    assert "fewer images than asked for" in messages  # the small zip cannot give 7,000 per class
    assert completed(home.parent / "project")[-1] == "farewell"


def test_kaggle_without_credentials_offers_the_browser_zip(home):
    _short_runs()
    with pytest.raises(MissingAnswer) as caught:
        Run(dataset="kaggle_140k", yes=True)()  # no terminal: no token to ask for, so the zip's flag is named
    assert "--archive" in caught.value.hint


def test_kaggle_with_credentials_downloads_then_prepares(kaggle, home):
    _short_runs()
    write_kaggle_json(home)
    run = Run({}, dataset="kaggle_140k", model="custom_cnn", full=False, deploy=False)()
    assert "Kaggle will use" in run.text
    assert (home.parent / "project" / "downloads").is_dir()
    assert (home.parent / "project" / "dataset" / "train" / "fake").is_dir()
    assert "GOOD_KEY" not in run.text and "0123456789abcdef" not in run.text


def test_kaggle_ctrl_c_at_the_token_question_stops_rather_than_asking_for_a_zip(home):
    class StopsAtFirstQuestion(ScriptedPrompter):
        def _take(self, question, flag):
            self.asked.append(flag)
            if len(self.asked) == 1:
                raise Interrupted("Stopped by you.")  # what questionary does on Ctrl-C
            raise AssertionError(f"asked {flag} after the person pressed Ctrl-C")

    _short_runs()
    run = Run(dataset="kaggle_140k", yes=True)
    run.prompter = StopsAtFirstQuestion({})
    with pytest.raises(Interrupted) as caught:
        run()
    assert "Stopped at step 3" in caught.value.message
    assert len(run.prompter.asked) == 1


class Successive(ScriptedPrompter):
    """A person who answers a question that comes back differently each time: a list holds one answer
    per asking, in order. Records the choices each select offered."""

    def __init__(self, answers):
        super().__init__(answers)
        self.offered: dict[str, list[list[str]]] = {}

    def _take(self, question, flag):
        answer = super()._take(question, flag)
        if isinstance(answer, list):
            assert answer, f"{flag} asked more often than the person answered it"
            return answer.pop(0)
        return answer

    def select(self, question, choices, *, flag, default=None):
        self.offered.setdefault(flag, []).append([choice.value for choice in choices])
        return super().select(question, choices, flag=flag, default=default)


def _holiday_zip(path):
    import zipfile

    from conftest import image_bytes

    with zipfile.ZipFile(path, "w") as out:
        out.writestr("holiday/cat.jpg", image_bytes(1))
        out.writestr("holiday/dog.jpg", image_bytes(2))
    return path


def test_kaggle_a_typed_zip_that_is_not_the_140k_is_explained_and_asked_again(home):
    _short_runs()
    wrong, right = _holiday_zip(home.parent / "photos.zip"), make_140k_zip(home.parent / "140k.zip")
    run = Run(dataset="kaggle_140k", model="custom_cnn", full=False, deploy=False)
    run.prompter = Successive({"--token-file": "skip", "--archive": [str(wrong), str(right)], "--archive (again)": ["another"]})
    run()
    assert run.prompter.asked == ["--token-file", "--archive", "--archive (again)", "--archive"]
    # what it found, what was expected, and the choices: a zip cannot be the "own folder" route
    said = " ".join(run.text.split())  # as read, whatever the line breaks
    assert "photos.zip is not the 140k Real and Fake Faces dataset" in said and "At its top it has: holiday/" in said
    assert "real_vs_fake/real-vs-fake/" in said
    assert run.prompter.offered["--archive (again)"] == [["another", "stop"]]
    assert "images sampled from" in run.err.getvalue()
    project = home.parent / "project"
    assert (project / "dataset" / "manifest.csv").is_file()
    assert load_project_config(project / "dfcoach.yaml").data.source == "kaggle_140k"
    assert completed(project)[-1] == "farewell"


def test_kaggle_a_typed_folder_of_real_and_fake_images_can_be_trained_on_as_your_own(home):
    _short_runs()
    faces = make_faces_folder(home.parent / "my_faces", real=20, fake=20)
    run = Run(dataset="kaggle_140k", model="custom_cnn", full=False, deploy=False)
    run.prompter = Successive({"--token-file": "skip", "--archive": [str(faces)], "--archive (again)": ["folder"]})
    run()
    assert run.prompter.asked == ["--token-file", "--archive", "--archive (again)"]
    assert run.prompter.offered["--archive (again)"] == [["another", "folder", "stop"]]
    said = " ".join(run.text.split())
    assert "my_faces is not the 140k Real and Fake Faces dataset" in said and "At its top it has: fake/, real/" in said
    assert "Organized 40 images from" in run.err.getvalue()
    project = home.parent / "project"
    assert load_project_config(project / "dfcoach.yaml").data.source == "folder"  # init run again knows what it trains on
    assert completed(project)[-1] == "farewell"


def test_kaggle_stopping_after_a_wrong_path_writes_nothing_and_says_how_to_continue(home):
    _short_runs()
    wrong = _holiday_zip(home.parent / "photos.zip")
    run = Run(dataset="kaggle_140k")
    run.prompter = Successive({"--token-file": "skip", "--archive": [str(wrong)], "--archive (again)": ["stop"]})
    with pytest.raises(DataError) as caught:
        run()
    assert "is not the 140k dataset" in caught.value.message and "dfcoach init" in caught.value.hint
    project = home.parent / "project"
    assert not (project / "dataset").exists()
    assert completed(project) == ["welcome", "environment"]


@pytest.mark.parametrize("what", ["zip", "own folder"])
def test_kaggle_archive_flag_that_is_not_the_140k_fails_naming_the_flag(home, cli, what):
    import shlex

    _short_runs()
    path = _holiday_zip(home.parent / "photos.zip") if what == "zip" else make_faces_folder(home.parent / "my_faces")
    run = Run({}, dataset="kaggle_140k", archive=path, yes=True)  # a flag answered it: nobody to ask again
    with pytest.raises(DataError) as caught:
        run()
    assert run.prompter.asked == []
    assert caught.value.message.startswith(f"--archive {path}: ") and "is not the 140k Real and Fake Faces dataset" in caught.value.message
    assert "dfcoach init --continue --archive PATH" in caught.value.hint
    if what == "own folder":
        printed = re.search(r"`(dfcoach init --continue --dataset folder --source [^`]+)`", caught.value.hint)
        assert printed, caught.value.hint
        args = shlex.split(printed.group(1))[1:]
        assert args[-1] == str(path)
        assert cli(*args, "--help").exit_code == 0  # the command printed is one init takes
    assert not (home.parent / "project" / "dataset").exists()


def test_imagenet_weights_on_disk_are_offered(project, monkeypatch):
    import torch
    import torchvision

    from deepfake_coach.train.models import get_spec, pretrained_weights_path

    monkeypatch.setenv("TORCH_HOME", str(project / "torch"))
    path = pretrained_weights_path(get_spec("mobilenet_v3_small"))
    path.parent.mkdir(parents=True)
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), path)

    class Recording(ScriptedPrompter):
        def select(self, question, choices, *, flag, default=None):
            self.titles = [choice.title for choice in choices]
            return super().select(question, choices, flag=flag, default=default)

    run = Run(dataset="tiny_demo", full=False, deploy=False)
    run.prompter = Recording({"--model": "mobilenet_v3_small", "--pretrained or --from-scratch": True})
    run()
    assert run.prompter.asked == ["--model", "--pretrained or --from-scratch"]
    assert any(t.startswith("mobilenet_v3_small") and "ImageNet weights on this computer" in t for t in run.prompter.titles)
    assert not any(t.startswith("noise_cnn") and "ImageNet" in t for t in run.prompter.titles)
    quick = next((project / "runs").iterdir())
    assert "pretrained: true" in (quick / "config.yaml").read_text()
    assert load_project_config(project / "dfcoach.yaml").wizard.pretrained is True


# --- reading the quick run's own numbers -----------------------------------------------------------


def test_the_reading_of_a_run_uses_balanced_accuracy_when_the_classes_are_unequal():
    from deepfake_coach.train.coach import EpochMetrics
    from deepfake_coach.wizard.texts import read_run

    # 72% real images, every one called real: 72% plain accuracy, nothing learned
    guessing = [EpochMetrics(e, 0.69, 0.5, 0.6, 0.72, val_fake_share=0.0, val_majority=0.72, val_balanced_acc=0.5) for e in (1, 2, 3)]
    text = " ".join(read_run(guessing))
    assert "a real start" not in text and "calls every validation image real" in text
    # faint but real evidence: above chance, below the guide's bar, and it says what helps
    learning = [EpochMetrics(e, 0.69 - 0.01 * e, 0.55, 0.62, 0.64, val_fake_share=0.4, val_majority=0.72, val_balanced_acc=0.67) for e in (1, 2, 3, 4, 5)]
    text = " ".join(read_run(learning))
    assert "67.0% balanced, 64.0% plain" in text and "better than a coin toss" in text and "full run" in text
    assert "validation (67%)" in text  # no overfitting, judged on the balanced figure
    # one verdict: training loss falling while validation stays at chance is not "It is learning"
    fitting = [EpochMetrics(e, 0.7 - 0.1 * e, 0.6 + 0.1 * e, 0.7, 0.5, val_fake_share=0.5, val_balanced_acc=0.52, val_auc=0.5) for e in (1, 2, 3)]
    text = " ".join(read_run(fitting))
    assert "Stuck at chance" in text and "It is learning" not in text and "has not learned yet" in text


# --- how long the full run takes ---------------------------------------------------------------------


def test_the_full_run_estimate_is_a_range_from_early_stopping_to_every_epoch():
    from deepfake_coach.train.coach import EpochMetrics
    from deepfake_coach.wizard.texts import FULL_RUN_INTRO, full_run_estimate, typical_epoch_seconds

    # the quick run's first epoch trains only the last layer: faster than the epochs that follow
    quick = [EpochMetrics(e, 0.5, 0.8, 0.4, 0.8, seconds=80.0 if e == 1 else 108.0) for e in range(1, 6)]
    assert typical_epoch_seconds(quick) == 108.0
    # the newcomer's run: 108 s epochs, 30 epochs, patience 5. "About 54 minutes" was said for a run
    # that early stopping ended after 13; 54 is the most it can take, 6 epochs (11 minutes) the least.
    estimate = full_run_estimate(108.0, 30, 5)
    assert (estimate["longest"], estimate["soonest_epochs"], estimate["soonest"]) == ("54 minutes", 6, "11 minutes")
    said = FULL_RUN_INTRO.format(**estimate)
    assert "up to about 54 minutes, if it runs all 30" in said and "after 6 epochs at the soonest (about 11 minutes)" in said
    assert "has not improved for 5 epochs in a row" in said
    # a run too short for early stopping to end it sooner: one figure
    assert full_run_estimate(10.0, 3, 5)["how_long"] == " On this computer that is about 30 seconds."


def test_a_project_folder_other_than_the_current_one_holds_everything(tmp_path, monkeypatch):
    """run_wizard(project_dir=...) from Python: the dataset, runs, models and .env all land in that folder."""
    elsewhere, project_dir = tmp_path / "elsewhere", tmp_path / "project"
    elsewhere.mkdir()
    project_dir.mkdir()
    monkeypatch.chdir(elsewhere)
    out = io.StringIO()
    run_wizard(STEPS, InitOptions(dataset="tiny_demo", model="custom_cnn", yes=True, **TINY), NoInputPrompter(), NO_PROGRESS,
               Output(Console(file=out, width=200), Console(file=out, width=200)), project_dir=project_dir)
    assert list(elsewhere.iterdir()) == []
    assert (project_dir / "dataset" / "manifest.csv").is_file()
    assert list((project_dir / "runs").iterdir()) and list((project_dir / "models").glob("best_model_custom_cnn_*.pth"))
    assert "MODEL_TYPE=custom" in (project_dir / ".env").read_text()
    saved = load_project_config(project_dir / "dfcoach.yaml")
    assert str(saved.data.dir) == "dataset" and str(saved.deploy.env_file) == ".env"  # from the project folder, as written
    assert saved.wizard.completed == [step.name for step in STEPS]
