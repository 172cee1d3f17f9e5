"""Deploying a trained model: point `.env` at it, and check that a service reading `.env` can use it.

`deploy_model` checks the model loads and predicts before it touches anything,
then sets MODEL_TYPE, MODEL_PATH and CUSTOM_MODEL_TYPE (every other line of the
file stays as it was; the old file is backed up). `read_deployment` tells the
doctor and the checklist where a deployment stands, and `check_service` starts
the real service on a free loopback port and talks to it as curl would.
"""

from __future__ import annotations

import io
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from deepfake_coach.envfile import EnvUpdate, value_problem, update_env_file
from deepfake_coach.errors import CoachError
from deepfake_coach.serve.settings import CUSTOM, DEFAULT_ENV_FILE, ModelUnavailable, ServeSettings

CHECK_TIMEOUT_S = 60


@dataclass(frozen=True)
class DeploymentStatus:
    """Where the deployment described by an env file stands (for `dfcoach doctor` and the checklist)."""

    env_file: Path
    env_exists: bool
    model_type: str | None
    model_path: str | None  # MODEL_PATH as written
    custom_model_type: str | None
    resolved_model_path: Path | None  # MODEL_PATH as a path, relative ones from the env file's folder
    loads: bool
    model_name: str | None = None  # the architecture the model file holds, when it loads
    problem: str | None = None  # plain words, when it does not load
    fix: str | None = None  # the command that fixes it

    @property
    def ok(self) -> bool:
        return self.loads and self.problem is None


@dataclass(frozen=True)
class DeployResult:
    """What `deploy_model` did."""

    model_path: Path
    model_name: str
    val_acc: float | None
    env: EnvUpdate
    check_label: str  # the verdict on the generated test picture, proof that the model predicts
    threshold: float  # the model's own, which the service judges with

    @property
    def changed(self) -> bool:
        return bool(self.env.changed) or self.env.created


@dataclass(frozen=True)
class ServiceCheck:
    """What the live check saw: each request's status and JSON answer."""

    url: str
    health_status: int
    health: dict
    analyze_status: int | None = None
    analysis: dict = field(default_factory=dict)
    problem: str | None = None
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def example_picture(data_dir: Path) -> str:
    """A picture that exists, for the curl command dfcoach prints: the first test (else validation)
    picture of the dataset, quoted for a shell; a placeholder to replace when there is none."""
    import shlex

    from deepfake_coach.train.data import split_files

    for split in ("test", "val"):
        files = split_files(Path(data_dir), split)
        if files:
            first, _ = min(files, key=lambda item: (-item[1], item[0]))  # a fake first: the more interesting answer
            return shlex.quote(f"image=@{first.as_posix()}")
    return "image=@YOUR_PICTURE.jpg"


def check_picture(size: int = 256, fmt: str = "JPEG") -> bytes:
    """A generated picture (colour gradients), the same every time, to test a model with."""
    import numpy as np
    from PIL import Image

    ramp = np.linspace(0, 255, size, dtype=np.float32)
    pixels = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1), 255 - ramp[None, :].repeat(size, 0)], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def verify_model(model_path: Path):
    """The model loaded safely (weights only) and shown to predict on a generated picture, judged with its own
    threshold as the service will; a CoachError if not."""
    from deepfake_coach.inference import Detector, open_image

    detector = Detector.load(Path(model_path))
    try:
        with open_image(check_picture(), detector.image_size) as picture:
            verdict = detector.judge(picture)
    except Exception as error:
        raise CoachError(
            f"{model_path} loads, but it fails to judge a test picture ({type(error).__name__}: {error}).",
            hint="Train a new model with `dfcoach train --quick`, then deploy that one.",
        ) from None
    return detector, verdict


def model_path_value(model_path: Path, env_file: Path) -> str:
    """MODEL_PATH as written in the env file: `./models/...` when the model lies below the env file's
    folder (the project can move as a whole), the absolute path otherwise."""
    model = Path(os.path.abspath(model_path))
    folder = Path(os.path.abspath(Path(env_file).parent))
    try:
        return "./" + model.relative_to(folder).as_posix()
    except ValueError:
        return str(model)


def _plain_name(model_path: Path) -> str:
    """A file name a .env can hold as it is, close to the model's own."""
    import re

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model_path).stem).strip("_.") or "model"
    return f"{stem}.pth"


def deploy_model(model_path: Path | None = None, env_file: Path = DEFAULT_ENV_FILE, models_dir: Path | None = None) -> DeployResult:
    """Point `env_file` at `model_path` (default: the newest model in `models_dir`, else ./models).

    The model is loaded and tried on a picture first; the env file is only
    touched when that works."""
    from deepfake_coach.inference import MODELS_DIR, newest_model

    model_path = Path(model_path) if model_path is not None else newest_model(models_dir or MODELS_DIR)
    detector, verdict = verify_model(model_path)
    values = {
        "MODEL_TYPE": CUSTOM,
        "MODEL_PATH": model_path_value(model_path, env_file),
        "CUSTOM_MODEL_TYPE": detector.model_name,
    }
    problem = value_problem(values["MODEL_PATH"])
    if problem is not None:
        raise CoachError(
            f"The model's path cannot be written to {env_file} so that every program reads it right: it holds {problem}. "
            f"Nothing was written to {env_file}.",
            hint=f"Move or rename the model file to a simple path (letters, digits and ./_-), for example: mkdir -p models && "
            f"mv {shlex.quote(str(model_path))} models/{_plain_name(model_path)}  then run dfcoach deploy again.",
        )
    update = update_env_file(Path(env_file), values)
    return DeployResult(model_path, detector.model_name, detector.metrics.get("val_acc"), update, verdict.label, detector.threshold)


def read_deployment(env_file: Path = DEFAULT_ENV_FILE) -> DeploymentStatus:
    """Where the deployment in `env_file` stands: its keys, the model they lead to, and whether it loads.
    Only the file counts here (not the shell's variables): it is what `dfcoach deploy` writes."""
    env_file = Path(env_file)
    settings = ServeSettings.from_env_file(env_file, environ={})
    common = dict(
        env_file=env_file, env_exists=env_file.is_file(), model_type=settings.model_type, model_path=settings.model_path,
        custom_model_type=settings.custom_model_type, resolved_model_path=settings.resolved_model_path(),
    )
    try:
        detector = settings.load_detector()
    except ModelUnavailable as problem:
        return DeploymentStatus(**common, loads=False, problem=problem.message, fix=problem.hint)
    return DeploymentStatus(**common, loads=True, model_name=detector.model_name)


def check_service(env_file: Path = DEFAULT_ENV_FILE, port: int | None = None) -> ServiceCheck:
    """Start the service on loopback (`port`, default a free one), call /health and /inference/analyze-frame
    with a generated picture as curl would, stop it, and say what happened."""
    import httpx

    from deepfake_coach.serve.app import create_app
    from deepfake_coach.serve.runner import BackgroundServer

    settings = ServeSettings.from_env_file(Path(env_file))
    with BackgroundServer(create_app(settings), port=port or 0) as server:
        with httpx.Client(base_url=server.url, timeout=CHECK_TIMEOUT_S, trust_env=False) as client:
            health = client.get("/health")
            if health.status_code != 200:
                body = health.json()
                return ServiceCheck(server.url, health.status_code, body, problem=body.get("problem"), fix=body.get("fix"))
            answer = client.post("/inference/analyze-frame", files={"image": ("dfcoach-check.jpg", check_picture(), "image/jpeg")})
    analysis = answer.json()
    problem = None if answer.status_code == 200 else analysis.get("error", f"the service answered {answer.status_code}")
    fix = None if problem is None else analysis.get("hint")
    return ServiceCheck(server.url, health.status_code, health.json(), answer.status_code, analysis, problem, fix)
