"""Training images, decoded once.

Decoding a JPEG costs more than a small CNN's step on it, so each split is
decoded once, at the training size, into a uint8 array memory-mapped from
`dataset/.dfcoach/cache/<split>-<size>px.npy`. Later epochs and later runs
read pixels straight from it. Rows are written to and read from the file
rather than through the mapping, so the operating system's cache holds them,
not the process: `benchmarks/train_throughput.py` on 20,000 images at 256 px
(a 3.9 GB cache) peaks at 1.3 GB, building the cache included. The cache is rebuilt when any file in the split
is added, removed or changed (by name, size and modification time).

Images are resized so the shorter side fits, then centre-cropped to a square
(the usual Resize + CenterCrop), after turning them upright by their EXIF
orientation. Files that cannot be decoded are skipped and reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import numpy as np

from deepfake_coach.data.layout import CLASSES, DERIVED_DIR, IMAGE_EXTENSIONS, visible_files
from deepfake_coach.errors import from_os_error
from deepfake_coach.fsutil import atomic_write_text
from deepfake_coach.io.progress import NO_PROGRESS, Progress

CACHE_VERSION = 2  # 2: pictures much larger than the training size are reduced as they are decoded
T = TypeVar("T")


@dataclass
class SplitImages:
    images: np.ndarray  # (N, size, size, 3) uint8, memory-mapped
    labels: np.ndarray  # (N,) int64: the index in CLASSES (fake = 1)
    files: list[str]  # relative to the dataset folder, in the order of `images`
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def __len__(self) -> int:
        return len(self.labels)


def decode_image(path: Path, size: int) -> np.ndarray:
    """An upright RGB square of `size` pixels: shorter side resized to `size`, then centre-cropped.
    A larger picture is reduced as it is decoded (deepfake_coach.images), so a 144-megapixel photo
    never exists in full in memory more than once; `UnreadablePicture` says why a file cannot be used."""
    from deepfake_coach.images import open_picture

    with open_picture(path, size) as picture:
        return square_image(picture.image, size)


def square_image(image, size: int) -> np.ndarray:
    """The training preprocessing of an opened PIL image (EXIF upright, resize shorter side, centre crop):
    training, evaluation, prediction and the service all go through here, so they see the same pixels."""
    from PIL import Image, ImageOps

    if image.mode in ("P", "PA"):  # a palette with transparency goes through RGBA, as Pillow asks
        image = image.convert("RGBA")
    image = ImageOps.exif_transpose(image).convert("RGB")
    width, height = image.size
    scale = size / min(width, height)
    resized = image.resize((max(size, round(width * scale)), max(size, round(height * scale))), Image.BILINEAR)
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    return np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8)


def split_files(data_dir: Path, split: str) -> list[tuple[Path, int]]:
    """The images of `split`, class by class, each with its label's index in CLASSES."""
    files = []
    for label_index, label in enumerate(CLASSES):
        folder = data_dir / split / label
        if folder.is_dir():
            files += [(p, label_index) for p in visible_files(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]
    return files


def typical_image_size(data_dir: Path, split: str = "train", sample: int = 200) -> int | None:
    """The median shorter side of (up to `sample` of) a split's images, read from their headers only;
    None when none can be read."""
    from deepfake_coach.images import UnreadablePicture, read_header

    files = split_files(Path(data_dir), split)
    step = max(1, len(files) // sample)
    sides = []
    for path, _ in files[::step]:
        try:
            header = read_header(path)
        except UnreadablePicture:  # reported, with its reason, when the split is decoded
            continue
        sides.append(min(header.width, header.height))
    return int(np.median(sides)) if sides else None


def _fingerprint(data_dir: Path, files: list[tuple[Path, int]], size: int) -> str:
    digest = hashlib.sha256(f"{CACHE_VERSION}:{size}".encode())
    for path, label in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(data_dir).as_posix()}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def load_split(data_dir: Path, split: str, image_size: int, progress: Progress = NO_PROGRESS, workers: int | None = None) -> SplitImages:
    """The decoded images of one split, from the cache when it is current, else decoded now and cached."""
    data_dir = Path(data_dir)
    files = split_files(data_dir, split)
    cache_dir = data_dir / DERIVED_DIR / "cache"
    array_path = cache_dir / f"{split}-{image_size}px.npy"
    index_path = cache_dir / f"{split}-{image_size}px.json"
    fingerprint = _fingerprint(data_dir, files, image_size)
    cached = _read_cache(array_path, index_path, fingerprint)
    if cached is not None:
        return cached
    return _build_cache(data_dir, split, files, image_size, array_path, index_path, fingerprint, progress, workers)


def _read_cache(array_path: Path, index_path: Path, fingerprint: str) -> SplitImages | None:
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if index.get("fingerprint") != fingerprint:
            return None
        images = np.load(array_path, mmap_mode="r")[: index["count"]]
    except (OSError, ValueError, KeyError):
        return None  # missing or damaged: decode again
    return SplitImages(images, np.asarray(index["labels"], dtype=np.int64), index["files"], [tuple(s) for s in index["skipped"]])


def _build_cache(data_dir, split, files, size, array_path, index_path, fingerprint, progress, workers) -> SplitImages:
    from deepfake_coach.images import UnreadablePicture

    def decode(entry):
        try:
            return decode_image(entry[0], size)
        except UnreadablePicture as error:  # damaged, too large, permission denied...: in plain words
            return error.reason
        except Exception as error:  # any other undecodable file is reported too, never fatal
            return f"cannot be decoded ({type(error).__name__}: {error})"

    cache_dir = array_path.parent
    partial = cache_dir / f".{array_path.name}.partial"
    try:
        return _write_cache(data_dir, split, files, size, array_path, index_path, fingerprint, progress, workers, decode, partial)
    except OSError as error:  # a full disk, most often: nothing half-written is left behind
        partial.unlink(missing_ok=True)
        raise from_os_error(error, f"save the decoded {split} images in {cache_dir} (they take {_cache_size(len(files), size)})") from None


def _cache_size(count: int, size: int) -> str:
    megabytes = count * size * size * 3 / 1e6
    return f"{megabytes / 1000:.1f} GB" if megabytes >= 1000 else f"{megabytes:.0f} MB"


def _write_cache(data_dir, split, files, size, array_path, index_path, fingerprint, progress, workers, decode, partial) -> SplitImages:
    cache_dir = array_path.parent
    cache_dir.mkdir(parents=True, exist_ok=True)
    shape = (max(len(files), 1), size, size, 3)
    header = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)  # writes the .npy header only
    first_row, row_bytes = header.offset, size * size * 3
    del header
    kept_files, labels, skipped = [], [], []
    # Pillow releases the GIL while decoding and resizing, so threads use every core. Rows are written
    # to the file, not through a mapping: pages written through a mapping count in the process's memory
    # (4.3 GB peak for 20,000 images at 256 px, against 1.3 GB this way).
    with open(partial, "r+b") as out, ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool, progress.task(
        f"Decoding {split} images (once; later runs reuse them)", total=len(files), unit="images"
    ) as task:
        for (path, label), result in zip(files, pool.map(decode, files)):
            relative = path.relative_to(data_dir).as_posix()
            if isinstance(result, str):
                skipped.append((relative, result))
            else:
                out.seek(first_row + len(kept_files) * row_bytes)
                out.write(np.ascontiguousarray(result, dtype=np.uint8).data)
                kept_files.append(relative)
                labels.append(label)
            task.advance()
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, array_path)
    index = {"version": CACHE_VERSION, "fingerprint": fingerprint, "count": len(kept_files), "files": kept_files, "labels": labels, "skipped": skipped}
    atomic_write_text(index_path, json.dumps(index))  # written last: it is what makes the cache valid
    return SplitImages(np.load(array_path, mmap_mode="r")[: len(kept_files)], np.asarray(labels, dtype=np.int64), kept_files, skipped)


def epoch_order(labels: np.ndarray, seed: int, epoch: int, balanced: bool = False) -> np.ndarray:
    """The images of one epoch, in order; it depends only on (seed, epoch), so a resumed run repeats it.

    `balanced` draws as many images as there are, each class making up half of them on average
    (the smaller class's images are seen more often): with 700 real and 270 fake images, a model
    trained on them as they come learns that "real" is the safe answer."""
    rng = np.random.default_rng([seed, epoch])
    if not balanced:
        return rng.permutation(len(labels))
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    present = np.count_nonzero(counts)
    weights = 1.0 / (present * counts[labels])
    return rng.choice(len(labels), size=len(labels), replace=True, p=weights / weights.sum())


def batches(data: SplitImages, batch_size: int, shuffle: bool, seed: int = 0, epoch: int = 0,
            balanced: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images uint8 NHWC, labels) in batches, shuffled by `epoch_order` or in file order."""
    order = epoch_order(data.labels, seed, epoch, balanced) if shuffle else np.arange(len(data))
    for chosen in _batch_rows(order, batch_size):
        yield read_images(data.images, chosen), data.labels[chosen]


def _batch_rows(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield np.sort(order[start : start + batch_size])  # sorted reads are kinder to the disk


def share_of(count: int, rank: int, processes: int) -> slice:
    """Process `rank`'s rows of a batch of `count` images shared among `processes`: every
    `processes`-th row from its own, so each share is a spread of the batch (of both classes, where
    the batch's rows are in file order), the shares differing by at most one image."""
    return slice(rank, count, processes)


def read_images(images: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """images[chosen] as a new array. From a memory-mapped cache, the rows are read from the file
    instead of through the mapping: pages touched through a mapping count in the process's memory
    (20,000 images at 256 px are 3.9 GB), pages read from a file stay in the system's cache."""
    if not (isinstance(images, np.memmap) and images.filename and images.flags.c_contiguous) or not len(chosen):
        return np.ascontiguousarray(images[chosen])
    out = np.empty((len(chosen), *images.shape[1:]), dtype=images.dtype)
    row_bytes = out[0].nbytes
    with open(images.filename, "rb", buffering=0) as handle:
        for k, index in enumerate(chosen):
            handle.seek(images.offset + int(index) * row_bytes)
            if handle.readinto(memoryview(out[k]).cast("B")) != row_bytes:
                raise OSError(f"{images.filename} is shorter than its header says")
    return out


def training_batches(data: SplitImages, batch_size: int, seed: int, epoch: int, balanced: bool = False,
                     crop: int | None = None, part: tuple[int, int] = (0, 1)) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of training batches as (images uint8 NHWC, labels, which images to mirror): each
    image a random `crop`-pixel square when given, half of them flipped. Depends only on (seed,
    epoch), so a resumed run, or an epoch redone with smaller batches, sees the same draws.

    `part` (rank, processes): each batch is drawn whole, as one process draws it (the same pictures,
    crops and flips), and only this process's share of it (`share_of`) is read; so the processes of
    a run on several devices together see exactly the batches of a run on one."""
    flips = np.random.default_rng([seed, epoch, 2])
    crops = np.random.default_rng([seed, epoch, 1])
    height, width = data.images.shape[1:3]
    for chosen in _batch_rows(epoch_order(data.labels, seed, epoch, balanced), batch_size):
        mine = share_of(len(chosen), *part)
        corners = crop_corners(len(chosen), height, width, crop, crops) if crop is not None else None
        images = read_images(data.images, chosen[mine])
        if corners is not None:
            images = cut_crops(images, crop, corners[0][mine], corners[1][mine])
        yield images, data.labels[chosen[mine]], (flips.random(len(chosen)) < 0.5)[mine]


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yields `items`, made up to `depth` ahead by a background thread, so reading and cropping the
    next batch overlaps the model's work on this one (on a GPU, and on the CPU's other core). File
    reads and numpy copies release the GIL. An error in the thread is raised here; leaving the loop
    early (an out-of-memory error, Ctrl-C) stops the thread."""
    done = object()
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((done, None))
        except BaseException as error:  # handed to the consumer, raised there
            ready.put((done, error))

    worker = threading.Thread(target=produce, name="dfcoach-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


CROP_GRID = 8  # crops start on multiples of 8 pixels: JPEG's 8x8 blocks (and a generator's upsampling grid) stay where they were


def random_crops(images: np.ndarray, crop: int, rng: np.random.Generator, grid: int = CROP_GRID) -> np.ndarray:
    """A `crop`-pixel square from each image (uint8 NHWC), at full resolution: nothing is resized, so
    the fine noise where fakes leave traces is kept as it was."""
    corners = crop_corners(len(images), images.shape[1], images.shape[2], crop, rng, grid)
    return images if corners is None else cut_crops(images, crop, *corners)


def crop_corners(n: int, height: int, width: int, crop: int, rng: np.random.Generator,
                 grid: int = CROP_GRID) -> tuple[np.ndarray, np.ndarray] | None:
    """(tops, lefts) of `n` random `crop`-pixel squares on the grid; None (and nothing drawn) when
    the crop is the whole image."""
    if crop >= min(height, width):
        return None
    tops = rng.integers(0, (height - crop) // grid + 1, n) * grid
    lefts = rng.integers(0, (width - crop) // grid + 1, n) * grid
    return tops, lefts


def cut_crops(images: np.ndarray, crop: int, tops: np.ndarray, lefts: np.ndarray) -> np.ndarray:
    if not len(images):
        return images[:, :crop, :crop]
    return np.stack([image[top : top + crop, left : left + crop] for image, top, left in zip(images, tops, lefts)])


def pinned(items: Iterable[tuple[np.ndarray, ...]]) -> Iterator[tuple]:
    """The arrays of each item as tensors in page-locked memory, which the GPU copies from without
    waiting for the CPU. Meant for `prefetch`'s thread, so the pinning costs the training loop nothing."""
    import torch

    for arrays in items:
        yield tuple(torch.from_numpy(np.ascontiguousarray(a)).pin_memory() for a in arrays)


_NORMALIZERS: dict[tuple, tuple] = {}


def _normalizer(mean, std, device) -> tuple:
    """(scale, shift) with pixels * scale + shift == (pixels / 255 - mean) / std, made once per device:
    a small tensor made from a list on every batch is a copy the GPU waits for."""
    import torch

    key = (str(device), tuple(mean), tuple(std))
    if key not in _NORMALIZERS:
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        _NORMALIZERS[key] = ((1 / (255 * std_t)).to(device), (-mean_t / std_t).to(device))
    return _NORMALIZERS[key]


def to_tensor(images, mean, std, device="cpu", flip=None, channels_last: bool = False):
    """uint8 NHWC (numpy or tensor) -> normalised float NCHW on `device`; `flip` is a bool mask
    (numpy or tensor) of images to mirror left-right. Nothing here waits for the GPU."""
    import torch

    pixels = images if isinstance(images, torch.Tensor) else torch.from_numpy(images)
    x = pixels.to(device, non_blocking=True).permute(0, 3, 1, 2)  # a channels_last view, no copy
    if flip is not None:
        mask = torch.as_tensor(flip).to(x.device, non_blocking=True).view(-1, 1, 1, 1)
        x = torch.where(mask, x.flip(-1), x)  # a boolean index would make the GPU report back first
    scale, shift = _normalizer(mean, std, x.device)
    x = torch.addcmul(shift, x.float(), scale)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()
