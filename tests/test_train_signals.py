"""A run stopped by its terminal closing or by `kill` is recorded as stopped, and `doctor` tells a
run that is training from one whose process is gone (real processes, real signals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import make_dataset

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def start_training(project):
    make_dataset(project / "dataset", {"train": (12, 12), "val": (4, 4), "test": (2, 2)}, size=32)
    env = {**os.environ, "NO_COLOR": "1", "DFCOACH_PROGRESS": "plain"}
    return subprocess.Popen([sys.executable, "-m", "deepfake_coach", "train", "--model", "custom_cnn", "--image-size", "32",
                             "--epochs", "500", "--patience", "500"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_an_epoch(project, process) -> None:
    deadline = time.monotonic() + 300  # a guard against a hang, not a measure of speed
    while time.monotonic() < deadline:
        logs = list((project / "runs").glob("*/train.log"))
        if logs and "epoch 1: train loss" in logs[0].read_text():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.kill()
    pytest.fail("training did not finish an epoch")


def only_run(project):
    (run,) = list((project / "runs").iterdir())
    return run


# "... Stopped during epoch N.", or "... Stopped." when the signal comes between two epochs
@pytest.mark.parametrize("number, why, doctor_says", [
    (signal.SIGTERM, "A stop signal (SIGTERM) arrived. Stopped", "was stopped by a stop signal (SIGTERM)"),
    (signal.SIGHUP, "The terminal was closed. Stopped", "was stopped when its terminal was closed"),
])
def test_a_stop_signal_saves_the_run_as_stopped(cli, tmp_path, monkeypatch, number, why, doctor_says):
    process = start_training(tmp_path)
    wait_for_an_epoch(tmp_path, process)
    process.send_signal(number)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    run = only_run(tmp_path)
    assert f"are saved in runs/{run.name}/last.pth" in stderr or f"is saved in runs/{run.name}/last.pth" in stderr
    assert why in stderr and "Traceback" not in stderr
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "interrupted" and state["stopped_by"] == signal.Signals(number).name
    monkeypatch.chdir(tmp_path)
    result = cli("doctor")
    assert doctor_says in result.stdout and f"dfcoach train --resume {run.name}" in result.stdout


def test_a_killed_run_is_cut_off_not_training_and_resumes(cli, tmp_path, monkeypatch):
    process = start_training(tmp_path)
    wait_for_an_epoch(tmp_path, process)
    process.kill()  # SIGKILL: nothing can be saved at that moment; state.json still says running
    process.communicate(timeout=60)
    run = only_run(tmp_path)
    assert json.loads((run / "state.json").read_text())["status"] == "running"
    monkeypatch.chdir(tmp_path)
    result = cli("doctor")
    assert f"The run {run.name} was cut off" in result.stdout and "training now" not in result.stdout
    assert f"dfcoach train --resume {run.name}" in result.stdout
    from deepfake_coach.train.run import RunFolder

    assert RunFolder.find(tmp_path / "runs", "last").path == run  # what `dfcoach train --resume last` continues
