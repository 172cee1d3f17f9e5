"""Getting a dataset into the project's data folder, whichever source it comes from."""

from __future__ import annotations

from pathlib import Path

from deepfake_coach.data.sources import DatasetRequest, get_source
from deepfake_coach.errors import DataError, UsageError
from deepfake_coach.io.output import Output
from deepfake_coach.project import Project
from deepfake_coach.io.progress import NO_PROGRESS, Progress
from deepfake_coach.io.answers import Answers

__all__ = ["DatasetRequest", "get_dataset", "may_build_into", "replace_question"]


def get_dataset(request: DatasetRequest, project: Project, output: Output, progress: Progress = NO_PROGRESS):
    """Make the dataset `request` names in `request.data_dir`; dfcoach.yaml then remembers which it is
    and where, for the commands that follow. Returns the source's result (ui.reports shows it)."""
    source = get_source(request.name)
    missing = [need for need in source.needs if getattr(request, need) is None]
    if missing:
        raise UsageError(f"{source.title} needs --{missing[0].replace('_', '-')}.", hint=f"To use it: {source.how_to_get}")
    result = source.getter()(request, output, progress)
    project.record_dataset(request.name, request.data_dir)
    return result


def replace_question(data_dir: Path) -> str:
    return (f"{data_dir}/ already holds a dataset. Delete it and replace it with the new one? (It is deleted only "
            "once the new one is complete and passes the check.)")


def may_build_into(data_dir: Path, force: bool, answers: Answers, source: Path | None = None) -> bool:
    """For the commands: build into `data_dir` when it is free, or holds a dataset that --force (or a
    yes) replaces; anything else is refused (data.replace's rule, which the wizard follows too)."""
    from deepfake_coach.data.replace import decide_replace

    def ask() -> bool:
        return answers.confirm(replace_question(data_dir), flag="--force (or choose another --data-dir)", given=None, default=False)

    if decide_replace(data_dir, True if force else None, ask, source=source):
        return True
    raise DataError(f"Left {data_dir}/ as it was.", hint="Choose another folder with --data-dir, or pass --force to replace it.")
