"""One encoder and one classifier per kit member, and how an ensemble's outputs are combined.

A donor kit may hold several members (encoders trained with different seeds on the same
images). The recipient rebuilds each member's encoder, trains one classifier per member on
that member's feature table, and combines their outputs: decision values and probabilities
are averaged, and the predicted class is the one with the highest average (of the
probabilities when every classifier has them, else of the decision values, else of the votes).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import has_fit_parameter

from .._nn import MultiHeadEncoder

__all__ = ["average_outputs", "ensemble_predict", "fit_member_classifier", "rebuild_encoder"]


def rebuild_encoder(member, device) -> torch.nn.Module:
    """A kit member's encoder, from its checked config and weights, in eval mode on ``device``."""
    encoder = MultiHeadEncoder(member.encoder_config)
    encoder.load_state_dict(
        {name: torch.from_numpy(np.array(w)) for name, w in member.encoder_weights.items()},
        strict=True,
    )
    return encoder.to(device).eval()


def fit_member_classifier(classifier, member, classes) -> None:
    """Train on a member's rows; prototypes count as many images as they summarise."""
    weights = member.feature_weights
    labels = classes[member.label_index]
    if np.all(weights == 1):
        classifier.fit(member.features, labels)
        return
    if not has_fit_parameter(classifier, "sample_weight"):
        raise ValueError(
            f"the kit releases prototypes weighted by how many images each summarises, "
            f"but {type(classifier).__name__}.fit takes no sample_weight. Use a classifier "
            "that does (SVC, LogisticRegression, ...)."
        )
    classifier.fit(member.features, labels, sample_weight=weights)


def average_outputs(classifiers, features: list[np.ndarray], method: str) -> np.ndarray:
    """Every member's ``method`` (decision_function, predict_proba) on its features, averaged."""
    outputs = [
        getattr(classifier, method)(f) for classifier, f in zip(classifiers, features, strict=True)
    ]
    return np.mean(outputs, axis=0)


def ensemble_predict(classifiers, features: list[np.ndarray], classes: np.ndarray) -> np.ndarray:
    """The class with the highest average probability, decision value or vote.

    Probabilities come first: calibrated, they are on one scale across members, which
    decision values of separately trained classifiers are not.
    """
    if all(hasattr(c, "predict_proba") for c in classifiers):
        index = average_outputs(classifiers, features, "predict_proba").argmax(axis=1)
    elif all(hasattr(c, "decision_function") for c in classifiers):
        scores = average_outputs(classifiers, features, "decision_function")
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
    else:
        votes = np.zeros((len(features[0]), len(classes)))
        for classifier, f in zip(classifiers, features, strict=True):
            predicted = classifier.predict(f)
            votes[np.arange(len(predicted)), np.searchsorted(classes, predicted)] += 1
        index = votes.argmax(axis=1)
    return classes[index]
