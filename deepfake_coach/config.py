"""The project's settings: `dfcoach.yaml`, validated by pydantic.

A person edits this file by hand, so a mistake in it is reported like a
compiler error: the file, the line, the setting, and what is wrong with it,
never a pydantic dump.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deepfake_coach.data.layout import DEFAULT_DATA_DIR
from deepfake_coach.data.sources import NAMES as SOURCE_NAMES
from deepfake_coach.errors import CoachError
from deepfake_coach.fsutil import atomic_write_text

CONFIG_FILE = "dfcoach.yaml"
DatasetName = Literal[SOURCE_NAMES]  # the registry's names (data/sources), one list for all of dfcoach


class _Strict(BaseModel):
    # A misspelt key ("epoch:" for "epochs:") must be an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TrainConfig(_Strict):
    model: str = "efficientnet_lite0"
    epochs: int = Field(30, ge=1, le=1000)
    batch_size: int = Field(32, ge=1, le=4096)
    lr: float = Field(1e-3, gt=0, le=1)
    image_size: int | None = Field(None, ge=16, le=1024, description="None: the model's native size")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    patience: int = Field(5, ge=1, le=1000)
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: Any) -> "TrainConfig":
        """The beginner's guide's test run: 5 epochs, batch 16."""
        return cls(**{"epochs": 5, "batch_size": 16, **overrides})

    @classmethod
    def full(cls, **overrides: Any) -> "TrainConfig":
        """The full run: 30 epochs, batch 32, with early stopping."""
        return cls(**{"epochs": 30, "batch_size": 32, **overrides})


class DataConfig(_Strict):
    dir: Path = DEFAULT_DATA_DIR
    source: DatasetName | None = None


class DeployConfig(_Strict):
    env_file: Path = Path(".env")


class WizardState(_Strict):
    completed: list[str] = Field(default_factory=list, description="wizard steps finished, in order")
    quick_epoch_seconds: float | None = Field(None, description="how long an epoch of the quick run took, for estimates")
    quick_run: str | None = Field(None, description="the quick run the wizard started (runs/<name>): resumed if stopped, kept if finished")
    full_run: str | None = Field(None, description="the full run the wizard started (runs/<name>), resumed if stopped")
    pretrained: bool = Field(False, description="whether the wizard's runs start from ImageNet weights")


class ProjectConfig(_Strict):
    version: Literal[1] = 1
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    deploy: DeployConfig = Field(default_factory=DeployConfig)
    wizard: WizardState = Field(default_factory=WizardState)


def load_project_config(path: Path = Path(CONFIG_FILE)) -> ProjectConfig:
    """The settings in `path`, or the defaults when there is no such file."""
    path = Path(path)
    if not path.exists():
        return ProjectConfig()
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CoachError(
            f"{path}{where} is not valid YAML: {problem}.",
            hint=f"Fix that line (indentation uses spaces, `key: value` pairs), or delete {path} to start from the defaults.",
        ) from None
    if data is None:
        return ProjectConfig()
    if not isinstance(data, dict):
        raise CoachError(f"{path} should hold settings as `key: value` lines.", hint=f"Delete {path} to start from the defaults.")
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as error:
        raise CoachError(_describe_validation_error(error, root, path), hint=f"Edit {path}, or delete it to start from the defaults.") from None


def save_project_config(config: ProjectConfig, path: Path = Path(CONFIG_FILE)) -> None:
    data = config.model_dump(mode="json")
    header = "# dfcoach settings and progress. Edit freely; `dfcoach --help` lists what each command uses.\n"
    atomic_write_text(Path(path), header + yaml.safe_dump(data, sort_keys=False))


def _describe_validation_error(error: ValidationError, root: yaml.Node | None, path: Path) -> str:
    lines = []
    for problem in error.errors():
        location = tuple(problem["loc"])
        name = ".".join(str(part) for part in location) or "(top level)"
        line = _line_of(root, location)
        where = f"{path}, line {line}" if line else str(path)
        if problem["type"] == "extra_forbidden":
            detail = "is not a setting dfcoach knows (check the spelling)"
        elif problem["type"] == "missing":
            detail = "is required"
        else:
            detail = f"{problem['msg'][0].lower()}{problem['msg'][1:]} (found {problem.get('input')!r})"
        lines.append(f"{where}: `{name}` {detail}")
    return "dfcoach.yaml has a setting it cannot use:\n  " + "\n  ".join(lines)


def _line_of(node: yaml.Node | None, location: tuple) -> int | None:
    """The 1-based line of the YAML node at `location` (keys and list indexes)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
