"""Each coaching rule on scripted metric histories."""

from __future__ import annotations

from deepfake_coach.train.coach import Coach, EpochMetrics, best_epoch, early_stop, overfitting, stuck_at_chance


def history(*rows, **extra) -> list[EpochMetrics]:
    """rows: (train_loss, train_acc, val_loss, val_acc) per epoch."""
    return [EpochMetrics(i + 1, *row, **extra) for i, row in enumerate(rows)]


def test_healthy_learning_gets_no_advice():
    h = history((0.69, 0.55, 0.68, 0.56), (0.5, 0.75, 0.52, 0.74), (0.35, 0.85, 0.38, 0.84), (0.3, 0.88, 0.33, 0.87))
    assert Coach().after_epoch(h) == []


def test_overfitting_by_accuracy_gap_needs_two_epochs_and_validation_no_longer_improving():
    one = history((0.5, 0.80, 0.5, 0.75), (0.3, 0.95, 0.6, 0.80))
    assert overfitting(one) is None
    improving = one + [EpochMetrics(3, 0.2, 0.97, 0.7, 0.81)]
    assert overfitting(improving) is None  # a wide gap, but validation still gets better: no memorising yet
    stalled = one + [EpochMetrics(3, 0.2, 0.97, 0.7, 0.79)]
    advice = overfitting(stalled)
    assert advice.kind == "overfitting"
    assert "97%" in advice.message and "79%" in advice.message and "stopped improving" in advice.message
    assert advice.next_step and not advice.stop


def test_with_unequal_classes_the_gap_is_measured_on_balanced_accuracy():
    # 72% real validation images: a model leaning towards "fake" has low plain accuracy and has not memorised anything
    leaning = [EpochMetrics(e, 0.65, 0.62, 0.7, 0.30, val_balanced_acc=0.58) for e in (1, 2)]
    assert overfitting(leaning) is None
    memorising = [EpochMetrics(e, 0.2, 0.95, 0.7, 0.80, val_balanced_acc=0.70) for e in (1, 2)]
    advice = overfitting(memorising)
    assert advice.kind == "overfitting" and "95%" in advice.message and "(70% balanced)" in advice.message


def test_overfitting_by_rising_validation_loss():
    h = history((0.6, 0.7, 0.50, 0.70), (0.5, 0.75, 0.52, 0.72), (0.4, 0.78, 0.55, 0.73), (0.3, 0.80, 0.60, 0.74))
    advice = overfitting(h)
    assert advice and "validation loss has risen for 3 epochs" in advice.message
    # two rises are not enough
    assert overfitting(h[:3]) is None


def test_early_stopping_after_patience_epochs_names_the_best_epoch():
    accs = [0.6, 0.7, 0.8, 0.79, 0.78, 0.8, 0.77, 0.79]
    h = [EpochMetrics(i + 1, 0.5, 0.8, 0.5, a) for i, a in enumerate(accs)]
    assert best_epoch(h).epoch == 3  # the earliest of equal bests
    assert early_stop(h[:7], patience=5) is None
    advice = early_stop(h, patience=5)
    assert advice.stop and "epoch 3" in advice.message and "80.0%" in advice.message
    assert advice.next_step is None  # a steady plateau: stopping is the right call


def test_early_stopping_on_jumpy_validation_suggests_letting_the_run_go_on():
    accs = [0.54, 0.72, 0.72, 0.61, 0.69, 0.38, 0.28, 0.72]  # as seen on 195 validation images of real faces
    h = [EpochMetrics(i + 1, 0.66, 0.6, 0.7, a) for i, a in enumerate(accs)]
    advice = early_stop(h, patience=5, command="dfcoach train")
    assert advice.stop and "jumped by up to 44 points" in advice.next_step
    assert "dfcoach train --patience 30" in advice.next_step


def test_stuck_at_chance_after_three_epochs_with_the_checklist():
    h = history((0.69, 0.51, 0.69, 0.50), (0.69, 0.52, 0.69, 0.51), (0.69, 0.5, 0.69, 0.52))
    assert stuck_at_chance(h[:2]) is None
    advice = stuck_at_chance(h, command="dfcoach train --quick")
    assert advice.kind == "stuck_at_chance"
    assert "coin toss" in advice.message
    assert "dfcoach train --quick --lr 0.0001" in advice.next_step and "dfcoach train --find-lr" in advice.next_step
    assert "labels" in advice.next_step and "the full run (dfcoach train" in advice.next_step


def test_stuck_at_the_majority_class_share():
    h = history((0.6, 0.7, 0.6, 0.71), (0.6, 0.7, 0.6, 0.70), (0.6, 0.7, 0.6, 0.69), val_majority=0.7)
    advice = stuck_at_chance(h)
    assert advice and "always guessing the bigger class" in advice.message


def test_predicting_one_class_for_everything():
    h = history((0.7, 0.5, 0.7, 0.5), (0.7, 0.5, 0.7, 0.5), val_fake_share=1.0)
    advice = stuck_at_chance(h)
    assert advice.kind == "one_class" and "every validation image fake" in advice.message


def test_coach_gives_each_advice_once_and_stops():
    coach = Coach(patience=2)
    h = []
    given = []
    for epoch, (ta, va) in enumerate([(0.8, 0.6), (0.95, 0.62), (0.97, 0.61), (0.98, 0.60)], start=1):
        h.append(EpochMetrics(epoch, 0.3, ta, 0.6, va))
        given.append([a.kind for a in coach.after_epoch(h)])
    assert given == [[], [], ["overfitting"], ["early_stop"]]  # not while validation still improved (epoch 2)


def test_with_balanced_accuracy_chance_is_judged_on_it_not_on_the_bigger_class():
    # 72% of validation images are real: a model that learned something may score exactly that...
    learned = history(*[(0.5, 0.8, 0.5, 0.72)] * 3, val_majority=0.72, val_balanced_acc=0.70)
    assert stuck_at_chance(learned) is None
    # ...and one trained on balanced batches may guess at chance with an accuracy near neither 50% nor 72%
    guessing = history(*[(0.69, 0.5, 0.69, 0.62)] * 3, val_majority=0.72, val_balanced_acc=0.51)
    advice = stuck_at_chance(guessing)
    assert advice.kind == "stuck_at_chance"
    assert "right on 51.0% of real and fake validation images" in advice.message and "coin toss" in advice.message
    assert "--lr 0.0001" in advice.next_step


def test_the_best_epoch_is_chosen_on_balanced_accuracy_when_known():
    calls_everything_real = EpochMetrics(1, 0.6, 0.6, 0.6, 0.72, val_fake_share=0.0, val_balanced_acc=0.50)
    learned = EpochMetrics(2, 0.5, 0.7, 0.55, 0.70, val_fake_share=0.3, val_balanced_acc=0.68)
    assert best_epoch([calls_everything_real, learned]) is learned
    advice = early_stop([calls_everything_real, learned] + [EpochMetrics(3, 0.5, 0.7, 0.6, 0.6, val_balanced_acc=0.6)], patience=1)
    assert "70.0% at epoch 2 (balanced accuracy 68.0%" in advice.message
