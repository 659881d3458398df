"""DC-SAE on real PneumoniaMNIST (../shared/data): the accuracy the package promises."""

import time

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skdcsae import DCSAETransformer

from .conftest import donor_split

pytestmark = pytest.mark.realdata

# The light conv net (2 conv blocks) is faster *and* more accurate on 28x28 images than the
# authors' 4-block net, whose four max-pools shrink a 28x28 image to 1x1 before the dense layers.
LIGHT = {"conv_channels": (32, 16), "dense_sizes": (256,), "batch_size": 16}


def test_pipeline_labels_recipient_pneumonia(pneumonia_balanced):
    X, y = pneumonia_balanced
    donor, recipient = donor_split(y, 50, seed=0)
    model = Pipeline(
        [("dcsae", DCSAETransformer(**LIGHT, device="cpu", random_state=0)), ("svc", SVC())]
    )
    start = time.perf_counter()
    model.fit(X[donor], y[donor])
    accuracy = model.score(X[recipient], y[recipient])
    print(
        f"\nDC-SAE 50/class -> {len(recipient)} recipient images: accuracy {accuracy:.3f}, "
        f"fit+label {time.perf_counter() - start:.1f} s"
    )
    assert accuracy >= 0.85
    assert len(np.unique(model.predict(X[recipient]))) == 2
