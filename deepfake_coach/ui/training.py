"""What a person sees while a model trains: the run's set-up, a line per epoch,
coaching, and the summary with the success checklist."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding

from deepfake_coach.data.layout import DEFAULT_DATA_DIR
from deepfake_coach.io.output import Output
from deepfake_coach.train.coach import Advice, EpochMetrics, balanced_differs
from deepfake_coach.train.report import RunInfo, TrainReporter, TrainResult
from deepfake_coach.train.run import LOG

SKIPPED_SHOWN = 5  # skipped images listed on the console; train.log lists them all


def _balanced(m: EpochMetrics, digits: int = 2) -> str:
    """Balanced accuracy next to accuracy, when the classes are unequal enough for them to differ."""
    if not balanced_differs(m.val_acc, m.val_balanced_acc):
        return ""
    return f" (balanced {m.val_balanced_acc:.{digits}%})"


class ConsoleReporter(TrainReporter):
    """A run's set-up, epochs and coaching, on the output's message stream (stderr): stdout keeps the results.
    --quiet hides the set-up and the epoch lines; the coach's advice and notes are always said."""

    def __init__(self, output: Output):
        self.console, self.quiet = output.err, output.quiet

    def started(self, run: RunInfo) -> None:
        if self.quiet:
            return
        c = self.console
        what = "Resuming" if run.start_epoch > 1 else "Training"
        on = f"the {escape(run.device.upper())}"
        if run.processes > 1:
            on = f"{run.processes} GPUs" if run.device == "cuda" else f"{run.processes} processes sharing the {escape(run.device.upper())}"
        c.print(f"[bold]{what} {escape(run.model_name)}[/bold] on {run.train_images:,} training and {run.val_images:,} validation "
                f"images, {run.image_size} px, batches of {run.batch_size}, on {on}.")
        if run.device == "cpu":
            c.print("No GPU here: that is fine, a CPU trains the small models in minutes.", style="dim")
        c.print("Loss is how wrong the model is (lower is better); accuracy is the share it gets right. "
                "Watch validation accuracy: it is measured on images the model never trains on.", style="dim")
        if run.skipped:
            count = len(run.skipped)
            c.print(f"[yellow]Skipped {count} image{'s' if count > 1 else ''} that could not be used[/yellow] "
                    f"(all listed in {escape(str(run.run_dir / LOG))}):")
            for file, why in run.skipped[:SKIPPED_SHOWN]:
                c.print(Padding(f"{escape(file)}: {escape(why)}", (0, 0, 0, 2)))
            if count > SKIPPED_SHOWN:
                c.print(Padding(f"... and {count - SKIPPED_SHOWN:,} more", (0, 0, 0, 2)))

    def epoch_done(self, m: EpochMetrics, total_epochs: int, saved: Path | None) -> None:
        if self.quiet:
            return
        self.console.print(
            f"Epoch {m.epoch}/{total_epochs}: train loss {m.train_loss:.4f}, acc {m.train_acc:.2%} | "
            f"val loss {m.val_loss:.4f}, acc {m.val_acc:.2%}{_balanced(m)} | {m.seconds:.1f} s"
        )
        if saved is not None:
            self.console.print(f"  [green]New best model saved: {escape(str(saved))}[/green]")

    def advice(self, advice: Advice) -> None:
        colour = "cyan" if advice.stop else "yellow"
        self.console.print(Padding(f"[{colour}]Coach:[/{colour}] {escape(advice.message)}", (0, 0, 0, 2), expand=False))
        if advice.next_step:
            self.console.print(Padding(f"[bold]What to do:[/bold] {escape(advice.next_step)}", (0, 0, 0, 2), expand=False))

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]Note:[/yellow] {escape(message)}")


def render_summary(result: TrainResult, checklist: list[tuple[bool, str, str]], console: Console) -> None:
    best = result.best
    minutes, seconds = divmod(int(result.seconds), 60)
    ending = "stopped early" if result.stopped_early else "finished"
    console.print(f"\n[bold]Training {ending}[/bold] in {minutes} min {seconds} s. Best validation accuracy: "
                  f"[bold]{best.val_acc:.1%}[/bold]{_balanced(best, 1)} at epoch {best.epoch}.")
    console.print(f"  Best model:  {escape(str(result.run.best_path))}")
    console.print(f"  Run files:   {escape(str(result.run.run_dir))}/ (curves.png shows the learning curves)")
    if checklist:
        from deepfake_coach.ui.health import render_checklist

        console.print()
        render_checklist(checklist, console)


def render_lr_finding(finding, config, quick: bool, console: Console, data_dir: Path = DEFAULT_DATA_DIR) -> None:
    """What the learning-rate range test found, and the command to train with it."""
    tried = f"{finding.learning_rates[0]:.0e} to {finding.learning_rates[-1]:.0e}"
    console.print(f"[bold]Learning-rate finder[/bold] ({escape(config.model)}, batches of {config.batch_size}): "
                  f"tried {len(finding.learning_rates)} rates from {tried}" + (", until the loss shot up." if finding.stopped_early else "."))
    if finding.plot is not None:
        console.print(f"The curve: {escape(str(finding.plot))} (the loss should fall, then rise: aim before the lowest point).")
    command = "dfcoach train --quick" if quick else "dfcoach train"
    if config.model != type(config)().model:  # not the default model: the command must name it
        command += f" --model {config.model}"
    if Path(data_dir) != DEFAULT_DATA_DIR:  # every command printed works as printed
        command += f" --data-dir {shlex.quote(str(data_dir))}"
    if finding.suggestion is None:
        console.print("[yellow]The loss did not fall at any of these rates[/yellow], so the curve suggests nothing. "
                      "The data may be too hard to learn in 100 batches, or the labels may be mixed up.")
        console.print(f"[bold]Next:[/bold] keep the default ({config.lr:g}) with `{escape(command)}`, and run `dfcoach data check --data-dir {escape(shlex.quote(str(data_dir)))}`.")
        return
    console.print(f"The loss was lowest at {finding.lowest_at:.1e}; a tenth of that is a fast rate that stays stable: "
                  f"[bold green]{finding.suggestion:.0e}[/bold green] (now {config.lr:g}).")
    console.print(f"[bold]Next:[/bold] {escape(command)} --lr {finding.suggestion:.0e}")
