"""The person's project folder, built once per command: its settings and where each of its parts lies.

    dfcoach.yaml   the settings and where the wizard stands
    dataset/       (data.dir in dfcoach.yaml) the pictures, in train/val/test
    runs/          one folder per training run
    models/        the best model of each run
    .env           (deploy.env_file) what the inference service reads

A path written in dfcoach.yaml is taken from the project folder; a flag given on the command line
is taken as it is (from the current folder, as every command-line tool does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_coach.config import CONFIG_FILE, ProjectConfig, load_project_config, save_project_config
from deepfake_coach.data.sources import DOWNLOADS

RUNS = "runs"
MODELS = "models"


@dataclass
class Project:
    root: Path
    config: ProjectConfig

    @classmethod
    def open(cls, root: Path = Path(".")) -> "Project":
        """The project in `root`, with dfcoach.yaml's settings (the defaults when there is none)."""
        root = Path(root)
        return cls(root, load_project_config(root / CONFIG_FILE))

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def runs_dir(self) -> Path:
        return self.root / RUNS

    @property
    def models_dir(self) -> Path:
        return self.root / MODELS

    @property
    def downloads_dir(self) -> Path:
        return self.root / DOWNLOADS

    def data_dir(self, flag: Path | None = None) -> Path:
        """The flag, else dfcoach.yaml's data.dir, else dataset/ (flags win over the file, the file over defaults)."""
        return Path(flag) if flag is not None else self.root / self.config.data.dir

    def env_file(self, flag: Path | None = None) -> Path:
        return Path(flag) if flag is not None else self.root / self.config.deploy.env_file

    def as_written(self, path: Path) -> Path:
        """`path` as dfcoach.yaml holds it: from the project folder when it lies inside it."""
        path = Path(path)
        if self.root == Path("."):
            return path
        try:
            return path.relative_to(self.root)
        except ValueError:  # elsewhere: kept as it is
            return path

    def save(self) -> None:
        save_project_config(self.config, self.config_path)

    def record_dataset(self, source: str, data_dir: Path) -> None:
        """dfcoach.yaml remembers which dataset is in use and where, for the next commands."""
        self.config.data.dir, self.config.data.source = self.as_written(data_dir), source
        self.save()
