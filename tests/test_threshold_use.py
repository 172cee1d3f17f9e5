"""The decision threshold stored in a model file is the one every command and the service judge with.

The model files here give every picture the same fake probability (0.4: the last layer's weights are
zero, its bias sets the answer), so the threshold alone decides the verdict: 0.3 calls it fake,
0.5 (a file with no threshold) and --threshold 0.45 call it real.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from rich.console import Console

from conftest import image_bytes, make_dataset, write_image
from deepfake_coach.errors import CoachError
from deepfake_coach.inference import Detector, explain_threshold, open_image
from deepfake_coach.serve import ServeSettings, create_app
from deepfake_coach.serve.runner import BackgroundServer

PROBABILITY = 0.4  # what the models here answer for every picture
MODEL = "best_model_custom_cnn_20260101_000000.pth"
COUNTS = {"train": (2, 2), "val": (2, 2), "test": (3, 3)}


def fixed_model(path: Path, fake_probability: float = PROBABILITY, **stored) -> Path:
    """A real checkpoint whose fake probability is `fake_probability` for any picture; `stored` goes
    into the file as it is (threshold=..., threshold_source=...)."""
    import torch
    from torch import nn

    from deepfake_coach.train.checkpoint import make_checkpoint, save_checkpoint
    from deepfake_coach.train.models import build_model

    torch.manual_seed(0)
    model = build_model("custom_cnn")
    last = [layer for layer in model.modules() if isinstance(layer, nn.Linear)][-1]
    with torch.no_grad():  # logits (0, b) for (real, fake): softmax gives fake e^b / (1 + e^b)
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, math.log(fake_probability / (1 - fake_probability))]))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, make_checkpoint(model, "custom_cnn", 32, {"val_acc": 0.9, "val_loss": 0.3}, {}, 3, **stored))
    return path


CHOSEN = dict(threshold=0.3, threshold_source="validation")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "face.jpg", 1)
    return tmp_path


# --- the Detector -------------------------------------------------------------------------------


def test_the_detector_reads_the_threshold_and_judges_with_it(project):
    detector = Detector.load(fixed_model(project / "chosen.pth", **CHOSEN))
    assert (detector.threshold, detector.threshold_source) == (0.3, "validation")
    assert detector.describe()["threshold"] == 0.3
    with open_image(project / "face.jpg", detector.image_size) as picture:
        verdict = detector.judge(picture)
        assert verdict.fake_probability == pytest.approx(PROBABILITY, abs=1e-5)
        assert verdict.threshold == 0.3 and verdict.label == "fake"
        assert detector.judge(picture, threshold=0.45).label == "real"  # the caller's threshold wins
        assert [v.label for v in detector.judge_images([picture, picture])] == ["fake", "fake"]
    [(_, verdict)], _ = detector.judge_files([project / "face.jpg"])
    assert verdict.threshold == 0.3 and verdict.label == "fake"


def test_an_old_model_file_judges_from_0_5(project):
    detector = Detector.load(fixed_model(project / "old.pth"))
    assert (detector.threshold, detector.threshold_source) == (0.5, "default")
    [(_, verdict)], _ = detector.judge_files([project / "face.jpg"])
    assert verdict.label == "real"


def test_a_threshold_without_a_known_source_is_still_used(project):
    detector = Detector.load(fixed_model(project / "m.pth", threshold=0.3))
    assert (detector.threshold, detector.threshold_source) == (0.3, "model_file")


@pytest.mark.parametrize("value", [1.5, 0.0, 1.0, -0.2, float("nan"), float("inf"), "abc", True, None, [0.3]])
def test_a_stored_threshold_that_is_no_probability_is_refused(project, value):
    with pytest.raises(CoachError) as caught:
        Detector.load(fixed_model(project / "bad.pth", threshold=value))
    assert "threshold" in caught.value.message and "between 0 and 1" in caught.value.message
    assert caught.value.hint


def test_the_explanation_says_where_the_threshold_comes_from():
    chosen = explain_threshold(0.31, "validation")
    assert chosen.startswith("Threshold 0.31: a picture is called fake when the model gives it a fake probability of 0.31 or more.")
    assert "validation images" in chosen and "best balanced accuracy" in chosen
    assert "standard" in explain_threshold(0.5, "default")
    assert "set with --threshold (the model's own is 0.31)" in explain_threshold(0.7, "command_line", 0.31)


# --- dfcoach predict ----------------------------------------------------------------------------


@pytest.mark.parametrize("stored, flags, threshold, source, verdict", [
    (CHOSEN, [], 0.3, "validation", "fake"),
    ({}, [], 0.5, "default", "real"),  # a model saved before thresholds were chosen
    (CHOSEN, ["--threshold", "0.45"], 0.45, "command_line", "real"),
])
def test_predict_uses_the_models_threshold_unless_told(cli, project, stored, flags, threshold, source, verdict):
    fixed_model(project / "models" / MODEL, **stored)
    result = cli("predict", "face.jpg", "--json", *flags)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["threshold"], report["threshold_source"]) == (threshold, source)
    assert report["model"]["threshold"] == stored.get("threshold", 0.5)
    [row] = report["results"]
    assert row["fake_probability"] == pytest.approx(PROBABILITY, abs=1e-5) and row["verdict"] == verdict


def test_predicts_table_says_the_threshold(cli, project):
    fixed_model(project / "models" / MODEL, **CHOSEN)
    result = cli("predict", "face.jpg")
    assert result.exit_code == 0, result.output
    assert "fake" in next(line for line in result.stdout.splitlines() if "face.jpg" in line)
    assert "Threshold 0.3: a picture is called fake" in result.stderr and "validation images" in result.stderr


# --- dfcoach evaluate ---------------------------------------------------------------------------


@pytest.fixture
def dataset(project):
    return make_dataset(project / "dataset", COUNTS, size=40)


def test_evaluate_uses_and_explains_the_models_threshold(cli, project, dataset):
    fixed_model(project / "models" / MODEL, **CHOSEN)
    result = cli("evaluate")
    assert result.exit_code == 0, result.output
    assert "Threshold 0.3: a picture is called fake when the model gives it a fake probability of 0.3 or more." in result.stdout
    assert "chosen on the validation images, where it gave the best balanced accuracy" in result.stdout
    report = json.loads((project / "runs" / Path(MODEL).stem / "report.json").read_text())
    assert (report["threshold"], report["threshold_source"]) == (0.3, "validation")
    assert "validation images" in report["threshold_meaning"]
    assert report["confusion"]["real"] == {"real": 0, "fake": 3}  # 0.4 is fake from 0.3 on


def test_evaluate_of_an_old_model_says_it_is_the_standard_0_5(cli, project, dataset):
    fixed_model(project / "models" / MODEL)
    report = json.loads(cli("evaluate", "--json").stdout)
    assert (report["threshold"], report["threshold_source"]) == (0.5, "default")
    assert "standard" in report["threshold_meaning"]
    assert report["confusion"]["fake"] == {"real": 3, "fake": 0}


def test_evaluate_with_threshold_overrides_and_says_so(cli, project, dataset):
    fixed_model(project / "models" / MODEL, **CHOSEN)
    result = cli("evaluate", "--threshold", "0.45", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["threshold"], report["threshold_source"]) == (0.45, "command_line")
    assert "set with --threshold (the model's own is 0.3)" in report["threshold_meaning"]
    assert report["confusion"]["real"] == {"real": 3, "fake": 0}


def test_the_wizards_evaluation_uses_the_models_threshold(project, dataset):
    from deepfake_coach.io.output import Output
    from deepfake_coach.io.progress import NO_PROGRESS
    from deepfake_coach.project import Project
    from deepfake_coach.wizard.steps import evaluation

    fixed_model(project / "models" / MODEL, **CHOSEN)
    out = io.StringIO()
    opened = Project.open(project)
    opened.config.data.dir = dataset
    wizard = SimpleNamespace(output=Output(Console(file=out, width=300), Console(file=out, width=300)), progress=NO_PROGRESS, project=opened)
    evaluation(wizard)
    assert "Threshold 0.3: a picture is called fake" in out.getvalue()
    assert "caught 3 (100.0%)" in out.getvalue()


# --- bad thresholds through the CLI -------------------------------------------------------------


@pytest.mark.parametrize("value", [1.5, float("nan"), "abc"])
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_bad_stored_threshold_fails_plainly(cli, project, dataset, value, command):
    fixed_model(project / "models" / MODEL, threshold=value)
    result = cli(*(["predict", "face.jpg"] if command == "predict" else ["evaluate"]))
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "stores a decision threshold of" in result.stderr and "not a probability between 0 and 1" in result.stderr


# --- the service and dfcoach deploy -------------------------------------------------------------


def deployed(folder: Path, **stored) -> Path:
    fixed_model(folder / "models" / MODEL, **stored)
    env = folder / ".env"
    env.write_text(f"MODEL_TYPE=custom\nMODEL_PATH=./models/{MODEL}\nCUSTOM_MODEL_TYPE=custom_cnn\n")
    return env


def test_the_service_answers_with_the_stored_threshold_and_judges_by_it(project):
    env = deployed(project, **CHOSEN)
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
            health = client.get("/health").json()
            answer = client.post("/inference/analyze-frame", files={"image": ("face.jpg", image_bytes(1), "image/jpeg")})
    assert (health["threshold"], health["threshold_source"]) == (0.3, "validation")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["threshold"] == 0.3 and body["label"] == "fake"
    assert body["fake_probability"] == pytest.approx(PROBABILITY, abs=1e-5)
    assert body["confidence"] == pytest.approx(PROBABILITY, abs=1e-5)  # sure of "fake" as far as its probability goes


def test_the_service_with_a_bad_stored_threshold_says_why(project):
    env = deployed(project, threshold=1.5)
    with BackgroundServer(create_app(ServeSettings.from_env_file(env, environ={}))) as server:
        with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as client:
            health = client.get("/health")
    assert health.status_code == 503
    assert "threshold of 1.5" in health.json()["problem"]


def test_deploy_check_judges_with_the_stored_threshold(cli, project):
    fixed_model(project / "models" / MODEL, **CHOSEN)
    result = cli("deploy", "--check")
    assert result.exit_code == 0, result.output
    assert "judged a test picture (fake, at its threshold 0.3)" in result.stdout
    assert "a test picture was judged fake" in result.stderr
