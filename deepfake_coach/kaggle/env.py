"""Where Kaggle looks: the environment variables and the home folder that decide which credentials are used.

The functions that find, read or install credentials take one `env: KaggleEnv | None` (None: this
process's own, `KaggleEnv.current()`), so a caller can point them at another home and other variables
without touching os.environ. The folder rules here are kaggle 2.x's own.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

CONFIG_DIR_VARIABLE = "KAGGLE_CONFIG_DIR"
KAGGLE_JSON, ACCESS_TOKEN, OAUTH_FILE = "kaggle.json", "access_token", "credentials.json"


@dataclass(frozen=True)
class KaggleEnv:
    """The environment variables and home folder Kaggle's credentials are looked for in."""

    environ: Mapping[str, str]
    home: Path

    @classmethod
    def current(cls) -> KaggleEnv:
        """This process's: os.environ (read live) and the user's home folder."""
        return cls(os.environ, Path.home())

    @classmethod
    def resolve(cls, env: KaggleEnv | None) -> KaggleEnv:
        """`env` itself, or `current()` when it is None."""
        return cls.current() if env is None else env

    def variable(self, name: str) -> str:
        """The variable's value without surrounding spaces; "" when it is not set."""
        return self.environ.get(name, "").strip()

    @property
    def dot_kaggle(self) -> Path:
        """~/.kaggle: where the access_token file and `kaggle auth login`'s sign-in live."""
        return Path(self.home) / ".kaggle"

    @property
    def access_token_files(self) -> tuple[Path, Path]:
        """~/.kaggle/access_token, and access_token.txt as Windows editors save it."""
        return self.dot_kaggle / ACCESS_TOKEN, self.dot_kaggle / (ACCESS_TOKEN + ".txt")

    @property
    def oauth_file(self) -> Path:
        """The sign-in saved by `kaggle auth login`."""
        return self.dot_kaggle / OAUTH_FILE

    @property
    def xdg_kaggle_dir(self) -> Path:
        """$XDG_CONFIG_HOME/kaggle, else ~/.config/kaggle."""
        return Path(self.environ.get("XDG_CONFIG_HOME") or Path(self.home) / ".config") / "kaggle"

    @property
    def config_dir(self) -> Path:
        """The folder kaggle reads kaggle.json from (the same rule as `KaggleApi.config_dir`): KAGGLE_CONFIG_DIR,
        else ~/.kaggle, else (Linux, when ~/.kaggle does not exist) the XDG folder. Looked up each time it is read."""
        if self.environ.get(CONFIG_DIR_VARIABLE):
            return Path(self.environ[CONFIG_DIR_VARIABLE]).expanduser()
        if sys.platform.startswith("linux") and not self.dot_kaggle.exists():
            return self.xdg_kaggle_dir
        return self.dot_kaggle

    @property
    def kaggle_json_dirs(self) -> tuple[Path, Path, Path]:
        """Every folder dfcoach looks for a kaggle.json in, the one kaggle itself uses first."""
        return self.config_dir, self.dot_kaggle, self.xdg_kaggle_dir

    @property
    def kaggle_json_install_dir(self) -> Path:
        """Where an installed kaggle.json goes: KAGGLE_CONFIG_DIR, else ~/.kaggle."""
        if self.environ.get(CONFIG_DIR_VARIABLE):
            return Path(self.environ[CONFIG_DIR_VARIABLE]).expanduser()
        return self.dot_kaggle

    def shown(self, path: Path) -> str:
        """A path as a person would type it: ~/.kaggle/kaggle.json rather than /home/ana/.kaggle/kaggle.json."""
        try:
            return "~/" + Path(path).relative_to(self.home).as_posix()
        except ValueError:
            return str(path)
