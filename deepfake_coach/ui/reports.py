"""Results drawn for people: the dataset table and verdict, the dataset choices.

Each function takes what the library computed and the output; the CLI and the
wizard both call these, so a person sees the same thing either way.
"""

from __future__ import annotations

from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from deepfake_coach.data.checks import DatasetReport, Problem
from deepfake_coach.data.layout import CLASSES, SPLITS
from deepfake_coach.data.sources import Source
from deepfake_coach.io.output import Output

FILES_SHOWN = 5


def dataset_table(counts: dict[str, dict[str, int]]) -> Table:
    """The beginner's guide's stats table: per split real, fake, total, and a grand total."""
    table = Table()
    table.add_column("Split")
    for label in CLASSES:
        table.add_column(label.capitalize(), justify="right")
    table.add_column("Total", justify="right")
    for split in SPLITS:
        row = [counts[split][label] for label in CLASSES]
        table.add_row(split, *(f"{n:,}" for n in row), f"{sum(row):,}")
    totals = [sum(counts[split][label] for split in SPLITS) for label in CLASSES]
    table.add_section()
    table.add_row("[bold]Total[/bold]", *(f"[bold]{n:,}[/bold]" for n in totals), f"[bold]{sum(totals):,}[/bold]")
    return table


def render_dataset_report(report: DatasetReport, console: Output) -> None:
    if report.total or report.fit_to_train:
        console.print(f"[bold]Dataset statistics[/bold] for {escape(str(report.data_dir))}/")
        console.print(dataset_table(report.counts))
    if report.fit_to_train:
        console.print(f"\n[bold green]✓ {escape(report.verdict)}[/bold green]")
    else:
        console.print(f"\n[bold red]✗ {escape(report.verdict)}[/bold red]")
    ordered = report.errors + report.warnings
    for number, problem in enumerate(ordered, start=1):
        _render_problem(number, problem, console, report)


def _render_problem(number: int, problem: Problem, console: Output, report: DatasetReport) -> None:
    tag = "[red]problem[/red]" if problem.severity == "error" else "[yellow]worth knowing[/yellow]"
    console.print(f"\n[bold]{number}. {escape(problem.title)}[/bold] ({tag})")
    console.print(Padding(f"[bold]Why it matters:[/bold] {escape(problem.why)}", (0, 0, 0, 3), expand=False))
    console.print(Padding(f"[bold]How to fix:[/bold] {escape(problem.fix)}", (0, 0, 0, 3), expand=False))
    if problem.files:
        for line in problem.files[:FILES_SHOWN]:
            console.print(f"     - {escape(line)}")
        if len(problem.files) > FILES_SHOWN:
            more = len(problem.files) - FILES_SHOWN
            console.print(f"     ... and {more:,} more (all listed in {escape(str(report.data_dir))}/.dfcoach/report.json)")


def render_dataset_choices(choices: tuple[Source, ...], console: Output) -> None:
    """A compact table (fits 80 columns), then how to get each one."""
    table = Table(title="Datasets you can train on", title_justify="left")
    table.add_column("Name", style="bold", no_wrap=True)
    table.add_column("What it is")
    table.add_column("Size")
    table.add_column("Account")
    table.add_column("Time to get")
    for choice in choices:
        badge = ""
        if choice.recommended:
            badge = "\n[green]★ recommended[/green]"
        elif choice.good_first:
            badge = "\n[cyan]★ first run[/cyan]"
        table.add_row(escape(choice.name) + badge, escape(choice.title), escape(choice.size), escape(choice.account), escape(choice.time_to_get))
    console.print(table)
    console.print("\n[bold]How to get each one[/bold]")
    for choice in choices:
        console.print(Padding(f"[bold]{escape(choice.name)}[/bold]: {escape(choice.summary)}", (0, 0, 0, 2), expand=False))
        console.print(Padding(escape(choice.how_to_get), (0, 0, 0, 4), expand=False), style="cyan")


def _list_some(output: Output, lines: list[str], where_the_rest_are: str = "", shown: int = 10) -> None:
    """The first `shown` lines, as text (file names are not markup), and how many more there are."""
    more = [f"  ... and {len(lines) - shown:,} more{where_the_rest_are}"] if len(lines) > shown else []
    output.lines([f"  - {line}" for line in lines[:shown]] + more)


def render_organize_summary(result, data_dir, output: Output) -> None:
    """What `organize` did, as messages: how many images, from where, and what was skipped or fixed."""
    how = f"linked {result.linked:,}" if result.linked else f"copied {result.copied:,}"
    output.success(f"Organized {result.total:,} images from {result.source_root} into {data_dir}/ ({how}).")
    if result.presplit:
        output.info("Your folder was already split into train/val/test; dfcoach kept those splits.")
    if result.carved:
        output.info(f"It had no {' or '.join(result.carved)} split, so dfcoach set aside part of train for it.")
    if result.renamed:
        output.info(f"{result.renamed:,} images had names that did not end like an image; they were given the right ending.")
    shortened = getattr(result, "shortened", [])
    if shortened:
        one = len(shortened) == 1
        output.info(f"{len(shortened):,} image{'' if one else 's'} had a name too long for a file once the folders "
                      f"{'it was' if one else 'they were'} in became part of it (file systems allow 255 characters), so "
                      f"{'it was' if one else 'they were'} given a shorter one:")
        _list_some(output, [f"{file} -> {name}" for file, name in shortened], f" (listed in {data_dir}/.dfcoach/organize.json)")
    both = getattr(result, "both_labels", [])
    if both:
        one = len(both) == 1
        output.warn(f"{'this picture is' if one else f'{len(both):,} pictures are'} in both real/ and fake/: keep "
                      f"{'it' if one else 'each'} in one (a picture cannot be both, and the model is taught two opposite "
                      f"answers for it). dfcoach put the copies in one split; delete the wrong copy and organize again:")
        _list_some(output, [f"{real} = {fake}" for real, fake in both])
    if result.skipped:
        output.warn(f"skipped {len(result.skipped):,} file{'s' if len(result.skipped) != 1 else ''}, each listed with the reason:")
        _list_some(output, [f"{file}: {why}" for file, why in result.skipped], f" (listed in {data_dir}/.dfcoach/organize.json)")


def render_video_summary(result, data_dir, output: Output) -> None:
    """What building a face dataset from videos did: faces cut, frames per video, how it split, what was left out."""
    used = result.used
    output.success(
        f"Cut {result.total:,} face pictures from {len(used):,} of {len(result.videos):,} videos in {result.source_root} into {data_dir}/."
    )
    per_video = result.frames_per_video
    if per_video["real"] == per_video["fake"]:
        output.info(f"Up to {per_video['real']} frames from each video; splits by {result.split_by}.")
    else:
        output.info(
            f"Up to {per_video['real']} frames from each real video and {per_video['fake']} from each fake one, "
            f"so both classes get about as many faces; splits by {result.split_by}."
        )
    for note in result.notes:
        output.info(note)
    problems = [(v.file, v.problem) for v in result.videos if v.problem] + result.skipped
    if problems:
        output.warn(f"{len(problems):,} files gave no faces or were not used:")
        _list_some(output, [f"{file}: {why}" for file, why in problems], f" (listed in {data_dir}/.dfcoach/organize.json)")
    output.info(f"Which picture comes from which video: {data_dir}/videos.csv")


def render_kaggle_sample(result, data_dir, seed: int, output: Output) -> None:
    """What sampling the 140k dataset wrote, and where the source fell short or disagreed with itself."""
    from deepfake_coach.data.sources.kaggle_140k import MANIFEST

    output.success(f"Wrote {result.total:,} images sampled from {result.source} to {data_dir}/ (seed {seed}; the list is in {data_dir}/{MANIFEST}).")
    for shortfall in result.short:
        output.warn(f"the source has fewer images than asked for in {shortfall}; all of them were taken.")
    for problem in result.label_warnings[:5]:
        output.warn(problem)


def render_dataset_made(result, data_dir, seed: int, output: Output) -> None:
    """What getting a dataset made (the result of usecases.dataset.get_dataset), whichever source it was."""
    from deepfake_coach.data.organize import OrganizeResult
    from deepfake_coach.data.sources.kaggle_140k import Prepared
    from deepfake_coach.data.download import DemoMade, SampleMade

    if isinstance(result, DemoMade):
        output.success(f"Wrote {result.count:,} demo images to {data_dir}/ (which image has which artifact: {data_dir}/manifest.csv).")
    elif isinstance(result, SampleMade):
        what = f"Created {len(result.created)} folders and files" if result.created else "Everything was already there"
        output.success(f"{what} in {data_dir}/. Read {data_dir}/README.txt for where images go.")
    elif isinstance(result, Prepared):
        render_kaggle_sample(result, data_dir, seed, output)
    elif isinstance(result, OrganizeResult):
        render_organize_summary(result, data_dir, output)
    else:  # faces cut from videos
        render_video_summary(result, data_dir, output)
