"""
=========================================
The latent space: DC-SAE beside a VAE
=========================================

A :class:`~skdcsae.DCSAETransformer` has one 2-d latent head per class. Trained with labels,
each head spreads the images of *its* class away from the origin and pulls the images of the
other class towards it, as in Figure 2 of Padhye et al. (2023). A standard
:class:`~skdcsae.VAETransformer` has a single head and never sees the labels, so any class
structure in its latent space comes from the images alone.

:func:`skdcsae.plotting.plot_latent_comparison` draws the models side by side, one panel per
head, on images neither model was trained on.
"""

import numpy as np

from skdcsae import DCSAETransformer, VAETransformer
from skdcsae.datasets import load_demo_digits
from skdcsae.plotting import plot_latent_comparison

X, y = load_demo_digits()  # digits '3' vs '8' (labels 3 and 8)
rng = np.random.default_rng(0)
donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 40, replace=False) for c in (3, 8)])
recipient = np.setdiff1d(np.arange(len(y)), donor)

small = {
    "conv_channels": (16, 8),
    "dense_sizes": (64,),
    "max_epochs": 40,
    "batch_size": 8,
    "device": "cpu",
    "random_state": 0,
}
dcsae = DCSAETransformer(**small).fit(X[donor], y[donor])
vae = VAETransformer(**small).fit(X[donor])  # unsupervised: no labels

fig = plot_latent_comparison(
    {"DC-SAE": dcsae, "VAE": vae},
    X[recipient],
    y[recipient],
    class_names={3: "3", 8: "8"},
    title="Recipient images in the latent spaces of models trained on 80 donor images",
)
fig.set_size_inches(12, 4)

# %%
# The DC-SAE output used by a downstream classifier is the concatenation of both heads'
# means (``feature_mode="means"``, 4 features here); the VAE's is its single head's mean.
print("DC-SAE features:", dcsae.transform(X[recipient]).shape)
print("VAE features:   ", vae.transform(X[recipient]).shape)
