"""The beginner's guide's success checklist, computed from what is on disk."""

from __future__ import annotations

import json
from pathlib import Path

PASS_ACCURACY = 0.70

Item = tuple[bool, str, str]  # (done, what, the command or step that gets it done)


def success_checklist(data_dir: Path, project_dir: Path = Path(".")) -> list[Item]:
    from deepfake_coach.data.checks import check_dataset
    from deepfake_coach.errors import CoachError
    from deepfake_coach.train.checkpoint import load_checkpoint, model_from_checkpoint

    report = check_dataset(data_dir, save_report=False)
    runs = sorted((p for p in (project_dir / "runs").glob("*/") if (p / "state.json").exists()), key=lambda p: p.name)
    state = json.loads((runs[-1] / "state.json").read_text()) if runs else {}
    models = sorted((project_dir / "models").glob("best_model_*.pth"), key=lambda p: p.stat().st_mtime)
    best_acc, loads = None, False
    if models:
        try:
            checkpoint = load_checkpoint(models[-1])
            model_from_checkpoint(checkpoint)
            best_acc, loads = checkpoint.get("metrics", {}).get("val_acc"), True
        except CoachError:
            pass
    accuracy = f" (best {best_acc:.1%})" if best_acc is not None else ""
    return [
        (report.fit_to_train, "Dataset organized and fit to train", f"dfcoach data check --data-dir {data_dir}"),
        (state.get("status") == "finished", "A training run completed without errors", "dfcoach train --quick"),
        (best_acc is not None and best_acc > PASS_ACCURACY, f"Validation accuracy above {PASS_ACCURACY:.0%}{accuracy}",
         "train longer (dfcoach train), or with more images"),
        (bool(models), "Model saved in models/", "dfcoach train"),
        (loads, "Ready to integrate: the saved model loads safely", "dfcoach train, then use models/best_model_*.pth"),
    ]
