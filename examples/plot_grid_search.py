"""
=============================================
Searching the loss weights with GridSearchCV
=============================================

The DC-SAE loss has three weights: ``alpha`` (reconstruction), ``beta`` (repulsion) and
``rho`` (the repulsion margin, a squared distance). They are ordinary hyperparameters of
:class:`~skdcsae.DCSAETransformer`, so a :class:`~sklearn.model_selection.GridSearchCV` over
the pipeline's ``dcsae__alpha``, ``dcsae__beta`` and ``dcsae__rho`` searches them with
cross-validation on the donor's images only.

The network and the number of epochs are kept tiny so that the example runs in seconds; the
scores printed below are computed when the documentation is built.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer
from skdcsae.datasets import load_demo_digits

X, y = load_demo_digits()  # digits '3' vs '8' (labels 3 and 8), 8x8 images
rng = np.random.default_rng(0)
donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in (3, 8)])
recipient = np.setdiff1d(np.arange(len(y)), donor)

model = Pipeline(
    [
        (
            "dcsae",
            DCSAETransformer(
                conv_channels=(16, 8),
                dense_sizes=(64,),
                max_epochs=20,
                min_steps=0,
                batch_size=8,
                device="cpu",
                random_state=0,
            ),
        ),
        ("svc", SVC()),
    ]
)

# %%
# A coarse grid: with 20 donor images per class, cross-validated scores are noisy, so a fine
# grid would mostly fit the noise.
param_grid = {"dcsae__alpha": [1, 10], "dcsae__beta": [10], "dcsae__rho": [1, 5]}
search = GridSearchCV(model, param_grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(X[donor], y[donor])

print("best parameters:", search.best_params_)
print(f"best cross-validated donor accuracy: {search.best_score_:.3f}")
recipient_accuracy = search.score(X[recipient], y[recipient])
print(f"recipient accuracy of the refitted best model: {recipient_accuracy:.3f}")

# %%
# Mean cross-validated accuracy for each (alpha, rho), beta fixed at 10.
alphas, rhos = param_grid["dcsae__alpha"], param_grid["dcsae__rho"]
scores = np.empty((len(alphas), len(rhos)))
results = zip(search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True)
for params, score in results:
    scores[alphas.index(params["dcsae__alpha"]), rhos.index(params["dcsae__rho"])] = score

fig, ax = plt.subplots(figsize=(4.5, 3.5))
image = ax.imshow(scores, cmap="viridis", vmin=0.5, vmax=1.0)
ax.set(
    xticks=range(len(rhos)),
    xticklabels=rhos,
    yticks=range(len(alphas)),
    yticklabels=alphas,
    xlabel="rho",
    ylabel="alpha",
    title="Cross-validated donor accuracy",
)
for (i, j), score in np.ndenumerate(scores):
    ax.text(j, i, f"{score:.2f}", ha="center", va="center", color="white")
fig.colorbar(image, ax=ax)
fig.tight_layout()
