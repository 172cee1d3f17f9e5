"""A training run told to stop by its terminal closing (SIGHUP) or by `kill` (SIGTERM) stops the way
Ctrl-C stops it: what finished is saved and `state.json` says the run was stopped, instead of
staying "running" for ever. SIGKILL cannot be caught; `process_alive` tells that case apart."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

CAUGHT = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class StopSignal(KeyboardInterrupt):
    """Raised in the training loop when SIGTERM or SIGHUP arrives; handled like Ctrl-C."""

    def __init__(self, number: int):
        super().__init__(number)
        self.name = signal.Signals(number).name

    @property
    def why(self) -> str:
        return "the terminal was closed" if self.name == "SIGHUP" else "a stop signal (SIGTERM) arrived"


@contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `StopSignal` (main thread only: elsewhere signals
    cannot be handled, and the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_stop(number, frame):
        raise StopSignal(number)

    previous = {number: signal.signal(number, raise_stop) for number in CAUGHT}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def finish_stopping() -> None:
    """From now on Ctrl-C and stop signals are ignored (main thread only), so that a process already
    stopping saves and says so before it ends. For the first process of a run on several devices:
    torchrun stops the others with SIGTERM as soon as one of them has ended, and would cut it short
    (it still ends it, with SIGKILL, if it takes more than 30 seconds)."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, *CAUGHT):
            signal.signal(number, signal.SIG_IGN)


def process_alive(pid: object) -> bool:
    """Whether a process with this id runs on this computer (one of another user's counts)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
