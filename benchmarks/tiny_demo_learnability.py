"""Does the offline demo dataset teach? Trains the reference small CNN on it.

    python benchmarks/tiny_demo_learnability.py [--seed 0] [--images-per-class 500] [--epochs 5]

The demo is calibrated for a first lesson: a small CNN should NOT be perfect
after one epoch (then there is nothing to watch), and SHOULD pass 85% validation
accuracy within five epochs (then the beginner sees it work). This script
generates the dataset into a temporary folder, trains the reference CNN on the
train split on the CPU, and prints, per epoch: train loss, train accuracy,
validation accuracy and seconds, then validation accuracy per artifact kind and
whether the calibration criteria held.

Reference CNN: 128x128 input normalized with ImageNet mean/std; four blocks of
conv3x3 -> BatchNorm -> ReLU -> MaxPool2d(2) with 32, 64, 128, 128 channels;
AdaptiveAvgPool2d(1), Dropout(0.3), Linear(128, 2). CrossEntropyLoss, Adam
lr 1e-3, batch size 16, random horizontal flip only, torch.manual_seed(0),
torch.set_num_threads(2).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from deepfake_coach.data.sources import tiny_demo  # noqa: E402

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASS_INDEX = {"real": 0, "fake": 1}
BATCH_SIZE = 16
EPOCH_ONE_CEILING = 1.0  # epoch-1 val accuracy must stay below this
TARGET_ACCURACY = 0.85  # ... and reach this within the epochs run (at most 5)


def small_cnn() -> nn.Module:
    layers: list[nn.Module] = []
    channels_in = 3
    for channels_out in (32, 64, 128, 128):
        layers += [nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2)]
        channels_in = channels_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, 2))


def load_split(root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of a split in memory: uint8 NCHW, labels, artifact kinds (from the manifest)."""
    with open(root / tiny_demo.MANIFEST_NAME, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == split]
    images = np.stack([np.asarray(Image.open(root / row["file"]).convert("RGB")) for row in rows])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([CLASS_INDEX[row["label"]] for row in rows])
    return x, y, [row["artifact"] for row in rows]


def normalize(batch: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch.float() / 255.0 - mean) / std


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(x))
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), BATCH_SIZE):
        index = order[start:start + BATCH_SIZE]
        batch = normalize(x[index])
        flip = torch.rand(len(index)) < 0.5  # the only augmentation
        batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)
        logits = model(batch)
        loss = loss_fn(logits, y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(index)
        correct += (logits.argmax(1) == y[index]).sum().item()
    return total_loss / len(x), correct / len(x)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model(normalize(x[start:start + 100])).argmax(1) for start in range(0, len(x), 100)])


def per_artifact_accuracy(predictions: torch.Tensor, y: torch.Tensor, artifacts: list[str]) -> dict[str, float]:
    hits = (predictions == y).numpy()
    kinds = np.array(artifacts)
    return {kind: float(hits[kinds == kind].mean()) for kind in ("none", *tiny_demo.ARTIFACT_KINDS) if (kinds == kind).any()}


def run(root: Path, epochs: int) -> list[float]:
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x_train, y_train, _ = load_split(root, "train")
    x_val, y_val, val_artifacts = load_split(root, "val")
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    print(f"train {len(x_train)} images, val {len(x_val)} images")
    print(f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'val acc':>7} {'seconds':>7}   val acc per artifact")
    accuracies = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        loss, train_acc = train_epoch(model, optimizer, x_train, y_train)
        seconds = time.perf_counter() - started
        predictions = predict(model, x_val)
        val_acc = float((predictions == y_val).float().mean())
        accuracies.append(val_acc)
        kinds = "  ".join(f"{kind} {acc:.0%}" for kind, acc in per_artifact_accuracy(predictions, y_val, val_artifacts).items())
        print(f"{epoch:>5} {loss:>10.4f} {train_acc:>9.1%} {val_acc:>7.1%} {seconds:>7.1f}   {kinds}", flush=True)
    return accuracies


def verdict(accuracies: list[float]) -> tuple[bool, str]:
    first = accuracies[0]
    window = accuracies[:5]
    reached = next((epoch for epoch, acc in enumerate(window, 1) if acc >= TARGET_ACCURACY), None)
    not_trivial = first < EPOCH_ONE_CEILING
    ok = not_trivial and reached is not None
    parts = [f"epoch 1 val acc {first:.1%} ({'below' if not_trivial else 'NOT below'} 100%)"]
    parts.append(f"reached {TARGET_ACCURACY:.0%} at epoch {reached}" if reached else
                 f"did NOT reach {TARGET_ACCURACY:.0%} within {len(window)} epochs (best {max(window):.1%})")
    return ok, "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--images-per-class", type=int, default=tiny_demo.DEFAULT_IMAGES_PER_CLASS)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None, help="use this generated dataset instead of making one")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tiny_demo_learn_") as tmp:
        root = args.data
        if root is None:
            root = Path(tmp) / "dataset"
            started = time.perf_counter()
            tiny_demo.generate(root, images_per_class=args.images_per_class, seed=args.seed)
            print(f"generated {2 * args.images_per_class} images (seed {args.seed}) in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        accuracies = run(root, args.epochs)
    ok, summary = verdict(accuracies)
    print(f"total training time {time.perf_counter() - started:.0f} s")
    print(f"calibration {'HELD' if ok else 'FAILED'}: {summary}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
