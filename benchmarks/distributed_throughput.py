"""Training throughput on several processes against one: images/s of dfcoach's training epoch
(train/loop.py's `train_one_epoch`, with train/distributed.py's plumbing: shares of each batch,
whole-batch BatchNorm and dropout, DistributedDataParallel) on 1 and N processes.

    python benchmarks/distributed_throughput.py [--model custom_cnn] [--image-size 64] [--batch-size 32]
        [--steps 20] [--device auto|cpu|cuda] [--processes 1,2] [--whole-step] [--data DATASET]

Each count of processes runs under torchrun (this script again, as the training processes), on the
same pictures. Each process takes --batch-size images per step, so the step of N processes is N
times as large (`dfcoach train --devices N --batch-size N*B`): N processes should do N times the
work of one in the same time. With --whole-step, --batch-size is the whole step's instead, shared
among the processes, as `dfcoach train --devices N` shares it: the same training, faster or not. The figure is the best of two timed epochs after a warm-up epoch
(which includes DDP's set-up and the memory check of each epoch's first batch, repeated in every
epoch and so timed too).
  * On GPUs (--device cuda, or auto where there are some): 1 and all GPUs by default; the target
    (issue 19) is at least 0.9 x N times one GPU's images/s.
  * On a CPU the processes share its cores (each gets cores/N threads, as `dfcoach train --devices`
    gives them): the figure shows what the split costs or gains, not more arithmetic.
Without --data it makes demo faces at --image-size in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def worker(args) -> None:
    import torch

    from deepfake_coach.config import TrainConfig
    from deepfake_coach.train import distributed, recipe
    from deepfake_coach.train.data import SplitImages, load_split
    from deepfake_coach.train.loop import resolve_device, train_one_epoch, training_parts
    from deepfake_coach.train.models import get_spec
    from deepfake_coach.io.progress import NO_PROGRESS

    world = distributed.world()
    device = world.place(resolve_device(args.device))
    world.start(device)
    spec = get_spec(args.model)
    whole = world.leader_first(lambda: load_split(args.data, "train", args.image_size))
    step = args.batch_size if args.whole_step else args.batch_size * world.size
    count = step * args.steps
    train = SplitImages(whole.images[:count], whole.labels[:count], whole.files[:count])
    torch.manual_seed(0)
    config = TrainConfig(model=args.model, batch_size=step, image_size=args.image_size)
    model, optimizer, scaler, criterion = training_parts(config, device, pretrained=False)
    model = world.prepare(model)
    trained = world.wrap(model, device)
    recipe.set_learning_rate(optimizer, 1e-3)
    rates = []
    for epoch in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        train_one_epoch(trained, spec, train, step, optimizer, criterion, device, 0, epoch, NO_PROGRESS,
                        "", scaler, crop=spec.crop_size(args.image_size), world=world)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rates.append(len(train) / (time.perf_counter() - started))
    if world.leader:
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads each"
        print(json.dumps({"processes": world.size, "images_per_s": max(rates[1:]), "device": device.type, "where": where,
                          "step": step, "images": len(train)}))
    world.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="custom_cnn")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32, help="images per process per step")
    parser.add_argument("--whole-step", action="store_true", help="--batch-size is the whole step's, shared among the processes")
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--processes", help="counts of processes, e.g. 1,2 (default: 1 and 2 on a CPU, 1 and all GPUs)")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import torch

    gpus = torch.cuda.device_count() if args.device in ("auto", "cuda") else 0
    counts = [int(n) for n in args.processes.split(",")] if args.processes else ([1, gpus] if gpus > 1 else [1, 2])
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from deepfake_coach.data.sources import tiny_demo

            data = Path(tmp) / "dataset"
            needed = (1 if args.whole_step else max(counts)) * args.batch_size * args.steps  # training images; the demo puts 70% of its faces in train/
            tiny_demo.generate(data, images_per_class=int(needed / 1.4) + 10, image_size=max(32, args.image_size))
        results = []
        for n in counts:
            threads = str(max(1, (os.cpu_count() or 1) // n))
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}", __file__, "--worker",
                       "--model", args.model, "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
                       "--steps", str(args.steps), "--device", args.device, "--data", str(data), *(["--whole-step"] if args.whole_step else [])]
            done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": threads}, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                sys.exit(f"{n} processes failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(lines[-1]))
    first = results[0]
    per = "a step, shared among the processes" if args.whole_step else "per process per step"
    print(f"model {args.model}, {args.image_size} px, {args.batch_size} images {per}, {args.steps} steps an epoch, "
          f"on {first['device']} ({first['where']} with 1 process)")
    for r in results:
        scaling = r["images_per_s"] / first["images_per_s"]
        line = f"  {r['processes']} process{'es' if r['processes'] > 1 else '  '}: {r['images_per_s']:8.1f} images/s ({scaling:.2f}x one)"
        if r["device"] == "cuda" and r["processes"] > 1 and not args.whole_step:
            line += f"; target >= {0.9 * r['processes']:.1f}x: {'met' if scaling >= 0.9 * r['processes'] else 'MISSED'}"
        print(line)


if __name__ == "__main__":
    main()
