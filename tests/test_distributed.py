"""Training on two processes (gloo on the CPU), through the CLI, with real processes: the
`torchrun ... train` form (its processes run tests/distributed_entry.py, which records what each
read or injects a fault) and `dfcoach train --devices 2`, which starts torchrun itself.

Two processes must train the very model one process trains (to float rounding: the gradients are
summed in another order). 24 training images in batches of 23 make a last batch of 1, which leaves
one process with nothing: the uneven case is in every run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import make_dataset
from deepfake_coach.train import loop
from deepfake_coach.train.checkpoint import load_checkpoint, model_from_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun's processes and POSIX signals")

ENTRY = Path(__file__).with_name("distributed_entry.py")
ARGS = ("--model", "custom_cnn", "--image-size", "32", "--batch-size", "23")
GUARD = 600  # seconds: a guard against a hang, not a measure of speed


def new_project(root: Path) -> Path:
    make_dataset(root / "dataset", {"train": (12, 12), "val": (4, 4), "test": (2, 2)}, size=32)
    return root


def environment(**extra: str) -> dict:
    return {**os.environ, "NO_COLOR": "1", "COLUMNS": "2000", **extra}


def torchrun(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(ENTRY),
               "--progress", "plain", "train", *ARGS, *args]
    return subprocess.run(command, cwd=project, env=environment(**env), capture_output=True, text=True, timeout=GUARD)


def dfcoach_devices(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "deepfake_coach", "--progress", "plain", "train", "--devices", "2", *ARGS, *args]


def one_process(cli, project: Path, monkeypatch, *args: str):
    """The same run in one process (this one), for comparison."""
    monkeypatch.chdir(project)
    result = cli("train", *ARGS, *args)
    assert result.exit_code == 0, result.output
    return result


def only_run(project: Path) -> Path:
    (run,) = list((project / "runs").iterdir())
    return run


def weights(path: Path) -> dict:
    return load_checkpoint(path)["state_dict"]


def assert_same_model(a: Path, b: Path) -> None:
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()  # no DDP "module." prefix, no layer renamed
    for name in first:
        torch.testing.assert_close(second[name].double(), first[name].double(), atol=1e-5, rtol=0, msg=name)


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as handle:
        return list(csv.DictReader(handle))


def assert_same_figures(a: Path, b: Path) -> None:
    first, second = metrics(a), metrics(b)
    assert [r["epoch"] for r in first] == [r["epoch"] for r in second]
    for x, y in zip(first, second):
        for column in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert abs(float(x[column]) - float(y[column])) <= 1e-5, (column, x, y)


def best_model(project: Path) -> Path:
    (path,) = list((project / "models").glob("best_model_custom_cnn_*.pth"))
    return path


def test_two_processes_share_each_batch_and_train_the_model_one_process_trains(cli, tmp_path, monkeypatch):
    two, one, record = new_project(tmp_path / "two"), new_project(tmp_path / "one"), tmp_path / "record"
    record.mkdir()
    result = torchrun(two, "--epochs", "2", DFCOACH_TEST_RECORD=str(record))
    assert result.returncode == 0, result.stderr[-3000:]

    # Each process read its own share of every batch: disjoint, and together every picture once an epoch.
    seen = {rank: [json.loads(line) for line in open(record / f"rank-{rank}.jsonl")] for rank in (0, 1)}
    for epoch in (1, 2):
        rows = {rank: [r for b in seen[rank] if b["epoch"] == epoch for r in b["rows"]] for rank in (0, 1)}
        assert rows[0] and rows[1] and not set(rows[0]) & set(rows[1])
        assert sorted(rows[0] + rows[1]) == list(range(24))
        assert [len(b["rows"]) for b in seen[1] if b["epoch"] == epoch] == [11, 0]  # 23 = 12 + 11, then 1 = 1 + 0

    # Only the first process wrote the run's files and spoke.
    run = only_run(two)
    assert json.loads((run / "state.json").read_text())["status"] == "finished"
    assert result.stderr.count("Epoch 1/2: train loss") == 1 and result.stdout.count("Training finished") == 1
    assert "on 2 processes sharing the CPU" in result.stderr and "Traceback" not in result.stderr
    assert model_from_checkpoint(load_checkpoint(best_model(two)))  # the plain model's checkpoint, as from one process

    one_process(cli, one, monkeypatch, "--epochs", "2")
    assert_same_model(best_model(one), best_model(two))
    assert_same_model(only_run(one) / "last.pth", run / "last.pth")
    assert_same_figures(only_run(one), run)


def test_a_run_stopped_after_an_epoch_resumes_exactly_with_dfcoach_train_devices(cli, tmp_path, monkeypatch):
    two, one = new_project(tmp_path / "two"), new_project(tmp_path / "one")
    # The other process ends first, and torchrun sends SIGTERM to this one while it saves: it must finish.
    stopped = torchrun(two, "--epochs", "3", DFCOACH_TEST_STOP_AT_EPOCH="2", DFCOACH_TEST_SLOW_STOP="3")
    assert stopped.returncode != 0  # the torchrun command reports its processes' exit (130) in its own way
    run = only_run(two)
    assert json.loads((run / "state.json").read_text())["status"] == "interrupted"
    assert stopped.stderr.count(f"Continue where it stopped with: dfcoach train --devices 2 --resume {run.name}") == 1

    resumed = subprocess.run(dfcoach_devices(two, "--resume", "last"), cwd=two, env=environment(), capture_output=True, text=True, timeout=GUARD)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("Resuming custom_cnn") == 1 and "Epoch 1/3: train loss" not in resumed.stderr
    assert resumed.stderr.count("Epoch 3/3: train loss") == 1 and resumed.stdout.count("Training finished") == 1
    assert json.loads((run / "state.json").read_text())["status"] == "finished"
    assert [r["epoch"] for r in metrics(run)] == ["1", "2", "3"]

    one_process(cli, one, monkeypatch, "--epochs", "3")  # uninterrupted
    assert_same_model(only_run(one) / "last.pth", run / "last.pth")
    assert_same_model(best_model(one), best_model(two))
    assert_same_figures(only_run(one), run)


def test_out_of_memory_on_one_process_halves_the_batch_on_both(cli, tmp_path, monkeypatch):
    two, one = new_project(tmp_path / "two"), new_project(tmp_path / "one")
    result = torchrun(two, "--epochs", "2", DFCOACH_TEST_MEMORY="6:1")  # process 1: at most 6 images at a time
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("ran out of memory with batches of 23") == 1 and "batches of 11" in result.stderr
    assert load_checkpoint(only_run(two) / "last.pth")["batch_size"] == 11  # shares of 6 and 5

    real_step = loop.train_step

    def small_memory(model, x, *args):  # one process, out of memory on the same batch
        if x.shape[0] > 12:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(model, x, *args)

    monkeypatch.setattr(loop, "train_step", small_memory)
    one_process(cli, one, monkeypatch, "--epochs", "2")
    assert_same_model(only_run(one) / "last.pth", only_run(two) / "last.pth")


def processes_in(folder: Path) -> list[int]:
    """The processes working in `folder` (the launcher and its training processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == folder:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finds the processes through /proc")
def test_ctrl_c_stops_both_processes_cleanly(tmp_path):
    project = new_project(tmp_path.resolve())
    process = subprocess.Popen(dfcoach_devices(project, "--epochs", "500", "--patience", "500"), cwd=project, env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + GUARD
    while not any("epoch 1: train loss" in log.read_text() for log in project.glob("runs/*/train.log")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "training did not finish an epoch"
        time.sleep(0.2)
    assert len(processes_in(project)) == 3  # the launcher (torchrun inside it) and two training processes
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    _, stderr = process.communicate(timeout=GUARD)
    assert process.returncode == 130, stderr[-3000:]
    run = only_run(project)
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "interrupted" and state["stopped_by"] == "ctrl-c"
    assert stderr.count(f"Continue where it stopped with: dfcoach train --devices 2 --resume {run.name}") == 1  # said once
    assert "Traceback" not in stderr and "Error" not in stderr
    assert processes_in(project) == []  # none left behind


def test_devices_are_explained_and_checked(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "processes sharing the CPU" in cli("train", "--help").stdout
    result = cli("train", "--devices", "2", "--find-lr")
    assert result.exit_code == 2 and "cannot be combined with --devices" in result.stderr
    result = cli("train", "--devices", "2", env={"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"})
    assert result.exit_code == 2 and "under torchrun, leave it out" in result.stderr


@pytest.mark.parametrize("name", ["custom_cnn", "efficientnet_lite0"])
def test_whole_batch_layers_compute_what_the_models_own_layers_compute(name):
    """The layers put in for several processes (BatchNorm over the whole batch, timm's BatchNorm with
    its activation included; dropout drawn for the whole batch) keep the model's arithmetic and its
    weights' names: within one process they compute exactly what the model's own layers compute."""
    import copy

    from deepfake_coach.train.distributed import SharedBatchNorm, World, WholeBatchDropout
    from deepfake_coach.train.models import build_model

    torch.manual_seed(0)
    plain = build_model(name)
    shared = World(rank=0, size=2).prepare(copy.deepcopy(plain))
    assert any(isinstance(m, SharedBatchNorm) for m in shared.modules())
    assert name != "custom_cnn" or any(isinstance(m, WholeBatchDropout) for m in shared.modules())
    assert list(shared.state_dict()) == list(plain.state_dict())
    x = torch.randn(4, 3, 64, 64)
    for training in (True, False):
        plain.train(training), shared.train(training)
        torch.manual_seed(1)
        expected = plain(x)
        torch.manual_seed(1)
        torch.testing.assert_close(shared(x), expected, rtol=0, atol=0)
