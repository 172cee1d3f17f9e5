"""`dfcoach evaluate` and `dfcoach predict`: the model judged on the test images, and on yours."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import app, command, session
from deepfake_coach.cli._options import AsJson, DataDir, ModelFile, Threshold
from deepfake_coach.errors import CoachError


@command(app, "evaluate")
def evaluate_model(
    ctx: typer.Context,
    model: ModelFile = None,
    data_dir: DataDir = None,
    split: Annotated[str, typer.Option(help="Which images to judge: test (never seen in training), val or train.")] = "test",
    threshold: Threshold = None,
    as_json: AsJson = False,
) -> None:
    """Measure the model on images it never trained on: metrics, confusion matrix, and pictures."""
    from deepfake_coach.ui.evaluation import render_evaluation
    from deepfake_coach.usecases.evaluation import EvaluateRequest, evaluate_run

    current = session(ctx)
    evaluation = evaluate_run(EvaluateRequest(model, data_dir, split, threshold), current.project, current.progress())
    if as_json:
        current.output.json(json.dumps(evaluation.to_dict(), indent=2))
        return
    render_evaluation(evaluation, current.output)
    current.output.next_step("dfcoach predict YOUR_PICTURE.jpg", why="Try it on your own pictures")


@command(app, "predict")
def predict_files(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Pictures, videos, or folders of them (searched at any depth).", show_default=False)],
    model: Annotated[Optional[Path], typer.Option(help="The model file. [default: the newest models/best_model_*.pth]", show_default=False)] = None,
    threshold: Threshold = None,
    frames: Annotated[int, typer.Option(min=1, max=1000, help="Videos: frames taken from each, evenly spaced; the verdict is the mean over the faces found.")] = 32,
    as_json: AsJson = False,
) -> None:
    """Say whether each picture or video is real or fake, with the model's fake probability.

    Exit code 0 when at least one file was judged, 1 when none could be.
    """
    from deepfake_coach.inference import Detector
    from deepfake_coach.predict import check_threshold, predict
    from deepfake_coach.ui.evaluation import render_prediction_report

    current = session(ctx)
    check_threshold(threshold)
    detector = Detector.load(model, models_dir=current.project.models_dir)
    predictions = predict(detector, paths, threshold, current.progress(), frames)
    if as_json:
        current.output.json(json.dumps(predictions.to_dict(detector), indent=2))
    else:
        render_prediction_report(predictions, detector, current.output)
    if not predictions.judged_any:
        raise CoachError("None of the files could be judged.", hint="Use JPEG, PNG, WebP or BMP pictures, or MP4 videos (the reasons are listed above).")
