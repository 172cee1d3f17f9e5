"""A real terminal (pexpect): the question dfcoach asks before replacing a dataset."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import make_dataset

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pexpect needs a POSIX terminal")


ROOT = Path(__file__).resolve().parents[1]


def spawn(tmp_path, *args: str) -> pexpect.spawn:
    # PYTHONPATH: the child runs the code under test, whichever checkout the installed package points at
    env = {"PATH": "/usr/bin:/bin", "TERM": "xterm", "NO_COLOR": "1", "HOME": str(tmp_path), "COLUMNS": "120", "PYTHONPATH": str(ROOT)}
    return pexpect.spawn(sys.executable, ["-m", "deepfake_coach", *args], cwd=str(tmp_path), env=env, encoding="utf-8", timeout=300,
                         dimensions=(40, 120))  # timeout: a hang guard; a loaded machine trains slowly


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


DOWN, UP = "\x1b[B", "\x1b[A"


def assert_waits_for_an_answer(child: pexpect.spawn) -> None:
    """The question on screen is still open: nothing typed earlier answered it."""
    assert child.expect(["Skipped", "Success checklist", "Checking it for real", pexpect.TIMEOUT], timeout=2) == 3, child.before


def test_the_wizard_in_a_real_terminal(tmp_path):
    """A person walks `dfcoach init` with the arrow keys and Enter: demo data, quick run, no full run, deploy."""
    child = spawn(tmp_path, "init", "--images-per-class", "20", "--image-size", "64")
    child.logfile_read = transcript = io.StringIO()
    child.expect("Which images will you train on")
    child.send(DOWN)  # look at the next choice, then come back to the first: the demo
    child.send(UP)
    child.send("\r")
    child.expect("Which model will you train")
    child.send("\r")  # the default model
    child.expect("Epoch 1")
    child.send("\r")  # an impatient Enter while it trains: it must not answer the question that comes later
    child.expect("What your quick run shows")
    child.expect("Start the full run now")
    assert_waits_for_an_answer(child)
    child.send("n")  # a yes/no question waits for Enter: one answer answers one question
    assert_waits_for_an_answer(child)
    child.send("\r")
    child.expect("Write your model into the .env file")
    child.send("y\r")
    child.expect("Which .env file")
    assert_waits_for_an_answer(child)  # the Enter after the y was not kept for this question
    child.send("\r")  # ./.env, the default
    child.expect("Success checklist")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "✓ Dataset organized and fit to train" in transcript.getvalue()
    assert (tmp_path / "dataset" / "manifest.csv").exists()
    assert list((tmp_path / "models").glob("best_model_*.pth"))
    assert "farewell" in (tmp_path / "dfcoach.yaml").read_text()
    assert "✓ Deployed: .env points at a model that loads" in transcript.getvalue()
    env = (tmp_path / ".env").read_text()
    assert "MODEL_TYPE=custom" in env and "MODEL_PATH=./models/best_model_" in env


def test_the_kaggle_route_asks_again_after_a_path_that_is_not_the_140k(tmp_path):
    """No Kaggle token, so the zip from the browser; the person first gives a zip of other photos, then
    their own folder of real/ and fake/ faces, and trains on it as their own images."""
    import zipfile

    from conftest import image_bytes, make_faces_folder

    holiday = tmp_path / "holiday.zip"
    with zipfile.ZipFile(holiday, "w") as out:
        out.writestr("holiday/cat.jpg", image_bytes(1))
    faces = make_faces_folder(tmp_path / "my_faces", real=20, fake=20)
    child = spawn(tmp_path, "init", "--dataset", "kaggle_140k")
    child.logfile_read = transcript = io.StringIO()
    child.expect("How will you give dfcoach your Kaggle token")
    child.send(DOWN + DOWN + "\r")  # "Not now: I will download the zip in my browser instead"
    child.expect("Where is the zip you downloaded")
    child.send(f"{holiday}\r")
    child.expect(r"is\s+not\s+the\s+140k\s+Real\s+and\s+Fake\s+Faces\s+dataset")  # however the terminal wraps it
    child.expect("What now")
    child.send("\r")  # try another path (the first choice)
    child.expect("Where is the zip you downloaded")
    child.send(f"{faces}\r")
    child.expect("What now")
    child.send(DOWN + "\r")  # train on it as your own images
    child.expect("Organized 40 images")
    child.expect("Which model will you train")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    said = " ".join(transcript.getvalue().split())
    assert "At its top it has: holiday/" in said and "Traceback" not in said
    assert "as your own images" in said
    saved = (tmp_path / "dfcoach.yaml").read_text()
    assert "source: folder" in saved and "- dataset" in saved
    assert (tmp_path / "dataset" / "train" / "real").is_dir()


def test_ctrl_c_in_the_quick_run_then_continue_in_a_real_terminal(tmp_path):
    """Ctrl-C while the quick run trains is a stop, not an error; `dfcoach init` again continues that run
    (no new one), and with no deploy, What next offers deploy, not a service that would answer 503."""
    child = spawn(tmp_path, "init", "--dataset", "tiny_demo", "--images-per-class", "20", "--image-size", "64")
    child.logfile_read = first = io.StringIO()
    child.expect("Which model will you train")
    child.send("\r")
    child.expect("Epoch 2/5")
    child.sendintr()  # Ctrl-C, as the terminal sends it
    child.expect(pexpect.EOF)
    child.close()
    stopped = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", first.getvalue()).split())
    assert child.exitstatus == 130, stopped
    assert "Error" not in stopped and "How to fix" not in stopped
    assert re.search(r"Stopped at step 4, “A quick training run”.*Epochs? 1(-\d)? (is|are) saved in runs/", stopped), stopped
    assert "Run `dfcoach init` again to continue from there: the run picks up where it stopped." in stopped
    (run,) = list((tmp_path / "runs").iterdir())
    assert (run / "curves.png").is_file()

    child = spawn(tmp_path, "init")
    child.logfile_read = second = io.StringIO()
    child.expect("Continue from there")
    child.send("\r")  # continue, the default
    child.expect("Resuming")
    child.expect("Start the full run now")
    child.send("n\r")
    child.expect("Write your model into the .env file")
    child.send("n\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, second.getvalue()
    assert list((tmp_path / "runs").iterdir()) == [run]  # the stopped run went on; none was started again
    farewell = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", second.getvalue()).split("What next")[-1].split())  # as read: no styles
    assert "dfcoach serve" not in farewell and "Deployed: .env points at a model that loads: dfcoach deploy" in farewell
