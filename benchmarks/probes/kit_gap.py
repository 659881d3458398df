"""Probe for issue #12: where the kit path loses to the pipeline on the shifted recipient B.

One ``DCSAETransformer(random_state=seed)`` fit per seed (the benchmark's donor draw on the
balanced file), exported at the default release (``synthetic``) and at ``per_image``, each
labelled by ``RecipientLabeler`` with its default calibrated SVC (``cal``) and with a plain
``SVC()`` (``svc``; ``per_image`` + ``svc`` is the pipeline's own classifier). One JSON row per
(n, seed), accuracy on recipients A and B::

    OMP_NUM_THREADS=1 python benchmarks/probes/kit_gap.py 80 0,1,2,3

Results: ``benchmarks/results/probes/kit_gap.md``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from sklearn.metrics import accuracy_score
from sklearn.svm import SVC

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset, recipient_sets

from skdcsae import DCSAETransformer, RecipientLabeler


def main(n, seeds):
    X_train, y_train, X_test, y_test = load_dataset("balanced")
    for seed in seeds:
        donor = donor_indices(y_train, n, seed)
        sets = recipient_sets("balanced", X_train, y_train, X_test, y_test, donor)
        Xd, yd = X_train[donor], y_train[donor]
        est = DCSAETransformer(random_state=seed, device="cpu").fit(Xd, yd)
        row = {"n": n, "seed": seed}
        with tempfile.TemporaryDirectory() as tmp:
            for release in ("synthetic", "per_image"):
                p = Path(tmp) / f"{release}.joblib"
                est.export_donor_kit(p, Xd, yd, release=release)
                for cname, clf in (("cal", None), ("svc", SVC())):
                    lab = RecipientLabeler(p, classifier=clf, device="cpu").fit()
                    for rec, (X, y) in sets.items():
                        row[f"{release}_{cname}_{rec}"] = accuracy_score(y, lab.predict(X))
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")])
