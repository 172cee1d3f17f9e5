"""`dfcoach checklist` and `dfcoach doctor`: where the journey stands, and what to fix."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from deepfake_coach.cli._base import app, command, session
from deepfake_coach.cli._options import AsJson, DataDir, EnvFile
from deepfake_coach.errors import CoachError


@command(app, "checklist")
def checklist(
    ctx: typer.Context,
    data_dir: DataDir = None,
    env_file: EnvFile = None,
    as_json: AsJson = False,
) -> None:
    """The beginner's guide's success checklist, ticked from what is on disk."""
    from deepfake_coach.checklist import success_checklist
    from deepfake_coach.ui.health import render_checklist

    current = session(ctx)
    project = current.project
    items = success_checklist(project.data_dir(data_dir), project.root, project.env_file(env_file))
    if as_json:
        current.output.json(json.dumps({"done": all(item.done for item in items), "items": [item.to_dict() for item in items]}, indent=2))
        return
    render_checklist(items, current.output)
    undone = next((item for item in items if not item.done), None)
    if undone is not None:
        current.output.next_step(undone.how, why="Next")


@command(app, "doctor")
def doctor(
    ctx: typer.Context,
    as_json: AsJson = False,
    explain: Annotated[Optional[str], typer.Option(help="An error message (or `-` to read it from stdin): its usual cause and fix.", show_default=False)] = None,
    data_dir: DataDir = None,
    env_file: EnvFile = None,
    port: Annotated[int, typer.Option(help="The port `dfcoach serve` will use.")] = 5000,
) -> None:
    """Check everything dfcoach needs, and say how to fix what is wrong.

    Exit code 0 when no check fails (warnings are fine), 1 when one does.
    """
    if explain is not None:
        _explain(ctx, explain, as_json)
        return
    from deepfake_coach.doctor import DoctorContext, results_json, run_checks
    from deepfake_coach.ui.health import render_checks

    current = session(ctx)
    project = current.project
    context = DoctorContext(project_dir=project.root, data_dir=project.data_dir(data_dir), env_file=project.env_file(env_file),
                            port=port, progress=current.progress(), model=project.config.train.model)
    results = run_checks(context)
    if as_json:
        current.output.json(results_json(results))
    else:
        render_checks(results, current.output)
    if any(result.status == "fail" for result in results):
        raise typer.Exit(1)


def _explain(ctx: typer.Context, text: str, as_json: bool) -> None:
    import sys

    from deepfake_coach.troubleshooting import explain
    from deepfake_coach.ui.health import render_explanations

    output = session(ctx).output
    text = sys.stdin.read() if text == "-" else text
    troubles = explain(text)
    if as_json:
        output.json(json.dumps({"matches": [trouble.to_dict() for trouble in troubles]}, indent=2))
    elif troubles:
        render_explanations(troubles, output)
    if not troubles:
        raise CoachError(
            "dfcoach does not recognise this error.",
            hint="Paste the last lines of the error (the line naming the error matters most), run `dfcoach doctor` "
                 "for a check of everything, or see docs/troubleshooting.md.",
        )
