"""DC-SAE and the paper's baselines on real PneumoniaMNIST (../shared/data).

The setting of the paper's Figure 3 at one donor size: 50 donor images per class from the
balanced train split (seed 0), the rest of the train split (2328 images) is the recipient.
Each test prints its accuracy and fit time; run with ``-s`` to see them.
"""

import time

import numpy as np
import pytest
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

from .conftest import donor_split

pytestmark = pytest.mark.realdata

# The light conv net (2 conv blocks) is faster *and* more accurate on 28x28 images than the
# authors' 4-block net, whose four max-pools shrink a 28x28 image to 1x1 before the dense layers.
# The baselines use the same architecture and seed, so the comparison is like for like.
LIGHT = {"conv_channels": (32, 16), "dense_sizes": (256,), "batch_size": 16}
SETTINGS = {**LIGHT, "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def split(pneumonia_balanced):
    X, y = pneumonia_balanced
    donor, recipient = donor_split(y, 50, seed=0)
    return X[donor], y[donor], X[recipient], y[recipient]


def _fit_and_score(name, model, split):
    X_donor, y_donor, X_recipient, y_recipient = split
    start = time.perf_counter()
    model.fit(X_donor, y_donor)
    fit_seconds = time.perf_counter() - start
    accuracy = model.score(X_recipient, y_recipient)
    print(
        f"\n{name}: 50/class -> {len(y_recipient)} recipient images: accuracy {accuracy:.3f}, "
        f"fit {fit_seconds:.1f} s, label {time.perf_counter() - start - fit_seconds:.1f} s"
    )
    return accuracy


@pytest.fixture(scope="module")
def dcsae(split):
    model = Pipeline([("dcsae", DCSAETransformer(**SETTINGS)), ("svc", SVC())])
    return model, _fit_and_score("DC-SAE + SVC", model, split)


def test_pipeline_labels_recipient_pneumonia(dcsae, split):
    model, accuracy = dcsae
    assert accuracy >= 0.85
    assert len(np.unique(model.predict(split[2]))) == 2


def test_dcsae_beats_the_standard_vae(dcsae, split):
    """Supervision helps: DC-SAE beats an unsupervised VAE of the same architecture + SVC.

    The margin measured here (0.911 vs 0.870; +3 to +4 points over donor seeds 0-2) is far
    smaller than the paper's (81-95% vs about 50%): the paper's VAE collapsed to N(0, I) for
    every image because its decoder unpooled with the encoder's max-pool indices (see
    DESIGN.md); this VAE's decoder sees only the latent, so its 2-d means carry information.
    """
    _, dcsae_accuracy = dcsae
    vae = Pipeline([("vae", VAETransformer(**SETTINGS)), ("svc", SVC())])
    vae_accuracy = _fit_and_score("VAE + SVC", vae, split)
    print(f"DC-SAE - VAE: {dcsae_accuracy - vae_accuracy:+.3f}")
    assert dcsae_accuracy > vae_accuracy
    assert vae_accuracy >= 0.75  # a VAE that collapsed (as the paper's did) would be near 0.5


def test_resnet18_skyline(split):
    """The supervised upper bound, at a quarter of the standard width (16-32-64-128 channels):
    about 20 s on two CPU cores. Measured once on the same split: width 16 0.899, width 32
    0.861 (55 s), the standard width 64 0.860 (192 s fit + 46 s labelling); on 100 donor
    images the wider nets are no better."""
    model = ResNet18Classifier(width=16, max_epochs=30, device="cpu", random_state=0)
    assert _fit_and_score("ResNet-18 (width 16)", model, split) >= 0.85


def test_anomaly_vae_runs_end_to_end(split):
    """The anomaly baseline is only reported, not held to a level: the paper found it near
    chance."""
    model = AnomalyVAEClassifier(AnomalyVAETransformer(**SETTINGS))
    accuracy = _fit_and_score("Anomaly VAE (balanced-accuracy threshold)", model, split)
    X_recipient = split[2][:200]
    assert model.pos_label_ == 1 and np.isfinite(model.threshold_)
    assert set(np.unique(model.predict(X_recipient))) <= {0, 1}
    assert model.decision_function(X_recipient).shape == (len(X_recipient),)
    assert 0.0 <= accuracy <= 1.0


def test_pixel_baseline_pca_svc(split):
    """The no-privacy pixel baseline of docs/baselines.rst: PCA + SVC on the raw pixels."""
    flat = [a.reshape(len(a), -1) if a.ndim == 3 else a for a in split]
    model = Pipeline([("pca", PCA(n_components=0.95, random_state=0)), ("svc", SVC())])
    assert _fit_and_score("PCA + SVC on pixels", model, flat) >= 0.85
