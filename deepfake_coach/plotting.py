"""Matplotlib without a screen, and pictures saved so an old one is never half replaced."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend: works on servers, in CI and over SSH."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> Path:
    """Written beside the target then renamed, so an old picture is never half replaced; the figure is closed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(tmp, dpi=100)
    pyplot().close(figure)
    tmp.replace(path)
    return path
