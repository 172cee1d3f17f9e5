"""Reading evenly spaced frames from real MP4 files, and every way a video can be unreadable (data/video.py)."""

from __future__ import annotations

import pytest

from video_files import write_counting_video, write_face_video
from deepfake_coach.data.video import UnreadableVideo, count_frames, evenly_spaced, is_video, read_frames


def brightness(frame) -> int:
    return int(round(float(frame.image.mean())))


def test_evenly_spaced_positions():
    assert evenly_spaced(100, 4) == [12, 37, 62, 87]
    assert evenly_spaced(3, 32) == [0, 1, 2]
    assert evenly_spaced(32, 32) == list(range(32))
    assert evenly_spaced(0, 32) == []


def test_reads_the_frames_it_says_it_read(tmp_path):
    path = write_counting_video(tmp_path / "count.mp4", 40)
    assert count_frames(path) == 40
    frames = read_frames(path, 4)
    assert [f.index for f in frames] == [5, 15, 25, 35]
    # mp4v is lossy, so a frame's grey comes back within a few levels of its index
    assert all(abs(brightness(f) - f.index) <= 4 for f in frames)
    assert frames[0].image.shape == (48, 64, 3)


def test_far_apart_frames_are_reached_by_seeking_and_are_still_the_right_ones(tmp_path):
    path = write_counting_video(tmp_path / "long.mp4", 240)
    frames = read_frames(path, 2)  # 120 frames apart: a jump, not 120 decodes
    assert [f.index for f in frames] == [60, 180]
    assert all(abs(brightness(f) - f.index) <= 4 for f in frames)


def test_a_short_video_gives_every_frame(tmp_path):
    path = write_face_video(tmp_path / "short.mp4", seed=5, frames=3)
    assert [f.index for f in read_frames(path, 32)] == [0, 1, 2]


def test_frames_are_rgb(tmp_path):
    import numpy as np

    from video_files import write_video

    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 220
    frame = read_frames(write_video(tmp_path / "red.mp4", [red, red]), 1)[0].image
    assert frame[..., 0].mean() > 180 and frame[..., 2].mean() < 50


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(b"this is not a video" * 50), "damaged, not a video"),
        (lambda p: p.mkdir(), "a folder"),
        (lambda p: None, "does not exist"),
    ],
    ids=["zero-length", "not-a-video", "folder", "missing"],
)
def test_unreadable_files_say_why(tmp_path, make, reason):
    path = tmp_path / "clip.mp4"
    make(path)
    with pytest.raises(UnreadableVideo) as caught:
        read_frames(path)
    assert reason in caught.value.reason
    assert caught.value.hint or reason in ("a folder",)


def test_a_cut_short_download_is_unreadable_not_a_crash(tmp_path):
    whole = write_face_video(tmp_path / "whole.mp4", seed=5, frames=8).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])  # mp4v from OpenCV keeps its index at the end: it is gone
    with pytest.raises(UnreadableVideo, match="damaged"):
        read_frames(cut)


def test_an_unknown_codec_is_unreadable(tmp_path):
    # a real AVI container whose video track claims a codec no decoder knows
    path = write_face_video(tmp_path / "clip.avi", seed=5, frames=2)
    data = bytearray(path.read_bytes())
    for fourcc in (b"FMP4", b"fmp4", b"MP4V", b"mp4v"):
        start = data.find(fourcc)
        while start != -1:
            data[start : start + 4] = b"ZZZZ"
            start = data.find(fourcc)
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableVideo):
        read_frames(path)


def test_is_video_goes_by_the_name():
    from pathlib import Path

    assert is_video(Path("a/b/Clip.MP4")) and is_video(Path("x.webm"))
    assert not is_video(Path("x.jpg")) and not is_video(Path("x.txt"))
