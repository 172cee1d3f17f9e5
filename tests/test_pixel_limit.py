"""One pixel limit everywhere, in dfcoach's words: a 144-megapixel picture is used by every command,
one over the 150-megapixel limit is skipped (or refused) with its size, and a file dfcoach may not read
is "permission denied", never "damaged". Pillow's own DecompressionBombWarning must never show: the
tests turn it into an error, so it cannot hide in the captured output."""

from __future__ import annotations

import builtins
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import flat_png, make_dataset, make_faces_folder, png_header, write_model

pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")

TRAIN = ("--model", "custom_cnn", "--image-size", "64", "--batch-size", "8", "--epochs", "1")
TOO_LARGE = "too large (15,000 x 15,000 pixels: more than the 150 megapixels dfcoach reads)"
PERMISSION = "permission denied: dfcoach may not read this file (check its permissions)"


@pytest.fixture(scope="session")
def picture_144mp() -> bytes:
    """12,000 x 12,000 pixels, about 170 KB: a picture Pillow's own check warns about."""
    return flat_png(12_000, 12_000)


def pillow_words(text: str) -> bool:
    return "DecompressionBomb" in text or "decompression bomb" in text.lower()


def test_a_144_megapixel_picture_is_used_by_every_command_and_a_larger_one_skipped(cli, tmp_path, monkeypatch, picture_144mp):
    monkeypatch.chdir(tmp_path)
    mine = make_faces_folder(tmp_path / "mine", real=12, fake=12)
    (mine / "real" / "huge.png").write_bytes(picture_144mp)
    (mine / "fake" / "bomb.png").write_bytes(png_header(15_000, 15_000))  # 225 megapixels claimed by a few bytes

    organized = cli("data", "organize", mine, "--data-dir", "dataset")
    assert organized.exit_code == 0, organized.output
    assert f"fake/bomb.png: {TOO_LARGE}" in organized.stderr
    assert len(list(Path("dataset").glob("*/real/huge.png"))) == 1  # used, not skipped
    record = json.loads(Path("dataset/.dfcoach/organize.json").read_text())
    assert [entry for entry in record["skipped"] if "huge.png" in str(entry)] == []

    Path("dataset/train/fake/bomb.png").write_bytes(png_header(15_000, 15_000))
    checked = cli("data", "check")
    assert "1 picture is too large for dfcoach (over 150 megapixels)" in checked.stdout
    assert f"train/fake/bomb.png: {TOO_LARGE}" in checked.stdout
    assert "huge.png" not in checked.stdout

    # The 144-megapixel picture in every split, so training, validation and evaluation all decode it;
    # the one over the limit in the test split too
    for split in ("train", "val", "test"):
        if not Path(f"dataset/{split}/real/huge.png").exists():
            shutil.copy(next(Path("dataset").glob("*/real/huge.png")), f"dataset/{split}/real/huge.png")
    Path("dataset/test/fake/bomb.png").write_bytes(png_header(15_000, 15_000))

    trained = cli("train", *TRAIN)
    assert trained.exit_code == 0, trained.output
    assert "Skipped 1 image that could not be used" in trained.stderr
    assert f"train/fake/bomb.png: {TOO_LARGE}" in trained.stderr
    assert "huge.png" not in trained.output

    evaluated = cli("evaluate")
    assert evaluated.exit_code == 0, evaluated.output
    assert f"test/fake/bomb.png: {TOO_LARGE}" in evaluated.output
    report = json.loads(next(Path("runs").glob("*/report.json")).read_text())
    assert [item["file"] for item in report["unreadable"]] == ["test/fake/bomb.png"]

    predicted = cli("predict", "dataset/test/real/huge.png", "dataset/test/fake/bomb.png", "--json")
    assert predicted.exit_code == 0, predicted.output
    answer = json.loads(predicted.stdout)
    assert [row["file"] for row in answer["results"]] == ["dataset/test/real/huge.png"]
    assert answer["unreadable"] == [{"file": "dataset/test/fake/bomb.png", "reason": TOO_LARGE}]

    for result in (organized, checked, trained, evaluated, predicted):
        assert not pillow_words(result.output), result.output


def test_training_decodes_a_huge_picture_reduced(tmp_path, picture_144mp, monkeypatch):
    """The 144-megapixel picture is never converted or resized at full size: it is reduced as it is
    decoded, so only a small picture reaches the training preprocessing."""
    from deepfake_coach.train import data

    path = tmp_path / "huge.png"
    path.write_bytes(picture_144mp)
    sizes = []
    square = data.square_image
    monkeypatch.setattr(data, "square_image", lambda image, size: sizes.append(image.size) or square(image, size))
    pixels = data.decode_image(path, 64)
    assert pixels.shape == (64, 64, 3) and (pixels == 128).all()
    assert sizes and max(sizes[0]) < 128


def unreadable_by_dfcoach(monkeypatch, path: Path) -> None:
    """Opening `path` fails as a file without read permission does (root reads any file, so a chmod
    cannot show it when the tests run as root)."""
    real_open = builtins.open
    denied = os.path.abspath(path)

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == denied:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)


def test_a_file_dfcoach_may_not_read_is_permission_denied_not_damaged(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (12, 12), "val": (4, 4), "test": (2, 2)}, size=32)
    locked = Path("dataset/train/real/real_000.jpg")
    unreadable_by_dfcoach(monkeypatch, locked)

    checked = cli("data", "check")
    assert "1 file cannot be read: permission denied." in checked.stdout
    assert f"train/real/real_000.jpg: {PERMISSION}" in checked.stdout
    assert "chmod -R u+rX dataset" in checked.stdout

    trained = cli("train", *TRAIN)
    assert trained.exit_code == 0, trained.output
    assert f"train/real/real_000.jpg: {PERMISSION}" in trained.stderr

    predicted = cli("predict", str(locked), "--json")  # with the model just trained
    assert json.loads(predicted.stdout)["unreadable"] == [{"file": str(locked), "reason": PERMISSION}]
    for result in (checked, trained, predicted):
        assert "corrupt" not in result.output and "damaged" not in result.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may read any file, whatever its permissions")
def test_a_file_without_read_permission(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_dataset(tmp_path / "dataset", {"train": (12, 12), "val": (4, 4), "test": (2, 2)}, size=32)
    locked = Path("dataset/train/real/real_000.jpg")
    locked.chmod(0)
    try:
        checked = cli("data", "check")
        assert f"train/real/real_000.jpg: {PERMISSION}" in checked.stdout
        write_model(Path("models/best_model_custom_cnn_20260101_000000.pth"))
        predicted = cli("predict", str(locked), "--json")
        assert json.loads(predicted.stdout)["unreadable"] == [{"file": str(locked), "reason": PERMISSION}]
    finally:
        locked.chmod(0o644)
