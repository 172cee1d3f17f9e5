"""The beginner's guide's troubleshooting, by error text: `dfcoach doctor --explain "CUDA out of memory"`.

Each entry names the texts that give a problem away (regular expressions, matched case-insensitively
anywhere in what the person pasted), its usual cause, and the fix. docs/troubleshooting.md has a section
per entry, under the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOC = "docs/troubleshooting.md"


@dataclass(frozen=True)
class Trouble:
    key: str
    title: str
    patterns: tuple[str, ...]
    cause: str
    fix: str

    @property
    def doc(self) -> str:
        return f"{DOC}#{self.key}"

    def matches(self, text: str) -> bool:
        return any(re.search(pattern, text, re.IGNORECASE | re.MULTILINE) for pattern in self.patterns)

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "cause": self.cause, "fix": self.fix, "doc": self.doc}


TROUBLES: tuple[Trouble, ...] = (
    Trouble(
        "cuda-out-of-memory", "The GPU ran out of memory",
        (r"CUDA out of memory", r"OutOfMemoryError", r"CUBLAS_STATUS_ALLOC_FAILED", r"MPS backend out of memory"),
        "A batch of images (and the model's work on it) does not fit in the GPU's memory: the batch size or the "
        "image size is too large for this GPU, or another program holds part of its memory.",
        "dfcoach halves the batch size by itself and redoes the epoch. To avoid it: dfcoach train --batch-size 8 "
        "(or 16), a smaller --image-size, or a smaller model (--model custom_cnn). Close other programs using the "
        "GPU (nvidia-smi lists them). Training on the CPU always works: --device cpu.",
    ),
    Trouble(
        "memory-killed", "The computer ran out of memory (the process was killed)",
        (r"^\s*Killed\s*$", r"DataLoader worker \(pid \d+\) is killed", r"Cannot allocate memory", r"MemoryError"),
        "The computer's own memory (RAM) filled up: very large images, a big batch, or a big model.",
        "Train with smaller batches (dfcoach train --batch-size 8) and a smaller --image-size; close other programs.",
    ),
    Trouble(
        "dataset-not-found", "Dataset not found",
        (r"Dataset not found", r"no dataset at", r"Couldn't find any class folder", r"Found no valid file for the classes",
         r"No such file or directory:.*(dataset|train|val|test)", r"FileNotFoundError:.*(dataset|train|val|test)"),
        "The dataset is not where the command looks: it was never downloaded or organized, the command runs in "
        "another folder, or the folders are not named train/val/test with real/ and fake/ inside.",
        "Run `dfcoach data check` to see what it finds (pass --data-dir if your dataset is elsewhere). To get one: "
        "dfcoach data download tiny_demo, or dfcoach data organize YOUR_FOLDER for your own real/ and fake/ images.",
    ),
    Trouble(
        "not-a-dataset-folder", "A folder that is not a dataset is not replaced",
        (r"not part of a dfcoach dataset",),
        "The dataset folder (--data-dir, or data.dir in dfcoach.yaml) holds other things. --force and --replace-data "
        "only ever replace a dataset, so nothing was changed.",
        "Choose an empty or new folder (--data-dir my_dataset), or move the files that are not part of the dataset out "
        "of it. In dfcoach init, --keep-data trains on the folder as it is.",
    ),
    Trouble(
        "new-dataset-failed-check", "The new dataset did not pass the check",
        (r"new dataset did not pass the check",),
        "With --force the new dataset is built beside the old one and checked first; this one was not fit to train on "
        "(the lines below the message say why), so the old dataset was kept as it was.",
        "Fix the source and run the command again. To look at the new dataset as it came out, build it into a new "
        "folder (--data-dir NEW_FOLDER), then run: dfcoach data check --data-dir NEW_FOLDER",
    ),
    Trouble(
        "source-inside-dataset", "The source is inside the dataset folder",
        (r"is the dataset folder itself", r"is inside the dataset folder"),
        "The images, zip or download folder the dataset is to be made from are in the folder it would replace, so "
        "replacing it would delete them; nothing was changed.",
        "Build the dataset in another folder (--data-dir NEW_FOLDER), or move the source out of the dataset folder first.",
    ),
    Trouble(
        "name-too-long", "A file name is too long",
        (r"File name too long", r"\[Errno 36\]", r"name too long for a file"),
        "File systems allow 255 characters in a name, and organize puts the folders a picture was in into its name, "
        "so long folder names can go over.",
        "dfcoach data organize shortens such names and lists them, and skips (and lists) a file whose whole path is "
        "still too long. To keep the names, shorten the folder names, or choose a --data-dir with a shorter path.",
    ),
    Trouble(
        "accuracy-stuck-at-50", "Accuracy stuck at 50% (chance)",
        (r"stuck at (chance|50)", r"(?<![a-z])acc(uracy)?\b[^0-9\n]{0,40}\b50(\.0+)?\s*%", r"\b50(\.0+)?\s*%[^\n]{0,20}\bacc(uracy)?\b",
         r"(?<![a-z])acc(uracy)?\b[^0-9\n]{0,20}\b0\.50*\b", r"calls every (validation )?image (real|fake)", r"coin toss"),
        "The model has not found anything that tells real from fake, so it guesses: the labels may be wrong "
        "(fake images in real/ or mixed up), the learning rate too high, the images too small to show the "
        "artifacts, or the fakes too few or too alike.",
        "In this order: open a few images in real/ and fake/ and check they are in the right folder; train with a "
        "smaller learning rate (dfcoach train --lr 0.0001); check the data with `dfcoach data check`; keep the "
        "pictures at their own size (leave --image-size unset) and give the full run its time (dfcoach train); and "
        "if you chose another model, go back to the default, efficientnet_lite0, which starts from ImageNet weights "
        "installed with dfcoach.",
    ),
    Trouble(
        "overfitting", "Overfitting: training accuracy far above validation",
        (r"overfit",),
        "The model memorises its training images instead of learning what makes a face fake: too few images for "
        "the model's size, or too many epochs.",
        "The best model by validation accuracy is the one kept. More images help most (the Kaggle 140k dataset); "
        "fewer epochs and early stopping (--patience) help too.",
    ),
    Trouble(
        "loss-is-nan", "The loss became NaN",
        (r"\bloss\b[^\n]{0,20}\bnan\b", r"\bnan\b[^\n]{0,10}\bloss\b"),
        "The learning rate is too high and the weights blew up, or an image is broken.",
        "Train again with a smaller learning rate: dfcoach train --lr 0.0001, and run `dfcoach data check`.",
    ),
    Trouble(
        "torch-missing", "PyTorch is not installed",
        (r"No module named '?(torch|torchvision)'?",),
        "torch or torchvision is missing from the Python environment that runs the command.",
        "Install both together, in the same environment as dfcoach: pip install torch torchvision. "
        "`dfcoach doctor` checks the result.",
    ),
    Trouble(
        "torchvision-mismatch", "torch and torchvision do not match",
        (r"operator torchvision::\w+ does not exist", r"torchvision.{0,40}(not compatible|incompatible|mismatch)",
         r"undefined symbol.*(torch|c10)"),
        "torchvision was built for another torch version (one of them was upgraded alone).",
        "Reinstall both together so pip picks a matching pair: pip install --upgrade torch torchvision",
    ),
    Trouble(
        "no-cuda", "No usable NVIDIA GPU",
        (r"Torch not compiled with CUDA enabled", r"no CUDA GPUs are available", r"CUDA driver version is insufficient",
         r"Found no NVIDIA driver", r"CUDA (error|initialization).{0,40}(unknown error|no CUDA-capable device)"),
        "This torch cannot use a GPU: there is none, its driver is too old, or the CPU-only torch is installed.",
        "Training works on the CPU (slower): dfcoach train --device cpu (auto does it by itself). For a GPU, update "
        "the NVIDIA driver and install the torch build for your CUDA version from pytorch.org.",
    ),
    Trouble(
        "kaggle-credentials", "Kaggle credentials missing or refused",
        (r"Could not find kaggle\.json", r"401\b.{0,40}Unauthori[sz]ed", r"\bUnauthori[sz]ed\b", r"KAGGLE_USERNAME",
         r"kaggle\.json"),
        "The Kaggle API needs your username and key: kaggle.json is missing, in the wrong place, or its key is old "
        "(a new token invalidates the previous one).",
        "Run `dfcoach kaggle setup`: it finds or imports kaggle.json, fixes its permissions and checks it works.",
    ),
    Trouble(
        "kaggle-forbidden", "Kaggle refuses the download (403)",
        (r"403\b.{0,40}Forbidden", r"\bForbidden\b"),
        "Kaggle knows who you are but you have not accepted this dataset's rules, or the account is not verified.",
        "Open the dataset's page on kaggle.com, sign in, accept its rules (and verify your phone if asked), then "
        "run the download again. Or download the zip in the browser: dfcoach data download kaggle_140k --archive ZIP",
    ),
    Trouble(
        "unsafe-model-file", "The model file cannot be loaded safely",
        (r"Weights only load failed", r"WeightsUnpickler error", r"Unsupported global", r"contains code, not only weights"),
        "The file holds Python objects, not only weights: loading it would run code from it, which dfcoach refuses.",
        "Use a model made by `dfcoach train` (models/best_model_*.pth). Never load a model file from someone you do "
        "not trust with weights_only=False.",
    ),
    Trouble(
        "state-dict-mismatch", "The weights do not fit the model",
        (r"Error\(s\) in loading state_dict", r"size mismatch for", r"Missing key\(s\) in state_dict",
         r"Unexpected key\(s\) in state_dict", r"do not fit a \w+ model"),
        "The service builds one kind of model and the file holds another: CUSTOM_MODEL_TYPE does not match the "
        "model that was trained, or the file comes from another version.",
        "Let dfcoach write the settings: dfcoach deploy (it sets MODEL_PATH and CUSTOM_MODEL_TYPE from the file itself).",
    ),
    Trouble(
        "env-file", ".env cannot be written",
        (r"\.env is read-only", r"Could not write \S*\.env", r"cannot be written to (a )?\S*\.env( file)? so that every program",
         r"docker --env-file` would keep the quotes"),
        "The .env is read-only, its folder is full or not writable, or the model's path holds a character that "
        "python-dotenv and a shell would read differently (a line break, a single quote, ${).",
        "Read-only: chmod u+w .env. Full or not writable: free space, or chmod u+w on the folder named. A path it cannot "
        "write: move or rename the model file to a simple path (letters, digits, ./_-), then dfcoach deploy again.",
    ),
    Trouble(
        "model-path", "MODEL_PATH points at nothing",
        (r"MODEL_PATH", r"no (trained )?model in models/", r"best_model_\S*\.pth.{0,40}(not found|No such file)"),
        "The .env names a model file that is not there (moved, renamed, or a relative path read from another folder).",
        "Run `dfcoach deploy` to point .env at the newest model; `dfcoach doctor` shows what .env points at.",
    ),
    Trouble(
        "port-in-use", "The port is already in use",
        (r"Address already in use", r"\[Errno (98|48|10048)\]", r"error while attempting to bind on address"),
        "Another program (often an earlier `dfcoach serve`, or AirPlay Receiver on macOS for port 5000) listens there.",
        "Serve on another port: dfcoach serve --port 5001, or stop the other program (`lsof -i :5000` names it).",
    ),
    Trouble(
        "service-not-running", "The service does not answer",
        (r"Connection refused", r"Failed to connect to \S+ port \d+", r"Could not connect to server"),
        "Nothing listens at that address: the service is not started, has stopped, or runs on another port.",
        "Start it with `dfcoach serve` (it prints its address) and keep that terminal open; use the same port in curl.",
    ),
    Trouble(
        "picture-too-large", "A picture is too large",
        (r"too large \([\d,]+ x [\d,]+ pixels", r"DecompressionBomb(Warning|Error)", r"could be decompression bomb",
         r"too large for dfcoach"),
        "The picture has more than the 150 megapixels dfcoach reads (a stitched panorama, a scan, a phone's "
        "200-megapixel mode, or a file made to look huge); it is skipped, or refused by the service, never decoded.",
        "Make it smaller (any photo editor can resize it; a face needs far fewer pixels) and put the smaller copy "
        "in its place. Pictures up to 150 megapixels need nothing: they are reduced as they are decoded.",
    ),
    Trouble(
        "bad-image", "An image cannot be read",
        (r"cannot identify image file", r"UnidentifiedImageError", r"image file is truncated", r"not a picture dfcoach can read",
         r"damaged or not a picture"),
        "A file is not an image, or is damaged or cut short (an interrupted download or copy).",
        "`dfcoach data check` lists every unreadable file in the dataset; delete or replace them. For a single picture, "
        "open it in an image viewer, and save it again as JPEG or PNG.",
    ),
    Trouble(
        "disk-full", "The disk is full",
        (r"No space left on device", r"\[Errno 28\]", r"the disk is full"),
        "There is no room left for the dataset, the image cache or the model files.",
        "Free some space (old runs/ folders and dataset/.dfcoach are safe to delete), then run the command again. "
        "`dfcoach doctor` shows how much is free.",
    ),
    Trouble(
        "permission-denied", "Permission denied",
        (r"Permission denied", r"\[Errno 13\]"),
        "The command cannot write (or read) a file or folder: it belongs to another user, or is read-only. "
        "\"dfcoach may not read this file\" next to a picture means the file is there and intact, but your user may not read it.",
        "Work in a folder you own (your home folder), or give yourself access: chmod u+w THE_PATH to write, "
        "chmod -R u+rX THE_FOLDER to read; sudo chown -R $USER THE_FOLDER for files another user (root) left there.",
    ),
    Trouble(
        "markup", "A name with brackets, or MarkupError",
        (r"MarkupError", r"closing tag '\[/.*' .*doesn't match any open tag"),
        "A folder, file or message with [brackets] was read as text styling by an older dfcoach.",
        "dfcoach prints such names as they are; if you still see MarkupError, run the command with DFCOACH_DEBUG=1 and "
        "report it with the name that caused it.",
    ),
    Trouble(
        "offline", "No internet connection",
        (r"Temporary failure in name resolution", r"Name or service not known", r"Max retries exceeded",
         r"nodename nor servname provided", r"Network is unreachable", r"getaddrinfo failed"),
        "The command needs the internet (a Kaggle download, a torchvision model's --pretrained weights) and cannot reach it.",
        "Connect and try again. Everything else works offline: the demo dataset (dfcoach data download tiny_demo) "
        "and training the default model, whose ImageNet weights installed with dfcoach.",
    ),
)


def explain(text: str) -> list[Trouble]:
    """Every known problem the text gives away, most specific first (the order of TROUBLES)."""
    return [trouble for trouble in TROUBLES if trouble.matches(text)]
