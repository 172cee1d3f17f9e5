"""Load on the inference service: latency percentiles, requests/s and errors under concurrent clients.

    python benchmarks/serve_load.py [--requests 1000] [--concurrency 8] [--workers 1] [--model custom_cnn] [--burst 20]

Starts the real `dfcoach serve` process (deployed with `dfcoach deploy` on an
untrained model of the chosen architecture, at its own image size) on a free
loopback port, sends a 256x256 JPEG to /inference/analyze-frame from
`--concurrency` clients until `--requests` answers came back, and asks /health
now and then during the load to show the event loop stays free.
Target (issue: deploy and serve): custom_cnn on this 2-core CPU, p50 under 20 ms, zero errors.
The clients run on the same machine and share its cores with the server. To show what HTTP
itself costs there, the same clients then send as many empty uploads, which the service refuses
(400) before any decoding or judging. Last, `--burst` clients send a 12,247 x 12,247 PNG (about 2 MB,
at dfcoach's 150-megapixel limit) at once, while the server's memory (its process and children, from /proc)
is watched: target (issue: nothing exhausted) peak under 1.5 GB, settled within 200 MB of idle, no
answers but 200 and deliberate 413s, /health answering throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from deepfake_coach.deploy import deploy_model
from deepfake_coach.images import MAX_PIXELS
from deepfake_coach.train.checkpoint import make_checkpoint, save_checkpoint
from deepfake_coach.train.models import build_model, get_spec


def jpeg_256() -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def big_png(side: int = math.isqrt(MAX_PIXELS)) -> bytes:
    """A picture at the pixel limit (12,247 x 12,247: 150 megapixels) that compresses to almost nothing:
    a flat colour with a band of noise (about 2 MB), written row by row without holding its pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rng = np.random.default_rng(0)
    packer = zlib.compressobj(6)
    parts = []
    band = side // 100
    for _ in range(band):  # filter "None": the row's own bytes
        parts.append(packer.compress(b"\x00" + (rng.integers(0, 256, 3 * side, dtype=np.uint8) // 64 * 64).tobytes()))
    parts.append(packer.compress(b"\x00" + bytes((128, 120, 110)) * side))
    same_as_above = b"\x02" + bytes(3 * side)  # filter "Up": each row repeats the one above
    for _ in range(side - band - 1):
        parts.append(packer.compress(same_as_above))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn's workers), in MB, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total_kb = 0
    for member in family:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


async def burst(url: str, pid: int, picture: bytes, uploads: int) -> dict:
    """`uploads` maximum-size pictures at once; peak and settled memory of the server, /health throughout."""
    import threading

    peak, stop = [0.0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_mb(pid))
            time.sleep(0.02)

    idle = tree_rss_mb(pid)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    statuses: list[int] = []
    health: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=httpx.Limits(max_connections=uploads + 1), trust_env=False) as client:
        done = asyncio.Event()

        async def upload() -> None:
            try:
                answer = await client.post("/inference/analyze-frame", files={"image": ("big.png", picture, "image/png")})
                statuses.append(answer.status_code)
            except httpx.HTTPError:
                statuses.append(0)

        async def probe() -> None:
            while not done.is_set():
                started = time.perf_counter()
                try:
                    ok = (await client.get("/health", timeout=10)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                health.append((time.perf_counter() - started) * 1000 if ok else float("inf"))
                await asyncio.sleep(0.1)

        prober = asyncio.create_task(probe())
        started = time.perf_counter()
        await asyncio.gather(*(upload() for _ in range(uploads)))
        elapsed = time.perf_counter() - started
        done.set()
        await prober
    await asyncio.sleep(3)  # let the server give memory back
    stop.set()
    watcher.join()
    return {"idle": idle, "peak": peak[0], "settled": tree_rss_mb(pid), "statuses": statuses, "health": health, "seconds": elapsed}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def load(url: str, total: int, concurrency: int, picture: bytes, expected: int = 200) -> tuple[list[float], int, list[float], list[float], float]:
    latencies: list[float] = []
    model_times: list[float] = []  # the server's own inference_ms: decoding and judging, without HTTP or queueing
    health_latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=concurrency + 1)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits, trust_env=False) as client:
        for _ in range(20):  # warm-up: first requests pay for lazy initialisation
            await client.post("/inference/analyze-frame", files={"image": ("bench.jpg", picture, "image/jpeg")})

        async def one_client() -> None:
            nonlocal sent, errors
            while sent < total:
                sent += 1
                started = time.perf_counter()
                try:
                    answer = await client.post("/inference/analyze-frame", files={"image": ("bench.jpg", picture, "image/jpeg")})
                    ok = answer.status_code == expected
                    if ok and expected == 200:
                        model_times.append(answer.json()["inference_ms"])
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        async def health_probe() -> None:
            while sent < total:
                started = time.perf_counter()
                await client.get("/health")
                health_latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.05)

        started = time.perf_counter()
        await asyncio.gather(health_probe(), *(one_client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, health_latencies, model_times, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads per worker (dfcoach serve --threads)")
    parser.add_argument("--model", default="custom_cnn")
    parser.add_argument("--burst", type=int, default=20, help="maximum-size uploads sent at once after the load (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        size = get_spec(args.model).native_size
        model_path = project / "models" / f"best_model_{args.model}_bench.pth"
        model_path.parent.mkdir()
        save_checkpoint(model_path, make_checkpoint(build_model(args.model), args.model, size))
        deploy_model(model_path, project / ".env")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "deepfake_coach", "serve", "--env-file", str(project / ".env"), "--port", str(port),
             "--workers", str(args.workers), *(["--threads", str(args.threads)] if args.threads else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"},
        )
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/health", timeout=2, trust_env=False).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("the service did not start")
            latencies, errors, health, model_times, elapsed = asyncio.run(load(url, args.requests, args.concurrency, jpeg_256()))
            # The same clients and server, the same upload path, but an empty file, refused (400) before
            # any decoding or judging: what HTTP, the multipart form and the clients cost on their own.
            bare, bare_errors, _, _, bare_elapsed = asyncio.run(load(url, args.requests, args.concurrency, b"", expected=400))
            picture = big_png()
            big = asyncio.run(burst(url, server.pid, picture, args.burst)) if args.burst else None
        finally:
            server.terminate()
            server.wait(30)
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    print(f"{args.model} at {size} px, {args.workers} worker(s) x {args.threads or 'default'} torch threads, {len(latencies)} requests of a 256x256 JPEG from "
          f"{args.concurrency} concurrent clients on {os.cpu_count()} CPU cores")
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  mean {statistics.mean(latencies):.1f}")
    print(f"of which decoding and judging in the server (inference_ms): p50 {percentile(model_times, 50):.1f}  p95 {percentile(model_times, 95):.1f}")
    print(f"throughput: {len(latencies) / elapsed:.0f} requests/s over {elapsed:.1f} s; errors: {errors}")
    print(f"/health during the load: {len(health)} probes, p50 {percentile(health, 50):.1f} ms, max {max(health):.1f} ms")
    print(f"target p50 < 20 ms with zero errors: {'met' if p50 < 20 and errors == 0 else 'MISSED'}")
    ceiling = len(bare) / bare_elapsed
    print(f"the HTTP stack alone (an empty upload, refused before any model work): p50 {percentile(bare, 50):.1f} ms, "
          f"{ceiling:.0f} requests/s{f', {bare_errors} unexpected answers' if bare_errors else ''}")
    print(f"with {args.concurrency} clients always waiting, p50 < 20 ms needs about {args.concurrency * 1000 / 20:.0f} requests/s "
          f"(Little's law: requests in flight = requests/s x latency)")
    if big is not None:
        answered = {code: big["statuses"].count(code) for code in sorted(set(big["statuses"]))}
        unexpected = sum(n for code, n in answered.items() if code not in (200, 413))
        slowest = max(big["health"]) if big["health"] else float("nan")
        side = math.isqrt(MAX_PIXELS)
        print(f"{args.burst} maximum-size uploads at once ({side:,} x {side:,} PNG, {len(picture) / 1e6:.1f} MB) in {big['seconds']:.1f} s: answers {answered}; "
              f"server memory idle {big['idle']:.0f} MB, peak {big['peak']:.0f} MB, settled {big['settled']:.0f} MB; "
              f"/health {len(big['health'])} probes, slowest {slowest:.0f} ms")
        met = big["peak"] < 1536 and big["settled"] - big["idle"] <= 200 and not unexpected and slowest < 10_000
        print(f"target peak < 1.5 GB, settled within 200 MB of idle, only 200/413 answers, /health answering: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
