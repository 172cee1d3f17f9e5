"""Self-describing model files that load without running any code.

A checkpoint is a plain dict: the weights, plus everything needed to use them
(model name, image size, normalisation, class names), the metrics at save time
and the versions that made it. It is loaded with `torch.load(weights_only=True)`,
which refuses anything but tensors and plain data, so a model file from someone
else can never run code on this machine.
"""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepfake_coach import __version__
from deepfake_coach.errors import CoachError, from_os_error
from deepfake_coach.fsutil import atomic_write_bytes
from deepfake_coach.train.models import CLASS_NAMES, build_model, get_spec

FORMAT = "dfcoach-checkpoint"
FORMAT_VERSION = 1
PREPROCESSING = "exif_upright+resize_shorter_side+center_crop"


def make_checkpoint(model: nn.Module, model_name: str, image_size: int, metrics: dict[str, float] | None = None,
                    config: dict[str, Any] | None = None, epoch: int = 0, **training_state: Any) -> dict[str, Any]:
    """The dict saved to disk. `training_state` (optimizer, scheduler, RNG...) is what --resume needs."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "image_size": image_size,
        "normalization": {"mean": list(get_spec(model_name).mean), "std": list(get_spec(model_name).std)},
        # How a picture becomes the model's input at evaluation: upright, shorter side resized to
        # image_size, centre-cropped square, the whole square at once. Models trained on crops (efficientnet_lite0, noise_cnn)
        # are fully convolutional, so judging the whole square is the same model on more of the picture.
        "preprocessing": PREPROCESSING,
        "train_crop": get_spec(model_name).crop_size(image_size),
        "class_names": list(CLASS_NAMES),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "epoch": epoch,
        "metrics": dict(metrics or {}),
        "config": dict(config or {}),
        "versions": {"dfcoach": __version__, "torch": str(torch.__version__)},  # TorchVersion is not plain data
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **training_state,
    }


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write atomically: a crash or a full disk never leaves a half-written model file."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    try:
        atomic_write_bytes(Path(path), buffer.getvalue())
    except OSError as error:
        raise from_os_error(error, f"save the model to {path}") from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CoachError(f"There is no model file at {path}.", hint="Train one with `dfcoach train`, or check the path.")
    try:
        with warnings.catch_warnings():  # torch's note on a pickle protocol it does not expect: the error below says it plainly
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        unsafe = holds_code(path, error)  # a class or function to call: code, not data
        raise CoachError(
            f"{path} cannot be loaded safely: it contains code, not only weights." if unsafe
            else f"{path} is not a readable model file (it may be incomplete or damaged).",
            hint="Use a model file made by `dfcoach train`; dfcoach never runs code from a model file.",
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CoachError(f"{path} is not a dfcoach model file.", hint="Use a model saved by `dfcoach train` (models/best_model_*.pth).")
    problem = field_problem(checkpoint)
    if problem is not None:
        raise CoachError(
            f"{path} has a setting dfcoach cannot use: {problem}.",
            hint="The file was changed or damaged. Use a model file made by `dfcoach train`, or train a new one.",
        )
    return checkpoint


# What torch says when the pickle names a class or function it will not import or call.
_REFUSED_CODE = ("Unsupported global", "unsupported GLOBAL", "reduce for unrecognized function", "Can only create new object",
                 "Can only build")
_LARGEST_PICKLE = 64 * 1024 * 1024  # the pickle of a model file is kilobytes (the weights are stored beside it)


def holds_code(path: Path, error: Exception) -> bool:
    """Whether the model file torch refused asks to import a class or function (code), rather than being
    damaged: torch says so for most such files; for the others (a pickle protocol torch's safe loader does
    not read, such as 4 or 5) the pickle's instructions are read, without running any, for the names it imports."""
    if any(sign in str(error) for sign in _REFUSED_CODE):
        return True
    try:
        return any(_imports_code(pickled) for pickled in _pickles_in(Path(path)))
    except Exception:  # unreadable as a zip or a pickle: damaged, not code
        return False


def _pickles_in(path: Path) -> list[bytes]:
    """The pickle(s) of a model file: `data.pkl` inside torch's zip format, or the file itself (the legacy format)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [archive.read(info) for info in archive.infolist()
                    if info.filename.endswith(".pkl") and info.file_size <= _LARGEST_PICKLE]
    with open(path, "rb") as handle:
        return [handle.read(_LARGEST_PICKLE)]


def _imports_code(pickled: bytes) -> bool:
    """Whether the pickles in `pickled` (one after another, as the legacy format stores them) name a global that
    torch's weights-only loader does not allow. `pickletools` only reads the instructions: nothing is imported."""
    import pickletools

    allowed = _allowed_globals()
    stream = io.BytesIO(pickled)
    while stream.tell() < len(pickled):
        strings: list[str] = []  # the strings pushed so far: STACK_GLOBAL takes its module and name from them
        try:
            for opcode, argument, _ in pickletools.genops(stream):
                if opcode.name in ("GLOBAL", "INST"):
                    if argument.replace(" ", ".") not in allowed:
                        return True
                elif opcode.name == "STACK_GLOBAL":
                    if len(strings) < 2 or f"{strings[-2]}.{strings[-1]}" not in allowed:
                        return True
                elif isinstance(argument, str):
                    strings.append(argument)
        except Exception:  # the end of the pickles (the legacy format's raw weights follow them), or a damaged one
            return False
    return False


def _allowed_globals() -> set[str]:
    """The classes and functions torch's weights-only loader may call (tensors, storages, OrderedDict...)."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return set(_get_allowed_globals())
    except (ImportError, AttributeError):  # a torch that moved it: only its own rebuild functions
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"}


MAX_IMAGE_SIZE = 1024  # as TrainConfig.image_size allows


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def field_problem(checkpoint: dict[str, Any]) -> str | None:
    """What is wrong, in a few words, with the fields that using a model relies on; None when nothing is.
    A model file is untrusted input: every name and number in it is checked before it is used."""
    from deepfake_coach.train.models import MODELS

    name = checkpoint.get("model_name")
    if not isinstance(name, str) or name not in MODELS:
        return f"model_name {name!r} is not a model this dfcoach knows ({', '.join(MODELS)})"
    size = checkpoint.get("image_size")
    low = MODELS[name].min_size
    if not (isinstance(size, int) and not isinstance(size, bool) and low <= size <= MAX_IMAGE_SIZE):
        return f"image_size {size!r} is not a whole number of pixels from {low} to {MAX_IMAGE_SIZE}"
    normalization = checkpoint.get("normalization")
    for key in ("mean", "std"):
        values = normalization.get(key) if isinstance(normalization, dict) else None
        if not (isinstance(values, (list, tuple)) and len(values) == 3 and all(map(_is_number, values))):
            return f"normalization {key} {values!r} is not three numbers"
        if key == "std" and min(values) <= 0:
            return f"normalization std {list(values)!r} must be above 0 (it divides every pixel)"
    classes = checkpoint.get("class_names", list(CLASS_NAMES))
    if not (isinstance(classes, (list, tuple)) and sorted(classes) == sorted(CLASS_NAMES)):
        return f"class_names {classes!r} should be {list(CLASS_NAMES)!r} in some order"
    if not isinstance(checkpoint.get("state_dict"), dict):
        return "it holds no weights (state_dict)"
    for key in ("metrics", "config"):
        if not isinstance(checkpoint.get(key, {}), dict):
            return f"{key} is not a set of named values"
    return None


def model_from_checkpoint(checkpoint: dict[str, Any]) -> nn.Module:
    """Rebuild the network a checkpoint describes and load its weights (in eval mode)."""
    name = checkpoint["model_name"]
    get_spec(name)
    model = build_model(name, num_classes=len(checkpoint.get("class_names", CLASS_NAMES)))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError:
        raise CoachError(
            f"The weights in this file do not fit a {name} model.",
            hint="The file may come from another version of the model; train a new one with `dfcoach train`.",
        ) from None
    return model.eval()
