"""What `dfcoach deploy` shows: the model it checked and each .env key before and after."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deepfake_coach.deploy import DeployResult


def render_deployment(result: DeployResult, console: Console) -> None:
    accuracy = f", validation accuracy {result.val_acc:.1%}" if result.val_acc is not None else ""
    console.print(
        f"[green]✓[/green] {escape(str(result.model_path))} ({escape(result.model_name)}{accuracy}) loads safely "
        f"and judged a test picture ({result.check_label}, at its threshold {result.threshold:g})."
    )
    env = result.env
    if not result.changed:
        console.print(f"{escape(str(env.path))} already points at this model; nothing changed.")
        return
    table = Table(title=escape(str(env.path)), title_justify="left")
    table.add_column("Key")
    table.add_column("Before", overflow="fold")
    table.add_column("Now", overflow="fold")
    for key, value in env.values.items():
        before = env.previous.get(key)
        table.add_row(key, escape(before) if before is not None else "[dim](not set)[/dim]", escape(value))
    console.print(table)
    if env.created:
        console.print(f"Created {escape(str(env.path))} (readable by you only).")
    elif env.backup is not None:
        console.print(f"Every other line is as it was. The old file is saved as {escape(str(env.backup))}.")
    if env.quoted:
        keys = " and ".join(env.quoted)
        console.print(
            f"[yellow]Note:[/yellow] {escape(keys)} is written in single quotes (it holds a space or another special character): "
            "python-dotenv and a shell read it right, but `docker --env-file` would keep the quotes. For Docker, move the "
            "model to a path of plain letters, digits and ./_- and deploy again."
        )
