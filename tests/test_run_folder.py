"""A run's folder, runs/<name>/, through `RunFolder`: the files the training loop writes, read back
the way doctor, evaluate, the checklist and `--resume` read them."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from deepfake_coach.errors import UsageError
from deepfake_coach.train.coach import Advice, EpochMetrics
from deepfake_coach.train.run import METRICS_FIELDS, RunFolder, runs_dir


def folder_with(runs: Path, name: str, last: bool = True, **state) -> RunFolder:
    folder = RunFolder(runs / name)
    folder.path.mkdir(parents=True)
    folder.write_state(**state)
    if last:
        folder.last_file.write_bytes(b"weights")
    return folder


def epoch(n: int, val_acc: float = 0.6, auc: float | None = 0.7) -> EpochMetrics:
    return EpochMetrics(n, 0.5, 0.7, 0.6, val_acc, val_balanced_acc=val_acc, val_auc=auc, lr=1e-3, seconds=1.25)


def test_a_new_run_is_named_after_its_start_time_and_two_in_one_second_differ(tmp_path):
    first, second = RunFolder.create(tmp_path / "runs"), RunFolder.create(tmp_path / "runs")
    assert first.path.is_dir() and second.path.is_dir() and first != second
    assert len(first.name) == len("20260101_120000") and first.name.replace("_", "").isdigit()
    assert second.name.startswith(first.name[:15]) and second.path.parent == runs_dir(tmp_path)
    assert (first.state_file.name, first.log_file.name, first.metrics_file.name, first.last_file.name, first.config_file.name) == \
        ("state.json", "train.log", "metrics.csv", "last.pth", "config.yaml")


def test_state_is_added_to_and_read_back(tmp_path):
    folder = RunFolder.create(tmp_path / "runs")
    assert folder.state() is None and folder.status() == "unknown"
    folder.write_state(status="interrupted", epoch=2)
    folder.write_state(stopped_by="SIGTERM")
    assert folder.state() == {"status": "interrupted", "epoch": 2, "stopped_by": "SIGTERM"}
    assert json.loads(folder.state_file.read_text())["epoch"] == 2
    assert folder.status() == "interrupted" and RunFolder(folder.path).status() == "interrupted"  # read back from the file
    folder.state_file.write_text("[1, 2]")  # valid JSON, but no state
    assert folder.state() == {} and folder.status() == "unknown"
    folder.state_file.write_text("{half")
    assert folder.state() is None and folder.status() == "unknown"


def test_a_running_run_whose_process_is_gone_is_cut_off(tmp_path):
    host = socket.gethostname()
    alive = folder_with(tmp_path / "runs", "a", status="running", pid=os.getpid(), host=host)
    assert alive.status() == "running"
    gone = folder_with(tmp_path / "runs", "b", status="running", pid=2**22 + 12345, host=host)
    assert gone.status() == "cut_off"
    elsewhere = folder_with(tmp_path / "runs", "c", status="running", pid=2**22 + 12345, host=host + "-other")
    assert elsewhere.status() == "running"  # another computer's process cannot be looked at


def test_a_process_that_is_not_the_leader_writes_nothing(tmp_path):
    folder = RunFolder(RunFolder.create(tmp_path / "runs").path, writes=False)
    folder.write_state(status="running")
    folder.log("started")
    folder.add_metrics(epoch(1))
    assert list(folder.path.iterdir()) == []


def test_latest_and_find(tmp_path):
    runs = tmp_path / "runs"
    assert RunFolder.latest(runs) is None
    folder_with(runs, "20260101_100000", status="interrupted")
    folder_with(runs, "20260101_110000", status="finished")
    (runs / "20260101_120000").mkdir()  # no state recorded: not a run yet
    assert RunFolder.latest(runs).name == "20260101_110000" and RunFolder.latest(runs).path == runs / "20260101_110000"
    assert [f.name for f in RunFolder.all(runs)] == ["20260101_100000", "20260101_110000"]

    assert RunFolder.find(runs, "last").name == "20260101_100000"  # the newest unfinished one
    assert RunFolder.find(runs, "20260101_100000").path == runs / "20260101_100000"
    assert RunFolder.find(runs, str(runs / "20260101_100000")).name == "20260101_100000"
    with pytest.raises(UsageError, match="already finished"):
        RunFolder.find(runs, "20260101_110000")
    with pytest.raises(UsageError, match="no run called nope"):
        RunFolder.find(runs, "nope")
    RunFolder(runs / "20260101_100000").write_state(status="finished")
    with pytest.raises(UsageError, match="no unfinished run"):
        RunFolder.find(runs, "last")


def test_the_run_that_saved_a_model(tmp_path):
    runs = tmp_path / "runs"
    folder_with(runs, "20260101_100000", status="finished", best_path="models/best_model_custom_cnn_20260101_100000.pth")
    bad = runs / "20260101_110000"
    bad.mkdir()
    (bad / "state.json").write_text("not json")
    found = RunFolder.that_saved(tmp_path / "models" / "best_model_custom_cnn_20260101_100000.pth", tmp_path)
    assert found is not None and found.name == "20260101_100000"
    assert RunFolder.that_saved(tmp_path / "other.pth", tmp_path) is None
    assert found.best_model_path(Path("models"), "meso4") == Path("models/best_model_meso4_20260101_100000.pth")


def test_metrics_round_trip_and_rewrite(tmp_path):
    folder = RunFolder.create(tmp_path / "runs")
    folder.add_metrics(epoch(1, 0.612345678))
    folder.add_metrics(epoch(2, 0.7, auc=None))
    lines = folder.metrics_file.read_text().splitlines()
    assert lines[0].split(",") == METRICS_FIELDS and len(lines) == 3
    rows = folder.metrics()
    assert [row["epoch"] for row in rows] == [1, 2] and rows[0]["val_acc"] == 0.612346  # rounded to 6 places
    assert rows[1]["val_auc"] is None and rows[0]["seconds"] == 1.25 and list(rows[0]) == METRICS_FIELDS
    folder.add_metrics(epoch(3))  # an epoch last.pth did not keep
    folder.rewrite_metrics([epoch(1), epoch(2)])
    assert [row["epoch"] for row in folder.metrics()] == [1, 2]


def test_an_older_runs_metrics_columns_are_kept(tmp_path):
    folder = RunFolder.create(tmp_path / "runs")
    folder.metrics_file.write_text("epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n")
    folder.add_metrics(epoch(1))
    assert folder.metrics()[0] == {"epoch": 1, "train_loss": 0.5, "train_acc": 0.7, "val_loss": 0.6, "val_acc": 0.6, "lr": 0.001, "seconds": 1.25}


def test_what_the_log_says_is_read_back(tmp_path):
    folder = RunFolder.create(tmp_path / "runs")
    assert folder.log_summary().epochs == 0 and folder.log_summary().last_epoch is None
    folder.record_start(resumed=False, model="custom_cnn", size=32, on="cpu", train_images=24, val_images=8, batch_size=4,
                        skipped=[("train/real/x.jpg", "not an image")], best_path=Path("models/best.pth"))
    state = folder.state()
    assert state["status"] == "running" and state["model"] == "custom_cnn" and state["pid"] == os.getpid()
    folder.record_epoch(epoch(1), saved=Path("models/best.pth"))
    folder.record_advice(Advice("overfitting", "Overfitting: training accuracy runs ahead."))
    folder.record_epoch(epoch(2), saved=None)
    folder.record_advice(Advice("stuck_at_chance", "Stuck at chance."))
    folder.log("The GPU ran out of memory with batches of 32 images.")
    summary = folder.log_summary()
    assert summary.epochs == 2 and summary.advice == ("overfitting", "stuck_at_chance") and summary.out_of_memory
    assert summary.last_epoch == "epoch 2: train loss 0.5000 acc 70.00%, val loss 0.6000 acc 60.00%"
    text = folder.log_file.read_text()
    assert "started: custom_cnn, 32 px, cpu, 24 train / 8 val images, batch 4" in text and "skipped train/real/x.jpg: not an image" in text
    assert "coach: overfitting: Overfitting" in text and ", saved models/best.pth" in text


def test_a_stopped_run_is_recorded_and_says_what_it_kept(tmp_path):
    folder = RunFolder.create(tmp_path / "runs")
    folder.record_interrupted("the person", "ctrl-c", epoch=3, epochs_done=2)
    assert folder.state() == {"status": "interrupted", "epoch": 2, "stopped_by": "ctrl-c"}
    assert "interrupted by the person during epoch 3" in folder.log_file.read_text()
    assert folder.stopped_message(3, 2) == (f"Stopped during epoch 3. Epochs 1-2 are saved in {folder.path}/last.pth; "
                                            f"the curves so far are in {folder.path}/curves.png.")
    assert folder.stopped_message(1, 1).startswith("Stopped. Epoch 1 is saved in")
    assert folder.stopped_message(1, 0) == "Stopped during epoch 1, before any epoch finished: there is nothing to keep yet."


def test_failed_and_finished_runs(tmp_path):
    failed = RunFolder.create(tmp_path / "runs")
    failed.record_failed("RuntimeError: boom")
    assert failed.status() == "failed" and failed.state()["error"] == "RuntimeError: boom"
    finished = RunFolder.create(tmp_path / "runs")
    finished.record_finished(epoch(2, 0.8), epochs_done=3)
    assert finished.state() == {"status": "finished", "epoch": 3, "best_epoch": 2, "best_val_acc": 0.8, "best_val_balanced_acc": 0.8}
    assert "finished: best val acc 80.00% at epoch 2" in finished.log_file.read_text()
