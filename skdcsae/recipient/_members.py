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

from .._classifier import default_classifier
from .._nn import MultiHeadEncoder
from .._self_training import balanced_selection

#: Recipient images per class that may join a member's classifier: bounds the second fit of
#: an SVC (quadratic in its rows) for archives of any size.
MAX_PSEUDO_PER_CLASS = 2000
#: Recipient images that self-training chooses from: all of them up to this many, else this
#: many evenly spaced (:func:`adaptation_pool`). Bounds the features held in memory.
MAX_ADAPTATION_POOL = 100_000

__all__ = [
    "MAX_ADAPTATION_POOL",
    "MAX_PSEUDO_PER_CLASS",
    "adaptation_pool",
    "average_outputs",
    "ensemble_predict",
    "fit_member_classifier",
    "member_guesser",
    "rebuild_encoder",
    "refit_with",
    "self_train",
]


def rebuild_encoder(member, device) -> torch.nn.Module:
    """A kit member's encoder, from its checked config and weights, in eval mode on ``device``."""
    encoder = MultiHeadEncoder(member.encoder_config)
    encoder.load_state_dict(
        {name: torch.from_numpy(np.array(w)) for name, w in member.encoder_weights.items()},
        strict=True,
    )
    return encoder.to(device).eval()


def fit_member_classifier(classifier, member, classes, extra=None) -> None:
    """Train on a member's rows; prototypes count as many images as they summarise.

    ``extra``: ``(features, labels)`` of further rows (pseudo-labelled recipient images), each
    of weight 1.
    """
    features, labels, weights = member.features, classes[member.label_index], member.feature_weights
    if extra is not None:
        features = np.concatenate([features, extra[0].astype(features.dtype, copy=False)])
        labels = np.concatenate([labels, extra[1]])
        weights = np.concatenate([weights, np.ones(len(extra[1]), dtype=weights.dtype)])
    if np.all(weights == 1):
        classifier.fit(features, labels)
        return
    if not has_fit_parameter(classifier, "sample_weight"):
        raise ValueError(
            f"the kit releases prototypes weighted by how many images each summarises, "
            f"but {type(classifier).__name__}.fit takes no sample_weight. Use a classifier "
            "that does (SVC, LogisticRegression, ...)."
        )
    classifier.fit(features, labels, sample_weight=weights)


def member_guesser(classifier, member, classes, *, random_state):
    """The classifier whose probabilities choose the recipient images to add, or None.

    ``classifier`` itself when it has ``predict_proba``, else the default calibrated SVC
    trained on the member's rows; None when that cannot be calibrated (a class of one row).
    """
    if hasattr(classifier, "predict_proba"):
        return classifier
    guesser = default_classifier(classes[member.label_index], random_state=random_state)
    fit_member_classifier(guesser, member, classes)
    return guesser if hasattr(guesser, "predict_proba") else None


def adaptation_pool(n: int):
    """The rows of ``n`` recipient images that self-training chooses from: ``slice(None)``
    (all) up to :data:`MAX_ADAPTATION_POOL`, else that many evenly spaced row indices."""
    if n <= MAX_ADAPTATION_POOL:
        return slice(None)
    return np.unique(np.linspace(0, n - 1, MAX_ADAPTATION_POOL).round().astype(np.intp))


def refit_with(classifier, member, classes, features, labels) -> None:
    """Train ``classifier`` again on the member's rows plus ``(features, labels)`` (on the
    member's rows alone when there are none)."""
    extra = (features, labels) if len(labels) else None
    fit_member_classifier(classifier, member, classes, extra=extra)


def self_train(classifier, member, classes, features, *, threshold, max_iter, random_state):
    """Adapt a member's fitted ``classifier`` to the recipient's rows ``features``.

    Each round, the guesser (:func:`member_guesser`) gives every row a class and a
    probability; of the rows whose probability reaches ``threshold``, the same number per
    class, at most :data:`MAX_PSEUDO_PER_CLASS`, the most confident
    (:func:`~skdcsae._self_training.balanced_selection`), join the member's rows and the
    classifier (and a separate guesser) is trained again. Rounds stop when the choice no
    longer changes, or after ``max_iter``. Returns ``(features, labels, rounds)``: the final
    choice (the classifier is the member's rows plus these) and the rounds that trained.
    """
    chosen = (features[:0], np.empty(0, dtype=np.asarray(classes).dtype))
    guesser = member_guesser(classifier, member, classes, random_state=random_state)
    if guesser is None:
        return (*chosen, 0)
    previous, rounds = None, 0
    while rounds < max_iter:
        keep, guessed = balanced_selection(
            guesser.predict_proba(features),
            guesser.classes_,
            threshold=threshold,
            max_per_class=MAX_PSEUDO_PER_CLASS,
        )
        choice = (keep.tobytes(), guessed[keep].tobytes())
        if choice == previous:
            break
        previous, chosen = choice, (features[keep], guessed[keep])
        refit_with(classifier, member, classes, *chosen)
        if guesser is not classifier:
            refit_with(guesser, member, classes, *chosen)
        rounds += 1
    return (*chosen, rounds)


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
