"""Decoding training images once into a cache, and batching them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import make_dataset, write_image
from deepfake_coach.train import data as train_data
from deepfake_coach.train.data import batches, decode_image, load_split, prefetch, to_tensor, training_batches


def test_split_is_decoded_to_the_training_size_with_labels(tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (5, 3), "val": (1, 1), "test": (1, 1)})
    split = load_split(dataset, "train", 32)
    assert split.images.shape == (8, 32, 32, 3) and split.images.dtype == np.uint8
    assert sorted(split.labels.tolist()) == [0, 0, 0, 0, 0, 1, 1, 1]
    assert all(f.startswith("train/") for f in split.files)
    assert (dataset / ".dfcoach" / "cache" / "train-32px.npy").exists()


def test_cache_is_reused_and_rebuilt_when_files_change(tmp_path, monkeypatch):
    dataset = make_dataset(tmp_path / "d")
    first = load_split(dataset, "train", 24)
    decoded = []
    real = train_data.decode_image
    monkeypatch.setattr(train_data, "decode_image", lambda p, s: decoded.append(p.name) or real(p, s))
    again = load_split(dataset, "train", 24)
    assert decoded == [] and np.array_equal(np.asarray(first.images), np.asarray(again.images))
    write_image(dataset / "train" / "fake" / "new.jpg", 999)
    grown = load_split(dataset, "train", 24)
    assert len(grown) == len(first) + 1 and len(decoded) == len(grown)
    decoded.clear()
    load_split(dataset, "train", 48)  # another size is another cache
    assert len(decoded) == len(grown)


def test_undecodable_files_are_skipped_and_reported(tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (3, 3)})
    (dataset / "train" / "real" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    split = load_split(dataset, "train", 16)
    assert len(split) == 6
    assert [f for f, _ in split.skipped] == ["train/real/broken.jpg"]
    assert load_split(dataset, "train", 16).skipped == split.skipped  # remembered by the cache


def test_damaged_cache_is_decoded_again(tmp_path):
    dataset = make_dataset(tmp_path / "d", {"train": (2, 2)})
    load_split(dataset, "train", 16)
    (dataset / ".dfcoach" / "cache" / "train-16px.json").write_text("{broken")
    assert len(load_split(dataset, "train", 16)) == 4


def test_decode_crops_the_centre_and_honours_exif_orientation(tmp_path):
    wide = np.zeros((40, 80, 3), dtype=np.uint8)
    wide[:, 20:60] = 255  # a white centre square between black sides
    Image.fromarray(wide).save(tmp_path / "wide.png")
    square = decode_image(tmp_path / "wide.png", 20)
    assert square.shape == (20, 20, 3) and square.mean() > 250

    tall = np.zeros((60, 30, 3), dtype=np.uint8)
    tall[:30] = 255  # white top half
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: the viewer turns it 90 degrees clockwise
    Image.fromarray(tall).save(tmp_path / "rotated.jpg", exif=exif)
    upright = decode_image(tmp_path / "rotated.jpg", 30).astype(int)
    assert upright.shape == (30, 30, 3)
    assert upright[:, -5:].mean() > 200 and upright[:, :5].mean() < 50  # the white half is now on the right


def test_batches_cover_each_image_once_in_an_order_set_by_seed_and_epoch(tmp_path):
    split = load_split(make_dataset(tmp_path / "d", {"train": (10, 7)}), "train", 8)
    seen = np.concatenate([y for _, y in batches(split, 4, shuffle=True, seed=1, epoch=0)])
    assert sorted(seen.tolist()) == sorted(split.labels.tolist())
    order = lambda seed, epoch: [x.sum() for x, _ in batches(split, 4, True, seed, epoch)]
    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert [len(y) for _, y in batches(split, 4, shuffle=False)] == [4, 4, 4, 4, 1]


def test_to_tensor_normalises_and_flips():
    torch = pytest.importorskip("torch")
    images = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    images[:, :, 0] = 255  # left column white
    x = to_tensor(images, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), flip=torch.tensor([False, True]))
    assert x.shape == (2, 3, 4, 4)
    assert x[0, :, :, 0].min() == pytest.approx(1.0) and x[0, :, :, 3].max() == pytest.approx(-1.0)
    assert x[1, :, :, 3].min() == pytest.approx(1.0)  # mirrored: the white column is on the right
    assert x[1, :, :, 0].max() == pytest.approx(-1.0)


def test_balanced_order_draws_each_class_about_half_the_time():
    from deepfake_coach.train.data import epoch_order

    labels = np.array([0] * 90 + [1] * 10)
    order = epoch_order(labels, seed=0, epoch=1, balanced=True)
    assert len(order) == 100
    shares = [labels[epoch_order(labels, 0, e, balanced=True)].mean() for e in range(20)]
    assert 0.4 < np.mean(shares) < 0.6  # against 0.1 as they come
    assert np.array_equal(order, epoch_order(labels, 0, 1, balanced=True))  # set by (seed, epoch): resumable
    assert sorted(epoch_order(labels, 0, 1)) == list(range(100))  # unbalanced: each image once


def test_random_crops_keep_full_resolution_on_the_jpeg_grid():
    from deepfake_coach.train.data import random_crops

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    crops = random_crops(images, 24, np.random.default_rng(1))
    assert crops.shape == (6, 24, 24, 3)
    for image, crop in zip(images, crops):
        found = [(t, l) for t in range(0, 41) for l in range(0, 41) if np.array_equal(image[t : t + 24, l : l + 24], crop)]
        assert len(found) == 1 and found[0][0] % 8 == 0 and found[0][1] % 8 == 0  # pixels copied as they are, nothing resampled
    assert random_crops(images, 64, rng) is images


def test_batches_read_from_the_cache_file_give_the_cached_pixels(tmp_path):
    from deepfake_coach.train.data import read_images

    split = load_split(make_dataset(tmp_path / "d", {"train": (7, 5)}), "train", 24)
    assert isinstance(split.images, np.memmap)
    chosen = np.array([0, 3, 4, 11])
    assert np.array_equal(read_images(split.images, chosen), np.asarray(split.images)[chosen])
    assert np.array_equal(read_images(np.asarray(split.images), chosen), np.asarray(split.images)[chosen])
    everything = np.concatenate([x for x, _ in batches(split, 5, shuffle=False)])
    assert np.array_equal(everything, np.asarray(split.images))


def test_training_batches_depend_only_on_seed_and_epoch(tmp_path):
    split = load_split(make_dataset(tmp_path / "d", {"train": (10, 6)}, size=48), "train", 48)

    def draw(epoch, batch_size=4):
        return list(training_batches(split, batch_size, seed=3, epoch=epoch, balanced=True, crop=16))

    first, again, other = draw(1), draw(1), draw(2)
    assert all(images.shape[1:] == (16, 16, 3) and flip.dtype == bool for images, _, flip in first)
    assert sum(len(labels) for _, labels, _ in first) == 16
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


def test_prefetch_keeps_the_order_and_raises_the_producers_error():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))

    def broken():
        yield 1
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(broken()):
            seen.append(item)
    assert seen == [1]


def test_leaving_a_prefetch_loop_early_stops_its_thread():
    import threading

    made = []

    def endless():
        while True:
            made.append(1)
            yield len(made)

    for item in prefetch(endless(), depth=2):
        if item == 5:
            break
    assert not any(t.name == "dfcoach-prefetch" and t.is_alive() for t in threading.enumerate())
    assert len(made) <= 5 + 3  # at most `depth` made ahead (plus one in the producer's hand)


def test_each_process_reads_its_share_of_the_batch_one_process_draws(tmp_path):
    """With several processes, each draws every batch whole (the same pictures, crops and flips) and
    reads only its rows: together they are the batches of one process, however unevenly they divide."""
    split = load_split(make_dataset(tmp_path / "d", {"train": (9, 6)}, size=48), "train", 48)
    whole = list(training_batches(split, 4, seed=3, epoch=1, balanced=True, crop=16))
    shares = [list(training_batches(split, 4, seed=3, epoch=1, balanced=True, crop=16, part=(rank, 3))) for rank in range(3)]
    assert [len(s) for s in shares] == [len(whole)] * 3
    for k, batch in enumerate(whole):
        assert sum(len(s[k][1]) for s in shares) == len(batch[1])  # 4 = 2 + 1 + 1; the last batch of 3 = 1 + 1 + 1
        for part in range(3):  # images, labels, flips
            joined = np.empty_like(batch[part])
            for rank in range(3):
                joined[rank::3] = shares[rank][k][part]
            assert np.array_equal(joined, batch[part])
