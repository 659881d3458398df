"""
=====================================
Using your own folder of images
=====================================

:func:`skdcsae.datasets.load_image_folder` reads PNG, JPEG, BMP, TIFF and DICOM files into
the uint8 arrays the estimators take. A *labelled* folder (the donor's) has one subfolder per
class, ``root/<class name>/<image>``; an *unlabelled* folder (the recipient's) has just image
files.

So that this example runs anywhere, it first writes a few of scikit-learn's digits to a
temporary folder as PNG files; with your own data, start at step 2.
"""

# %%
# 1. Make a donor folder (labelled) and a recipient folder (flat, unlabelled).
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer
from skdcsae.datasets import load_demo_digits, load_image_folder

X, y = load_demo_digits()  # '3' vs '8' (labels 3 and 8); values 0..16
rng = np.random.default_rng(0)
donor = np.concatenate([rng.choice(np.flatnonzero(y == c), 20, replace=False) for c in (3, 8)])
recipient = np.setdiff1d(np.arange(len(y)), donor)

root = Path(tempfile.mkdtemp())
names = {3: "three", 8: "eight"}
for i in donor:
    folder = root / "donor" / names[y[i]]
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray((X[i] * 255 / 16).astype(np.uint8)).save(folder / f"digit_{i:04d}.png")
(root / "recipient").mkdir()
for i in recipient:
    Image.fromarray((X[i] * 255 / 16).astype(np.uint8)).save(
        root / "recipient" / f"scan_{i:04d}.png"
    )

# %%
# 2. Load them. ``image_size`` resizes every image (here: keep 8x8); the donor folder's
# subfolders become the classes, sorted by name.
donor_data = load_image_folder(root / "donor", image_size=(8, 8))
recipient_data = load_image_folder(root / "recipient", image_size=(8, 8))
print("donor:", donor_data.data.shape, donor_data.data.dtype, donor_data.target_names.tolist())
print("recipient:", recipient_data.data.shape, "labels:", recipient_data.target)

# %%
# 3. Train on the donor's images and label the recipient's.
model = Pipeline(
    [
        (
            "dcsae",
            DCSAETransformer(
                conv_channels=(16, 8),
                dense_sizes=(64,),
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
model.fit(donor_data.data, donor_data.target)
predicted = model.predict(recipient_data.data)

# %%
# The recipient folder has no labels; here we know them, so we can check. File names carry
# the digits' original indices.
truth = np.array([names[y[int(name.split("_")[1][:4])]] for name in recipient_data.filenames])
print(f"recipient accuracy: {np.mean(predicted == truth):.3f}")

fig, axes = plt.subplots(2, 8, figsize=(8, 2.6))
for ax, image, label in zip(axes.ravel(), recipient_data.data, predicted, strict=False):
    ax.imshow(image, cmap="gray")
    ax.set_title(label, fontsize=9)
    ax.set_axis_off()
fig.suptitle("Recipient images and the labels predicted for them")
fig.tight_layout()
