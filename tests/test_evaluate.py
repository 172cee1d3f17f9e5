"""`dfcoach evaluate` through the CLI, on small datasets and real checkpoints the tests write."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

from conftest import make_dataset, write_model
from deepfake_coach.inference import Detector

COUNTS = {"train": (4, 4), "val": (2, 2), "test": (6, 6)}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", COUNTS, size=40)
    return tmp_path


def images_of_test_split(project: Path) -> list[tuple[Path, int]]:
    return [(path, int(label == "fake")) for label in ("real", "fake")
            for path in sorted((project / "dataset" / "test" / label).glob("*.jpg"))]


def judge(model: Path, files: list[Path]) -> list[float]:
    verdicts, unreadable = Detector.load(model).judge_files(files)
    assert not unreadable
    return [verdict.fake_probability for _, verdict in verdicts]


def fake_run(project: Path, model: Path) -> Path:
    """A run folder as `dfcoach train` leaves it, naming `model` as its best."""
    run = project / "runs" / "20260101_120000"
    run.mkdir(parents=True)
    (run / "state.json").write_text(json.dumps({"status": "finished", "best_path": str(model.relative_to(project))}))
    return run


def test_evaluate_reports_sklearn_metrics_and_writes_pictures_into_the_models_run(cli, project):
    model = write_model(project / "models" / "best_model_custom_cnn_20260101_120000.pth", seed=3)
    run = fake_run(project, model)
    result = cli("evaluate")  # the newest model, by default
    assert result.exit_code == 0, result.output
    report = json.loads((run / "report.json").read_text())

    files = images_of_test_split(project)
    truth = [label for _, label in files]
    probabilities = judge(model, [path for path, _ in files])
    called = [int(p >= 0.5) for p in probabilities]
    assert report["metrics"]["accuracy"] == pytest.approx(accuracy_score(truth, called))
    assert report["metrics"]["precision"] == pytest.approx(precision_score(truth, called, zero_division=0))
    assert report["metrics"]["recall"] == pytest.approx(recall_score(truth, called, zero_division=0))
    assert report["metrics"]["f1"] == pytest.approx(f1_score(truth, called, zero_division=0))
    assert report["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(truth, probabilities), abs=1e-6)
    (tn, fp), (fn, tp) = confusion_matrix(truth, called, labels=[0, 1])
    assert report["confusion"] == {"real": {"real": tn, "fake": fp}, "fake": {"real": fn, "fake": tp}}
    assert report["counts"] == {"real": 6, "fake": 6}
    assert (report["threshold"], report["threshold_source"]) == (0.5, "default")  # a file that stores no threshold
    assert len(report["mistakes"]) == fn + fp
    assert all(m["called"] != m["label"] for m in report["mistakes"])

    for name in ("confusion.png", "roc.png", "mistakes.png"):
        with Image.open(run / name) as picture:
            assert picture.size[0] > 300, name
    assert f"Of 6 fake faces it caught {tp}" in result.stdout
    assert f"it wrongly flagged {fp} of 6 real ones as fake" in result.stdout
    assert "ROC AUC" in result.stdout and "Confusion matrix" in result.stdout
    assert str(run / "report.json").replace(str(project) + "/", "") in result.stdout


def test_threshold_changes_the_verdicts(cli, project):
    model = write_model(project / "models" / "best_model_custom_cnn_1.pth")
    low = json.loads(cli("evaluate", model, "--threshold", "0", "--json").stdout)
    high = json.loads(cli("evaluate", model, "--threshold", "1", "--json").stdout)
    assert low["confusion"]["real"]["fake"] == 6 and low["metrics"]["recall"] == 1.0  # everything called fake
    assert high["metrics"]["roc_auc"] == low["metrics"]["roc_auc"]  # AUC ignores the threshold
    assert low["threshold_source"] == high["threshold_source"] == "command_line"


def test_a_model_from_elsewhere_gets_its_own_run_folder(cli, project):
    model = write_model(project / "elsewhere" / "mine.pth")
    assert cli("evaluate", model, "--split", "val").exit_code == 0
    report = json.loads((project / "runs" / "mine" / "report.json").read_text())
    assert report["split"] == "val" and report["counts"] == {"real": 2, "fake": 2}


def test_accuracy_per_artifact_kind_from_the_demo_manifest(cli, project):
    kinds = ["gan_upsampling", "face_swap", "over_smooth"]
    rows = [(f"test/real/real_{i:03d}.jpg", "real", "test", "none") for i in range(6)]
    rows += [(f"test/fake/fake_{i:03d}.jpg", "fake", "test", kinds[i % 3]) for i in range(6)]
    rows += [("train/real/real_000.jpg", "real", "train", "none")]  # other splits do not count
    with open(project / "dataset" / "manifest.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("file", "label", "split", "artifact"), *rows])
    model = write_model(project / "models" / "best_model_custom_cnn_1.pth")
    result = cli("evaluate", "--json")
    per_kind = json.loads(result.stdout)["per_kind"]
    assert {kind: row["images"] for kind, row in per_kind.items()} == {"face_swap": 2, "gan_upsampling": 2, "over_smooth": 2, "real (no artifact)": 6}
    probabilities = judge(model, [project / "dataset" / row[0] for row in rows[6:12]])
    for kind in kinds:
        caught = sum(p >= 0.5 for p, row in zip(probabilities, rows[6:12]) if row[3] == kind)
        assert per_kind[kind]["right"] == caught
    assert "Accuracy by kind of image" in cli("evaluate").stdout


def test_video_level_accuracy_and_auc_from_videos_csv(cli, project):
    # Three frames from each of four videos: two real, two fake.
    make_dataset(project / "dataset", {"test": (6, 6)}, size=40)
    videos = {"real": ["r1", "r1", "r1", "r2", "r2", "r2"], "fake": ["f1", "f1", "f1", "f2", "f2", "f2"]}
    rows = [(f"test/{label}/{label}_{i:03d}.jpg", ids[i], i % 3) for label, ids in videos.items() for i in range(6)]
    with open(project / "dataset" / "videos.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("file", "video_id", "frame"), *rows])
    model = write_model(project / "models" / "best_model_custom_cnn_1.pth", seed=5)
    report = json.loads(cli("evaluate", "--json").stdout)

    probabilities = dict(zip((row[0] for row in rows), judge(model, [project / "dataset" / row[0] for row in rows])))
    mean = {video: sum(p for f, p in probabilities.items() if f in {r[0] for r in rows if r[1] == video}) / 3
            for video in ("r1", "r2", "f1", "f2")}
    truth = [0, 0, 1, 1]
    scores = [mean[v] for v in ("r1", "r2", "f1", "f2")]
    assert report["videos"]["videos"] == 4 and report["videos"]["frames"] == 12
    assert report["videos"]["accuracy"] == pytest.approx(accuracy_score(truth, [int(s >= 0.5) for s in scores]))
    assert report["videos"]["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert "By video" in cli("evaluate").stdout


def test_unbalanced_classes_say_why_auc_matters(cli, project):
    make_dataset(project / "dataset", {"test": (2, 6)}, size=40)
    for extra in ("real_002.jpg", "real_003.jpg", "real_004.jpg", "real_005.jpg"):
        (project / "dataset" / "test" / "real" / extra).unlink()
    write_model(project / "models" / "best_model_custom_cnn_1.pth")
    result = cli("evaluate")
    assert "The classes are unbalanced (2 real, 6 fake)" in result.stdout
    assert "always answered fake would score 75.0% accuracy" in result.stdout


def test_unreadable_test_images_are_listed_not_fatal(cli, project):
    (project / "dataset" / "test" / "fake" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    write_model(project / "models" / "best_model_custom_cnn_1.pth")
    result = cli("evaluate", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["counts"] == {"real": 6, "fake": 6}
    assert [item["file"] for item in report["unreadable"]] == ["test/fake/broken.jpg"]


@pytest.mark.parametrize("flag", ["1.5", "-0.1"])
def test_threshold_outside_0_to_1_is_refused(cli, project, flag):
    write_model(project / "models" / "best_model_custom_cnn_1.pth")
    result = cli("evaluate", "--threshold", flag)
    assert result.exit_code == 2
    assert f"--threshold {float(flag)} is outside 0 to 1" in result.stderr
    assert not (project / "runs").exists()


def test_no_model_yet_says_how_to_train_one(cli, project):
    result = cli("evaluate")
    assert result.exit_code == 1
    assert "There is no trained model in models/ yet" in result.stderr and "dfcoach train --quick" in result.stderr


def test_missing_dataset_and_empty_split_are_explained(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = write_model(tmp_path / "m.pth")
    result = cli("evaluate", model)
    assert result.exit_code == 1 and "Dataset not found: there is no folder dataset" in result.stderr
    (tmp_path / "dataset" / "test" / "real").mkdir(parents=True)
    (tmp_path / "dataset" / "test" / "fake").mkdir(parents=True)
    result = cli("evaluate", model)
    assert result.exit_code == 1 and "The test split has no real images" in result.stderr
    assert "dfcoach data check" in result.stderr
    assert cli("evaluate", model, "--split", "holdout").exit_code == 2


class RunsCode:
    """A pickle that would create a file if it were ever unpickled with code allowed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def malicious_model(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"format": "dfcoach-checkpoint", "state_dict": RunsCode(marker)}, path)
    return path


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_pickle_that_runs_code_is_refused_not_run(cli, project, command):
    marker = project / "pwned"
    model = malicious_model(project / "evil.pth", marker)
    args = ("evaluate", model) if command == "evaluate" else ("predict", "dataset/test", "--model", model)
    result = cli(*args)
    assert result.exit_code == 1
    assert "cannot be loaded safely: it contains code" in result.stderr and "Traceback" not in result.output
    assert not marker.exists()


def test_files_that_are_not_dfcoach_checkpoints(cli, project):
    import torch

    from deepfake_coach.train.models import build_model

    text = project / "notes.pth"
    text.write_text("not a model, just notes")
    result = cli("evaluate", text)
    assert result.exit_code == 1 and "not a readable model file" in result.stderr

    foreign = project / "other_tool.pth"
    torch.save(build_model("custom_cnn").state_dict(), foreign)  # plain weights, no description
    result = cli("evaluate", foreign)
    assert result.exit_code == 1 and "is not a dfcoach model file" in result.stderr
    assert "dfcoach train" in result.stderr


def test_a_perfect_model_gets_a_picture_saying_there_are_no_mistakes(tmp_path):
    from deepfake_coach.evaluation_plots import plot_mistakes

    plot_mistakes([], 40, 0.5, tmp_path / "mistakes.png")
    with Image.open(tmp_path / "mistakes.png") as picture:
        assert picture.size[0] > 100


def test_the_run_folder_is_found_from_an_absolute_or_relative_best_path(project):
    from deepfake_coach.evaluate import run_folder_for

    model = write_model(project / "models" / "best_model_custom_cnn_1.pth")
    run = project / "runs" / "20260101_000000"
    run.mkdir(parents=True)
    (run / "state.json").write_text(json.dumps({"status": "finished", "best_path": str(model)}))
    assert run_folder_for(model, project) == run
    assert run_folder_for(Path("models/best_model_custom_cnn_1.pth"), project) == run
    assert run_folder_for(project / "other.pth", project) == project / "runs" / "other"


def test_a_full_disk_while_saving_the_report_is_explained(cli, project, monkeypatch):
    import errno

    from deepfake_coach.train import run as run_folder  # which writes the report into the run's folder

    def full(path, text, mode=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run_folder, "atomic_write_text", full)
    write_model(project / "models" / "best_model_custom_cnn_1.pth")
    result = cli("evaluate")
    assert result.exit_code == 1
    assert "the disk is full" in result.stderr and "Traceback" not in result.output
