"""`dfcoach train` on a real NVIDIA GPU: skipped where there is none (CI, most laptops).

The out-of-memory test makes the GPU really run out: it measures what one training step takes
at a small batch, then caps this process's share of the GPU's memory below what the asked-for
batch needs, so PyTorch's allocator raises a genuine `torch.cuda.OutOfMemoryError` inside
`dfcoach train`, which must recover by halving the batch size.
"""

from __future__ import annotations

import csv
import json

import pytest
import torch
from torch import nn

from conftest import make_dataset
from deepfake_coach.train.loop import train_step
from deepfake_coach.train.models import build_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")

MODEL, SIZE = "resnet18", 224


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (40, 40), "val": (8, 8), "test": (2, 2)}, size=64)
    return tmp_path


@pytest.fixture
def memory_cap():
    """Sets a cap on this process's GPU memory (in bytes); lifted after the test."""
    total = torch.cuda.get_device_properties(0).total_memory

    def cap(limit: int) -> None:
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), 0)

    yield cap
    torch.cuda.set_per_process_memory_fraction(1.0, 0)
    torch.cuda.empty_cache()


def step_memory(batch_size: int) -> int:
    """Peak GPU memory of one mixed-precision training step of MODEL at SIZE px."""
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = build_model(MODEL).cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters())
    x = torch.randn(batch_size, 3, SIZE, SIZE, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.zeros(batch_size, dtype=torch.long, device="cuda")
    train_step(model, x, y, optimizer, nn.CrossEntropyLoss(), torch.amp.GradScaler("cuda"))
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model, optimizer, x, y
    torch.cuda.empty_cache()
    return peak


def test_training_on_the_gpu_uses_it(cli, project):
    result = cli("train", "--model", "custom_cnn", "--image-size", "32", "--epochs", "2", "--batch-size", "16")
    assert result.exit_code == 0, result.output
    (run,) = (project / "runs").iterdir()
    assert "cuda" in (run / "train.log").read_text()
    assert json.loads((run / "state.json").read_text())["status"] == "finished"


def test_a_real_out_of_memory_error_halves_the_batch_and_the_run_finishes(cli, project, memory_cap):
    per_image = (step_memory(64) - step_memory(32)) / 32  # what each image of a batch adds
    weights = sum(p.numel() * p.element_size() for p in build_model(MODEL).parameters())
    # Room for a step at batch 16 with a margin, plus the copy of the weights and optimizer state the
    # loop keeps to redo an epoch; batches of 64 (and 32) need more than that.
    memory_cap(int(step_memory(8) + 3 * weights + 12 * per_image))

    result = cli("train", "--model", MODEL, "--image-size", str(SIZE), "--epochs", "1", "--batch-size", "64")

    assert result.exit_code == 0, result.output
    assert "ran out of memory with batches of 64" in result.stderr and "--batch-size 32" in result.stderr
    (run,) = (project / "runs").iterdir()
    log = (run / "train.log").read_text()
    assert "The GPU ran out of memory with batches of 64" in log
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [r["epoch"] for r in rows] == ["1"]
    assert json.loads((run / "state.json").read_text())["status"] == "finished"
