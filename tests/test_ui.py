"""Progress in its three modes, and prompts that never hang without a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from deepfake_coach.errors import MissingAnswer
from deepfake_coach.io.progress import NO_PROGRESS, PlainProgress, ProgressMode, RichProgress, make_progress, resolve_mode
from deepfake_coach.io.prompts import NoInputPrompter, ScriptedPrompter, make_prompter


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_plain_progress_prints_steady_steps_and_a_summary():
    stream, clock = io.StringIO(), FakeClock()
    progress = PlainProgress(stream, every_percent=10, min_interval=2.0, clock=clock)
    with progress.task("Checking images", total=100, unit="files") as task:
        for _ in range(100):
            clock.now += 1.0  # a slow job: one second per file
            task.advance()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "Checking images (100 files)..."
    assert lines[1] == "Checking images: 10/100 files (10%)"
    assert lines[-2] == "Checking images: 90/100 files (90%)"
    assert lines[-1] == "Checking images: done, 100 files in 100.0 s"
    assert len(lines) == 11


def test_plain_progress_keeps_short_jobs_to_two_lines():
    stream, clock = io.StringIO(), FakeClock()
    with PlainProgress(stream, clock=clock).task("Writing", total=1000, unit="images") as task:
        for _ in range(1000):
            clock.now += 0.001
            task.advance()
    assert stream.getvalue().splitlines() == ["Writing (1,000 images)...", "Writing: done, 1,000 images in 1.0 s"]


def test_plain_progress_shows_live_fields():
    stream, clock = io.StringIO(), FakeClock()
    with PlainProgress(stream, clock=clock).task("Epoch 1", total=10, unit="batches") as task:
        task.update(loss="0.4523", acc="78.50%")
        clock.now = 10
        task.advance(5)
    assert "Epoch 1: 5/10 batches (50%), loss 0.4523, acc 78.50%" in stream.getvalue()


def test_off_progress_prints_nothing(capsys):
    with NO_PROGRESS.task("x", total=3) as task:
        task.advance(3)
        task.update(loss=1)
    assert capsys.readouterr() == ("", "")


def test_rich_progress_renders_bars_and_nested_tasks():
    output = io.StringIO()
    console = Console(file=output, width=100, force_terminal=True, color_system=None)
    clock = FakeClock()
    progress = RichProgress(console, get_time=clock, auto_refresh=False)
    with progress.task("Epochs", total=2) as epochs:
        with progress.task("Batches", total=4) as batches:
            batches.advance(4)
            batches.update(loss="0.31")
        epochs.advance(2)
    text = output.getvalue()
    assert "Epochs" in text and "Batches" in text
    assert "4/4" in text and "2/2" in text
    assert "loss 0.31" in text


def test_mode_resolution(monkeypatch):
    pipe = Console(file=io.StringIO())
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert resolve_mode("auto", pipe) is ProgressMode.PLAIN
    assert resolve_mode("auto", terminal) is ProgressMode.RICH
    monkeypatch.setenv("DFCOACH_PROGRESS", "off")
    assert resolve_mode("auto", terminal) is ProgressMode.OFF
    assert resolve_mode("plain", terminal) is ProgressMode.PLAIN
    assert make_progress("off", terminal) is NO_PROGRESS


def test_no_input_prompter_names_the_flag():
    with pytest.raises(MissingAnswer) as caught:
        NoInputPrompter().confirm("Replace the dataset?", flag="--force")
    assert "no terminal" in caught.value.message
    assert caught.value.hint == "Pass --force on the command line."
    assert caught.value.exit_code == 2


def test_without_a_terminal_nothing_prompts():
    # pytest captures stdin, so this is the no-terminal case CI is in.
    assert isinstance(make_prompter(), NoInputPrompter)
    assert isinstance(make_prompter(no_input=True), NoInputPrompter)


def test_scripted_prompter_answers_by_flag():
    prompter = ScriptedPrompter({"--force": True, "--dataset": "tiny_demo"})
    assert prompter.confirm("Replace?", flag="--force") is True
    assert prompter.select("Which?", [], flag="--dataset") == "tiny_demo"
    assert prompter.asked == ["--force", "--dataset"]


def test_rich_progress_removes_finished_inner_bars():
    output = io.StringIO()
    console = Console(file=output, width=100, force_terminal=True, color_system=None)
    progress = RichProgress(console, get_time=FakeClock(), auto_refresh=False)
    with progress.task("Training", total=3) as outer:
        for epoch in range(3):
            with progress.task(f"Epoch {epoch + 1}/3", total=2) as inner:
                inner.advance(2)
            outer.advance()
            assert len(progress._bars.tasks) == 1
    assert progress._bars.tasks == []


def test_the_whole_runs_estimate_shows_even_when_an_epoch_takes_minutes():
    """One update per 40-second batch is too slow for Rich's 30-second window: the pace since the start is used."""
    output = io.StringIO()
    console = Console(file=output, width=120, force_terminal=True, color_system=None)
    clock = FakeClock()
    progress = RichProgress(console, get_time=clock, auto_refresh=False)
    with progress.task("Training", total=5, unit="epochs") as run:
        clock.now = 120.0
        run.reach(0.5)  # half of epoch 1 in two minutes: 4.5 epochs, 18 minutes, to go
        progress._bars.refresh()
        assert "0:18:00" in output.getvalue() and "1/5" not in output.getvalue()
        run.reach(1)


def test_training_moves_the_whole_runs_bar_with_each_batch(tmp_path):
    """The estimate comes from completed batches: the run's bar moves before the first epoch ends."""
    from contextlib import contextmanager

    from conftest import make_dataset
    from deepfake_coach.config import TrainConfig
    from deepfake_coach.train.loop import fit

    reached: dict[str, list[float]] = {}

    class Recording:
        def __init__(self, name):
            self.name, self.done = name, 0.0

        def advance(self, n=1):
            self.reach(self.done + n)

        def reach(self, completed):
            self.done = completed
            reached.setdefault(self.name, []).append(completed)

        def update(self, description=None, **fields):
            pass

    class RecordingProgress:
        @contextmanager
        def task(self, description, total=None, unit=""):
            yield Recording(description)

    dataset = make_dataset(tmp_path / "dataset", {"train": (8, 8), "val": (2, 2), "test": (1, 1)}, size=32)
    fit(TrainConfig(model="custom_cnn", epochs=2, batch_size=4, image_size=32), dataset, tmp_path, progress=RecordingProgress())
    steps = reached["Training"]
    assert [share for share in steps if 0 < share < 1] == [0.25, 0.5, 0.75]  # 16 images, 4 batches an epoch
    assert steps[-1] == 2
