"""Option types that several commands share, each declared once with its help."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", "-d", help="The dataset folder (train/, val/, test/ inside). [default: data.dir in dfcoach.yaml, else dataset]", show_default=False),
]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing dataset without asking: the old one is deleted once the new one is complete and passes the check. A folder holding anything else is never replaced.")]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed gives the same result.")]
VideoFrames = Annotated[int, typer.Option("--frames", min=1, help="Videos: frames taken from each video, evenly spaced.")]
Balance = Annotated[bool, typer.Option("--balance/--no-balance", help="Videos: fewer frames per video from the class with more videos, so both classes get as many faces.")]
ImageSize = Annotated[Optional[int], typer.Option(help="Pixels per side. [default: the model's own size]", show_default=False)]
Threshold = Annotated[
    Optional[float],
    typer.Option(help="Fake probability from which an image is called fake (0 to 1). Default: the model's own, "
                      "chosen on its validation images (0.5 for older models).", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON, for scripts.")]
EnvFile = Annotated[
    Optional[Path],
    typer.Option("--env-file", help="The .env the inference service reads. [default: deploy.env_file in dfcoach.yaml, else .env]", show_default=False),
]
ModelFile = Annotated[Optional[Path], typer.Argument(help="The model file. [default: the newest models/best_model_*.pth]", show_default=False)]
