"""RecipientLabeler: label recipient images with a donor kit (no donor images needed)."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from .._compat import HasMethods, Interval, _fit_context
from .._device import resolve_device
from .._docstrings import Substitution, shared_docs
from .._inference import encode_in_batches, head_features, scaled_tensor
from .._validation import flatten_images, output_dtype
from ..kit import DonorKit, load_donor_kit, verify_donor_kit
from ._calibration import _classifier_has, default_classifier
from ._dask import is_dask_array, map_method
from ._input_range import check_input_range
from ._members import (
    adaptation_pool,
    average_outputs,
    ensemble_predict,
    fit_member_classifier,
    rebuild_encoder,
    self_train,
)
from ._review import ReviewMixin
from ._shapes import _shape_message

__all__ = ["RecipientLabeler"]


@Substitution(**shared_docs)
class RecipientLabeler(ReviewMixin, ClassifierMixin, TransformerMixin, BaseEstimator):
    """Recipient side of DC-SAE: label images with a donor kit.

    ``fit()`` loads and verifies the kit (see :func:`skdcsae.load_donor_kit`), rebuilds the
    donor's encoder from its plain-data weights and trains ``classifier`` on the donor's latent
    features. ``predict(X)`` encodes the recipient's images with that encoder -- in batches,
    with the donor's preprocessing -- and classifies the features. The recipient never sees a
    donor image and needs no GPU.

    An ensemble kit gets one encoder and classifier per member; their outputs are averaged
    (:mod:`skdcsae.recipient._members`).

    Parameters
    ----------
    kit : str, path-like or DonorKit, default=None
        The donor kit file, or a :class:`~skdcsae.DonorKit` (checked again: its content must
        still match its digest, and its signature ``key``). Required; the default exists for
        scikit-learn's API only.
    classifier : estimator, default=None
        Any scikit-learn classifier, cloned and trained on the kit's features (with the kit's
        row weights). None means the paper's ``SVC()`` with calibrated probabilities: Platt's
        sigmoid fitted on 5-fold out-of-fold decision values of the kit's features
        (:class:`~sklearn.calibration.CalibratedClassifierCV`, ``ensemble=False``; labels are
        the most probable class). See :doc:`/reviewing`. Without ``predict_proba``,
        :meth:`label` is unavailable.
    device : str, default="auto"
        Where the encoder runs: ``"auto"`` (CUDA if available, else MPS, else CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    batch_size : int, default=256
        Images encoded at a time. Only one batch is converted to float at once, so memory
        does not grow with the number of images.
    key : str or bytes, default=None
        Shared secret: the kit's HMAC-SHA256 signature must verify with it, and unsigned kits
        are refused. Like every parameter it shows in ``get_params()`` and the estimator's
        ``repr``: do not log those when the key is secret.
    range_tolerance : float or None, default=0.1
        For image kits (min-max preprocessing), refuse images whose values leave the donor's
        input range by more than this fraction of its width, or that look rescaled to [0, 1]
        while the donor's images were not (e.g. uint8 0-255). None switches the check off.
    self_training : float or None, default=0.5
        What recipient images given to ``fit`` add to the classifier. With a float, the
        classifier trained on the kit labels them, and is trained again on the kit's rows plus
        the recipient's confident ones: of those whose probability is at least this value,
        the same number per class (at most 2,000), the most confident. With ``max_iter``
        above 1, the retrained classifier labels them again and chooses again, until its
        choice no longer changes or for ``max_iter`` rounds. The guesses come from the
        default calibrated SVC when ``classifier`` has no ``predict_proba``. This adapts the
        decision boundary to the recipient's population; the encoder is unchanged. It costs
        one more pass of the encoder over ``X`` (over 100,000 of its images, evenly spaced,
        when it has more) and a classifier fit per round. With None, ``X`` is only checked.
        ``fit()`` without images trains on the kit alone either way.
    max_iter : int, default=1
        Rounds of ``self_training`` at most. One round labels the recipient's images once and
        retrains once; more rounds repeat that with the retrained classifier, stopping early
        once a round chooses what the round before chose.
    random_state : int, RandomState instance or None, default=None
        Shuffles the kit's rows into the default classifier's calibration folds. None keeps
        the kit's order: no randomness, the same kit always gives the same probabilities.

    Attributes
    ----------
    kit_ : DonorKit
        The verified kit.
    encoder_ : torch.nn.Module
        The rebuilt encoder, in eval mode on ``device_`` (the first member's, for an ensemble).
    classifier_ : estimator
        The classifier trained on the kit's features (the first member's, for an ensemble).
    encoders_ : list of torch.nn.Module
        One encoder per kit member.
    classifiers_ : list of estimator
        One classifier per kit member, trained on that member's features (and, with
        ``self_training``, the recipient's pseudo-labelled features).
    n_pseudo_labelled_ : ndarray of shape (n_members,)
        Recipient images that joined each member's classifier with a pseudo-label (zeros
        without images at ``fit`` or with ``self_training=None``).
    n_iter_ : ndarray of shape (n_members,)
        Rounds of self-training that retrained each member's classifier (zeros without
        images at ``fit`` or with ``self_training=None``).
    classes_ : ndarray of shape (n_classes,)
        Class labels (from the kit).
    n_features_in_ : int
        Values per image the encoder takes (``C * H * W``).
    image_shape_ : tuple of int or None
        ``(C, H, W)`` the encoder takes, or None for a tabular kit.
    device_ : str
        The device the encoder runs on.

    See Also
    --------
    skdcsae.DCSAETransformer.export_donor_kit : how the donor makes the kit.
    skdcsae.load_donor_kit : load and inspect a kit.

    Notes
    -----
    ``fit(X, y)`` never learns from ``y``: the labels stay the kit's. ``X`` is checked against
    the kit's input shape and range and, with ``self_training``, its confident images join
    the classifier's training with the kit's guesses (semi-supervised learning on the
    recipient's own images, which never leave the recipient). ``cross_val_score`` and
    ``GridSearchCV`` on labelled recipient data therefore measure the adapted labeler;
    ``fit()`` alone, or ``self_training=None``, trains on the kit only.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import DCSAETransformer, RecipientLabeler
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> X = X.reshape(-1, 8, 8)  # 8x8 images
    >>> donor = DCSAETransformer(max_epochs=5, min_steps=0, random_state=0).fit(X[:100], y[:100])
    >>> path = os.path.join(tempfile.mkdtemp(), "kit.joblib")
    >>> _ = donor.export_donor_kit(path, X[:100], y[:100])
    >>> recipient = RecipientLabeler(path, device="cpu").fit()
    >>> recipient.predict(X[100:105]).shape
    (5,)
    >>> bool(recipient.score(X[100:], y[100:]) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "kit": [str, os.PathLike, DonorKit, None],
        "classifier": [HasMethods(["fit", "predict"]), None],
        "device": [str, torch.device, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "key": [str, bytes, None],
        "range_tolerance": [Interval(Real, 0, None, closed="left"), None],
        "self_training": [Interval(Real, 0, 1, closed="neither"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kit=None,
        classifier=None,
        *,
        device="auto",
        batch_size=256,
        key=None,
        range_tolerance=0.1,
        self_training=0.5,
        max_iter=1,
        random_state=None,
    ):
        self.kit = kit
        self.classifier = classifier
        self.device = device
        self.batch_size = batch_size
        self.key = key
        self.range_tolerance = range_tolerance
        self.self_training = self_training
        self.max_iter = max_iter
        self.random_state = random_state

    # --- fitting ----------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X=None, y=None):
        """Load and verify the kit, rebuild the encoder and train the classifier on the kit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W), default=None
            Optional recipient images (unlabelled): checked against the kit's input shape and
            range and, with ``self_training``, pseudo-labelled into the classifier's training.
        y : None
            Ignored: labels come from the kit, and from the kit's guesses for ``X``.

        Returns
        -------
        self : RecipientLabeler
            The fitted labeler.

        Raises
        ------
        DonorKitError
            If the kit file is not a valid, intact donor kit, is unsafe to load, or fails
            its signature check under ``key``.
        ValueError
            If no ``kit`` is given, ``y`` has labels the kit does not know, or (when ``X``
            is given) ``X`` does not have the kit's input shape (image size, channel count or
            feature count), or, with ``range_tolerance`` set, its values leave the donor's input
            range or look rescaled to [0, 1].
        """
        if self.kit is None:
            raise ValueError(
                "RecipientLabeler needs a donor kit: RecipientLabeler(kit='donor_kit.joblib'), "
                "or a DonorKit returned by load_donor_kit / export_donor_kit."
            )
        if isinstance(self.kit, DonorKit):
            kit = verify_donor_kit(self.kit, key=self.key)
        else:
            kit = load_donor_kit(self.kit, key=self.key)
        device = resolve_device(self.device)
        encoders, classifiers = [], []
        for member in kit.members:
            encoders.append(rebuild_encoder(member, device))
            if self.classifier is None:
                labels = kit.classes[member.label_index]
                classifier = default_classifier(labels, random_state=self.random_state)
            else:
                classifier = clone(self.classifier)
            fit_member_classifier(classifier, member, kit.classes)
            classifiers.append(classifier)

        self.kit_ = kit
        self.encoders_ = encoders
        self.classifiers_ = classifiers
        self.encoder_ = encoders[0]
        self.device_ = device
        self.classifier_ = classifiers[0]
        self.classes_ = classifiers[0].classes_
        self.n_features_in_ = kit.n_features_in
        self.image_shape_ = kit.image_shape
        if y is not None:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
        if X is not None:
            X = self._check_X(X)
        if y is not None:
            self._check_y(X, y)
        self.n_pseudo_labelled_ = np.zeros(len(kit.members), dtype=int)
        self.n_iter_ = np.zeros(len(kit.members), dtype=int)
        if X is not None and self.self_training is not None and len(X):
            for m, features in enumerate(self._member_features(X[adaptation_pool(len(X))])):
                _, labels, self.n_iter_[m] = self_train(
                    classifiers[m],
                    kit.members[m],
                    kit.classes,
                    features,
                    threshold=self.self_training,
                    max_iter=self.max_iter,
                    random_state=self.random_state,
                )
                self.n_pseudo_labelled_[m] = len(labels)
        return self

    def _check_y(self, X, y) -> None:
        """Labels passed to ``fit`` are not learned from, but must make sense with the kit."""
        if X is not None:
            check_consistent_length(X, y)
        unknown = ~np.isin(y, self.classes_)
        if np.any(unknown):
            raise ValueError(
                f"y has labels {np.unique(y[unknown])[:5]!r} that the donor kit does not know "
                f"(its classes are {self.classes_!r}); the labeler can only predict the kit's "
                "classes. Map your labels to the kit's, or leave y out."
            )

    # --- input checks -----------------------------------------------------------------------
    def _check_X(self, X):
        """Flatten and validate recipient images against the kit; no float copy of X."""
        kit = self.kit_
        expected = kit.image_shape
        ndim = len(X.shape) if hasattr(X, "shape") and not sparse.issparse(X) else None
        if ndim in (3, 4):
            found = (1, *X.shape[1:]) if ndim == 3 else tuple(X.shape[1:])
            found = tuple(int(s) for s in found)
            if expected is None:
                raise ValueError(
                    f"X holds images of shape {found} but this kit's encoder is for tabular "
                    f"data with {kit.n_features_in} features per row."
                )
            if found != expected:
                raise ValueError(_shape_message(found, expected))
        X, _ = flatten_images(X, expected)
        # Numeric, finite, dense, 2-d, non-empty; keeps uint8/float32 as they are (no copy).
        X = check_array(X, dtype="numeric", estimator=self, input_name="X")
        if X.shape[1] != kit.n_features_in:
            what = (
                f"images of shape (C, H, W) = {expected}, flattened"
                if expected is not None
                else "tabular rows"
            )
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{kit.n_features_in} features as input: the kit's encoder takes {what}. Pass "
                "data of the donor's shape (same image size and channel count)."
            )
        check_input_range(X, self.kit_, self.range_tolerance, self.batch_size)
        return X

    # --- encoding ---------------------------------------------------------------------------
    def _encode(self, X, encoder=None) -> tuple[np.ndarray, np.ndarray]:
        """Every head's means and log-variances of validated rows, ``(n, n_heads, d)`` each."""
        kit = self.kit_
        shape = kit.image_shape if kit.image_shape is not None else (kit.n_features_in,)

        def to_tensor(batch):
            return scaled_tensor(batch, kit.input_offset, kit.input_scale, shape)

        encoder = self.encoder_ if encoder is None else encoder
        return encode_in_batches(encoder, X, to_tensor, self.device_, batch_size=self.batch_size)

    def _member_features(self, X) -> list[np.ndarray]:
        """Each member's latent features of validated rows, as the donor's transformer gives."""
        mode = self.kit_.feature_mode
        return [
            head_features(
                *self._encode(X, encoder), feature_mode=mode, sampling_seed=m.sampling_seed
            )
            for encoder, m in zip(self.encoders_, self.kit_.members, strict=True)
        ]

    def _features(self, X) -> np.ndarray:
        """Latent features of validated rows (the members' side by side, for an ensemble)."""
        features = self._member_features(X)
        return features[0] if len(features) == 1 else np.hstack(features)

    def _classify(self, X, method: str):
        """The classifier's ``method`` on the features; an ensemble's members averaged."""
        check_is_fitted(self, "encoder_")
        if is_dask_array(X):  # lazily, block by block; the kit is loaded once per worker
            return map_method(self, X, method)
        if len(self.classifiers_) == 1:
            return getattr(self.classifier_, method)(self.transform(X))
        features = self._member_features(self._check_X(X))
        if method == "predict":
            return ensemble_predict(self.classifiers_, features, self.classes_)
        if method == "predict_log_proba":
            return np.log(average_outputs(self.classifiers_, features, "predict_proba"))
        return average_outputs(self.classifiers_, features, method)

    def transform(self, X):
        """Encode recipient images into the kit's feature space.

        %(params_X_recipient)s

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            All heads' means (``"means"`` kits) or positive-head samples (``"paper"`` kits),
            exactly what the donor's transformer gives for the same images; for a kit of
            several members, each member's features side by side. float32 for float32 input,
            float64 otherwise.

        %(raises_kit_shape)s
        """
        check_is_fitted(self, "encoder_")
        dtype = output_dtype(X)
        return self._features(self._check_X(X)).astype(dtype, copy=False)

    def encode(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Every head's latent means and log-variances for recipient images.

        %(params_X_recipient)s

        Returns
        -------
        mus, logvars : ndarray of shape (n_samples, n_heads, n_components)
            float32. Head ``k`` belongs to ``classes_[k]``; :meth:`transform` concatenates the
            means of a ``"means"`` kit.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            For the reasons :meth:`transform` gives, or if the kit has several members
            (each has its own heads; use :meth:`transform`).
        """
        check_is_fitted(self, "encoder_")
        if len(self.encoders_) > 1:
            raise ValueError("encode() reads one encoder; this kit has several: use transform().")
        return self._encode(self._check_X(X))

    # --- prediction -------------------------------------------------------------------------
    def predict(self, X):
        """Label recipient images.

        %(params_X_recipient_lazy)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted classes. For a Dask array, a lazy Dask array with ``X``'s row chunks,
            computed block by block; the kit is sent once and loaded and checked once per
            worker process (see :doc:`/scale`).

        %(raises_kit_shape)s
        """
        return self._classify(X, "predict")

    @available_if(_classifier_has("predict_proba"))
    @Substitution(**shared_docs)
    def predict_proba(self, X):
        """Class probabilities, when the classifier has ``predict_proba``.

        %(params_X_recipient_lazy)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; a lazy Dask array for a Dask array.

        %(raises_kit_shape)s
        """
        return self._classify(X, "predict_proba")

    @available_if(_classifier_has("predict_log_proba"))
    @Substitution(**shared_docs)
    def predict_log_proba(self, X):
        """Log class probabilities, when the classifier has ``predict_log_proba``.

        %(params_X_recipient_lazy)s

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``; a lazy Dask array for a Dask
            array.

        %(raises_kit_shape)s
        """
        return self._classify(X, "predict_log_proba")

    @available_if(_classifier_has("decision_function"))
    @Substitution(**shared_docs)
    def decision_function(self, X):
        """Decision scores, when the classifier has ``decision_function``.

        %(params_X_recipient_lazy)s

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The classifier's decision scores; a lazy Dask array for a Dask array.

        %(raises_kit_shape)s
        """
        return self._classify(X, "decision_function")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags
