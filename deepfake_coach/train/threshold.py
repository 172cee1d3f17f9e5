"""The decision threshold: the fake probability from which a picture is called fake.

0.5 is the right cut only for a model whose probabilities are calibrated to the classes it will
meet. A detector fine-tuned for a few epochs on unequal classes often ranks fakes above reals well
(a high ROC AUC) while its probabilities sit mostly on one side of 0.5. So training chooses the
threshold on the validation images, as the cut with the best balanced accuracy (the mean of the
accuracy on real and on fake pictures), and stores it in the model file; evaluate, predict and the
service judge with it. The test images are never used for it.
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.5
_LIMIT = 1e-4  # a stored threshold stays strictly inside (0, 1)


def choose_threshold(labels: np.ndarray, fake_probabilities: np.ndarray) -> float:
    """The threshold with the best balanced accuracy on these pictures (labels: 1 = fake). It sits
    halfway between the two neighbouring probabilities it separates, so a picture scored exactly at a
    validation picture's value is not decided by rounding. Among equally good cuts, the one nearest
    0.5 wins; with one class only (or no separation at all), 0.5."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(fake_probabilities, dtype=np.float64)
    if labels.all() or not labels.any():
        return DEFAULT_THRESHOLD
    cuts = np.unique(scores)[::-1]  # each distinct score, highest first: "fake from here down"
    positives, negatives = labels.sum(), (~labels).sum()
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # For each cut, how many fakes and reals score at or above it.
    above = np.searchsorted(-sorted_scores, -cuts, side="right")
    true_positive = np.concatenate([[0], np.cumsum(sorted_labels)])[above]
    false_positive = above - true_positive
    balanced = 0.5 * (true_positive / positives + 1 - false_positive / negatives)
    lower = np.append(cuts[1:], 0.0)  # the next score below each cut
    candidates = np.clip(0.5 * (cuts + lower), _LIMIT, 1 - _LIMIT)
    # Three decimals are what people read ("0.391"); kept wherever they split the pictures the same way.
    rounded = np.round(candidates, 3)
    candidates = np.where((rounded > lower) & (rounded <= cuts) & (rounded > 0) & (rounded < 1), rounded, candidates)
    best = balanced.max()
    if best <= 0.5:  # nothing separates the classes: no reason to move the cut
        return DEFAULT_THRESHOLD
    tied = np.flatnonzero(np.isclose(balanced, best))
    return float(candidates[tied[np.argmin(np.abs(candidates[tied] - DEFAULT_THRESHOLD))]])
