"""The package's shape, held to docs/architecture.md: each layer imports only from the layers below
it, Typer stays in cli/, only train/run.py names the files inside a run's folder, and every function
fits on one screen."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "deepfake_coach"
# Higher layers may import lower ones, never the other way round; everything unnamed is the base.
LAYERS = {"__main__": 5, "cli": 4, "wizard": 3, "ui": 2, "usecases": 1}
RUN_FILES = re.compile(r"\b(state\.json|train\.log|metrics\.csv|last\.pth|config\.yaml)\b")


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path) -> set[str]:
    """Every module it imports, at the top or inside a function (where the heavy ones are)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_import_runs_up_a_layer(path):
    here = name_of(path)
    upward = [other for other in imports(path) if other.startswith("deepfake_coach") and layer(other) > layer(here)]
    assert not upward, f"{here} imports {upward}, which sit above it"


def test_only_the_commands_import_typer():
    users = [name_of(path) for path in modules() if any(m == "typer" or m.startswith("typer.") for m in imports(path))]
    assert users and all(user.startswith("deepfake_coach.cli") for user in users), users


def test_only_the_run_folder_names_its_files():
    """In code, that is: a comment or a docstring may speak of them."""
    owners = set()
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings and RUN_FILES.search(node.value):
                owners.add(name_of(path))
    assert owners == {"deepfake_coach.train.run"}


def test_every_module_the_architecture_page_names_exists():
    """Each file named in the page's picture, read as the picture draws it: a line indented by two
    names a folder (or a file at the top); the files named after it lie in that folder."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(deepfake_coach/.*?)```", page, flags=re.S).group(1)
    folder, named = PACKAGE, []
    for line in block.splitlines()[1:]:
        entry = re.match(r"  (\S+)", line)
        if entry:
            folder = PACKAGE / entry.group(1) if entry.group(1).endswith("/") else PACKAGE
        named += [folder / module for module in re.findall(r"\b(\w+\.py)\b", line)]
    missing = sorted(str(path.relative_to(ROOT)) for path in set(named) if not path.is_file())
    assert len(named) > 30 and not missing, missing


def test_every_function_fits_on_one_screen():
    """At most 60 lines: a function longer than that is two or three with names of their own."""
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long
