"""Selective labelling: keep the labels the model is sure of, send the rest to a person.

:meth:`RecipientLabeler.label <skdcsae.RecipientLabeler.label>` (defined here as a mixin, so
that the labeler's module stays about encoding) encodes the images once and returns a
:class:`LabellingResult`: labels, calibrated probabilities, the confidence of each label, which
images need review and in which order to review them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._calibration import _check_fraction, confidence_order, n_least_confident
from ._members import average_outputs

__all__ = ["LabellingResult"]


@dataclass(frozen=True, repr=False)
class LabellingResult:
    """Labels of recipient images with their confidence and the review queue.

    Returned by :meth:`skdcsae.RecipientLabeler.label`; all arrays have one row per image, in
    the order of the images given.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
        Predicted labels (what ``predict`` returns).
    proba : ndarray of shape (n_samples, n_classes)
        Class probabilities, columns in the order of ``classes``.
    classes : ndarray of shape (n_classes,)
        The kit's classes.
    confidence : ndarray of shape (n_samples,)
        Probability of the predicted label.
    needs_review : ndarray of bool, shape (n_samples,)
        True for images a person should check.
    review_order : ndarray of int, shape (n_flagged,)
        Indices of the flagged images, least confident first (ties: input order).
    features : ndarray of shape (n_samples, n_features_out)
        The latent features the labels were computed from (the same encoding pass).
    review_fraction, min_confidence : float or None
        The review rule that was applied.

    Examples
    --------
    >>> import numpy as np
    >>> from skdcsae.recipient import LabellingResult
    >>> result = LabellingResult(
    ...     labels=np.array([0, 1, 1]), proba=np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]]),
    ...     classes=np.array([0, 1]), confidence=np.array([0.9, 0.6, 0.8]),
    ...     needs_review=np.array([False, True, False]), review_order=np.array([1]),
    ...     features=np.zeros((3, 4)), review_fraction=0.3, min_confidence=None)
    >>> result
    LabellingResult(n_samples=3, classes=[0, 1], counts={0: 1, 1: 2}, n_flagged=1, \
review_fraction=0.3, min_confidence=None)
    >>> result.kept.tolist()
    [0, 2]
    """

    labels: np.ndarray
    proba: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    needs_review: np.ndarray
    review_order: np.ndarray
    features: np.ndarray
    review_fraction: float | None = None
    min_confidence: float | None = None

    @property
    def n_flagged(self) -> int:
        """Number of images flagged for review."""
        return int(self.needs_review.sum())

    @property
    def kept(self) -> np.ndarray:
        """Indices of the images whose labels are kept without review (input order)."""
        return np.flatnonzero(~self.needs_review)

    def counts(self) -> dict:
        """Images per predicted label, every class of the kit included.

        Returns
        -------
        counts : dict
            ``{class: number of images}`` in the order of ``classes``.
        """
        return {c.item(): int(np.sum(self.labels == c)) for c in self.classes}

    def __repr__(self) -> str:
        return (
            f"LabellingResult(n_samples={len(self.labels)}, classes={self.classes.tolist()}, "
            f"counts={self.counts()}, n_flagged={self.n_flagged}, "
            f"review_fraction={self.review_fraction}, min_confidence={self.min_confidence})"
        )


def review_mask(confidence, *, review_fraction=None, min_confidence=None):
    """Which images to review: the least confident fraction, and/or those below a confidence.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Probability of each predicted label.
    review_fraction : float in [0, 1] or None
        Flag the ``ceil(review_fraction * n)`` least confident images (ties: earlier rows first).
    min_confidence : float in [0, 1] or None
        Flag every image whose confidence is below it. With both rules an image is flagged when
        either flags it.

    Returns
    -------
    needs_review : ndarray of bool, shape (n_samples,)
    review_order : ndarray of int
        Flagged indices, least confident first.
    """
    confidence = np.asarray(confidence, dtype=float)
    flagged = np.zeros(len(confidence), dtype=bool)
    order = confidence_order(confidence)
    if review_fraction is not None:
        flagged[order[: n_least_confident(len(confidence), review_fraction)]] = True
    if min_confidence is not None:
        flagged |= confidence < min_confidence
    return flagged, order[flagged[order]]


class ReviewMixin:
    """``label()`` for :class:`~skdcsae.RecipientLabeler`: labels, confidence and review."""

    def label(self, X, *, review_fraction=None, min_confidence=None, progress=None):
        """Label images and pick the ones a person should check, from one encoding pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Recipient images of the donor's shape.
        review_fraction : float in [0, 1], default=None
            Send the ``ceil(review_fraction * n_samples)`` least confident images to review.
            Choose it from the accuracy-coverage curve: keeping a fraction ``c`` of the labels
            means ``review_fraction = 1 - c``.
        min_confidence : float in [0, 1], default=None
            Send every image whose label has a probability below this to review. Given with
            ``review_fraction``, an image is flagged when either rule flags it; with neither,
            nothing is flagged.
        progress : callable, default=None
            Called with the number of images encoded after each batch (e.g. a progress bar's
            ``update``).

        Returns
        -------
        result : LabellingResult
            Labels (identical to ``predict(X)``), probabilities (identical to
            ``predict_proba(X)``), confidence, the ``needs_review`` mask, the review order and
            the latent features.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the labeler has not been fitted.
        ValueError
            If a review setting is outside [0, 1], the classifier has no ``predict_proba``, or
            ``X`` is empty or does not match the kit (see :meth:`transform`).

        Examples
        --------
        A small kit of random numbers stands in for a donor's (see
        :class:`~skdcsae.RecipientLabeler` for one exported by a trained donor):

        >>> from sklearn.datasets import load_digits
        >>> from skdcsae import RecipientLabeler
        >>> from skdcsae.kit._examples import example_kit
        >>> X, y = load_digits(n_class=2, return_X_y=True)
        >>> labeler = RecipientLabeler(example_kit(), device="cpu").fit()
        >>> result = labeler.label(X[100:], review_fraction=0.1)
        >>> result.n_flagged, len(result.labels)
        (26, 260)
        >>> bool(result.confidence[result.review_order[0]] <= result.confidence.min())
        True
        """
        check_is_fitted(self, "encoder_")
        if review_fraction is not None:
            review_fraction = _check_fraction(review_fraction, "review_fraction")
        if min_confidence is not None:
            min_confidence = _check_fraction(min_confidence, "min_confidence")
        if not hasattr(self.classifier_, "predict_proba"):
            raise ValueError(
                f"label() needs probabilities, but the classifier "
                f"{type(self.classifier_).__name__} has no predict_proba; use the default "
                "classifier or one with predict_proba."
            )
        check_is_fitted(self, "encoder_")
        X = self._check_X(X)
        step = self.batch_size
        batches = []
        for start in range(0, len(X), step):  # the only encoding pass, batch by batch
            batches.append(self._member_features(X[start : start + step]))
            if progress is not None:
                progress(len(batches[-1][0]))
        members = [np.concatenate(parts) for parts in zip(*batches, strict=True)]
        if len(members) == 1:
            features = members[0]
            proba = self.classifier_.predict_proba(features)
            labels = self.classifier_.predict(features)
        else:  # an ensemble kit: the members' probabilities averaged
            features = np.hstack(members)
            proba = average_outputs(self.classifiers_, members, "predict_proba")
            labels = self.classes_[proba.argmax(axis=1)]
        columns = np.searchsorted(self.classes_, labels)
        confidence = proba[np.arange(len(labels)), columns]
        needs_review, order = review_mask(
            confidence, review_fraction=review_fraction, min_confidence=min_confidence
        )
        return LabellingResult(
            labels=labels,
            proba=proba,
            classes=self.classes_,
            confidence=confidence,
            needs_review=needs_review,
            review_order=order,
            features=features,
            review_fraction=review_fraction,
            min_confidence=min_confidence,
        )
