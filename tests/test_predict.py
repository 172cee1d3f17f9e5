"""`dfcoach predict` through the CLI: pictures and folders, a table or JSON, unreadable files listed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import image_bytes, write_image, write_model
from deepfake_coach.inference import Detector
from deepfake_coach.predict import collect_inputs


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_model(tmp_path / "models" / "best_model_custom_cnn_20260101_000000.pth", seed=1)
    return tmp_path


def test_folders_are_searched_recursively_and_match_the_detector(cli, project):
    pictures = [write_image(project / "mine" / "a.jpg", 1), write_image(project / "mine" / "deeper" / "b.png", 2, fmt="PNG"),
                write_image(project / "single.jpg", 3)]
    (project / "mine" / ".hidden.jpg").write_bytes(image_bytes(4))
    result = cli("predict", "mine", "single.jpg", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [row["file"] for row in report["results"]] == ["mine/a.jpg", "mine/deeper/b.png", "single.jpg"]
    detector = Detector.load(project / "models" / "best_model_custom_cnn_20260101_000000.pth")
    expected, _ = detector.judge_files(pictures)
    for row, (_, verdict) in zip(report["results"], expected):
        assert row["fake_probability"] == pytest.approx(verdict.fake_probability, abs=1e-5)
        assert row["verdict"] == verdict.label
        assert row["confidence"] == pytest.approx(verdict.confidence, abs=1e-5)
    assert report["model"]["model"] == "custom_cnn" and report["threshold"] == 0.5 and report["unreadable"] == []


def test_the_table_shows_file_verdict_and_probability(cli, project):
    write_image(project / "face.jpg", 1)
    result = cli("predict", "face.jpg", "--threshold", "0")  # everything is fake from probability 0
    assert result.exit_code == 0
    assert "File" in result.stdout and "Verdict" in result.stdout and "Fake probability" in result.stdout
    line = next(line for line in result.stdout.splitlines() if "face.jpg" in line)
    assert "fake" in line and "%" in line


def test_unreadable_files_are_listed_not_fatal(cli, project):
    write_image(project / "pics" / "good.jpg", 1)
    (project / "pics" / "cut.jpg").write_bytes(image_bytes(2)[:150])
    (project / "pics" / "notes.txt").write_text("shopping list")
    (project / "pics" / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    result = cli("predict", "pics", "missing.jpg", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [row["file"] for row in report["results"]] == ["pics/good.jpg"]
    reasons = {row["file"]: row["reason"] for row in report["unreadable"]}
    assert set(reasons) == {"pics/cut.jpg", "pics/notes.txt", "pics/clip.mp4", "missing.jpg"}
    assert "damaged" in reasons["pics/cut.jpg"] and reasons["missing.jpg"] == "does not exist"
    assert "video" in reasons["pics/clip.mp4"]  # a video too short to hold a frame
    human = cli("predict", "pics")
    assert "3 files could not be judged" in human.stderr and "pics/cut.jpg" in human.stderr


def test_collect_inputs_separates_videos_from_pictures(tmp_path):
    for name in ("a.jpg", "b.MP4", "c.webm", "d.txt", "sub/e.PNG", "sub/f.mov"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    images, videos, skipped = collect_inputs([tmp_path, tmp_path / "nothing_here"])
    assert [p.name for p in images] == ["a.jpg", "e.PNG"]
    assert sorted(p.name for p in videos) == ["b.MP4", "c.webm", "f.mov"]
    assert {p.name for p, _ in skipped} == {"d.txt", "nothing_here"}


def test_nothing_to_judge_is_a_clear_error(cli, project):
    (project / "empty").mkdir()
    result = cli("predict", "empty")
    assert result.exit_code == 1 and "Nothing to judge: no pictures or videos in empty" in result.stderr
    result = cli("predict", "nowhere.jpg")
    assert result.exit_code == 1 and "nowhere.jpg does not exist" in result.stderr
    (project / "only_bad").mkdir()
    (project / "only_bad" / "x.jpg").write_text("text")
    result = cli("predict", "only_bad")
    assert result.exit_code == 1 and "None of the files could be judged" in result.stderr


def test_threshold_and_model_flags(cli, project):
    write_image(project / "face.jpg", 1)
    assert cli("predict", "face.jpg", "--threshold", "2").exit_code == 2
    result = cli("predict", "face.jpg", "--model", project / "nope.pth")
    assert result.exit_code == 1 and "There is no model file at" in result.stderr


def test_videos_get_a_verdict_from_their_faces(cli, project):
    from video_files import FACE_SEEDS, write_face_video, write_no_face_video

    write_face_video(project / "clips" / "person.mp4", FACE_SEEDS[0], frames=4)
    write_no_face_video(project / "clips" / "sky.mp4", frames=4)
    write_image(project / "clips" / "still.jpg", 3)
    report = json.loads(cli("predict", "clips", "--frames", "4", "--json").stdout)
    assert [row["file"] for row in report["results"]] == ["clips/still.jpg"]
    videos = {Path(v["file"]).name: v for v in report["videos"]}
    assert videos["person.mp4"]["faces_found"] >= 1 and videos["person.mp4"]["frames_read"] == 4
    assert videos["sky.mp4"]["whole_frames"] is True
    assert all(v["label"] in ("real", "fake") for v in videos.values())
    human = cli("predict", "clips", "--frames", "4")
    assert human.exit_code == 0
    assert "person.mp4" in human.stdout and re.search(r"mean of \d+ faces? in 4 frames", human.stdout)
    assert "no face found in 4 frames" in human.stdout


# --- a model file whose pickle calls a function: refused as code, never run ------------------------


class CallsOsSystem:
    """Unpickled with code allowed, this would run a shell command that creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def os_system_by_hand(command: str) -> bytes:
    """A pickle (protocol 4) written opcode by opcode: import os.system, call it with `command`."""
    def text(s: str) -> bytes:
        return b"\x8c" + bytes([len(s.encode())]) + s.encode()  # SHORT_BINUNICODE

    return b"\x80\x04" + text("os") + text("system") + b"\x93" + text(command) + b"\x85" + b"R" + b"."  # STACK_GLOBAL, TUPLE1, REDUCE, STOP


def poisoned_model(path: Path, marker: Path, how: str) -> Path:
    import torch

    checkpoint = {"format": "dfcoach-checkpoint", "model_name": "custom_cnn", "state_dict": CallsOsSystem(marker)}
    if how == "torch.save":
        torch.save(checkpoint, path)
    elif how == "torch.save, pickle protocol 4":
        torch.save(checkpoint, path, pickle_protocol=4)
    else:
        path.write_bytes(os_system_by_hand(f"touch {marker}"))
    return path


@pytest.mark.parametrize("how", ["torch.save", "torch.save, pickle protocol 4", "opcodes by hand"])
def test_a_model_file_whose_pickle_calls_a_function_is_refused_as_code(cli, project, how):
    write_image(project / "face.jpg", 1)
    marker = project / "ran"
    model = poisoned_model(project / "evil.pth", marker, how)
    result = cli("predict", "face.jpg", "--model", model)
    assert result.exit_code == 1
    assert "evil.pth cannot be loaded safely: it contains code, not only weights" in result.stderr
    assert "damaged" not in result.stderr and "Traceback" not in result.output
    assert not marker.exists()  # and it never ran


def test_a_damaged_model_file_is_still_called_damaged(cli, project):
    write_image(project / "face.jpg", 1)
    good = (project / "models" / "best_model_custom_cnn_20260101_000000.pth").read_bytes()
    for name, data in {"cut.pth": good[: len(good) // 2], "noise.pth": bytes(range(256)) * 8}.items():
        (project / name).write_bytes(data)
        result = cli("predict", "face.jpg", "--model", project / name)
        assert result.exit_code == 1
        assert f"{name} is not a readable model file (it may be incomplete or damaged)" in result.stderr
        assert "contains code" not in result.stderr


def test_a_demo_model_says_plainly_that_a_real_photo_is_outside_what_it_learned(cli, tmp_path, monkeypatch):
    """The checkpoint records the dataset it learned from; a demo model warns on a photo, not on a demo picture."""
    import numpy as np
    from PIL import Image

    from deepfake_coach.train.checkpoint import load_checkpoint

    monkeypatch.chdir(tmp_path)
    assert cli("data", "download", "tiny_demo", "--images-per-class", "10").exit_code == 0
    assert cli("train", "--model", "custom_cnn", "--image-size", "32", "--epochs", "1").exit_code == 0
    (model,) = list((tmp_path / "models").glob("best_model_*.pth"))
    assert load_checkpoint(model)["dataset"] == {"name": "tiny_demo", "kind": "demo", "picture_size": [128, 128]}

    photo = tmp_path / "holiday.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(photo)
    demo_picture = sorted((tmp_path / "dataset" / "test" / "real").iterdir())[0]
    result = cli("predict", str(photo), str(demo_picture))
    assert result.exit_code == 0
    assert "1 of these files are not like the pictures the model learned from" in result.stderr
    assert "drawn demo faces, not from photographs" in result.stderr
    answer = json.loads(cli("predict", str(photo), str(demo_picture), "--json").stdout)
    warnings = {Path(row["file"]).name: row["warning"] for row in answer["results"]}
    assert "drawn demo faces" in warnings["holiday.jpg"] and warnings[demo_picture.name] is None
    assert answer["model"]["trained_on"]["kind"] == "demo"
