"""Training settings come from flags, then dfcoach.yaml, then the preset (--quick or full)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from deepfake_coach.config import TrainConfig
from deepfake_coach.errors import UsageError


def resolve_train_config(flags: dict[str, Any], saved: TrainConfig, quick: bool = False) -> TrainConfig:
    """`saved` is dfcoach.yaml's train section; only the settings written in the file count."""
    from_file = {name: getattr(saved, name) for name in saved.model_fields_set}
    preset = TrainConfig.quick() if quick else TrainConfig.full()
    values = preset.model_dump()
    values.update(from_file)
    if quick:  # --quick is a flag: its epochs and batch size win over the file
        values.update(epochs=preset.epochs, batch_size=preset.batch_size)
    values.update({name: value for name, value in flags.items() if value is not None})
    try:
        return TrainConfig(**values)
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0])
        raise UsageError(
            f"--{name.replace('_', '-')} {problem.get('input')!r}: {problem['msg'][0].lower()}{problem['msg'][1:]}.",
            hint="See `dfcoach train --help` for what each option takes.",
        ) from None
