"""Progress display in three modes, chosen like pip does: rich bars on a terminal,
plain lines for logs and pipes, nothing when quiet.

Library code receives a `Progress` and opens tasks on it; it never knows which
mode is on. `NO_PROGRESS` is the default for callers that want no output.

    with progress.task("Generating demo images", total=1000, unit="images") as task:
        for ...:
            task.advance()
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import AbstractContextManager, contextmanager
from enum import Enum
from typing import IO, Callable, Iterator, Protocol

from rich.console import Console


class ProgressMode(str, Enum):
    AUTO = "auto"
    RICH = "rich"
    PLAIN = "plain"
    OFF = "off"


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def reach(self, completed: float) -> None:
        """Set how much is done, fractions allowed: the whole run's bar moves with each batch,
        so its time estimate starts with the first batches, not after the first epoch."""
        ...

    def update(self, description: str | None = None, **fields: object) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None = None, unit: str = "") -> AbstractContextManager[Task]: ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def reach(self, completed: float) -> None:
        pass

    def update(self, description: str | None = None, **fields: object) -> None:
        pass


class OffProgress:
    """Shows nothing (--quiet, or a library caller)."""

    @contextmanager
    def task(self, description: str, total: int | None = None, unit: str = "") -> Iterator[Task]:
        yield _NullTask()


NO_PROGRESS = OffProgress()


class _PlainTask:
    def __init__(self, owner: "PlainProgress", description: str, total: int | None, unit: str, started: float):
        self._owner = owner
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0
        self.fields: dict[str, object] = {}
        self._last_line = started
        self._last_percent = 0

    def advance(self, n: int = 1) -> None:
        self.reach(self.completed + n)

    def reach(self, completed: float) -> None:
        self.completed = completed
        if not self.total or self.completed >= self.total:
            return
        # A line per `every_percent` of the work, but not more often than `min_interval`: a log
        # of a long job shows steady progress, and a short job only its start and end.
        percent = 100 * self.completed // self.total
        now = self._owner.clock()
        if percent - self._last_percent >= self._owner.every_percent and now - self._last_line >= self._owner.min_interval:
            self._owner.write(f"{self.description}: {_amount(self.completed, self.total, self.unit)} ({percent}%){self.extra()}")
            self._last_line, self._last_percent = now, percent

    def update(self, description: str | None = None, **fields: object) -> None:
        if description:
            self.description = description
        self.fields.update(fields)

    def extra(self) -> str:
        return "".join(f", {key} {value}" for key, value in self.fields.items())


class PlainProgress:
    """Plain lines for logs and pipes: the start, steady steps, and the end with the time taken."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        every_percent: int = 10,
        min_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._stream = stream
        self.every_percent = every_percent
        self.min_interval = min_interval
        self.clock = clock

    def write(self, line: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()

    @contextmanager
    def task(self, description: str, total: int | None = None, unit: str = "") -> Iterator[Task]:
        started = self.clock()
        handle = _PlainTask(self, description, total, unit, started)
        size = f" ({_amount(None, total, unit)})".replace(" )", ")") if total else ""
        self.write(f"{description}{size}...")
        yield handle
        elapsed = self.clock() - started
        count = f"{_amount(None, handle.completed, unit)} ".replace("  ", " ") if handle.completed else ""
        self.write(f"{handle.description}: done, {count}in {elapsed:.1f} s{handle.extra()}")


def _amount(done: int | None, total: int | None, unit: str) -> str:
    """`1,200/5,000 images`, or for bytes `12.0/50.3 MB`; `done` None gives the total alone."""
    if unit == "bytes":
        from rich.filesize import decimal

        return decimal(total or 0) if done is None else f"{decimal(done)}/{decimal(total or 0)}"
    return f"{total:,} {unit}" if done is None else f"{int(done):,}/{total:,} {unit}"  # whole epochs done, not 2.37


def _amount_column():
    """Rich's M/N column, showing sizes and speed for a task counted in bytes (a download)."""
    from rich.filesize import decimal
    from rich.progress import MofNCompleteColumn
    from rich.text import Text

    class AmountColumn(MofNCompleteColumn):
        def render(self, task):
            if task.fields.get("unit") != "bytes":
                return super().render(task)
            total = decimal(int(task.total)) if task.total is not None else "?"
            speed = f"  {decimal(int(task.speed))}/s" if task.speed else ""
            return Text(f"{decimal(int(task.completed))}/{total}{speed}", style="progress.download")

    return AmountColumn()


def _remaining_column():
    """Rich's estimate, which needs two updates within 30 s; for slower steps (one batch of a big
    model on a CPU) the average pace since the start instead, rather than `-:--:--`."""
    from rich.progress import TimeRemainingColumn
    from rich.text import Text

    class RemainingColumn(TimeRemainingColumn):
        def render(self, task):
            if task.time_remaining is None and task.completed and task.total and task.elapsed and not task.finished:
                seconds = int(task.elapsed * (task.total - task.completed) / task.completed)
                minutes, seconds = divmod(seconds, 60)
                hours, minutes = divmod(minutes, 60)
                return Text(f"{hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")
            return super().render(task)

    return RemainingColumn()


class _RichTask:
    def __init__(self, progress, task_id):
        self._progress = progress
        self._id = task_id

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._id, n)

    def reach(self, completed: float) -> None:
        self._progress.update(self._id, completed=completed)

    def update(self, description: str | None = None, **fields: object) -> None:
        info = "  ".join(f"{key} {value}" for key, value in fields.items())
        if description is not None:
            self._progress.update(self._id, description=description)
        if fields:
            self._progress.update(self._id, info=info)


class RichProgress:
    """Live bars on a terminal. Tasks may nest (epochs, then batches); the display
    starts with the first open task and stops when the last one closes."""

    def __init__(self, console: Console, get_time: Callable[[], float] | None = None, auto_refresh: bool = True):
        from rich import progress as rp

        self._bars = rp.Progress(
            rp.TextColumn("{task.description}", style="progress.description", markup=False),  # names of files: text, not markup
            rp.BarColumn(),
            _amount_column(),
            rp.TaskProgressColumn(),
            rp.TimeElapsedColumn(),
            rp.TextColumn("eta"),
            _remaining_column(),
            rp.TextColumn("{task.fields[info]}", markup=False),
            console=console,
            get_time=get_time,
            auto_refresh=auto_refresh,
            transient=False,
        )
        self._open = 0

    @contextmanager
    def task(self, description: str, total: int | None = None, unit: str = "") -> Iterator[Task]:
        if self._open == 0:
            self._bars.start()
        self._open += 1
        task_id = self._bars.add_task(description, total=total, info="", unit=unit)
        try:
            yield _RichTask(self._bars, task_id)
        finally:
            self._open -= 1
            if self._open == 0:
                self._bars.refresh()
                self._bars.stop()
                for task_id_done in list(self._bars.task_ids):
                    self._bars.remove_task(task_id_done)
            else:
                # An inner bar (one epoch's batches) is drawn complete, then goes; the outer one stays.
                self._bars.refresh()
                self._bars.remove_task(task_id)


def resolve_mode(requested: ProgressMode | str, console: Console) -> ProgressMode:
    """`auto` becomes rich on a terminal and plain otherwise; DFCOACH_PROGRESS overrides auto."""
    mode = ProgressMode(requested)
    if mode is ProgressMode.AUTO:
        env = os.environ.get("DFCOACH_PROGRESS", "").strip().lower()
        if env in {m.value for m in ProgressMode} - {"auto"}:
            return ProgressMode(env)
        return ProgressMode.RICH if console.is_terminal and not console.is_dumb_terminal else ProgressMode.PLAIN
    return mode


def make_progress(mode: ProgressMode | str, console: Console) -> Progress:
    mode = resolve_mode(mode, console)
    if mode is ProgressMode.RICH:
        return RichProgress(console)
    if mode is ProgressMode.PLAIN:
        return PlainProgress(console.file)
    return NO_PROGRESS
