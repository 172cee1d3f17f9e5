"""What `dfcoach evaluate` and `dfcoach predict` show: the numbers with their meaning, and verdicts."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from deepfake_coach.data.layout import CLASSES
from deepfake_coach.evaluate import Evaluation

UNREADABLE_SHOWN = 10

METRIC_MEANINGS = (
    ("accuracy", "Accuracy", "share of all images judged right"),
    ("precision", "Precision", "of the images it called fake, the share really fake"),
    ("recall", "Recall", "of the fake images, the share it caught"),
    ("f1", "F1", "precision and recall in one number (their harmonic mean)"),
    ("roc_auc", "ROC AUC", "how well it ranks fakes above reals, whatever the threshold"),
)


def render_evaluation(evaluation: Evaluation, console: Console) -> None:
    model = evaluation.model
    total = sum(evaluation.counts.values())
    console.print(f"[bold]Evaluation[/bold] of {escape(str(model.get('path')))} ({escape(model['model'])}, {model['image_size']} px) "
                  f"on the {evaluation.split} split: {total:,} images ({evaluation.counts['real']:,} real, "
                  f"{evaluation.counts['fake']:,} fake).")
    console.print(escape(evaluation.threshold_meaning))
    table = Table(title="Metrics (fake is the positive class)", title_justify="left")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    table.add_column("What it means")
    for key, name, meaning in METRIC_MEANINGS:
        value = evaluation.metrics[key]
        shown = "n/a" if value is None else (f"{value:.3f}" if key == "roc_auc" else f"{value:.1%}")
        table.add_row(name, shown, meaning)
    console.print(table)
    console.print(confusion_table(evaluation.confusion))
    console.print(f"\n[bold]{escape(evaluation.summary)}[/bold]")
    console.print(escape(evaluation.auc_meaning))
    if evaluation.balance_note:
        console.print(f"[yellow]{escape(evaluation.balance_note)}[/yellow]")
    if evaluation.per_kind:
        kinds = Table(title="Accuracy by kind of image", title_justify="left")
        for column, justify in (("Kind", "left"), ("Images", "right"), ("Right", "right"), ("Accuracy", "right")):
            kinds.add_column(column, justify=justify)
        for kind, row in evaluation.per_kind.items():
            kinds.add_row(escape(kind), f"{row['images']:,}", f"{row['right']:,}", f"{row['accuracy']:.1%}")
        console.print(kinds)
    if evaluation.videos:
        v = evaluation.videos
        auc = "n/a (videos of one class only)" if v["roc_auc"] is None else f"{v['roc_auc']:.3f}"
        console.print(f"\n[bold]By video[/bold] ({v['videos']:,} videos from {v['frames']:,} frames; each video judged by "
                      f"the mean fake probability of its frames): accuracy {v['accuracy']:.1%}, ROC AUC {auc}.")
    if evaluation.unreadable:
        render_unreadable([(item["file"], item["reason"]) for item in evaluation.unreadable], console, what="images were skipped")
    console.print(f"\nPictures: {escape(evaluation.pictures['confusion'])}, {escape(evaluation.pictures['roc'])}, "
                  f"{escape(evaluation.pictures['mistakes'])} (the most confidently wrong images: look for wrong labels there).")
    console.print(f"Report: {escape(str(evaluation.report_path))}")


def confusion_table(matrix: dict[str, dict[str, int]]) -> Table:
    table = Table(title="Confusion matrix", title_justify="left")
    table.add_column("")
    for called in CLASSES:
        table.add_column(f"called {called}", justify="right")
    for truth in CLASSES:
        table.add_row(f"really {truth}", *(
            f"[green]{matrix[truth][called]:,}[/green]" if truth == called else f"[red]{matrix[truth][called]:,}[/red]"
            for called in CLASSES))
    return table


def render_predictions(rows: list[tuple[str, str, float]], console: Console) -> None:
    """rows: (file, verdict, fake probability)."""
    table = Table()
    table.add_column("File", overflow="fold")
    table.add_column("Verdict")
    table.add_column("Fake probability", justify="right")
    for file, verdict, probability in rows:
        colour = "red" if verdict == "fake" else "green"
        table.add_row(escape(file), f"[{colour}]{verdict}[/{colour}]", f"{probability:.1%}")
    console.print(table)


def render_video_predictions(videos, console: Console) -> None:
    """One row per video: its verdict, the mean fake probability, and what that mean rests on."""
    table = Table()
    table.add_column("Video", overflow="fold")
    table.add_column("Verdict")
    table.add_column("Fake probability", justify="right")
    table.add_column("Based on", overflow="fold")
    for video in videos:
        colour = "red" if video.label == "fake" else "green"
        table.add_row(escape(str(video.path)), f"[{colour}]{video.label}[/{colour}]", f"{video.fake_probability:.1%}", escape(video.summary()))
    console.print(table)


def render_unreadable(unreadable: list[tuple[str, str]], console: Console, what: str = "files could not be judged") -> None:
    console.print(f"[yellow]{len(unreadable):,} {what}:[/yellow]")
    for file, reason in unreadable[:UNREADABLE_SHOWN]:
        console.print(Padding(f"- {escape(str(file))}: {escape(reason)}", (0, 0, 0, 2), expand=False))
    if len(unreadable) > UNREADABLE_SHOWN:
        console.print(Padding(f"... and {len(unreadable) - UNREADABLE_SHOWN:,} more", (0, 0, 0, 2)))


def render_prediction_report(predictions, detector, output) -> None:
    """What `dfcoach predict` judged: the verdicts, the threshold they rest on, and what was not like the training pictures."""
    from deepfake_coach.inference import explain_threshold

    if predictions.verdicts:
        render_predictions([(str(path), v.label, v.fake_probability) for path, v in predictions.verdicts], output)
    if predictions.videos:
        render_video_predictions(predictions.videos, output)
    if predictions.judged_any:  # a 40% "fake" surprises unless the cut is said
        output.info(explain_threshold(predictions.threshold, predictions.threshold_source, detector.threshold))
    for warning in dict.fromkeys(predictions.outside.values()):  # said once, however many files it concerns
        output.warn(f"{len(predictions.outside):,} of these files are not like the pictures the model learned from. {warning}")
    if predictions.unreadable:
        render_unreadable([(str(path), reason) for path, reason in predictions.unreadable], output.err)
