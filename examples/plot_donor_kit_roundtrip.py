"""
==========================================
Donor -> kit -> recipient: the round trip
==========================================

The two sites of DC-SAE in one script. The **Donor** trains a
:class:`~skdcsae.DCSAETransformer` on its few labelled images and exports a *donor kit* with
:meth:`~skdcsae.DCSAETransformer.export_donor_kit`: the encoder's weights and the latent
features of its images, never the images and never the decoder. The **Recipient** loads the
kit with a :class:`~skdcsae.RecipientLabeler`, which trains an SVC on the donor's features
and labels the recipient's own images.

Then the safety checks: a kit signed with a shared key is refused under another key, and a
hostile pickle is refused before anything in it runs. See :doc:`/kit_howto` for the security
model.
"""

import os
import pickle
import tempfile
import textwrap

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.svm import SVC

from skdcsae import DCSAETransformer, DonorKitError, RecipientLabeler, load_donor_kit
from skdcsae.datasets import load_demo_digits

X, y = load_demo_digits()  # digits '3' vs '8' (labels 3 and 8), shape (n, 8, 8)
rng = np.random.default_rng(0)
donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in (3, 8)])
recipient = np.setdiff1d(np.arange(len(y)), donor)
X_donor, y_donor = X[donor], y[donor]
X_recipient, y_recipient_truth = X[recipient], y[recipient]  # the truth stays hidden below

# %%
# At the donor
# ------------
# Train, then export the kit. ``key`` adds an HMAC-SHA256 signature with a secret shared
# with the recipient out of band (here a placeholder string). ``release="per_image"`` is the
# paper's setting, one feature row per donor image, so that the recipient below labels exactly
# as the donor's own pipeline would; the default, ``release="synthetic"``, ships no row that
# belongs to a donor image (see :ref:`sphx_glr_auto_examples_plot_privacy_audit.py`).
dcsae = DCSAETransformer(
    conv_channels=(16, 8),
    dense_sizes=(64,),
    max_epochs=40,
    min_steps=0,
    batch_size=8,
    device="cpu",
    random_state=0,
).fit(X_donor, y_donor)

folder = tempfile.mkdtemp()
kit_path = os.path.join(folder, "donor_kit.joblib")
kit = dcsae.export_donor_kit(kit_path, X_donor, y_donor, release="per_image", key="shared secret")
print(f"kit file: {os.path.getsize(kit_path):,} bytes")

# %%
# :meth:`~skdcsae.DonorKit.summary` says first what the kit reveals, then lists everything in
# it, with sizes -- and what is not in it.
print(kit.summary())

# %%
# At the recipient
# ----------------
# The recipient has only the kit file, the shared key and its own unlabelled images.
labeler = RecipientLabeler(kit=kit_path, key="shared secret", device="cpu").fit()
predicted = labeler.predict(X_recipient)
print(f"recipient images labelled: {len(predicted)}")

# %%
# Only for this example do we know the recipient's true labels, so we can score them.
print(f"recipient accuracy: {np.mean(predicted == y_recipient_truth):.3f}")
display = ConfusionMatrixDisplay.from_predictions(
    y_recipient_truth, predicted, display_labels=["3", "8"], colorbar=False
)
_ = display.ax_.set_title("Recipient labels from the donor kit")

# %%
# The kit is the donor's model, not an approximation of it: its features equal what the
# donor's ``transform`` gives, so the recipient labels exactly as a
# ``Pipeline([DCSAETransformer, SVC])`` fitted at the donor would.
print("kit features == donor transform:", np.allclose(kit.features, dcsae.transform(X_donor)))
in_house = SVC().fit(dcsae.transform(X_donor), y_donor).predict(dcsae.transform(X_recipient))
print("same labels as an SVC on the donor's own transform:", np.array_equal(in_house, predicted))

# %%
# Adapted to the recipient's images
# ---------------------------------
# ``fit(X_recipient)`` also lets the recipient's own unlabelled images (which never leave it)
# shape the classifier: the kit's classifier labels them, and the most confident of them, as
# many per class, join its training (``self_training=0.5``, the default). The encoder is
# unchanged. ``fit()`` without images, as above, labels from the kit alone.
adapted = RecipientLabeler(kit=kit_path, key="shared secret", device="cpu").fit(X_recipient)
print(f"recipient images added with a pseudo-label: {adapted.n_pseudo_labelled_[0]}")
print(f"adapted accuracy: {adapted.score(X_recipient, y_recipient_truth):.3f}")

# %%
# Refused: the wrong key
# ----------------------
try:
    load_donor_kit(kit_path, key="another secret")
except DonorKitError as exc:
    print(textwrap.fill("refused: " + str(exc).split(": ", 1)[1], width=80))

# %%
# Refused: a hostile pickle
# -------------------------
# Unpickling a file from another institution can run code. This file would call ``print``
# when unpickled by ``pickle.load`` or ``joblib.load`` (a real attack would call something
# worse). :func:`~skdcsae.load_donor_kit` never unpickles: it reads the opcodes of a kit file
# itself, accepts only a flat dict of strings, bytes and integers, and refuses this one before
# anything runs: nothing is printed by the payload.


class Hostile:
    def __reduce__(self):
        return (print, ("!!! code from the kit file is running !!!",))


hostile_path = os.path.join(folder, "hostile_kit.joblib")
with open(hostile_path, "wb") as f:
    pickle.dump({"format": "skdcsae-donor-kit", "features": Hostile()}, f)

try:
    load_donor_kit(hostile_path)
except DonorKitError as exc:
    print(textwrap.fill("refused: " + str(exc).split(": ", 1)[1], width=80))
