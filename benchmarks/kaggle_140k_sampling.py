"""How long sampling 20,000 images from the 140k zip takes (target: under 2 minutes on 2 cores).

    python benchmarks/kaggle_140k_sampling.py [--scale 1.0] [--kb 27] [--dir PATH] [--end-to-end]

Builds a zip in the layout of Kaggle's "140k Real and Fake Faces" (real_vs_fake/
real-vs-fake/{train,valid,test}/{real,fake}, 100k/20k/20k members, deflated, and
the three CSVs), with JPEG members of about --kb kilobytes (the real ones average
~27 kB: 3.9 GB / 140k). Members repeat a pool of 1,000 distinct 256 px pictures,
which changes nothing for reading them back. --scale shrinks every count for a
quick try. Then it times `prepare_dataset` with the guide's 7,000 / 2,000 / 1,000
per class: opening the zip, listing 140k members, sampling, copying 20,000 out.
With --end-to-end it also times the whole command a person runs, `dfcoach data
download kaggle_140k --archive ZIP`, which adds the dataset check of the 20,000.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from deepfake_coach.data.sources import kaggle_140k

SPLIT_COUNTS = {"train": 50_000, "valid": 10_000, "test": 10_000}  # per class, as in the real dataset
POOL = 1_000


def picture(seed: int, kb: int) -> bytes:
    """A 256 px JPEG of roughly `kb` kilobytes: smooth colour blocks plus noise, like a photo's texture."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(blocks).resize((256, 256), Image.BILINEAR), dtype=np.int16)
    amplitude = max(1, round(kb * 0.65))  # calibrated: 25 kB -> 16, at quality 90
    noisy = np.clip(base + rng.integers(-amplitude, amplitude + 1, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def build_zip(path: Path, scale: float, kb: int) -> int:
    pool = [picture(seed, kb) for seed in range(POOL)]
    members = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for split, per_class in SPLIT_COUNTS.items():
            rows = ["index,original_path,id,label,label_str,path"]
            for label, code in (("real", 1), ("fake", 0)):
                for i in range(max(1, int(per_class * scale))):
                    name = f"{i:05d}.jpg" if label == "real" else f"{i:05d}FAKE.jpg"
                    archive.writestr(f"real_vs_fake/real-vs-fake/{split}/{label}/{name}", pool[(members * 7919) % POOL])
                    rows.append(f"{len(rows) - 1},{label}/{name},{name[:-4]},{code},{label},{split}/{label}/{name}")
                    members += 1
            archive.writestr(f"{split}.csv", "\n".join(rows) + "\n")
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real member counts (1.0: 140,000)")
    parser.add_argument("--kb", type=int, default=27, help="target size of each JPEG member")
    parser.add_argument("--dir", type=Path, help="keep the zip here and reuse it on the next run")
    parser.add_argument("--end-to-end", action="store_true", help="also time the command line, with its dataset check")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        archive = work / "140k-real-and-fake-faces.zip"
        if not archive.exists():
            started = time.perf_counter()
            members = build_zip(archive, args.scale, args.kb)
            print(f"built the zip: {members:,} images, {archive.stat().st_size / 10**9:.2f} GB, in {time.perf_counter() - started:.0f} s")
        with zipfile.ZipFile(archive) as opened:
            images = [info for info in opened.infolist() if info.filename.endswith(".jpg")]
            print(f"zip: {len(images):,} images, {sum(i.file_size for i in images) / len(images) / 1000:.1f} kB each on average")

        per_class = {split: max(1, int(n * args.scale)) for split, n in kaggle_140k.DEFAULT_PER_CLASS.items()}
        data_dir = work / "dataset"
        shutil.rmtree(data_dir, ignore_errors=True)
        started = time.perf_counter()
        result = kaggle_140k.prepare_dataset(archive, data_dir, per_class, seed=0)
        elapsed = time.perf_counter() - started
        written = sum(p.stat().st_size for p in data_dir.rglob("*.jpg"))
        print(f"sampled {result.total:,} images ({written / 10**6:.0f} MB) from the zip in {elapsed:.1f} s "
              f"({result.total / elapsed:,.0f} images/s); target: under 120 s")
        shutil.rmtree(data_dir, ignore_errors=True)

        if args.end_to_end:
            counts = [f"--{split}-per-class={n}" for split, n in per_class.items()]
            command = [sys.executable, "-m", "deepfake_coach", "--progress", "off", "data", "download", "kaggle_140k",
                       "--archive", str(archive), "--data-dir", str(data_dir), *counts]
            started = time.perf_counter()
            done = subprocess.run(command, cwd=work, capture_output=True, text=True)
            print(f"`dfcoach data download kaggle_140k --archive ZIP` (sample + check): {time.perf_counter() - started:.1f} s, "
                  f"exit code {done.returncode} (1 is expected here: the check rightly reports the pool's repeated pictures as leakage)")
            shutil.rmtree(data_dir, ignore_errors=True)
            (work / "dfcoach.yaml").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
