"""How fast videos become face pictures: reading frames, finding faces, the whole dataset build.

    python benchmarks/video_faces.py [--videos 8] [--frames 300] [--width 854] [--height 480]

Writes synthetic clips the size of FaceForensics++ c23 videos (480p, ~300 frames;
a demo-generator person moving across a background, MP4 with OpenCV's mp4v codec)
in a temporary folder, then times:

- taking 32 evenly spaced frames: dfcoach's way (jump to far frames, decode near
  ones), decoding every frame, and jumping to every frame;
- finding the largest face in a frame at 480p and at 1080p (searched at 640 px);
- `dfcoach data organize --videos` end to end, in videos and frames per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from deepfake_coach.data import faces, video
from deepfake_coach.data.sources import tiny_demo
from deepfake_coach.data.video_dataset import organize_videos

FACE_SEEDS = (5, 8, 9, 20, 24, 26, 27, 28, 29, 30, 32, 34, 38, 39, 40, 41)  # faces the Haar cascade finds


def write_clip(path: Path, seed: int, frames: int, width: int, height: int) -> None:
    face = tiny_demo.render_face(np.random.default_rng(seed), image_size=height // 2)
    background = cv2.resize(tiny_demo.render_face(np.random.default_rng(seed + 1000), image_size=64), (width, height))
    background = cv2.GaussianBlur(background, (0, 0), 8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (width, height))
    side = face.shape[0]
    for i in range(frames):
        frame = background.copy()
        x = (width - side) // 2 + int(40 * np.sin(i / 25))
        y = (height - side) // 3
        frame[y : y + side, x : x + side] = face
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def best_of(repeats: int, action) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=8, help="videos per class for the end-to-end build")
    parser.add_argument("--frames", type=int, default=300, help="frames in each clip")
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    args = parser.parse_args()
    print(f"OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "clips"
        started = time.perf_counter()
        seeds = iter(FACE_SEEDS * 4)
        for label in ("real", "fake"):
            (root / label).mkdir(parents=True)
            for i in range(args.videos):
                write_clip(root / label / f"{label}_{i}.mp4", next(seeds), args.frames, args.width, args.height)
        clip = root / "real" / "real_0.mp4"
        print(f"wrote {2 * args.videos} clips of {args.frames} frames at {args.width}x{args.height} "
              f"({clip.stat().st_size / 1e6:.1f} MB each) in {time.perf_counter() - started:.1f} s")

        print("\n32 evenly spaced frames of one clip (best of 3):")
        default_gap = video.SEEK_GAP
        for name, gap in (("dfcoach (jump when > 48 apart)", default_gap), ("decode every frame", 10**9), ("jump to every frame", 0)):
            video.SEEK_GAP = gap
            seconds = best_of(3, lambda: video.read_frames(clip, 32))
            print(f"  {name:32s} {seconds * 1000:7.0f} ms")
        video.SEEK_GAP = default_gap

        frames = video.read_frames(clip, 32)
        print("\nfinding the largest face in one frame (median of 32 frames):")
        for label, scale in ((f"{args.height}p", 1.0), ("1080p", 1080 / args.height)):
            pictures = [cv2.resize(f.image, None, fx=scale, fy=scale) for f in frames]
            per_frame = []
            found = 0
            for picture in pictures:
                started = time.perf_counter()
                found += faces.find_largest_face(picture) is not None
                per_frame.append(time.perf_counter() - started)
            print(f"  {label:6s} {statistics.median(per_frame) * 1000:6.1f} ms per frame, face found in {found}/32 frames")

        print("\ndfcoach data organize --videos, end to end (32 frames per video):")
        started = time.perf_counter()
        result = organize_videos(root, Path(tmp) / "dataset", frames=32)
        seconds = time.perf_counter() - started
        read = sum(v.frames_read for v in result.videos)
        print(f"  {len(result.videos)} videos, {read} frames, {result.total} faces in {seconds:.1f} s: "
              f"{len(result.videos) / seconds:.2f} videos/s, {read / seconds:.0f} frames/s")


if __name__ == "__main__":
    main()
