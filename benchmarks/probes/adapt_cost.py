"""What adapting a RecipientLabeler to the recipient's images costs (issue #12).

A donor kit from ``DCSAETransformer(random_state=0)`` on 100 balanced PneumoniaMNIST images
per class; the recipient's images are every other image of both splits, tiled to ``N``.
Times, in one process: ``fit()`` (the kit alone), one encoder pass ``transform(X)``, and
``fit(X)`` (self-training at its default). ``extra`` is what ``fit(X)`` adds over ``fit()``,
in units of one encoder pass over ``X``. One JSON row per N::

    OMP_NUM_THREADS=1 python benchmarks/probes/adapt_cost.py 5000,20000,50000

``stream`` instead times :func:`~skdcsae.recipient.label_archive` over the same images saved
as ``.npy`` (default partitions): from the kit alone (``self_training=None``) and adapted to
the archive (the default, two passes), best of 3, and checks that the adapted run's labels are
those of ``RecipientLabeler(kit).fit(X).predict(X)``::

    OMP_NUM_THREADS=1 python benchmarks/probes/adapt_cost.py 20000,50000 stream

Rows: ``benchmarks/results/probes/adapt_cost.jsonl`` (summarised in the user guide and
``docs/scale.rst``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from run import donor_indices, load_dataset

from skdcsae import DCSAETransformer, RecipientLabeler


def _best_of(f, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _stream_row(kit, X, tmp) -> dict:
    from skdcsae.recipient import label_archive

    source = Path(tmp) / "x.npy"
    np.save(source, X)

    def run(self_training, name):
        labeler = RecipientLabeler(kit, self_training=self_training)
        return label_archive(
            labeler, source, Path(tmp) / name, device="cpu", overwrite=True, progress=False
        )

    plain_s, _ = _best_of(lambda: run(None, "kit.csv"))
    adapt_s, report = _best_of(lambda: run(0.5, "adapted.csv"))
    written = np.loadtxt(report.out, delimiter=",", skiprows=1, usecols=1, dtype=str)
    expected = RecipientLabeler(kit, device="cpu").fit(X).predict(X)
    return {
        "mode": "stream",
        "N": len(X),
        "kit_only_s": round(plain_s, 3),
        "adapted_s": round(adapt_s, 3),
        "ratio": round(adapt_s / plain_s, 3),
        "n_pseudo_labelled": report.n_pseudo_labelled,
        "labels_equal_fit_X": bool(np.array_equal(written, expected.astype(str))),
    }


def main(sizes: list[int], mode: str = "memory") -> None:
    torch.set_num_threads(1)
    X_train, y_train, X_test, _ = load_dataset("balanced")
    donor = donor_indices(y_train, 100, 0)
    est = DCSAETransformer(random_state=0, device="cpu").fit(X_train[donor], y_train[donor])
    rest = np.concatenate([np.delete(X_train, donor, axis=0), X_test])
    with tempfile.TemporaryDirectory() as tmp:
        kit = Path(tmp) / "kit.joblib"
        est.export_donor_kit(kit, X_train[donor], y_train[donor])
        for n in sizes:
            X = np.resize(rest, (n, *rest.shape[1:]))
            if mode == "stream":
                print(json.dumps(_stream_row(kit, X, tmp)), flush=True)
                continue
            plain_s, plain = _best_of(lambda: RecipientLabeler(kit, device="cpu").fit())
            encode_s, _ = _best_of(lambda plain=plain, X=X: plain.transform(X))
            adapt_s, adapted = _best_of(lambda X=X: RecipientLabeler(kit, device="cpu").fit(X))
            row = {
                "N": n,
                "fit_s": round(plain_s, 3),
                "encode_s": round(encode_s, 3),
                "fit_X_s": round(adapt_s, 3),
                "n_pseudo_labelled": int(adapted.n_pseudo_labelled_[0]),
                "extra_in_encoder_passes": round((adapt_s - plain_s) / encode_s, 2),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")], *sys.argv[2:])
