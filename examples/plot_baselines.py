"""
=============================================
DC-SAE and the paper's baselines, compared
=============================================

The same donor and recipient split for every method of the paper's comparison (see
:doc:`/baselines`):

- DC-SAE + SVC (:class:`~skdcsae.DCSAETransformer`, all heads' means);
- standard VAE + SVC (:class:`~skdcsae.VAETransformer`, trained without labels);
- the anomaly-detection VAE (:class:`~skdcsae.AnomalyVAEClassifier`), trained on one class
  and thresholding the reconstruction error;
- the supervised ResNet-18 skyline (:class:`~skdcsae.ResNet18Classifier`), which needs the
  donor's images themselves;
- a no-privacy pixel baseline, PCA + SVC on the donor's raw pixels.

Everything is tiny (8x8 digits, 20 donor images per class, small networks, few epochs) so
that it runs in seconds on a CPU: the accuracies and times below are computed when the
documentation is built, on one seed. They illustrate the API, not the methods' merit on
medical images; for that see :doc:`/baselines` and :doc:`/benchmarks`.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import (
    AnomalyVAEClassifier,
    AnomalyVAETransformer,
    DCSAETransformer,
    ResNet18Classifier,
    VAETransformer,
)
from skdcsae.datasets import load_demo_digits

X, y = load_demo_digits()  # digits '3' vs '8' (labels 3 and 8), shape (n, 8, 8)
rng = np.random.default_rng(0)
donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in (3, 8)])
recipient = np.setdiff1d(np.arange(len(y)), donor)

small = {
    "conv_channels": (16, 8),
    "dense_sizes": (64,),
    "max_epochs": 40,
    "batch_size": 8,
    "device": "cpu",
    "random_state": 0,
}
methods = {
    "DC-SAE + SVC": Pipeline([("features", DCSAETransformer(**small)), ("svc", SVC())]),
    "VAE + SVC": Pipeline([("features", VAETransformer(**small)), ("svc", SVC())]),
    "Anomaly VAE": AnomalyVAEClassifier(AnomalyVAETransformer(**small)),
    "ResNet-18 (width 8)": ResNet18Classifier(
        width=8, max_epochs=20, batch_size=8, device="cpu", random_state=0
    ),
    "PCA + SVC (pixels)": Pipeline(
        [("pca", PCA(n_components=0.95, random_state=0)), ("svc", SVC())]
    ),
}

accuracy, seconds = {}, {}
for name, model in methods.items():
    # The pixel baseline takes flat rows; the torch estimators take the (n, 8, 8) images.
    X_in = X.reshape(len(X), -1) if name.startswith("PCA") else X
    start = time.perf_counter()
    model.fit(X_in[donor], y[donor])
    seconds[name] = time.perf_counter() - start
    accuracy[name] = model.score(X_in[recipient], y[recipient])
    print(f"{name:22s} accuracy {accuracy[name]:.3f}   fit {seconds[name]:5.2f} s")

# %%
# The same numbers as a chart.
names = list(methods)
fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
ax_acc.barh(names, [accuracy[n] for n in names], color="tab:blue")
ax_acc.set(xlim=(0.0, 1.0), xlabel="recipient accuracy (dotted line: chance)")
ax_acc.axvline(0.5, color="grey", linestyle=":")
ax_time.barh(names, [seconds[n] for n in names], color="tab:orange")
ax_time.set(xlabel="donor fit time (s)")
ax_acc.invert_yaxis()
fig.suptitle(f"{len(donor)} donor images, {len(recipient)} recipient images (one seed)")
fig.tight_layout()

# %%
# The feature extractors are interchangeable steps of one pipeline: ``set_params`` swaps
# DC-SAE for the VAE without touching the classifier.
swapped = methods["DC-SAE + SVC"].set_params(features=VAETransformer(**small))
print(type(swapped.named_steps["features"]).__name__)
