"""`dfcoach deploy` and `dfcoach serve`: the model into the service's `.env`, and the service itself."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import app, command, session
from deepfake_coach.cli._options import EnvFile, ModelFile
from deepfake_coach.errors import CoachError

Port = Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")]


@command(app, "deploy")
def deploy(
    ctx: typer.Context,
    model: ModelFile = None,
    env_file: EnvFile = None,
    check: Annotated[bool, typer.Option("--check", help="Then start the service on a free port, send it a test picture, and stop it.")] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port your service listens on, for the commands printed at the end.")] = 5000,
) -> None:
    """Point the inference service at your model: write MODEL_TYPE, MODEL_PATH and CUSTOM_MODEL_TYPE into .env.

    The model is loaded and tried on a picture first; every other line of .env is kept as it was,
    and the old file is backed up beside it.
    """
    from deepfake_coach.deploy import example_picture
    from deepfake_coach.serve.settings import env_file_flag
    from deepfake_coach.ui.deploy import render_deployment
    from deepfake_coach.usecases import deployment

    current = session(ctx)
    output, project = current.output, current.project
    env_file = project.env_file(env_file)
    render_deployment(deployment.deploy(deployment.DeployRequest(model, env_file), project), output)
    if check:
        outcome = deployment.check_service(env_file, output)
        if not outcome.ok:
            raise CoachError(f"The service started, but the check failed: {outcome.problem}", hint=outcome.fix)
    url = f"http://127.0.0.1:{port}"
    output.next_step(f"dfcoach serve{env_file_flag(env_file)}" + ("" if port == 5000 else f" --port {port}"),
                     why="Start the service (or restart your own service so it reads the new .env)")
    output.info("Then, in another terminal:")
    output.info(f"  curl {url}/health")
    output.info(f"  curl -X POST -F {example_picture(project.data_dir())} {url}/inference/analyze-frame")
    output.info(f"  or open {url}/ in a browser and drop a picture on the page.")


@command(app, "serve")
def serve(
    ctx: typer.Context,
    env_file: EnvFile = None,
    host: Annotated[str, typer.Option(help="The address to listen on: 127.0.0.1 is this computer only; 0.0.0.0 is every network it is on.")] = "127.0.0.1",
    port: Port = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Processes answering requests, each with its own copy of the model.")] = 1,
    max_upload_mb: Annotated[float, typer.Option(min=0.01, help="The largest upload accepted, in MB (bigger ones get a 413 answer).")] = 10.0,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads each worker's model uses. [default: the CPU cores shared among the workers]", show_default=False)] = None,
) -> None:
    """Run the inference service: GET /health, POST /inference/analyze-frame (form field image), a web page at /.

    It reads MODEL_TYPE, MODEL_PATH and CUSTOM_MODEL_TYPE from the env file (write them with `dfcoach deploy`).
    Stop it with Ctrl-C.
    """
    from deepfake_coach.serve.runner import bind, run_foreground, url_of
    from deepfake_coach.serve.settings import ModelUnavailable, ServeSettings

    current = session(ctx)
    output = current.output
    settings = ServeSettings.from_env_file(current.project.env_file(env_file), max_upload_bytes=int(max_upload_mb * 1024 * 1024))
    try:
        settings.check_keys()
    except ModelUnavailable as problem:
        output.warn(f"{problem.message} The service starts anyway and answers 503 until this is fixed.")
        output.next_step(problem.hint or "dfcoach deploy", why="Fix")
    if host not in ("127.0.0.1", "localhost", "::1"):
        output.warn(
            f"listening on {host} makes the service reachable from other computers on your network "
            "(and beyond, if this computer is reachable from the internet): anyone who can reach it can send it "
            "pictures and read /health and /docs, and there is no password. Use --host 127.0.0.1 to keep it to this computer."
        )
    listening = bind(host, port)  # before announcing anything: the port may be taken
    url = url_of(host, port)
    output.info(f"Serving on {url} (open {url}/ in a browser, or {url}/docs for the API; Ctrl-C stops it).")
    try:
        run_foreground(settings, listening, workers, threads)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a service is meant to stop: exit 0, as uvicorn's multi-worker mode does too
    output.info("The service has stopped.")
