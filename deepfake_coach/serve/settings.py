"""What the service reads from `.env`: the same three keys any service of the guide reads.

    MODEL_TYPE=custom
    MODEL_PATH=./models/best_model_custom_cnn_20250101_120000.pth
    CUSTOM_MODEL_TYPE=custom_cnn

A relative MODEL_PATH is relative to the folder of the `.env` file, so the
service finds the model whatever folder it is started from. The file wins over
variables of the shell (a stale `export MODEL_PATH=...` must not hide the file
just written by `dfcoach deploy`); the shell only fills keys the file lacks,
so `MODEL_PATH=... dfcoach serve` works without any file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from deepfake_coach.envfile import read_env_values
from deepfake_coach.errors import CoachError

ENV_KEYS = ("MODEL_TYPE", "MODEL_PATH", "CUSTOM_MODEL_TYPE")
CUSTOM = "custom"
DEFAULT_ENV_FILE = Path(".env")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def env_file_flag(env_file: Path) -> str:
    """` --env-file X` for the commands dfcoach prints, or nothing for the default .env."""
    return "" if Path(env_file) == DEFAULT_ENV_FILE else f" --env-file {env_file}"


class ModelUnavailable(CoachError):
    """The settings do not lead to a model the service can load: `message` says why, `hint` the fix."""


@dataclass(frozen=True)
class ServeSettings:
    env_file: Path = DEFAULT_ENV_FILE
    model_type: str | None = None
    model_path: str | None = None  # as written in the file
    custom_model_type: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    device: str = "cpu"

    @classmethod
    def from_env_file(cls, env_file: Path = DEFAULT_ENV_FILE, environ: Mapping[str, str] | None = None, **options) -> "ServeSettings":
        """The settings in `env_file`, with `environ` (default: the process environment) filling missing keys."""
        environ = os.environ if environ is None else environ
        values = read_env_values(Path(env_file))
        found = {key: values.get(key) or environ.get(key) or None for key in ENV_KEYS}
        return cls(Path(env_file), found["MODEL_TYPE"], found["MODEL_PATH"], found["CUSTOM_MODEL_TYPE"], **options)

    def with_options(self, **options) -> "ServeSettings":
        return replace(self, **options)

    @property
    def env_folder(self) -> Path:
        return self.env_file.parent

    def resolved_model_path(self) -> Path | None:
        """MODEL_PATH as a path (relative ones from the .env folder); None when it is not set."""
        if not self.model_path:
            return None
        path = Path(self.model_path).expanduser()
        return path if path.is_absolute() else self.env_folder / path

    def _deploy_command(self) -> str:
        return f"dfcoach deploy{env_file_flag(self.env_file)}"

    def check_keys(self) -> Path:
        """The model file the keys point at, or `ModelUnavailable` saying which key is wrong."""
        deploy = self._deploy_command()
        if self.model_type and self.model_type.lower() != CUSTOM:
            raise ModelUnavailable(
                f"MODEL_TYPE is {self.model_type!r} in {self.env_file}; dfcoach serves the models you train (MODEL_TYPE=custom).",
                hint=f"Point the service at your model: {deploy}",
            )
        path = self.resolved_model_path()
        if path is None:
            told = f"{self.env_file} does not exist" if not self.env_file.exists() else f"{self.env_file} has no MODEL_PATH"
            raise ModelUnavailable(f"No model is set up for the service: {told}.", hint=f"Write the settings for your newest model: {deploy}")
        if not path.is_file():
            raise ModelUnavailable(
                f"MODEL_PATH in {self.env_file} points at {path}, and there is no file there.",
                hint=f"Train a model (dfcoach train --quick), then run: {deploy}",
            )
        return path

    def load_detector(self):
        """The model the keys describe, loaded safely, or `ModelUnavailable` with the problem and its fix."""
        from deepfake_coach.inference import Detector

        path = self.check_keys()
        try:
            detector = Detector.load(path, device=self.device)
        except CoachError as error:
            raise ModelUnavailable(error.message, hint=error.hint or f"Deploy another model: {self._deploy_command()} MODEL") from None
        except Exception as error:  # a file that passed the safe load but lacks what a dfcoach model holds
            raise ModelUnavailable(
                f"{path} could not be loaded as a model ({type(error).__name__}: {error}).",
                hint=f"Use a model saved by `dfcoach train`, then run: {self._deploy_command()}",
            ) from None
        if self.custom_model_type and self.custom_model_type != detector.model_name:
            raise ModelUnavailable(
                f"CUSTOM_MODEL_TYPE is {self.custom_model_type!r} in {self.env_file}, but {path.name} holds a {detector.model_name} model.",
                hint=f"Write matching settings: {self._deploy_command()} {path}",
            )
        return detector
