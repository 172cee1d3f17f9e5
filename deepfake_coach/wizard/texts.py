"""What the wizard says: the beginner's guide in short, and a plain reading of a run's numbers."""

from __future__ import annotations

from typing import Sequence

from rich.markup import escape

from deepfake_coach.checklist import PASS_ACCURACY, Item, validation_score
from deepfake_coach.train.coach import EpochMetrics, best_epoch, overfitting, stuck_at_chance

# Paragraphs are single lines: rich wraps them to the terminal's width.
WELCOME = """\
[bold]Welcome to dfcoach.[/bold] In the next minutes you will train a program that looks at a photo of a face and says whether it is real or made by an AI (a "deepfake"). Along the way you will meet:

  • [bold]Dataset[/bold]: the example photos it learns from, sorted into real/ and fake/, and split into train (to learn from), val (to check progress) and test (a final exam it never sees while learning).
  • [bold]Model[/bold]: a neural network, a stack of image filters whose settings are learned.
  • [bold]Epoch[/bold]: one pass over all the training photos. Training takes several.
  • [bold]Loss[/bold]: how wrong the model is; it should go down.
  • [bold]Accuracy[/bold]: the share of photos it gets right; it should go up.

Each step says what it does and how long it takes. A laptop without a graphics card (GPU) is normal: the small models train on a CPU in minutes. You can stop at any time (Ctrl-C) and run `dfcoach init` again to continue where you stopped.
"""

FOLDER_LAYOUT = """\
Your folder needs two subfolders: [bold]real/[/bold] with real face photos and [bold]fake/[/bold] with AI-made ones (at any depth, in any image format). dfcoach copies them into train/val/test (70/20/10); your folder is not changed.
"""

FACEFORENSICS_INTRO = """\
FaceForensics++ is handed out on request (the form at github.com/ondyari/FaceForensics), and its own script downloads the videos; docs/faceforensics.md shows how. dfcoach takes 32 frames of each video, cuts out the face, and keeps every person in one split (the official splits when SOURCE/splits/ holds them). Finding faces takes a few seconds per video.
"""

KAGGLE_INTRO = """\
The 140k Real and Fake Faces dataset lives on Kaggle, which needs a free account and an API token to download it. dfcoach looks for your token first and, if there is none, shows you how to get one. It then downloads the zip (about 4 GB, 10-30 minutes; a stopped download continues where it stopped) and keeps 7,000 / 2,000 / 1,000 photos of each class for train / val / test.
"""

KAGGLE_BROWSER_ROUTE = """\
No problem: you can download the dataset in a browser instead. Sign in at kaggle.com, open kaggle.com/datasets/xhlulu/140k-real-and-fake-faces, press Download, and give dfcoach the zip (no need to unzip it).
"""

SHIPPED_WEIGHTS = """\
{model} starts from a network that has already learned to see, on ImageNet's 1.2 million photos, and only learns what tells a fake face from a real one: from a few hundred faces, a network starting from nothing learns next to nothing.
"""

QUICK_RUN_INTRO = """\
First, a [bold]quick run[/bold]: 5 epochs, to check that everything works before a long run. You will see a bar per epoch with the running loss and accuracy, then a line per epoch with the [bold]train[/bold] numbers (photos it learns from) and the [bold]val[/bold] numbers (photos it never learns from).
What good looks like: loss going down, and validation accuracy going up, well above 50%. The coach speaks up if it sees a problem (overfitting, stuck at 50%, ...).
"""

FULL_RUN_INTRO = """\
The [bold]full run[/bold] trains for up to {epochs} epochs and stops early once validation accuracy has not improved for {patience} epochs in a row.{how_long} The best model is kept in models/.
"""
FULL_RUN_HOW_LONG = " On this computer that is up to about {longest}, if it runs all {epochs}; early stopping often ends it sooner, after {soonest_epochs} epochs at the soonest (about {soonest})."

EVALUATE_INTRO = """\
Now the final exam: the best model judges the [bold]test[/bold] images, which it never saw while learning. Accuracy is the share it gets right; precision and recall say how it does on the fakes; ROC AUC (0.5 = guessing, 1.0 = perfect) judges it at every threshold at once.
"""

DEPLOY_INTRO = """\
An inference service is a small web server that answers "real or fake?" for any picture sent to it. It finds your model through three lines of a [bold].env[/bold] file: MODEL_TYPE=custom, MODEL_PATH (the model file) and CUSTOM_MODEL_TYPE (its architecture). dfcoach writes them, keeps every other line of the file, and checks that the service answers.
"""

SERVE_AND_TRY = """\
To try it as a web service, start it (and leave it running):

  [bold cyan]{serve}[/bold cyan]

then, in another terminal:

  [bold cyan]curl http://127.0.0.1:5000/health[/bold cyan]
  [bold cyan]curl -X POST -F {picture} http://127.0.0.1:5000/inference/analyze-frame[/bold cyan]

or open http://127.0.0.1:5000 in a browser and drop a photo on the page.
"""


def farewell(items: Sequence[Item], serve: str, picture: str, demo: bool) -> str:
    """The last words follow the checklist: what was reached, then the unticked items' steps, in its
    order. The service is offered only once it has a model to answer with (before, it answers 503).
    `serve` and `picture` are shell text, already escaped for Rich."""
    done = {item.key: item.done for item in items}
    todo = [item for item in items if not item.done]
    if not done.get("saved"):
        lines = ["[bold]There is no trained model yet.[/bold]"]
    elif not done.get("accuracy"):
        lines = ["[bold]You trained a first model[/bold], but it does not tell real from fake well enough yet "
                 f"(the guide asks for validation accuracy above {PASS_ACCURACY:.0%})."]
    else:
        lines = ["[bold]You trained a deepfake detector.[/bold]"]
    lines[0] += f" {len(items) - len(todo)} of {len(items)} checklist items are done."
    if done.get("deployed"):
        lines.append(SERVE_AND_TRY.format(serve=serve, picture=picture))
    if todo:
        lines.append("[bold]Next steps[/bold], in the checklist's order:")
        lines += [f"  • {escape(item.what)}: [bold cyan]{escape(item.how)}[/bold cyan]" for item in todo]
        lines.append("")
    if demo and done.get("saved"):
        lines.append("Your model learned from the demo's drawn faces, so it cannot judge real photos: for that, run "
                     "[bold]dfcoach init --restart[/bold] and choose kaggle_140k or a folder of your own real and fake faces.")
    elif done.get("loads"):
        lines.append("Other things to try: [bold]dfcoach predict PHOTO[/bold] on your own pictures, and "
                     "[bold]dfcoach train[/bold] again with more images.")
    lines.append("[bold]dfcoach doctor[/bold] helps whenever something looks wrong; docs/guide.md has a four-week learning path.")
    return "\n".join(lines)


def typical_epoch_seconds(history: Sequence[EpochMetrics]) -> float:
    """How long an epoch of the quick run took, for estimating the full run: the epochs after the
    first when there are some (the first is not typical: a pretrained model then trains only its last
    layer, and any model warms up). Each includes its validation, as each full-run epoch does; the
    full run's larger batches take about as long per image on a CPU, so the estimate errs long."""
    typical = history[1:] or history
    return sum(m.seconds for m in typical) / len(typical)


def full_run_estimate(epoch_seconds: float, epochs: int, patience: int) -> dict[str, object]:
    """The full run's length, honestly: all its epochs at most, and patience + 1 epochs at the soonest
    (early stopping waits `patience` epochs without a new best, and epoch 1 is the first best)."""
    soonest_epochs = min(epochs, patience + 1)
    estimate = {"epochs": epochs, "patience": patience, "longest": duration(epoch_seconds * epochs),
                "soonest_epochs": soonest_epochs, "soonest": duration(epoch_seconds * soonest_epochs)}
    if soonest_epochs >= epochs:  # too few epochs for early stopping to end it sooner
        return {**estimate, "how_long": f" On this computer that is about {estimate['longest']}."}
    return {**estimate, "how_long": FULL_RUN_HOW_LONG.format(**estimate)}


def duration(seconds: float) -> str:
    """"about 3 minutes", in words a person reads at a glance."""
    if seconds < 90:
        return f"{max(1, round(seconds / 10) * 10)} seconds"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} minutes"
    return f"{minutes / 60:.1f} hours"


def read_run(history: Sequence[EpochMetrics]) -> list[str]:
    """A short reading of a run's own numbers: is it learning, overfitting, stuck at chance?"""
    first, last, best = history[0], history[-1], best_epoch(history)
    chance = stuck_at_chance(history)
    lines = []
    # One verdict: falling training loss with validation at chance is fitting the training images, not learning.
    if last.train_loss >= first.train_loss:
        lines.append(f"Training loss did not fall ({first.train_loss:.3f} to {last.train_loss:.3f}): the model is not learning yet.")
    elif chance is not None:
        lines.append(f"Training loss fell from {first.train_loss:.3f} to {last.train_loss:.3f}, but that is the training images "
                     "only: on the validation images it does no better than chance, so it has not learned yet what tells fakes apart.")
    else:
        lines.append(f"It is learning: training loss fell from {first.train_loss:.3f} to {last.train_loss:.3f} in {len(history)} epochs.")
    # With unequal classes the figures to read are balanced ones (see checklist.validation_score).
    score, said = validation_score(best.val_acc, best.val_balanced_acc)
    if score >= 0.85:
        lines.append(f"Validation accuracy reached {said} (epoch {best.epoch}): it tells real from fake on photos it never trained on.")
    elif score > PASS_ACCURACY:
        lines.append(f"Validation accuracy reached {said}: a real start. The full run usually adds more.")
    elif chance is None and score >= 0.55:
        lines.append(f"Validation accuracy reached {said} (epoch {best.epoch}): better than a coin toss (50%), not yet the "
                     f"guide's {PASS_ACCURACY:.0%}. The evidence in real photos is faint: the full run and more images help.")
    if chance is not None:
        lines.append(f"{chance.message} {chance.next_step}")
    over = overfitting(history)
    if over is not None:
        lines.append(over.message)
    elif chance is None:
        val_last, _ = validation_score(last.val_acc, last.val_balanced_acc)
        lines.append(f"No overfitting: training ({last.train_acc:.0%}) and validation ({val_last:.0%}) accuracy stay close.")
    return lines
