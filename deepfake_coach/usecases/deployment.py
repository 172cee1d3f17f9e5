"""Deploying: the model into the `.env` the inference service reads, then a live check of that service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_coach.io.output import Output
from deepfake_coach.project import Project


@dataclass(frozen=True)
class DeployRequest:
    model: Path | None = None  # None: the newest best model in the project's models/
    env_file: Path | None = None  # None: the project's (deploy.env_file in dfcoach.yaml, else .env)


def deploy(request: DeployRequest, project: Project):
    """Write MODEL_TYPE, MODEL_PATH and CUSTOM_MODEL_TYPE; returns the DeployResult (ui.deploy shows it)."""
    from deepfake_coach.deploy import deploy_model

    return deploy_model(request.model, project.env_file(request.env_file), project.models_dir)


def check_service(env_file: Path, output: Output):
    """Start the service on a free loopback port, send it a test picture as curl would, and say what
    it answered. Returns the ServiceCheck; a failed check is the caller's to raise or to warn about."""
    from deepfake_coach.deploy import check_service as start_and_ask

    output.info("Checking the service: starting it on a free port of this computer...")
    outcome = start_and_ask(env_file)
    if outcome.ok:
        analysis = outcome.analysis
        output.success(f"GET /health: the model is loaded ({outcome.health.get('model')}, {outcome.health.get('image_size')} px).")
        output.success(
            f"POST /inference/analyze-frame: a test picture was judged {analysis['label']} "
            f"(fake probability {analysis['fake_probability']:.2f}) in {analysis['inference_ms']:.0f} ms."
        )
    return outcome
