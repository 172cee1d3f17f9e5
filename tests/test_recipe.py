"""The training recipe: the one-cycle learning rate, and noise_cnn trained and judged end to end
(the default model's fine-tuning stages: tests/test_fine_tune.py)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_dataset
from deepfake_coach.config import TrainConfig
from deepfake_coach.inference import Detector, open_image
from deepfake_coach.train.data import load_split, to_tensor
from deepfake_coach.train.loop import fit
from deepfake_coach.train.recipe import one_cycle_lr
from deepfake_coach.train.models import IMAGENET_MEAN, IMAGENET_STD


def test_one_cycle_warms_up_then_anneals_to_nearly_zero():
    peak = 0.003
    curve = [one_cycle_lr(t / 100, peak, warmup=0.2) for t in range(101)]
    assert curve[0] == pytest.approx(peak / 25)
    assert max(curve) == pytest.approx(peak) and curve.index(max(curve)) == 20
    assert all(a <= b for a, b in zip(curve[:21], curve[1:21]))
    assert all(a >= b for a, b in zip(curve[20:], curve[21:]))
    assert curve[-1] < peak / 1000


def test_noise_cnn_on_unequal_classes_records_its_recipe_and_judges_whole_images(tmp_path):
    """noise_cnn on random crops with balanced batches; the saved model judges the whole image,
    and the Detector gives exactly what the model gives on the evaluation pixels."""
    import torch

    dataset = make_dataset(tmp_path / "dataset", {"train": (10, 4), "val": (3, 2)}, size=80)
    result = fit(TrainConfig(model="noise_cnn", epochs=2, batch_size=4, image_size=64), dataset, tmp_path)
    assert [m.epoch for m in result.history] == [1, 2]
    assert all(m.val_balanced_acc is not None for m in result.history)
    assert result.history[-1].lr < result.history[0].lr  # annealing
    detector = Detector.load(result.run.best_path)
    assert detector.model_name == "noise_cnn" and detector.image_size == 64
    assert detector.checkpoint["train_crop"] == 32 and "center_crop" in detector.checkpoint["preprocessing"]
    val = load_split(dataset, "val", 64)
    with torch.no_grad():
        expected = torch.softmax(detector.model(to_tensor(np.array(val.images), IMAGENET_MEAN, IMAGENET_STD)), 1)[:, 1].numpy()
    verdicts, unreadable = detector.judge_files([dataset / f for f in val.files])
    assert not unreadable
    assert np.allclose([v.fake_probability for _, v in verdicts], expected, atol=1e-5)
    with open_image(dataset / val.files[0], 64) as image:
        assert detector.prepare(image).shape == (64, 64, 3)  # the whole square, not a crop


def test_noise_cnn_works_at_the_images_own_size_up_to_256(tmp_path):
    from deepfake_coach.train.data import typical_image_size
    from deepfake_coach.train.models import default_image_size

    small = make_dataset(tmp_path / "small", {"train": (3, 3)}, size=72)
    assert typical_image_size(small) == 72
    assert default_image_size("noise_cnn", typical_image_size(small)) == 72  # not upscaled
    assert default_image_size("noise_cnn", 1024) == 256  # large photos brought down to 256
    assert default_image_size("noise_cnn", None) == 256
    assert default_image_size("custom_cnn", 72) == 128  # the other models keep their own size
    assert typical_image_size(tmp_path / "nothing") is None
