"""How long the offline demo dataset takes to generate.

    python benchmarks/tiny_demo_speed.py [--images-per-class 500] [--workers N] [--seed 0]

Generates the dataset into a temporary folder (deleted afterwards) and prints
the wall time, images per second and the size on disk. The target is 1,000
images (500 per class) in under 10 seconds on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from deepfake_coach.data.sources import tiny_demo  # noqa: E402

TARGET_SECONDS = 10.0


def folder_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-per-class", type=int, default=tiny_demo.DEFAULT_IMAGES_PER_CLASS)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: automatic)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    total = 2 * args.images_per_class
    with tempfile.TemporaryDirectory(prefix="tiny_demo_speed_") as tmp:
        root = Path(tmp) / "dataset"
        started = time.perf_counter()
        images = tiny_demo.generate(root, images_per_class=args.images_per_class, seed=args.seed, workers=args.workers)
        elapsed = time.perf_counter() - started
        size = folder_size(root)
    workers = args.workers if args.workers is not None else tiny_demo.default_workers(total)
    print(f"images:       {len(images):,} ({args.images_per_class:,} per class), {workers} worker(s), {os.cpu_count()} CPUs")
    print(f"wall time:    {elapsed:.2f} s")
    print(f"throughput:   {len(images) / elapsed:.0f} images/s")
    print(f"size on disk: {size / 1e6:.2f} MB ({size / len(images) / 1e3:.1f} kB per image)")
    if total == 1000:
        verdict = "met" if elapsed < TARGET_SECONDS else "MISSED"
        print(f"target (1,000 images in < {TARGET_SECONDS:.0f} s): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
