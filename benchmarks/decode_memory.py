"""Memory of decoding one huge picture the way training does: the peak of a fresh process.

    python benchmarks/decode_memory.py [--side 12000] [--size 64]

Writes a --side x --side picture (default 12,000 x 12,000: 144 megapixels, over Pillow's own warning
limit) as an RGB PNG, a greyscale PNG and a JPEG, then for each starts a fresh Python process that
imports dfcoach and decodes it with `deepfake_coach.train.data.decode_image` at --size pixels (what
building the training cache does for every picture), and prints how much that process's peak memory
(max RSS) grew during the decode, and how long it took. Run it with PYTHONPATH pointing at another
checkout to compare versions; Pillow's own warning is silenced in the child, so older versions run too.
Target (issue 16, item 10): a huge picture is never decoded in full more than once, so a PNG costs
about its pixels once (4 bytes each in colour), a JPEG a fraction of that (decoded at 1/8 scale).
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

CHILD = """
import json, resource, sys, time, warnings
from pathlib import Path
warnings.simplefilter("ignore")
from deepfake_coach.train.data import decode_image
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
pixels = decode_image(Path(sys.argv[1]), int(sys.argv[2]))
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_mb": (after - before) / 1024, "peak_mb": after / 1024, "seconds": seconds, "shape": pixels.shape}))
"""


def flat_png(side: int, colour: tuple[int, ...]) -> bytes:
    """A PNG of one flat colour (grey: one value; RGB: three), written row by row without holding its
    pixels: every row after the first repeats the one above (PNG's "Up" filter)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bands = len(colour)
    packer = zlib.compressobj(6)
    parts = [packer.compress(b"\x00" + bytes(colour) * side)]
    row = b"\x02" + bytes(bands * side)
    for _ in range(side - 1):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2 if bands == 3 else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def write_jpeg(path: Path, side: int) -> None:
    """The JPEG is made in a child process of its own: making it holds its pixels."""
    code = ("import sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = None; "
            f"Image.new('RGB', ({side}, {side}), (120, 110, 100)).save(sys.argv[1], quality=85)")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=12_000)
    parser.add_argument("--size", type=int, default=64, help="the training image size decoded to")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pictures = {"RGB PNG": folder / "rgb.png", "grey PNG": folder / "grey.png", "JPEG": folder / "photo.jpg"}
        pictures["RGB PNG"].write_bytes(flat_png(args.side, (120, 110, 100)))
        pictures["grey PNG"].write_bytes(flat_png(args.side, (128,)))
        write_jpeg(pictures["JPEG"], args.side)
        megapixels = args.side * args.side / 1e6
        print(f"Decoding a {args.side:,} x {args.side:,} picture ({megapixels:.0f} megapixels) for training at {args.size} px, "
              f"each in a fresh process:")
        for name, path in pictures.items():
            run = subprocess.run([sys.executable, "-c", CHILD, str(path), str(args.size)], capture_output=True, text=True)
            if run.returncode != 0:
                print(f"  {name:9} ({path.stat().st_size / 1e6:.1f} MB file): failed: {run.stderr.strip().splitlines()[-1]}")
                continue
            result = json.loads(run.stdout)
            print(f"  {name:9} ({path.stat().st_size / 1e6:.1f} MB file): peak memory grew by {result['grew_mb']:,.0f} MB "
                  f"(process peak {result['peak_mb']:,.0f} MB), {result['seconds']:.2f} s")


if __name__ == "__main__":
    main()
