"""`dfcoach doctor --explain`: the guide's troubleshooting found from pasted error text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deepfake_coach.cli import app
from deepfake_coach.doctor import CHECKS
from deepfake_coach.troubleshooting import TROUBLES, explain

DOCS = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"


@pytest.mark.parametrize("text, key", [
    ("CUDA out of memory", "cuda-out-of-memory"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)", "cuda-out-of-memory"),
    ("FileNotFoundError: Dataset not found at ./dataset", "dataset-not-found"),
    ("FileNotFoundError: Couldn't find any class folder in dataset/train.", "dataset-not-found"),
    ("Epoch 10/30: train loss 0.6931, acc 50.12% | val loss 0.6931, acc 50.00%", "accuracy-stuck-at-50"),
    ("my accuracy is stuck at 50% after 10 epochs", "accuracy-stuck-at-50"),
    ("val_acc: 0.5", "accuracy-stuck-at-50"),
    ("ModuleNotFoundError: No module named 'torchvision'", "torch-missing"),
    ("RuntimeError: operator torchvision::nms does not exist", "torchvision-mismatch"),
    ("AssertionError: Torch not compiled with CUDA enabled", "no-cuda"),
    ("OSError: Could not find kaggle.json. Make sure it's located in /home/me/.kaggle", "kaggle-credentials"),
    ("403 - Forbidden", "kaggle-forbidden"),
    ("_pickle.UnpicklingError: Weights only load failed. Unsupported global: GLOBAL os.system", "unsafe-model-file"),
    ("RuntimeError: Error(s) in loading state_dict for ResNet: size mismatch for fc.weight", "state-dict-mismatch"),
    ("ERROR: [Errno 98] error while attempting to bind on address ('127.0.0.1', 5000): address already in use", "port-in-use"),
    ("curl: (7) Failed to connect to localhost port 5000: Connection refused", "service-not-running"),
    ("PIL.UnidentifiedImageError: cannot identify image file 'x.jpg'", "bad-image"),
    ("train/real/a.jpg: damaged or not a picture (it starts like a JPEG picture, but its data is cut short or corrupted)", "bad-image"),
    ("pano.png: too large (20,000 x 10,000 pixels: more than the 150 megapixels dfcoach reads)", "picture-too-large"),
    ("DecompressionBombWarning: Image size (144000000 pixels) exceeds limit of 89478485 pixels, could be decompression bomb DOS attack.",
     "picture-too-large"),
    ("train/real/a.jpg: permission denied: dfcoach may not read this file (check its permissions)", "permission-denied"),
    ("OSError: [Errno 28] No space left on device", "disk-full"),
    ("Error: Documents holds 2 files and 1 folder (taxes/, notes.txt) that are not part of a dfcoach dataset", "not-a-dataset-folder"),
    ("Error: The new dataset did not pass the check, so dataset/ was left as it was", "new-dataset-failed-check"),
    ("Error: dataset is the dataset folder itself: your images are inside the dataset folder", "source-inside-dataset"),
    ("OSError: [Errno 36] File name too long: 'dataset/train/real/aaaa.jpg'", "name-too-long"),
    ("Epoch 3: loss nan", "loss-is-nan"),
    ("Killed", "memory-killed"),
    ("requests.exceptions.ConnectionError: Max retries exceeded with url", "offline"),
    ("Error: .env is read-only, so dfcoach left it as it was.", "env-file"),
    ("Error: Could not write service/.env: the disk is full. service/.env is as it was, and no backup was left.", "env-file"),
    ("Error: The model's path cannot be written to .env so that every program reads it right: it holds a line break.", "env-file"),
    ("rich.errors.MarkupError: closing tag '[/b]' at position 42 doesn't match any open tag", "markup"),
    ("Error: evil.pth cannot be loaded safely: it contains code, not only weights.", "unsafe-model-file"),
])
def test_known_errors_are_recognised(text, key):
    assert key in [trouble.key for trouble in explain(text)]


def test_unrelated_text_matches_nothing():
    assert explain("Epoch 4/5: train loss 0.21, acc 92.10% | val loss 0.25, acc 90.00%") == []
    assert explain("hello") == []


def test_explain_through_the_cli(cli):
    result = cli("doctor", "--explain", "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB")
    assert result.exit_code == 0
    assert "The GPU ran out of memory" in result.stdout and "--batch-size 8" in result.stdout
    assert "More: docs/troubleshooting.md#cuda-out-of-memory" in result.stdout


def test_explain_json_and_text_from_stdin(cli):
    result = cli.runner.invoke(app, ["doctor", "--explain", "-", "--json"],
                               input="Traceback (most recent call last):\n  ...\nFileNotFoundError: Dataset not found\n")
    assert result.exit_code == 0
    (match,) = json.loads(result.stdout)["matches"]
    assert match["key"] == "dataset-not-found" and match["doc"] == "docs/troubleshooting.md#dataset-not-found"


def test_unknown_error_says_what_to_do(cli):
    result = cli("doctor", "--explain", "something odd happened")
    assert result.exit_code == 1
    assert "does not recognise this error" in result.stderr and "dfcoach doctor" in result.stderr


def test_every_fix_links_to_a_section_of_the_troubleshooting_page():
    anchors = {re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
               for line in DOCS.read_text().splitlines() if line.startswith("## ") or line.startswith("### ")}
    explicit = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', DOCS.read_text()))
    for trouble in TROUBLES:
        assert trouble.key in anchors | explicit, trouble.key
    for check_id in CHECKS:
        assert check_id.replace("_", "-") in anchors | explicit, check_id
