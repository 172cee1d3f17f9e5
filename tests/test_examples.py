"""The examples in examples/ keep working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import make_faces_folder
from deepfake_coach.config import load_project_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_config_is_valid():
    config = load_project_config(EXAMPLES / "dfcoach.yaml")
    assert config.data.source == "tiny_demo"
    assert config.train.patience == 5


def test_organize_and_check_example(tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=10, fake=10)
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "organize_and_check.py"), str(src), str(tmp_path / "dataset")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["counts"]["train"] == {"real": 8, "fake": 8}
    assert "organized 20 images" in run.stderr


def test_train_and_evaluate_example(tmp_path):
    src = make_faces_folder(tmp_path / "mine", real=20, fake=20)
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_and_evaluate.py"), str(src), "--epochs", "1", "--image-size", "64"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "organized 40 images" in run.stdout and "test accuracy" in run.stdout and "ROC AUC" in run.stdout
    assert list((tmp_path / "models").glob("best_model_*.pth"))
    assert list((tmp_path / "runs").glob("*/report.json"))
