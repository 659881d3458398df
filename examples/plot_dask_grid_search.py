"""
=========================================================
Searching hyperparameters and labelling on a Dask cluster
=========================================================

A grid search fits one pipeline per parameter combination and fold: independent jobs that a
Dask cluster can run side by side. scikit-learn hands its jobs to joblib, and joblib's
``"dask"`` backend hands them to the workers of the current ``distributed.Client``; nothing
else in the search changes. The same cluster then labels a Dask array of recipient images
with :meth:`skdcsae.RecipientLabeler.predict`, block by block.

Each worker process here has one thread, and the :class:`~skdcsae.recipient.TorchThreads`
plugin gives each task one torch thread, so two workers use two cores and no more: torch
would otherwise give every task as many threads as the machine has cores, and the fits would
fight over them.

The cluster is a tiny :class:`~distributed.LocalCluster` (two processes) so that the example
runs in seconds; pass the address of a real scheduler to ``Client`` to use one. In a script of
your own, create the cluster under ``if __name__ == "__main__":``, because worker processes
import the main module. ``pip install skdcsae[distributed]`` installs Dask.
"""

import os
import tempfile

import dask.array as da
import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer, RecipientLabeler
from skdcsae.datasets import load_demo_digits
from skdcsae.recipient import TorchThreads

X, y = load_demo_digits()  # digits 3 vs 8, 8x8 images
rng = np.random.default_rng(0)
donor = np.concatenate(
    [rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in np.unique(y)]
)
recipient = np.setdiff1d(np.arange(len(y)), donor)

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
client = Client(cluster)
client.register_plugin(TorchThreads(threads_per_task=1))
print(
    "torch threads per worker:",
    sorted(client.run(lambda: __import__("torch").get_num_threads()).values()),
)

# %%
# The search itself is the one of :ref:`sphx_glr_auto_examples_plot_grid_search.py`; only the
# ``joblib.parallel_backend("dask")`` block is new. The 12 fits (4 combinations x 3 folds) run
# on the workers; the final refit of the best combination runs here.
model = Pipeline(
    [
        (
            "dcsae",
            DCSAETransformer(
                conv_channels=(16, 8),
                dense_sizes=(64,),
                max_epochs=15,
                min_steps=0,
                batch_size=8,
                device="cpu",
                random_state=0,
            ),
        ),
        ("svc", SVC()),
    ]
)
param_grid = {"dcsae__alpha": [1, 10], "dcsae__rho": [1, 5]}
search = GridSearchCV(model, param_grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
with joblib.parallel_backend("dask"):
    search.fit(X[donor], y[donor])
print("best parameters:", search.best_params_)
print(f"best cross-validated donor accuracy: {search.best_score_:.3f}")

# %%
# Label the recipient's images on the same cluster. The donor exports a kit from the best
# model; the recipient's images arrive as a Dask array (here from memory; from Zarr or many
# files in practice), and ``predict`` returns a lazy Dask array with the same row chunks. The
# kit travels once in the task graph and is loaded and checked once per worker process.
kit = os.path.join(tempfile.mkdtemp(), "kit.joblib")
search.best_estimator_.named_steps["dcsae"].export_donor_kit(kit, X[donor], y[donor])
labeler = RecipientLabeler(kit, device="cpu").fit()
images = da.from_array(X[recipient], chunks=(100, 8, 8))
labels = labeler.predict(images)
print(labels)
predicted = labels.compute()
print(f"recipient accuracy: {np.mean(predicted == y[recipient]):.3f}")

client.close()
cluster.close()
