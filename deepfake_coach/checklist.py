"""The beginner's guide's success checklist, computed from what is on disk."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from deepfake_coach.project import MODELS
from deepfake_coach.train.coach import balanced_differs

PASS_ACCURACY = 0.70


def validation_score(accuracy: float | None, balanced: float | None) -> tuple[float | None, str]:
    """The figure the 70% bar applies to, and how to say it. With unequal classes that is balanced
    accuracy: on validation images that are 72% real, a model that calls everything real scores 72%
    accuracy and has learned nothing. When both agree, plain accuracy, as the guide says it."""
    if accuracy is None:
        return None, ""
    if not balanced_differs(accuracy, balanced):
        return accuracy, f"{accuracy:.1%}"
    return balanced, f"{balanced:.1%} balanced, {accuracy:.1%} plain: the classes are unequal"


class Item(NamedTuple):
    done: bool
    what: str
    how: str  # the command or step that gets it done
    key: str = ""  # which item it is, for code that follows the checklist (the wizard's last words)

    def to_dict(self) -> dict:
        return self._asdict()


def success_checklist(data_dir: Path, project_dir: Path = Path("."), env_file: Path | None = None) -> list[Item]:
    """Each item of the guide's checklist, ticked or not; `env_file` defaults to project_dir/.env."""
    from deepfake_coach.data.checks import check_dataset
    from deepfake_coach.deploy import read_deployment
    from deepfake_coach.errors import CoachError
    from deepfake_coach.inference import Detector, newest_model
    from deepfake_coach.serve.settings import env_file_flag
    from deepfake_coach.train.run import RunFolder, runs_dir

    project_dir = Path(project_dir)
    env_file = Path(env_file) if env_file is not None else project_dir / ".env"
    report = check_dataset(data_dir, save_report=False)
    run = RunFolder.latest(runs_dir(project_dir))
    saved, loads, metrics = False, False, {}
    try:
        model_path = newest_model(project_dir / MODELS)
        saved = True
        metrics, loads = Detector.load(model_path).metrics, True
    except CoachError:  # no model yet, or one that does not load
        pass
    best_acc, said = validation_score(metrics.get("val_acc"), metrics.get("val_balanced_acc"))
    accuracy = f" (best {said})" if best_acc is not None else ""
    deploy = f"dfcoach deploy{env_file_flag(env_file)}"
    return [
        Item(report.fit_to_train, "Dataset organized and fit to train", f"dfcoach data check --data-dir {data_dir}", "dataset"),
        Item(run is not None and run.status() == "finished", "A training run completed without errors", "dfcoach train --quick", "run"),
        Item(best_acc is not None and best_acc > PASS_ACCURACY, f"Validation accuracy above {PASS_ACCURACY:.0%}{accuracy}",
             "train longer (dfcoach train), or with more images", "accuracy"),
        Item(saved, "Model saved in models/", "dfcoach train", "saved"),
        Item(loads, "Ready to integrate: the saved model loads safely", "dfcoach train, then use models/best_model_*.pth", "loads"),
        Item(read_deployment(env_file).loads, f"Deployed: {env_file} points at a model that loads", deploy, "deployed"),
    ]
