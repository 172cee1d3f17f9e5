"""The Detector judges pictures exactly as training prepared them, and reads anything without crashing."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PIL import Image

from deepfake_coach.errors import CoachError
from deepfake_coach.inference import Detector, UnreadableImage, Verdict, newest_model, open_image
from deepfake_coach.train.data import decode_image

from conftest import flat_png, image_bytes, png_header, write_image, write_model


def test_newest_model_is_the_latest_saved(tmp_path):
    old = write_model(tmp_path / "models" / "best_model_custom_cnn_20240101_000000.pth")
    new = write_model(tmp_path / "models" / "best_model_custom_cnn_20240102_000000.pth")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert newest_model(tmp_path / "models") == new


def test_no_model_says_how_to_get_one(tmp_path):
    with pytest.raises(CoachError) as caught:
        newest_model(tmp_path / "models")
    assert "dfcoach train --quick" in caught.value.hint


def test_detector_sees_the_same_pixels_as_training(tmp_path):
    detector = Detector.load(write_model(tmp_path / "m.pth", image_size=32))
    picture = write_image(tmp_path / "face.jpg", seed=3, size=80)
    with open_image(picture, detector.image_size) as image:
        assert np.array_equal(detector.prepare(image), decode_image(picture, 32))


def test_judge_files_batches_and_reports_unreadable(tmp_path):
    detector = Detector.load(write_model(tmp_path / "m.pth"))
    good = [write_image(tmp_path / f"{i}.jpg", seed=i) for i in range(5)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(image_bytes(9)[:200])
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    verdicts, unreadable = detector.judge_files([*good[:2], broken, text, *good[2:]], batch_size=2)
    assert [path for path, _ in verdicts] == good
    assert all(0.0 <= v.fake_probability <= 1.0 for _, v in verdicts)
    assert {path.name for path, _ in unreadable} == {"broken.jpg", "notes.jpg"}
    # batching does not change the numbers
    alone = [detector.judge(open_image(path, 32)).fake_probability for path in good]
    assert np.allclose(alone, [v.fake_probability for _, v in verdicts], atol=1e-5)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"hello, I am text", "damaged or not a picture"),
    (image_bytes(1)[:300], "damaged or not a picture (it starts like a picture, but its data is cut short"),
])
def test_unreadable_uploads_have_plain_reasons(data, reason):
    with pytest.raises(UnreadableImage) as caught:
        open_image(data)
    assert reason in caught.value.reason


def test_a_picture_over_the_pixel_limit_is_refused_from_its_header():
    with pytest.raises(UnreadableImage) as caught:
        open_image(png_header(15_000, 15_000))  # 225 megapixels claimed by a few bytes
    assert caught.value.kind == "too_large"
    assert caught.value.reason == "too large (15,000 x 15,000 pixels: more than the 150 megapixels dfcoach reads)"


def test_a_large_picture_is_reduced_as_it_is_opened_never_enlarged():
    with open_image(flat_png(9000, 8000), 256) as image:  # 72 megapixels
        assert 256 <= image.height < 512 and image.width == pytest.approx(image.height * 9 / 8, abs=1)
    with open_image(image_bytes(1, size=300), 256) as image:
        assert image.size == (300, 300)  # smaller than twice what is needed: kept as it is


def test_verdict_label_and_confidence():
    assert Verdict(0.8).label == "fake" and Verdict(0.8).confidence == pytest.approx(0.8)
    assert Verdict(0.3).label == "real" and Verdict(0.3).confidence == pytest.approx(0.7)
    assert Verdict(0.3, threshold=0.2).label == "fake"


def test_unknown_preprocessing_is_refused(tmp_path):
    import torch

    path = write_model(tmp_path / "m.pth")
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["preprocessing"] = "something_newer"
    with pytest.raises(CoachError, match="preprocessing"):
        Detector(checkpoint)


def test_judge_images_matches_judge(tmp_path):
    detector = Detector.load(write_model(tmp_path / "m.pth"))
    images = [open_image(image_bytes(i), 32) for i in range(3)]
    together = detector.judge_images(images, batch_size=2)
    assert [v.fake_probability for v in together] == pytest.approx([detector.judge(im).fake_probability for im in images], abs=1e-5)
