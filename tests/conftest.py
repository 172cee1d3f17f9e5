"""Shared helpers: every test makes its own images and folders in tmp_path."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from deepfake_coach.cli import app


def image_bytes(seed: int, size: int = 72, fmt: str = "JPEG") -> bytes:
    """A picture unlike any other seed's: random 8x8 blocks (distinct perceptual hashes) plus noise."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    picture = np.asarray(Image.fromarray(blocks).resize((size, size), Image.NEAREST), dtype=np.int16)
    picture = np.clip(picture + rng.integers(-8, 9, picture.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format=fmt)
    return buffer.getvalue()


def write_image(path: Path, seed: int, size: int = 72, fmt: str = "JPEG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(seed, size, fmt))
    return path


def make_faces_folder(root: Path, real: int = 20, fake: int = 20, seed_base: int = 0) -> Path:
    """A person's own folder: real/ and fake/ with distinct images."""
    for i in range(real):
        write_image(root / "real" / f"real_{i:03d}.jpg", seed_base + i)
    for i in range(fake):
        write_image(root / "fake" / f"fake_{i:03d}.jpg", seed_base + 10_000 + i)
    return root


def make_dataset(root: Path, counts: dict[str, tuple[int, int]] | None = None, size: int = 72) -> Path:
    """A dataset already in the training layout; counts maps split -> (real, fake)."""
    counts = counts or {"train": (14, 14), "val": (4, 4), "test": (2, 2)}
    seed = 0
    for split, (n_real, n_fake) in counts.items():
        for label, n in (("real", n_real), ("fake", n_fake)):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                seed += 1
                write_image(root / split / label / f"{label}_{i:03d}.jpg", seed, size)
    return root


class Cli:
    """Runs dfcoach in-process, the way a person would type it."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict | None = None):
        return self.runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(autouse=True)
def _own_folder(tmp_path_factory, monkeypatch):
    """Each test runs in an empty folder of its own: a command that writes to the current folder (a
    dataset recorded in dfcoach.yaml, say) never writes into the checkout, nor reads what another
    test left there. Tests that need their project folder elsewhere change to it themselves."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch):
    """Tests see what CI sees: no debug tracebacks, plain progress lines."""
    monkeypatch.delenv("DFCOACH_DEBUG", raising=False)
    monkeypatch.delenv("DFCOACH_PROGRESS", raising=False)
    monkeypatch.setenv("COLUMNS", "2000")  # no line wrapping inside asserted sentences


def ctrl_c_at_training_step(monkeypatch, step: int):
    """Ctrl-C (KeyboardInterrupt) in dfcoach's `step`-th training step, counting from 1. Returns a
    function that lets training run normally again, for the resume that follows."""
    from deepfake_coach.train import loop

    real_step, calls = loop.train_step, []

    def interrupt(*args):
        calls.append(1)
        if len(calls) == step:
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(loop, "train_step", interrupt)
    return lambda: monkeypatch.setattr(loop, "train_step", real_step)


def write_model(path: Path, model_name: str = "custom_cnn", image_size: int = 32, val_acc: float = 0.9, seed: int = 0,
                val_balanced_acc: float | None = None, **fields) -> Path:
    """A real dfcoach checkpoint with untrained (seeded) weights, saved the way `dfcoach train` saves one."""
    import torch

    from deepfake_coach.train.checkpoint import make_checkpoint, save_checkpoint
    from deepfake_coach.train.models import build_model

    torch.manual_seed(seed)
    model = build_model(model_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = {"val_acc": val_acc, "val_loss": 0.3} | ({"val_balanced_acc": val_balanced_acc} if val_balanced_acc is not None else {})
    save_checkpoint(path, make_checkpoint(model, model_name, image_size, metrics=metrics, epoch=3, **fields))  # fields: dataset=...
    return path


def _png(width: int, height: int, colour_type: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels but holds none: a decompression bomb's header costs nothing."""
    return _png(width, height, 2, zlib.compress(b""))


def flat_png(width: int, height: int, grey: int = 128) -> bytes:
    """A real greyscale PNG of one flat shade, of any size, made without holding its pixels: each row
    repeats the one above (PNG's "Up" filter), so 12,000 x 12,000 compresses to under 200 KB."""
    packer = zlib.compressobj(9)
    data = packer.compress(b"\x00" + bytes([grey]) * width) + packer.compress((b"\x02" + bytes(width)) * (height - 1))
    return _png(width, height, 0, data + packer.flush())
