"""Probe for issue #12: which recipient images the adapted labeler adds, and how many.

The benchmark's ``defaults`` unit (``DCSAETransformer(random_state=seed)``, kit at the default
release, ``RecipientLabeler(kit).fit()``) on the balanced file (recipient B) or the official
file (its imbalanced test split). The kit's classifier labels the recipient's images and is
trained again with some of them added; the variants differ in which:

- ``kit``: none (the kit alone);
- ``balanced``: the library's rule, of the images with probability >= 0.5 the same number per
  class, the most confident (``skdcsae._self_training.balanced_selection``);
- ``frac0.5`` / ``frac0.8``: of the images with probability >= 0.5, the most confident half /
  80% of each predicted class (the same fraction per class, class-balanced self-training's
  rule, which keeps the predicted class proportions);
- ``prior``: counts per class in the recipient's class proportions as EM estimates them from
  the probabilities (Saerens et al., 2002), the most confident of each.

One JSON row per (dataset, n, seed): accuracy and ROC AUC of each variant::

    OMP_NUM_THREADS=1 python benchmarks/probes/adapt_selection.py official 10 0,1,2,3

Results: ``benchmarks/results/probes/adapt_selection.md``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset, recipient_sets

from skdcsae import DCSAETransformer, RecipientLabeler
from skdcsae._self_training import balanced_selection
from skdcsae.recipient._members import fit_member_classifier


def fraction_selection(proba, classes, threshold, fraction):
    """The most confident ``fraction`` of each predicted class's confident rows."""
    guessed, confidence = classes[proba.argmax(axis=1)], proba.max(axis=1)
    keep = np.zeros(len(proba), dtype=bool)
    for c in classes:
        rows = np.flatnonzero((guessed == c) & (confidence >= threshold))
        order = np.argsort(-confidence[rows], kind="stable")
        keep[rows[order[: int(fraction * len(rows))]]] = True
    return keep, guessed


def em_priors(proba, iterations=100):
    """The recipient's class proportions by EM on probabilities made under equal priors
    (Saerens, Latinne and Decaestecker, 2002)."""
    prior = np.full(proba.shape[1], 1 / proba.shape[1])
    for _ in range(iterations):
        adjusted = proba * prior
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        prior = adjusted.mean(axis=0)
    return prior


def prior_selection(proba, classes, threshold):
    """Per class, counts in the EM-estimated proportions, as many as the confident rows allow."""
    prior = em_priors(proba)
    guessed, confidence = classes[proba.argmax(axis=1)], proba.max(axis=1)
    rows = [np.flatnonzero((guessed == c) & (confidence >= threshold)) for c in classes]
    total = min(len(r) / p for r, p in zip(rows, prior, strict=True))
    keep = np.zeros(len(proba), dtype=bool)
    for r, p in zip(rows, prior, strict=True):
        keep[r[np.argsort(-confidence[r], kind="stable")[: int(total * p)]]] = True
    return keep, guessed


def main(dataset: str, n: int, seeds: list[int]) -> None:
    X_train, y_train, X_test, y_test = load_dataset(dataset)
    for seed in seeds:
        donor = donor_indices(y_train, n, seed)
        sets = recipient_sets(dataset, X_train, y_train, X_test, y_test, donor)
        Xd, yd = X_train[donor], y_train[donor]
        est = DCSAETransformer(random_state=seed, device="cpu").fit(Xd, yd)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "kit.joblib"
            est.export_donor_kit(path, Xd, yd)
            labeler = RecipientLabeler(path, device="cpu").fit()
        kit, base = labeler.kit_, labeler.classifier_
        for recipient, (X, y) in sets.items():
            if recipient == "A":
                continue
            F = labeler.transform(X)
            P = base.predict_proba(F)
            variants = {
                "kit": None,
                "balanced": balanced_selection(P, base.classes_, threshold=0.5),
                "frac0.5": fraction_selection(P, base.classes_, 0.5, 0.5),
                "frac0.8": fraction_selection(P, base.classes_, 0.5, 0.8),
                "prior": prior_selection(P, base.classes_, 0.5),
            }
            row = {"dataset": dataset, "n": n, "seed": seed, "recipient": recipient}
            for name, chosen in variants.items():
                classifier = base
                if chosen is not None:
                    keep, guessed = chosen
                    classifier = clone(base)
                    extra = (F[keep], guessed[keep])
                    fit_member_classifier(classifier, kit.members[0], kit.classes, extra=extra)
                proba = classifier.predict_proba(F)
                row[name] = accuracy_score(y, classifier.classes_[proba.argmax(axis=1)])
                row[name + "_auc"] = roc_auc_score(y, proba[:, 1])
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")])
