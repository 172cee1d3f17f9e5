"""How long `dfcoach data check` takes on 20,000 images (target: under a minute on 2 cores).

    python benchmarks/check_speed.py [--images 20000] [--size 256] [--dir PATH]

Makes the dataset once with the demo generator (256 px, like the Kaggle 140k
faces) in a temporary folder, or reuses --dir, then times the check three
ways: cold (nothing cached), warm (the scan cache from the first run), and
the command line end to end (a new process, warm cache).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deepfake_coach.data.checks import check_dataset
from deepfake_coach.data.layout import DERIVED_DIR
from deepfake_coach.data.sources import tiny_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--dir", type=Path, help="reuse this dataset folder (made if missing)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.dir or Path(tmp) / "dataset"
        if not (data_dir / "manifest.csv").exists():
            started = time.perf_counter()
            tiny_demo.generate(data_dir, images_per_class=args.images // 2, image_size=args.size)
            print(f"made {args.images:,} images of {args.size} px in {time.perf_counter() - started:.1f} s")
        cache = data_dir / DERIVED_DIR / "scan-cache.json"
        cache.unlink(missing_ok=True)

        started = time.perf_counter()
        report = check_dataset(data_dir)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        check_dataset(data_dir)
        warm = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deepfake_coach", "data", "check", "--data-dir", str(data_dir)], capture_output=True)
        command = time.perf_counter() - started

    print(f"images checked:           {report.total:,} ({len(report.problems)} problems: {[p.code for p in report.problems]})")
    print(f"check, cold (no cache):   {cold:6.1f} s   {report.total / cold:8,.0f} images/s   target < 60 s: {'met' if cold < 60 else 'MISSED'}")
    print(f"check, warm (cached):     {warm:6.1f} s   {report.total / warm:8,.0f} images/s")
    print(f"dfcoach data check (CLI): {command:6.1f} s   (new process, warm cache)")


if __name__ == "__main__":
    main()
