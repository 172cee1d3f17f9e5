"""`python -m deepfake_coach ...` for the training processes that tests/test_distributed.py starts
with torchrun, plus what a test asks for through these environment variables:

  DFCOACH_TEST_RECORD=DIR              each process appends to DIR/rank-<RANK>.jsonl, for each
                                       training batch, the epoch and the rows of the training
                                       images it read
  DFCOACH_TEST_STOP_AT_EPOCH=N         Ctrl-C (KeyboardInterrupt) in every process as epoch N begins
  DFCOACH_TEST_SLOW_STOP=SECONDS       the first process takes that long more to stop (while the
                                       others have ended, and torchrun sends it SIGTERM)
  DFCOACH_TEST_MEMORY=IMAGES:RANK      process RANK runs out of memory (CUDA's error) on more than
                                       IMAGES images at once, in any forward pass of the training model
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from deepfake_coach.train import data, loop
from deepfake_coach.train.run import RunFolder

RANK = int(os.environ.get("RANK", "0"))


def record_rows(folder: Path) -> None:
    epoch_now = {"epoch": None}
    real_batches, real_read = loop.training_batches, data.read_images

    def training_batches(split, batch_size, seed, epoch, *args, **kwargs):
        epoch_now["epoch"] = epoch
        yield from real_batches(split, batch_size, seed, epoch, *args, **kwargs)

    def read_images(images, chosen):
        if epoch_now["epoch"] is not None and os.path.basename(str(getattr(images, "filename", ""))).startswith("train-"):
            with open(folder / f"rank-{RANK}.jsonl", "a") as handle:
                handle.write(json.dumps({"epoch": epoch_now["epoch"], "rows": [int(i) for i in chosen]}) + "\n")
        return real_read(images, chosen)

    loop.training_batches, data.read_images = training_batches, read_images


def stop_at_epoch(stop: int) -> None:
    real = loop.train_one_epoch

    def train_one_epoch(*args, **kwargs):
        if args[8] == stop:  # (model, spec, data, batch_size, optimizer, criterion, device, seed, epoch, ...)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    loop.train_one_epoch = train_one_epoch


def slow_stop(seconds: float) -> None:
    real = RunFolder.stopped_message

    def stopped_message(*args):
        if RANK == 0:
            time.sleep(seconds)
        return real(*args)

    RunFolder.stopped_message = stopped_message


def memory_of(images: int, rank: int) -> None:
    real = loop.build_model

    def build_model(*args, **kwargs):
        model = real(*args, **kwargs)

        def check(module, inputs):
            if RANK == rank and module.training and inputs[0].shape[0] > images:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        model.register_forward_pre_hook(check)
        return model

    loop.build_model = build_model


if os.environ.get("DFCOACH_TEST_RECORD"):
    record_rows(Path(os.environ["DFCOACH_TEST_RECORD"]))
if os.environ.get("DFCOACH_TEST_STOP_AT_EPOCH"):
    stop_at_epoch(int(os.environ["DFCOACH_TEST_STOP_AT_EPOCH"]))
if os.environ.get("DFCOACH_TEST_SLOW_STOP"):
    slow_stop(float(os.environ["DFCOACH_TEST_SLOW_STOP"]))
if os.environ.get("DFCOACH_TEST_MEMORY"):
    memory_of(*(int(part) for part in os.environ["DFCOACH_TEST_MEMORY"].split(":")))

if __name__ == "__main__":
    from deepfake_coach.cli import main

    main()
