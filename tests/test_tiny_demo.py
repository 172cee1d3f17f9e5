"""The offline demo dataset: layout, manifest, determinism, and that the artifacts are really there."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from deepfake_coach.data.sources import tiny_demo
from deepfake_coach.data.sources.tiny_demo import ARTIFACT_KINDS, DemoImage, generate, render_face

PER_CLASS = 30  # -> 21 train, 6 val, 3 test per class


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, list[DemoImage]]:
    root = tmp_path_factory.mktemp("tiny_demo") / "dataset"
    return root, generate(root, images_per_class=PER_CLASS, seed=0, workers=1)


def read_manifest(root: Path) -> list[dict[str, str]]:
    with open(root / "manifest.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def all_bytes(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_layout_and_counts_per_split_and_class(dataset):
    root, _ = dataset
    expected = {"train": 21, "val": 6, "test": 3}
    for split, count in expected.items():
        for label in ("real", "fake"):
            files = sorted((root / split / label).glob("*.jpg"))
            assert len(files) == count, (split, label)
            assert all(path.name.startswith(f"{label}_") for path in files)
    assert sorted(p.name for p in root.iterdir()) == ["manifest.csv", "test", "train", "val"]


@pytest.mark.parametrize("per_class, counts", [(10, (7, 2, 1)), (500, (350, 100, 50)), (33, (23, 7, 3))])
def test_split_counts_round_train_and_val_and_give_test_the_rest(per_class, counts):
    assert tiny_demo.split_counts(per_class) == counts


def test_manifest_matches_the_files_on_disk(dataset):
    root, images = dataset
    rows = read_manifest(root)
    with open(root / "manifest.csv", encoding="utf-8") as handle:
        assert handle.readline().strip() == "file,label,split,artifact"
    assert [DemoImage(**row) for row in rows] == images
    on_disk = {path.relative_to(root).as_posix() for path in root.rglob("*.jpg")}
    assert {row["file"] for row in rows} == on_disk
    for row in rows:
        split, label, _ = row["file"].split("/")
        assert (row["split"], row["label"]) == (split, label)
        assert row["artifact"] == "none" if label == "real" else row["artifact"] in ARTIFACT_KINDS


def test_fake_kinds_are_balanced_within_each_split(dataset):
    root, _ = dataset
    rows = read_manifest(root)
    for split in ("train", "val", "test"):
        kinds = Counter(row["artifact"] for row in rows if row["split"] == split and row["label"] == "fake")
        counts = [kinds.get(kind, 0) for kind in ARTIFACT_KINDS]
        assert max(counts) - min(counts) <= 1, (split, kinds)
        assert set(kinds) <= set(ARTIFACT_KINDS)


def test_jpegs_decode_at_the_requested_size(dataset, tmp_path):
    root, images = dataset
    for image in images:
        with Image.open(root / image.file) as decoded:
            assert decoded.format == "JPEG"
            assert decoded.size == (128, 128)
            assert decoded.mode == "RGB"
    generate(tmp_path / "small", images_per_class=10, seed=0, image_size=64, workers=1)
    with Image.open(next((tmp_path / "small" / "train" / "fake").glob("*.jpg"))) as decoded:
        assert decoded.size == (64, 64)


def test_same_seed_gives_identical_bytes_and_another_seed_differs(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / "again"
    generate(again, images_per_class=PER_CLASS, seed=0, workers=1)
    assert all_bytes(again) == all_bytes(root)

    other = tmp_path / "other"
    generate(other, images_per_class=PER_CLASS, seed=1, workers=1)
    first, second = all_bytes(root), all_bytes(other)
    assert first["manifest.csv"] == second["manifest.csv"]  # same layout...
    jpegs = [name for name in first if name.endswith(".jpg")]
    assert all(first[name] != second[name] for name in jpegs)  # ...different faces


def test_one_worker_and_two_workers_write_identical_files(tmp_path):
    generate(tmp_path / "one", images_per_class=20, seed=5, workers=1)
    generate(tmp_path / "two", images_per_class=20, seed=5, workers=2)
    assert all_bytes(tmp_path / "one") == all_bytes(tmp_path / "two")


def test_an_existing_empty_root_is_fine(tmp_path):
    root = tmp_path / "dataset"
    root.mkdir()
    assert len(generate(root, images_per_class=10, workers=1)) == 20


@pytest.mark.parametrize("per_class", [0, 5, 9])
def test_fewer_than_ten_images_per_class_is_refused(tmp_path, per_class):
    with pytest.raises(ValueError, match="at least 10"):
        generate(tmp_path / "dataset", images_per_class=per_class)
    assert not (tmp_path / "dataset").exists()


def test_progress_counts_every_image(tmp_path):
    advanced = []

    class Recorder:
        def task(self, description, total=None, unit=""):
            from contextlib import contextmanager

            @contextmanager
            def opened():
                class Task:
                    def advance(self, n=1):
                        advanced.append(n)

                    def update(self, description=None, **fields):
                        pass

                yield Task()

            assert (total, unit) == (24, "images")
            return opened()

    generate(tmp_path / "dataset", images_per_class=12, progress=Recorder(), workers=1)
    assert sum(advanced) == 24


def nyquist_energy_share(image: np.ndarray) -> float:
    """Share of the spectrum's energy on the Nyquist row and column, where a checkerboard lives."""
    grey = image.astype(np.float64).mean(axis=2)
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    n = grey.shape[0] // 2
    return float((power[n, :].sum() + power[:, n].sum() - power[n, n]) / power.sum())


def test_gan_upsampling_leaves_a_peak_at_the_nyquist_frequency():
    reals, fakes = [], []
    for i in range(12):
        # The same seed shows the same person through the same camera: only the artifact differs.
        reals.append(nyquist_energy_share(render_face(np.random.default_rng([11, i]), 128, "none")))
        fakes.append(nyquist_energy_share(render_face(np.random.default_rng([11, i]), 128, "gan_upsampling", 0.6)))
    assert np.mean(fakes) > 4 * np.mean(reals)
    assert np.mean(np.array(fakes) > np.array(reals)) >= 0.9


def skin_of(seed: list[int], size: int = 128) -> np.ndarray:
    """The head region render_face draws for this seed (its identity comes from the first child generator)."""
    identity_rng = np.random.default_rng(seed).spawn(3)[0]
    return tiny_demo.render_scene(tiny_demo.sample_identity(identity_rng), size).skin > 0.99


def high_frequency_energy(image: np.ndarray, region: np.ndarray) -> float:
    """Fine detail (grain) in a region: the median, so the edges of eyes and lips do not count."""
    grey = image.astype(np.float32).mean(axis=2)
    detail = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    return float(np.median(detail[region] ** 2))


def test_over_smooth_skin_has_less_fine_detail_than_real_skin():
    reals, fakes, backgrounds = [], [], []
    for i in range(12):
        seed = [12, i]
        skin = skin_of(seed)
        real = render_face(np.random.default_rng(seed), 128, "none")
        fake = render_face(np.random.default_rng(seed), 128, "over_smooth", 0.6)
        reals.append(high_frequency_energy(real, skin))
        fakes.append(high_frequency_energy(fake, skin))
        backgrounds.append((high_frequency_energy(real, ~skin), high_frequency_energy(fake, ~skin)))
    assert np.mean(fakes) < 0.6 * np.mean(reals)
    assert all(fake < real for real, fake in zip(reals, fakes))
    # Outside the face the fake keeps its grain: the artifact is a contrast, not a blurrier photo.
    outside_real, outside_fake = np.mean(backgrounds, axis=0)
    assert outside_fake > 0.8 * outside_real


def test_face_swap_changes_the_inner_face_but_not_the_background():
    seed = [13, 0]
    real = render_face(np.random.default_rng(seed), 128, "none").astype(np.float32)
    fake = render_face(np.random.default_rng(seed), 128, "face_swap", 1.0).astype(np.float32)
    skin = skin_of(seed)
    inside = np.abs(real - fake).mean(axis=2)[skin].mean()
    corner = np.abs(real - fake)[:12, :12].mean()
    assert inside > 4 * corner


def test_render_face_refuses_unknown_artifacts():
    with pytest.raises(ValueError, match="unknown artifact"):
        render_face(np.random.default_rng(0), 64, "deep_dream")


def test_no_two_images_are_near_duplicates(tmp_path):
    root = tmp_path / "dataset"
    images = generate(root, images_per_class=100, seed=3)
    hashes = []
    for image in images:
        with Image.open(root / image.file) as decoded:
            hashes.append(imagehash.phash(decoded).hash.flatten())
    bits = np.array(hashes, dtype=np.uint8)
    distances = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    np.fill_diagonal(distances, 64)
    assert len(images) == 200
    assert distances.min() > 6
