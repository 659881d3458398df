"""Probe for issue #12: rounds of the recipient's self-training (``RecipientLabeler(max_iter)``).

On the calibration benchmark's cached kits and recipient features (library defaults, synthetic
release, n=10/50/180, selection seeds 100-103 and evaluation seeds 0-3): the kit's default
classifier labels the recipient's images, the balanced choice of confident ones
(``balanced_selection``, threshold 0.5, at most 2,000 per class) joins the kit's rows, the
classifier is retrained, and the round repeats with the retrained classifier's guesses, 10
rounds. Round 0 is the kit alone, round 1 the single round of the library before
``max_iter``. One JSON row per (n, seed, recipient): accuracy after each round, and the first
round whose choice equals the one before (None: still changing after 10)::

    OMP_NUM_THREADS=1 python benchmarks/probes/self_training_rounds.py

Results: ``benchmarks/results/probes/self_training_rounds.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import calibration

from skdcsae import RecipientLabeler
from skdcsae._self_training import balanced_selection
from skdcsae.recipient._members import MAX_PSEUDO_PER_CLASS, fit_member_classifier

OUT = Path(__file__).resolve().parents[1] / "results" / "probes" / "self_training_rounds.jsonl"
ROUNDS = 10


def rounds(labeler, F, y) -> dict:
    kit, member = labeler.kit_, labeler.kit_.members[0]
    clf = clone(labeler.classifier_)
    fit_member_classifier(clf, member, kit.classes)
    accuracy, previous, stable = [float(np.mean(clf.predict(F) == y))], None, None
    for r in range(1, ROUNDS + 1):
        keep, guessed = balanced_selection(
            clf.predict_proba(F), clf.classes_, threshold=0.5, max_per_class=MAX_PSEUDO_PER_CLASS
        )
        choice = (keep.tobytes(), guessed[keep].tobytes())
        if stable is None and choice == previous:
            stable = r
        previous = choice
        clf = clone(labeler.classifier_)
        fit_member_classifier(clf, member, kit.classes, extra=(F[keep], guessed[keep]))
        accuracy.append(float(np.mean(clf.predict(F) == y)))
    return {"accuracy": accuracy, "stable_at": stable}


def main() -> None:
    with OUT.open("a", encoding="utf-8") as out:
        for n, seed, data, folder in calibration.cached_units():
            labeler = RecipientLabeler(folder / "kit.joblib", device="cpu").fit()
            for r in ("A", "B"):
                row = {"n": n, "seed": seed, "recipient": r}
                row.update(rounds(labeler, data[f"F_{r}"], data[f"y_{r}"]))
                print(json.dumps(row), file=out, flush=True)


if __name__ == "__main__":
    main()
