"""What the docs say about the product, held against the product: the success checklist, how long the
quick and full runs take, the coaching rules' numbers, and the columns a run writes."""

from __future__ import annotations

import re
from pathlib import Path

from deepfake_coach.config import TrainConfig
from deepfake_coach.train import coach
from deepfake_coach.train.coach import Coach, EpochMetrics

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md"))]


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def flat(text: str) -> str:
    """The text as read: line breaks and runs of spaces are one space."""
    return " ".join(text.split())


def section(text: str, heading: str) -> str:
    """From the heading that starts with `heading` to the next heading of the same or a higher level."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    level = len(heading) - len(heading.lstrip("#"))
    end = next((i for i in range(start + 1, len(lines))
                if re.match(rf"#{{1,{level}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end])


# --- the success checklist ------------------------------------------------------------------------


def test_the_guides_checklist_lists_the_products_items(tmp_path, monkeypatch):
    from deepfake_coach.checklist import success_checklist

    monkeypatch.chdir(tmp_path)  # an empty project: no accuracy yet, and the .env named as the guide names it
    items = success_checklist(Path("dataset"), Path("."), Path(".env"))
    listed = [line[2:].replace("`", "") for line in section(read("docs/guide.md"), "## 7.").splitlines() if line.startswith("- ")]
    assert listed == [item.what for item in items]


# --- how long it takes ----------------------------------------------------------------------------

# Measured: `time dfcoach init --dataset tiny_demo --yes` in an empty folder, 2-core CPU, load average 0.4:
# the quick run 1 min 36 s, the whole command 2 min 2 s (at load average 4-5 from other work: 12 and 13 minutes).
QUICK_RUN_TIME = re.compile(r"about (\d+) minutes on an idle 2-core CPU")
SAY_THE_QUICK_RUN_TIME = ["README.md", "docs/guide.md", "docs/training.md", "docs/troubleshooting.md"]


def test_the_quick_runs_time_on_the_demo_is_the_same_everywhere():
    said = {page: QUICK_RUN_TIME.findall(flat(read(page))) for page in SAY_THE_QUICK_RUN_TIME}
    assert all(said.values()), said
    assert len({minutes for found in said.values() for minutes in found}) == 1, said
    for page in PAGES:  # what the docs said before it was measured
        text = flat(read(page)).lower()
        for old in ("half a minute", "about a minute", "about 30 s"):
            assert old not in text, f"{page}: {old!r}"


def test_the_guides_full_run_follows_the_settings():
    full, quick = TrainConfig.full(), TrainConfig.quick()
    text = flat(section(read("docs/guide.md"), "## 3."))
    assert f"up to {full.epochs} epochs" in text and f"has not improved for {full.patience} epochs" in text
    ratio = {6: "six"}[full.epochs // quick.epochs]  # epochs of the same length: batches differ, images do not
    assert f"up to about {ratio} times as long as the quick run" in text
    assert f"({full.patience + 1} epochs at the soonest)" in text


# --- how the coach decides ------------------------------------------------------------------------


def test_how_the_coach_decides_names_each_constant_with_its_value():
    text = flat(section(read("docs/training.md"), "## How the coach decides"))
    named = dict(re.findall(r"`([A-Z_]+) = ([0-9.]+)`", text))
    constants = {name: value for name, value in vars(coach).items()
                 if name.isupper() and isinstance(value, (int, float)) and not isinstance(value, bool)}
    assert set(named) == set(constants)
    for name, value in named.items():
        assert float(value) == constants[name], name
    patience = TrainConfig.model_fields["patience"].default
    assert Coach().patience == patience and f"`patience = {patience}`" in text
    assert f"stops after {patience + 1} epochs at the soonest" in text


def test_the_coaching_table_says_the_constants_in_words():
    text = flat(section(read("docs/training.md"), "## What the coach says"))
    assert (f"more than {coach.OVERFIT_GAP * 100:.0f} points above validation accuracy for "
            f"{coach.OVERFIT_GAP_EPOCHS} epochs in a row *and* validation has stopped improving") in text
    assert f"validation loss has risen for {coach.RISING_VAL_LOSS_EPOCHS} epochs while training loss fell" in text
    assert f"after {coach.CHANCE_AFTER_EPOCHS} epochs" in text and f"ROC AUC is {0.5 + coach.CHANCE_AUC_MARGIN:.2f} or less" in text
    assert f"`--patience` epochs ({TrainConfig.model_fields['patience'].default})" in text
    assert f"jumped by {coach.JUMPY * 100:.0f} points or more" in text


def _epoch(number: int, val_acc: float = 0.6, fake_share: float = 0.5) -> EpochMetrics:
    return EpochMetrics(number, 0.6, 0.7, 0.6, val_acc, val_fake_share=fake_share, val_balanced_acc=val_acc, val_auc=0.7)


def test_the_rules_the_docs_state_in_words_hold():
    # "Calls every image real (or fake)": from epoch 2
    assert coach.stuck_at_chance([_epoch(1, fake_share=0.0)]) is None
    assert coach.stuck_at_chance([_epoch(1), _epoch(2, fake_share=0.0)]).kind == "one_class"
    # early stopping: the best epoch `patience` or more behind the latest; a tie is no new best
    patience = TrainConfig.model_fields["patience"].default
    history = [_epoch(1, 0.8)] + [_epoch(n, 0.8) for n in range(2, patience + 2)]
    assert coach.early_stop(history[:-1], patience) is None
    assert coach.early_stop(history, patience).stop
    # overfitting: no warning while validation improves, however wide the gap
    widening = [EpochMetrics(n, 0.3, 0.99, 0.5, 0.5 + 0.1 * n, val_balanced_acc=0.5 + 0.1 * n) for n in (1, 2, 3)]
    assert coach.overfitting(widening) is None


def test_the_runs_metrics_columns_are_the_ones_written():
    from deepfake_coach.train.run import METRICS_FIELDS

    line = next(line for line in read("docs/training.md").splitlines() if line.strip().startswith("metrics.csv"))
    assert line.split(None, 1)[1].split(", ") == METRICS_FIELDS
