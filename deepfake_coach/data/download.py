"""`dfcoach data download NAME`: get a dataset onto disk in the training layout (the demo and the
empty skeleton here; the other sources in their own modules of data/sources)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_coach.data.sources import DEMO_MIN_IMAGES_PER_CLASS, DOWNLOADABLE, get_source, sample
from deepfake_coach.errors import CoachError, DataError, Interrupted, UsageError, from_os_error
from deepfake_coach.data.replace import building_dataset, look_at_target
from deepfake_coach.io.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class DemoMade:
    count: int
    data_dir: Path


@dataclass(frozen=True)
class SampleMade:
    created: list[Path]
    data_dir: Path


def get_tiny_demo(request, output, progress: Progress = NO_PROGRESS) -> DemoMade:
    """The demo, as the `tiny_demo` source of a DatasetRequest (data/sources)."""
    count = download_tiny_demo(request.data_dir, request.images_per_class, request.seed, request.replace, progress)
    return DemoMade(count, Path(request.data_dir))


def get_sample(request, output, progress: Progress = NO_PROGRESS) -> SampleMade:
    """The empty skeleton, as the `sample` source of a DatasetRequest (data/sources)."""
    return SampleMade(create_sample(request.data_dir), Path(request.data_dir))


def download_tiny_demo(
    data_dir: Path, images_per_class: int = 500, seed: int = 0, replace: bool = False, progress: Progress = NO_PROGRESS
) -> int:
    """Generate the offline demo into `data_dir` (atomically); returns the number of images."""
    from deepfake_coach.data.sources import tiny_demo

    check_images_per_class(images_per_class)
    look_at_target(Path(data_dir)).allow(replace)
    try:
        with building_dataset(Path(data_dir), replace, progress) as staging:
            images = tiny_demo.generate(staging, images_per_class=images_per_class, seed=seed, progress=progress)
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by you. {data_dir} is as it was before.", hint="Run the same command again when you are ready.") from None
    except FileExistsError:
        raise DataError(f"{data_dir} appeared while the demo was being made.", hint="Run the command again with --force to replace it.") from None
    except OSError as error:
        raise from_os_error(error, f"write the demo dataset to {data_dir}") from None
    return len(images)


def check_images_per_class(images_per_class: int) -> None:
    """The demo's size, checked before anything is made (by `data download` and by `init`)."""
    if images_per_class < DEMO_MIN_IMAGES_PER_CLASS:
        raise UsageError(f"--images-per-class must be at least {DEMO_MIN_IMAGES_PER_CLASS}, so that val and test get images too.",
                         hint="The default, 500, is a good start.")


def create_sample(data_dir: Path) -> list[Path]:
    try:
        return sample.create_skeleton(Path(data_dir))
    except OSError as error:
        raise from_os_error(error, f"create the folders in {data_dir}") from None


def not_downloadable(name: str) -> CoachError:
    """What to tell someone who asks for a dataset dfcoach cannot fetch by itself."""
    if name in DOWNLOADABLE:
        raise ValueError(f"{name} is downloadable")  # a caller's mistake, not the person's
    choice = get_source(name)  # a UsageError listing the names when there is no such dataset
    return DataError(
        f"dfcoach cannot download {choice.title} by itself in this version.",
        hint=f"To use it: {choice.how_to_get}",
    )
