"""
=====================================
DC-SAE features in a sklearn Pipeline
=====================================

A donor with a few labelled images trains a :class:`~skdcsae.DCSAETransformer`; an
:class:`~sklearn.svm.SVC` on its latent features labels the recipient's images. Here the images
are scikit-learn's bundled 8x8 digits, as a two-class task ('3' vs '8').
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer
from skdcsae.datasets import load_demo_digits

X, y = load_demo_digits()
rng = np.random.default_rng(0)
donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in (3, 8)])
recipient = np.setdiff1d(np.arange(len(y)), donor)

model = Pipeline(
    [
        (
            "dcsae",
            DCSAETransformer(
                conv_channels=(32, 16),
                dense_sizes=(128,),
                max_epochs=40,
                min_steps=0,
                batch_size=8,
                device="cpu",
                random_state=0,
            ),
        ),
        ("svc", SVC()),
    ]
)
model.fit(X[donor], y[donor])
accuracy = model.score(X[recipient], y[recipient])
print(f"{len(donor)} donor images -> recipient accuracy {accuracy:.3f}")

# %%
# The features are the means of both class heads (2 latent dimensions each).
features = model.named_steps["dcsae"].transform(X[recipient])
print(features.shape, model.named_steps["dcsae"].get_feature_names_out())

# %%
# Each head's plane for the recipient's images (:func:`skdcsae.plotting.plot_latent_space`):
# the images of a head's own class spread out, the other class is pulled to the origin.
from skdcsae.plotting import plot_latent_space

fig = plot_latent_space(
    model.named_steps["dcsae"], X[recipient], y[recipient], class_names={3: "3", 8: "8"}
)
