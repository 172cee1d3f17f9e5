"""The service's judge: pictures of concurrent requests judged together, each answer to its own request."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from deepfake_coach.serve.batching import BatchJudge


class RecordingDetector:
    """Stands in for a Detector: a picture's "probability" is its first pixel / 255, so answers can be
    matched to pictures; the first call waits until released, so later pictures pile up meanwhile."""

    def __init__(self):
        self.batch_sizes: list[int] = []
        self.first_started, self.release = threading.Event(), threading.Event()

    def fake_probabilities(self, pixels: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(pixels))
        if len(self.batch_sizes) == 1:
            self.first_started.set()
            self.release.wait(30)
        if (pixels[:, 0, 0, 0] == 13).any():
            raise RuntimeError("this batch broke")
        return pixels[:, 0, 0, 0] / 255


def picture(value: int) -> np.ndarray:
    return np.full((4, 4, 3), value, dtype=np.uint8)


def test_waiting_pictures_are_judged_together_and_each_gets_its_own_answer():
    detector = RecordingDetector()
    judge = BatchJudge(detector, max_batch=4)
    first = judge.submit(picture(0))
    assert detector.first_started.wait(30)
    later = [judge.submit(picture(v)) for v in range(10, 16) if v != 13]  # queued while the model is busy
    detector.release.set()
    assert first.result(30) == 0
    assert [f.result(30) for f in later] == pytest.approx([v / 255 for v in (10, 11, 12, 14, 15)])
    judge.close()
    assert detector.batch_sizes == [1, 4, 1]  # no more than max_batch at once


def test_an_error_reaches_every_request_of_its_batch_and_the_judge_goes_on():
    detector = RecordingDetector()
    detector.release.set()
    judge = BatchJudge(detector)
    assert judge.submit(picture(1)).result(30) == pytest.approx(1 / 255)
    with pytest.raises(RuntimeError, match="this batch broke"):
        judge.submit(picture(13)).result(30)
    assert judge.submit(picture(2)).result(30) == pytest.approx(2 / 255)
    judge.close()


def test_closing_finishes_what_is_queued():
    detector = RecordingDetector()
    judge = BatchJudge(detector)
    first = judge.submit(picture(0))
    assert detector.first_started.wait(30)
    queued = judge.submit(picture(50))
    closer = threading.Thread(target=judge.close)
    closer.start()
    detector.release.set()
    closer.join(30)
    assert not closer.is_alive() and first.result(1) == 0 and queued.result(1) == pytest.approx(50 / 255)
