"""A verdict on a whole video (video_verdicts.judge_video), with a real checkpoint and real MP4s."""

from __future__ import annotations

import json

import pytest

from conftest import write_model
from video_files import FACE_SEEDS, demo_face, no_face_frame, write_face_video, write_no_face_video, write_video
from deepfake_coach.data.video import UnreadableVideo
from deepfake_coach.inference import Detector
from deepfake_coach.video_verdicts import judge_video


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    return Detector.load(write_model(tmp_path_factory.mktemp("models") / "best_model_custom_cnn_20250101_000000.pth"))


def test_judges_the_faces_of_evenly_spaced_frames(detector, tmp_path):
    path = write_face_video(tmp_path / "clip.mp4", FACE_SEEDS[0], frames=6)
    verdict = judge_video(detector, path, frames=3)
    assert (verdict.frames_wanted, verdict.frames_read, verdict.faces_found) == (3, 3, 3)
    assert [f.index for f in verdict.frames] == [1, 3, 5]
    assert all(f.face_found for f in verdict.frames)
    mean = sum(f.fake_probability for f in verdict.frames) / 3
    assert verdict.fake_probability == pytest.approx(mean)
    assert verdict.label == ("fake" if mean >= 0.5 else "real")
    assert 0.5 <= verdict.confidence <= 1
    assert verdict.summary() == "mean of 3 faces in 3 frames"


def test_the_threshold_decides_the_label(detector, tmp_path):
    path = write_face_video(tmp_path / "clip.mp4", FACE_SEEDS[1], frames=2)
    probability = judge_video(detector, path, frames=2).fake_probability
    assert judge_video(detector, path, frames=2, threshold=probability - 0.01).label == "fake"
    assert judge_video(detector, path, frames=2, threshold=probability + 0.01).label == "real"


def test_frames_without_a_face_are_left_out_of_the_mean(detector, tmp_path):
    frames = [demo_face(FACE_SEEDS[2]), no_face_frame(), demo_face(FACE_SEEDS[2]), no_face_frame()]
    verdict = judge_video(detector, write_video(tmp_path / "mixed.mp4", frames), frames=4)
    assert verdict.frames_read == 4 and verdict.faces_found == 2
    assert [f.index for f in verdict.frames] == [0, 2]
    assert verdict.summary() == "mean of 2 faces in 4 frames"


def test_a_video_without_faces_is_judged_on_whole_frames_and_says_so(detector, tmp_path):
    verdict = judge_video(detector, write_no_face_video(tmp_path / "landscape.mp4", frames=3), frames=8)
    assert verdict.faces_found == 0 and verdict.frames_read == 3 and verdict.whole_frames
    assert len(verdict.frames) == 3 and not any(f.face_found for f in verdict.frames)
    assert "no face found in 3 frames" in verdict.summary() and "less reliable" in verdict.summary()


def test_to_dict_is_json_for_predict_json(detector, tmp_path):
    path = write_face_video(tmp_path / "clip.mp4", FACE_SEEDS[3], frames=2)
    data = json.loads(json.dumps(judge_video(detector, path, frames=2).to_dict()))
    assert data["file"] == str(path) and data["kind"] == "video"
    assert data["label"] in ("real", "fake") and 0 <= data["fake_probability"] <= 1
    assert data["frames_read"] == 2 and data["faces_found"] == 2 and data["whole_frames"] is False
    assert [f["index"] for f in data["frames"]] == [0, 1]


def test_an_unreadable_video_raises_with_a_plain_reason(detector, tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(UnreadableVideo) as caught:
        judge_video(detector, tmp_path / "empty.mp4")
    assert caught.value.reason == "the file is empty (0 bytes)"
