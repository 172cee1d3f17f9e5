"""The README's first lines are the two commands a newcomer runs; CI runs the same test command."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("```bash") + 1
    return lines[start : lines.index("```", start)]


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines.index("```bash") <= 3
    install_and_demo, install_and_test = readme_commands()
    assert "pip install -e ." in install_and_demo
    assert install_and_demo.endswith("dfcoach init --dataset tiny_demo --yes")
    assert install_and_test.endswith('pip install -e ".[dev]" && pytest')


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()
