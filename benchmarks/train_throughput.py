"""Training throughput: dfcoach's pipeline against a plain ImageFolder loader and the model alone.

    python benchmarks/train_throughput.py [--data DATASET] [--model efficientnet_lite0] [--batches 40] [--device cpu|cuda] [--workers 0]

In one run, on the same images, model, batch size and number of steps:
  * in memory:   the model alone, on tensors already in memory (the ceiling);
  * dfcoach:     the decoded-image cache (memory-mapped), crops and flips on whole batches, the next
                 batch made by a background thread while the model works (train/loop.py's path);
  * ImageFolder: torchvision's ImageFolder + PIL decoding + transforms, the usual tutorial loader,
                 in a DataLoader with --workers worker processes (0: in the training process).
Each training step is dfcoach's own `train_step` on the model, optimizer and scaler of its recipe
(`training_parts`): on CUDA with mixed precision (AMP) and channels_last, as `dfcoach train` runs
there; a fine-tuned model (the default) in its body stage, the first layers frozen.
Targets (issue: the training coach): dfcoach >= 3x ImageFolder, and >= 90% of in memory (issue:
real faces, for real: the same 90% for the default model).
When the model itself is the bottleneck (a CPU), no loader can be 3x another that costs
less than the model: the script also prints the loaders alone, without a model.
Each pipeline feeds the model what dfcoach's recipe trains on: for a model that trains on crops
(efficientnet_lite0: random squares of 7/8 of the image; noise_cnn: of half) the plain loader gets the
same RandomCrop, so all three do the same arithmetic.
Without --data it makes 2,000 demo faces at 256 px (like the Kaggle 140k images) in a temporary folder.
Also prints the peak memory (max RSS) of the process.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from deepfake_coach.data.sources import tiny_demo
from deepfake_coach.train.data import load_split, pinned, prefetch, to_tensor, training_batches
from deepfake_coach.config import TrainConfig
from deepfake_coach.train import recipe
from deepfake_coach.train.loop import fine_tune_for, resolve_device, train_step, training_parts, uses_channels_last
from deepfake_coach.train.models import get_spec, starts_pretrained


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_steps(model, optimizer, scaler, criterion, batch_source, steps: int, device: torch.device) -> float:
    """Images per second over `steps` training steps (after 3 warm-up steps)."""
    recipe.train_mode(model)
    seen, started = 0, None
    for i, (x, y) in enumerate(batch_source):
        if i == 3:
            synchronize(device)
            seen, started = 0, time.perf_counter()
        train_step(model, x, y, optimizer, criterion, scaler)
        seen += len(y)
        if i == steps + 2:
            break
    synchronize(device)
    return seen / (time.perf_counter() - started)


def loader_only(batch_source, steps: int) -> float:
    """Images per second the loader alone delivers (no model): what decoding costs."""
    seen, started = 0, time.perf_counter()
    for i, (x, y) in enumerate(batch_source):
        seen += len(y)
        if i == steps - 1:
            break
    return seen / (time.perf_counter() - started)


def repeat(make_iterator):
    while True:
        yield from make_iterator()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--model", default=TrainConfig().model)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for the ImageFolder loader")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    spec = get_spec(args.model)
    channels_last = uses_channels_last(spec, device)
    size = spec.native_size
    crop = spec.crop_size(size)  # None: the model trains on whole images
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data or Path(tmp) / "dataset"
        if args.data is None:
            tiny_demo.generate(data_dir, images_per_class=1000, image_size=256)
        started = time.perf_counter()
        train = load_split(data_dir, "train", size)
        print(f"{len(train):,} training images; decode cache ready in {time.perf_counter() - started:.1f} s (built once, then reused)")

        model, optimizer, scaler, criterion = training_parts(TrainConfig(model=args.model), device)
        recipe.set_stage(model, fine_tune_for(spec, starts_pretrained(args.model, None)), "body")  # most of a run is this stage
        recipe.set_learning_rate(optimizer, 1e-3)

        def dfcoach_batches():  # as train/loop.py's train_one_epoch makes them
            for epoch in range(1000):
                made = training_batches(train, args.batch_size, seed=0, epoch=epoch, crop=crop)
                for images, labels, flip in prefetch(pinned(made) if device.type == "cuda" else made):
                    yield (to_tensor(images, spec.mean, spec.std, device, flip, channels_last=channels_last),
                           torch.as_tensor(labels).to(device, non_blocking=True))

        batch_maker = dfcoach_batches()
        in_memory = [next(batch_maker) for _ in range(8)]  # already on the device
        batch_maker.close()

        def to_device(batch):
            x, y = batch
            x = x.to(device, non_blocking=True)
            return (x.contiguous(memory_format=torch.channels_last) if channels_last else x), y.to(device, non_blocking=True)

        import torchvision
        from torchvision import transforms

        plain = torchvision.datasets.ImageFolder(
            str(data_dir / "train"),
            transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size)]
                               + ([transforms.RandomCrop(crop)] if crop is not None else [])
                               + [transforms.RandomHorizontalFlip(), transforms.ToTensor(), transforms.Normalize(spec.mean, spec.std)]),
        )
        loader = torch.utils.data.DataLoader(plain, batch_size=args.batch_size, shuffle=True, num_workers=args.workers,
                                             pin_memory=device.type == "cuda", persistent_workers=args.workers > 0)

        def step(source):
            return timed_steps(model, optimizer, scaler, criterion, source, args.batches, device)

        figures = {
            "in memory": step(repeat(lambda: iter(in_memory))),
            "dfcoach": step(dfcoach_batches()),
            "ImageFolder": step(map(to_device, repeat(lambda: iter(loader)))),
        }
        loading = {
            "dfcoach": loader_only(dfcoach_batches(), args.batches),
            "ImageFolder": loader_only(repeat(lambda: iter(loader)), args.batches),
        }
    cropped = f", trained on {crop} px crops" if crop is not None else ""
    where = f"{device}" + (f" ({torch.cuda.get_device_name(device)}, AMP, channels_last)" if device.type == "cuda" else f", {torch.get_num_threads()} threads")
    print(f"model {args.model}, {size} px{cropped}, batch {args.batch_size}, {args.batches} steps each, on {where}; "
          f"ImageFolder with {args.workers} worker processes")
    for name, rate in figures.items():
        print(f"  {name:12s} {rate:8.1f} images/s")
    ratio_plain = figures["dfcoach"] / figures["ImageFolder"]
    ratio_memory = figures["dfcoach"] / figures["in memory"]
    print(f"dfcoach / ImageFolder: {ratio_plain:.2f}x (target >= 3x: {'met' if ratio_plain >= 3 else 'MISSED'})")
    print(f"dfcoach / in memory:   {ratio_memory:.0%} (target >= 90%: {'met' if ratio_memory >= 0.9 else 'MISSED'})")
    print("loading alone (no model), images/s: " + ", ".join(f"{k} {v:,.0f}" for k, v in loading.items())
          + f" ({loading['dfcoach'] / loading['ImageFolder']:.0f}x)")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
