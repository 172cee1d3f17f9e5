"""A real terminal (pexpect): the question dfcoach asks before replacing a dataset."""

from __future__ import annotations

import sys

import pexpect
import pytest

from conftest import make_dataset

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pexpect needs a POSIX terminal")


def spawn(tmp_path, *args: str) -> pexpect.spawn:
    env = {"PATH": "/usr/bin:/bin", "TERM": "xterm", "NO_COLOR": "1", "HOME": str(tmp_path), "COLUMNS": "120"}
    return pexpect.spawn(sys.executable, ["-m", "deepfake_coach", *args], cwd=str(tmp_path), env=env, encoding="utf-8", timeout=60, dimensions=(40, 120))


@pytest.mark.parametrize("answer, replaced", [("n", False), ("y", True)])
def test_replacing_a_dataset_is_asked_in_a_terminal(tmp_path, answer, replaced):
    make_dataset(tmp_path / "dataset")
    child = spawn(tmp_path, "data", "download", "tiny_demo", "--images-per-class", "10")
    child.expect("already holds a dataset. Delete it and replace it")
    child.send(answer)
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert (tmp_path / "dataset" / "manifest.csv").exists() is replaced
    if replaced:
        assert child.exitstatus == 0
        assert "Looks good for training" in child.before
    else:
        assert child.exitstatus == 1
        assert "Left dataset/ as it was" in child.before
