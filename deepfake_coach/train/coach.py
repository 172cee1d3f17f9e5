"""Coaching from the numbers: overfitting, early stopping, stuck at chance.

Each rule is a pure function of the metric history that returns an `Advice`
(what is happening, in plain words, and what to do) or None, in the shape of
Lightning's EarlyStopping. The `Coach` applies them after every epoch and
gives each piece of advice once, so the person is not nagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

OVERFIT_GAP = 0.10  # train accuracy this far above validation...
OVERFIT_GAP_EPOCHS = 2  # ...for this many epochs in a row
RISING_VAL_LOSS_EPOCHS = 3
CHANCE_AFTER_EPOCHS = 3
CHANCE_MARGIN = 0.03
CHANCE_AUC_MARGIN = 0.05  # an AUC within this of 0.5 on a few hundred validation images is no evidence of learning

AdviceKind = Literal["overfitting", "early_stop", "stuck_at_chance", "one_class"]


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float  # fractions in [0, 1]
    val_loss: float
    val_acc: float
    val_fake_share: float = 0.5  # share of validation images the model called fake
    val_majority: float = 0.5  # share of the bigger class in validation
    lr: float = 0.0
    seconds: float = 0.0
    # mean of the accuracy on real and on fake images: 50% is chance however unequal the classes are
    val_balanced_acc: float | None = None
    val_auc: float | None = None  # ROC AUC: how well fakes are ranked above reals, at any threshold (0.5 is chance)
    threshold: float = 0.5  # the fake probability from which a picture was called fake (chosen on validation)


@dataclass(frozen=True)
class Advice:
    kind: AdviceKind
    message: str
    next_step: str | None = None
    stop: bool = False


def selection_score(m: EpochMetrics) -> float:
    """What "best" means: balanced accuracy when it is known (with 72% real images, a model calling
    everything real has 72% accuracy and learned nothing; its balanced accuracy is 50%), else accuracy.
    With as many real as fake validation images the two are the same."""
    return m.val_balanced_acc if m.val_balanced_acc is not None else m.val_acc


def best_epoch(history: Sequence[EpochMetrics]) -> EpochMetrics:
    """The epoch with the best validation score (the earliest, on a tie)."""
    return max(history, key=lambda m: (selection_score(m), -m.epoch))


def overfitting(history: Sequence[EpochMetrics]) -> Advice | None:
    # Training draws as many fakes as reals, so its accuracy is compared with the balanced validation
    # accuracy: plain accuracy drops when a model leans towards the smaller class, which is no memorising.
    # A gap alone is no warning while validation still improves: a pretrained network fits its training
    # pictures fast and can still be getting better on new ones. Memorising shows when it stops.
    recent = history[-OVERFIT_GAP_EPOCHS:]
    improving = best_epoch(history) is history[-1]
    if (len(recent) == OVERFIT_GAP_EPOCHS and not improving
            and all(m.train_acc - selection_score(m) > OVERFIT_GAP for m in recent)):
        last = history[-1]
        validation = f"{selection_score(last):.0%}" + (" balanced" if balanced_differs(last.val_acc, last.val_balanced_acc) else "")
        return Advice(
            "overfitting",
            f"Overfitting: training accuracy ({last.train_acc:.0%}) is more than {OVERFIT_GAP:.0%} above validation "
            f"accuracy ({validation}) for {OVERFIT_GAP_EPOCHS} epochs, and validation has stopped improving. The model "
            "is memorising its training images instead of learning what makes a face fake.",
            "Nothing to do now: the best model by validation accuracy is the one kept. Next time, more images "
            "help most; training for fewer epochs helps too.",
        )
    window = history[-(RISING_VAL_LOSS_EPOCHS + 1):]
    if len(window) == RISING_VAL_LOSS_EPOCHS + 1:
        steps = list(zip(window, window[1:]))
        if all(b.val_loss > a.val_loss and b.train_loss < a.train_loss for a, b in steps):
            return Advice(
                "overfitting",
                f"Overfitting: validation loss has risen for {RISING_VAL_LOSS_EPOCHS} epochs while training loss kept "
                "falling. The model is getting more confident on its training images and less right on new ones.",
                "The best model so far is kept. If this goes on, early stopping will end the run; next time, more "
                "images or fewer epochs help.",
            )
    return None


JUMPY = 0.15  # validation accuracy swinging this much between epochs is noise, not a verdict


def early_stop(history: Sequence[EpochMetrics], patience: int, command: str = "dfcoach train") -> Advice | None:
    best = best_epoch(history)
    waited = history[-1].epoch - best.epoch
    if waited < patience:
        return None
    # On a few hundred validation images, and while the learning rate is still high, validation accuracy
    # can swing by tens of points from one epoch to the next; the patience then runs out on noise.
    # Measured on 976 real faces: stopped after 9 epochs, test ROC AUC 0.76; all 30 epochs, 0.84.
    recent = [m.val_acc for m in history[-(patience + 1):]]
    swing = max(recent) - min(recent)
    next_step = None
    if swing >= JUMPY:
        next_step = (f"Validation accuracy jumped by up to {swing * 100:.0f} points between these epochs: that is noise, "
                     f"and the model may still improve once the learning rate comes down. To let the whole run go on: "
                     f"{command} --patience {max(30, 2 * patience)} (more validation images also steady it).")
    return Advice(
        "early_stop",
        f"Early stopping: validation accuracy has not improved for {waited} epochs. The best was "
        f"{best.val_acc:.1%} at epoch {best.epoch}{_balanced_note(best)}; that model is the one saved.",
        next_step,
        stop=True,
    )


def balanced_differs(accuracy: float, balanced: float | None) -> bool:
    """Whether balanced accuracy is worth reading beside plain accuracy: it is known, and the classes
    are unequal enough for the two to differ by half a point or more."""
    return balanced is not None and abs(balanced - accuracy) >= 0.005


def _balanced_note(m: EpochMetrics) -> str:
    if not balanced_differs(m.val_acc, m.val_balanced_acc):
        return ""
    return f" (balanced accuracy {m.val_balanced_acc:.1%}, which is what picks the best)"


def stuck_at_chance(history: Sequence[EpochMetrics], command: str = "dfcoach train") -> Advice | None:
    last = history[-1]
    if last.val_fake_share in (0.0, 1.0) and last.epoch >= 2:
        label = "fake" if last.val_fake_share == 1.0 else "real"
        return Advice(
            "one_class",
            f"The model calls every validation image {label}. It has found no difference between the classes to "
            "learn yet, so it guesses the same answer for everything.",
            _chance_checklist(command),
        )
    if last.epoch < CHANCE_AFTER_EPOCHS:
        return None
    if last.val_auc is not None:
        # The threshold is chosen on these same validation images, which lifts balanced accuracy a few
        # points above 50% even for a model that guesses; the ROC AUC does not depend on a threshold.
        if last.val_auc <= 0.5 + CHANCE_AUC_MARGIN:
            return Advice(
                "stuck_at_chance",
                f"Stuck at chance: after {last.epoch} epochs the model ranks fake validation images above real ones no "
                f"better than a coin toss would (ROC AUC {last.val_auc:.2f}; 0.5 is guessing, 1.0 is perfect). "
                "The model is not learning yet.",
                _chance_checklist(command),
            )
        return None
    if last.val_balanced_acc is not None:
        # Balanced accuracy says it directly; plain accuracy near the bigger class's share may be a
        # model that learned something and happens to score that, or one that guesses.
        if abs(last.val_balanced_acc - 0.5) <= CHANCE_MARGIN:
            return Advice(
                "stuck_at_chance",
                f"Stuck at chance: after {last.epoch} epochs the model is right on {last.val_balanced_acc:.1%} of real and fake "
                f"validation images on average (validation accuracy {last.val_acc:.1%}), about 50%, a coin toss. "
                "The model is not learning yet.",
                _chance_checklist(command),
            )
        return None
    near_half = abs(last.val_acc - 0.5) <= CHANCE_MARGIN
    near_majority = abs(last.val_acc - last.val_majority) <= CHANCE_MARGIN
    if near_half or near_majority:
        baseline = "50%, a coin toss" if near_half else f"{last.val_majority:.0%}, what always guessing the bigger class scores"
        return Advice(
            "stuck_at_chance",
            f"Stuck at chance: after {last.epoch} epochs validation accuracy is {last.val_acc:.1%}, about {baseline}. "
            "The model is not learning yet.",
            _chance_checklist(command),
        )
    return None


def _chance_checklist(command: str) -> str:
    return (
        "Check, in this order: (1) the labels: open a few images in real/ and fake/ and make sure they are in the "
        f"right folder; (2) a smaller learning rate: {command} --lr 0.0001 (or let dfcoach try rates: "
        f"dfcoach train --find-lr); (3) the data: are the fakes varied, "
        f"and different enough from the reals?; (4) time: on real photographs the evidence is faint and can take "
        f"more than 5 epochs to show, so give the full run (dfcoach train, up to 30 epochs) its chance; more images help most."
    )


@dataclass
class Coach:
    """Applies the rules after each epoch; each kind of advice is given once."""

    patience: int = 5
    command: str = "dfcoach train"
    given: set[str] = field(default_factory=set)

    def after_epoch(self, history: Sequence[EpochMetrics]) -> list[Advice]:
        advice = []
        for found in (overfitting(history), stuck_at_chance(history, self.command)):
            if found is not None and found.kind not in self.given:
                self.given.add(found.kind)
                advice.append(found)
        stop = early_stop(history, self.patience, self.command)
        if stop is not None:
            advice.append(stop)
        return advice
