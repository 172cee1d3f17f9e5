"""What `dfcoach checklist` and `dfcoach doctor` show: ticks, checks with their fixes, explanations."""

from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding

from deepfake_coach.checklist import Item
from deepfake_coach.doctor import CheckResult
from deepfake_coach.troubleshooting import Trouble

MARKS = {"ok": "[green]✓ ok  [/green]", "warn": "[yellow]! warn[/yellow]", "fail": "[red]✗ fail[/red]"}


def render_checklist(items: Sequence[Item], console: Console) -> None:
    console.print("[bold]Success checklist[/bold]")
    for item in items:
        mark = "[green]✓[/green]" if item.done else "[red]✗[/red]"
        console.print(f"  {mark} {escape(item.what)}" + ("" if item.done else f"  [dim]→ {escape(item.how)}[/dim]"))
    done = sum(item.done for item in items)
    console.print(f"\n{done} of {len(items)} done." + (" Everything the guide asks for is there." if done == len(items) else ""))


def render_checks(results: Sequence[CheckResult], console: Console) -> None:
    for result in results:
        console.print(f"{MARKS[result.status]}  [bold]{escape(result.title)}[/bold]: {escape(result.saw)}")
        if result.fix and result.status != "ok":
            console.print(Padding(f"[bold]How to fix:[/bold] {escape(result.fix)}", (0, 0, 0, 8), expand=False))
            console.print(Padding(f"[dim]More: {escape(result.doc)}[/dim]", (0, 0, 0, 8), expand=False))
        elif result.fix:
            console.print(Padding(f"[dim]Next: {escape(result.fix)}[/dim]", (0, 0, 0, 8), expand=False))
    failed = sum(r.status == "fail" for r in results)
    warned = sum(r.status == "warn" for r in results)
    if failed:
        console.print(f"\n[red]{failed} problem{'s' if failed > 1 else ''} to fix[/red]" + (f", {warned} worth a look." if warned else "."))
    elif warned:
        console.print(f"\n[yellow]No problems; {warned} thing{'s' if warned > 1 else ''} worth a look.[/yellow]")
    else:
        console.print("\n[green]Everything looks healthy.[/green]")


def render_explanations(troubles: Sequence[Trouble], console: Console) -> None:
    for number, trouble in enumerate(troubles, start=1):
        if number > 1:
            console.print()
        console.print(f"[bold]{escape(trouble.title)}[/bold]")
        console.print(Padding(f"[bold]Why it happens:[/bold] {escape(trouble.cause)}", (0, 0, 0, 2), expand=False))
        console.print(Padding(f"[bold]How to fix:[/bold] {escape(trouble.fix)}", (0, 0, 0, 2), expand=False))
        console.print(Padding(f"[dim]More: {escape(trouble.doc)}[/dim]", (0, 0, 0, 2), expand=False))
