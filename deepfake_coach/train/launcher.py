"""`dfcoach train --devices N`: the same training on N processes, one per GPU (on a computer without
one, N processes sharing the CPU), started by torchrun.

torchrun (`torch.distributed.run`) runs inside this process, exactly as the command
`torchrun --standalone --nproc-per-node N -m deepfake_coach train ...` would: it starts the
training processes, passes Ctrl-C and stop signals on to them, and stops them all when one fails.
Run here rather than as a command, its outcome is told in dfcoach's words (an exit code, and a
message where no training process could say what happened) instead of torchrun's tracebacks. The
training processes print for themselves: the first one reports, the others stay quiet
(train/distributed.py).
"""

from __future__ import annotations

import logging
import os
import signal
from contextlib import contextmanager
from typing import Iterator

from deepfake_coach.errors import EXIT_INTERRUPTED, CoachError, UsageError, debug_enabled


def check_devices(devices: int, device: str) -> str:
    """What the N processes run on, "cuda" or "cpu", once it is clear that there are N of those."""
    import torch

    if device == "mps":
        raise UsageError("--devices needs NVIDIA GPUs or the CPU; Apple's GPU is a single device.",
                         hint="Leave out --devices, or add --device cpu to train in several processes on the CPU.")
    if device in ("auto", "cuda") and torch.cuda.is_available():
        have = torch.cuda.device_count()
        if devices > have:
            raise UsageError(f"--devices {devices} asks for {devices} GPUs, but this computer has {have}.",
                             hint=f"Use --devices {have}" + (" (or leave it out)" if have == 1 else "") + ", or add --device cpu to use processes on the CPU.")
        return "cuda"
    if device == "cuda":
        raise UsageError("--device cuda was asked for, but this computer has no usable NVIDIA GPU.",
                         hint="Leave out --device: without a GPU, --devices N trains in N processes on the CPU.")
    return "cpu"


def launch(devices: int, arguments: list[str]) -> int:
    """Run `python -m deepfake_coach ARGUMENTS` in `devices` processes under torchrun; the exit code
    of the run (0, 130 when stopped by Ctrl-C or a stop signal, else the first failure's)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # Each process gets its share of the CPU's threads (torchrun's own default is one each).
    threads = str(max(1, (os.cpu_count() or 1) // devices))
    try:
        with _torchrun_quiet(), _environment(OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", threads)):
            run(parse_args(["--standalone", f"--nproc-per-node={devices}", "--module", "deepfake_coach", *arguments]))
    except SignalException as stop:  # the processes got the signal too and stopped, the first one saying so
        return EXIT_INTERRUPTED if stop.sigval in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) else 128 + int(stop.sigval)
    except ChildFailedError as failed:
        rank, failure = failed.get_first_failure()
        if failure.exitcode >= 0:
            return failure.exitcode  # the process said why (printed above)
        name = failure.signal_name()
        raise CoachError(
            f"Training process {rank} was ended by {name} before it could say why"
            + (": most often the computer ran out of memory and the system stopped it." if name == "SIGKILL" else "."),
            hint="Try a smaller --batch-size or --image-size, or fewer --devices; the run so far can be continued with --resume last.",
        ) from None
    return 0


@contextmanager
def _torchrun_quiet() -> Iterator[None]:
    """torchrun's own log lines (rendezvous, "shutting down workers") are for its developers; each of
    its loggers sets its own level, so logging is switched off in this process for the run (nothing
    else logs here). DFCOACH_DEBUG=1 shows them."""
    if debug_enabled():
        yield
        return
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """os.environ with `values` for the duration: torchrun passes os.environ to the processes it starts."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
