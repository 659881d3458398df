"""The anomaly-detection VAE baseline (Padhye et al., CIKM 2023, section 5.2).

A VAE is trained on the positive class of the donor data only; a recipient image whose
reconstruction error exceeds a threshold is labelled negative. :class:`AnomalyVAETransformer`
outputs the reconstruction error (so it composes into pipelines and with scikit-learn's
threshold tools); :class:`AnomalyVAEClassifier` chooses the threshold on the donor data.
"""

from __future__ import annotations

from dataclasses import KW_ONLY
from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import roc_curve
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted

from .._base import estimator_parameters
from .._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from .._docstrings import Substitution, shared_docs
from .._validation import flatten_images
from ._base import _BaseVAE

__all__ = ["AnomalyVAEClassifier", "AnomalyVAETransformer"]


def _resolve_pos_label(pos_label, classes: np.ndarray):
    """``pos_label``, checked against ``classes``; None means the greatest label."""
    if pos_label is None:
        return classes[-1]
    if pos_label not in classes.tolist():
        raise ValueError(
            f"pos_label={pos_label!r} is not one of the labels in y: {classes.tolist()}."
        )
    return classes[classes.tolist().index(pos_label)]


@Substitution(**shared_docs)
@estimator_parameters
class AnomalyVAETransformer(_BaseVAE):
    """Anomaly-detection VAE: reconstruction error of a VAE trained on one class.

    The anomaly baseline of Padhye et al. (CIKM 2023, section 5.2). ``fit(X, y)`` trains a
    standard VAE (the network and loss of :class:`~skdcsae.VAETransformer`) on the images of
    class ``pos_label`` only; ``fit(X)`` without labels trains on all of X, as a one-class
    detector of "normal" data. ``transform(X)`` returns each image's reconstruction error::

        error(x) = ||x - decode(mu(x))||^2

    summed over pixels in the scaled input space ([0, 1] for images), decoded from the latent
    *mean* so the error is deterministic. Images unlike the training class reconstruct worse;
    :class:`AnomalyVAEClassifier` turns the error into labels with a threshold.

    Parameters
    ----------
    n_components : int, default=2
        Latent dimensions.
    alpha : float, default=1.0
        Weight of the reconstruction error in the VAE loss.
    kl_weight : float, default=1.0
        Weight of the KL term.
    pos_label : int, float, bool or str, default=None
        The class the VAE is trained on when ``y`` is given. None: the greatest label
        (``classes_[-1]``; ``classes_[1]`` for binary labels).
    %(vae_parameters)s
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the reparameterisation noise.
    %(verbose)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit`` (only when ``y`` was given).
    pos_label_ : object or None
        The class the VAE was trained on; None when fitted without labels.
    %(fitted_attributes)s
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.history.History
        Per-epoch ``train_loss``, ``train_mse`` and ``train_kl``.

    See Also
    --------
    AnomalyVAEClassifier : thresholds this transformer's error into labels.
    skdcsae.VAETransformer : the same VAE, with latent means as output.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import AnomalyVAETransformer
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> detector = AnomalyVAETransformer(image_shape=(8, 8), conv_channels=(16, 8),
    ...                                  dense_sizes=(64,), max_epochs=10, device="cpu",
    ...                                  random_state=0).fit(X, y)  # trains on the 1s only
    >>> errors = detector.transform(X)
    >>> errors.shape
    (360, 1)
    >>> bool(errors[y == 0].mean() > errors[y == 1].mean())  # the 0s reconstruct worse
    True
    """

    _: KW_ONLY
    pos_label: object = None

    _parameter_constraints: ClassVar[dict] = {
        **_BaseVAE._parameter_constraints,
        "pos_label": [Real, str, "boolean", None],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the VAE on the images of class ``pos_label`` (or on all of X without y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Images (uint8, float32 or float64) or tabular features.
        y : array-like of shape (n_samples,) or None
            Class labels; only the images of ``pos_label`` are used. None: use all of X.

        Returns
        -------
        self : AnomalyVAETransformer
            The fitted transformer.

        %(raises_fit)s
            Also if ``pos_label`` is not one of the labels in ``y``.
        """
        X, y = self._validate_input(X, y, reset=True)
        if y is None:
            self.pos_label_ = None
        else:
            check_classification_targets(y)
            self.classes_ = np.unique(y)
            self.pos_label_ = _resolve_pos_label(self.pos_label, self.classes_)
            X = X[y == self.pos_label_]
        return self._fit_vae(X)

    def transform(self, X):
        """Reconstruction error of each image.

        %(params_X_fitted)s

        Returns
        -------
        errors : ndarray of shape (n_samples, 1)
            ``||x - decode(mu(x))||^2`` in the scaled input space; high means unlike the
            training class. float32 for float32 input, float64 otherwise.

        %(raises_fitted)s
        """
        X, dtype = self._validate_transform_input(X)
        return self._reconstruction_error(X).astype(dtype).reshape(-1, 1)

    def get_feature_names_out(self, input_features=None):
        """Name of the output feature.

        %(params_input_features)s

        Returns
        -------
        names : ndarray of str
            ``["reconstruction_error"]``.
        """
        check_is_fitted(self, "net_")
        return np.asarray(["reconstruction_error"], dtype=object)


@Substitution(**shared_docs)
class AnomalyVAEClassifier(ClassifierMixin, BaseEstimator):
    """Anomaly-detection VAE as a binary classifier: threshold on the reconstruction error.

    The anomaly baseline of Padhye et al. (CIKM 2023, section 5.2) end to end. ``fit(X, y)``
    trains ``vae`` (an :class:`AnomalyVAETransformer`) on the donor images of class
    ``pos_label`` only, computes every donor image's reconstruction error, and chooses the
    threshold ``threshold_`` from them. ``predict`` labels an image ``pos_label`` when its
    error is at most ``threshold_`` and the other class when it exceeds it.

    The threshold is chosen on the *donor* data, which includes the positive images the VAE
    was trained on; their errors are lower than those of unseen positive images, so the
    threshold tends to be strict. For a cross-validated threshold, wrap this classifier in
    :class:`sklearn.model_selection.TunedThresholdClassifierCV` (it uses ``decision_function``).

    Parameters
    ----------
    vae : AnomalyVAETransformer or None, default=None
        The (unfitted) VAE to train; cloned in ``fit``. None: ``AnomalyVAETransformer()``
        with its defaults. Its own ``pos_label`` is replaced by this classifier's. The
        training settings live there: ``vae__device``, ``vae__random_state`` (seed it for
        reproducible results), ``vae__verbose``, ``vae__max_epochs``...
    threshold : {"balanced_accuracy", "percentile"} or float, default="balanced_accuracy"
        How ``threshold_`` is chosen from the donor data:

        - ``"balanced_accuracy"``: the error cut that maximises the balanced accuracy on the
          donor images (both classes; the midpoint between the largest error still labelled
          positive and the next larger error).
        - ``"percentile"``: the ``percentile``-th percentile of the positive donor images'
          errors (needs no negative images: a one-class rule).
        - a float: that fixed error value.
    percentile : float, default=95.0
        Percentile (0-100) of the positive class's errors used when
        ``threshold="percentile"``: about that share of positive donor images falls below it.
    pos_label : int, float, bool or str, default=None
        The class the VAE is trained on (the "normal" class of the anomaly detector). None:
        the greater label, ``classes_[1]``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels.
    pos_label_ : object
        The positive class.
    vae_ : AnomalyVAETransformer
        The fitted VAE.
    threshold_ : float
        Reconstruction errors above it are labelled as the negative class.
    n_features_in_ : int
        Number of features per sample.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit``, when X had string column names.

    See Also
    --------
    AnomalyVAETransformer : the reconstruction error as a transformer.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import AnomalyVAEClassifier, AnomalyVAETransformer
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> vae = AnomalyVAETransformer(image_shape=(8, 8), conv_channels=(16, 8),
    ...                             dense_sizes=(64,), max_epochs=10, device="cpu",
    ...                             random_state=0)
    >>> clf = AnomalyVAEClassifier(vae).fit(X[:200], y[:200])
    >>> clf.classes_.tolist(), clf.pos_label_.item()
    ([0, 1], 1)
    >>> clf.decision_function(X[200:203]).shape  # > 0 means classes_[1]
    (3,)
    >>> bool(clf.score(X[200:], y[200:]) > 0.8)
    True
    """

    _parameter_constraints: dict = {
        "vae": [HasMethods(["fit", "transform"]), None],
        "threshold": [
            StrOptions({"balanced_accuracy", "percentile"}),
            Interval(Real, None, None, closed="neither"),
        ],
        "percentile": [Interval(Real, 0, 100, closed="both")],
        "pos_label": [Real, str, "boolean", None],
    }

    def __init__(self, vae=None, *, threshold="balanced_accuracy", percentile=95.0, pos_label=None):
        self.vae = vae
        self.threshold = threshold
        self.percentile = percentile
        self.pos_label = pos_label

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Train the VAE on the positive donor images and choose the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Donor images or tabular features, passed to the VAE as given.
        y : array-like of shape (n_samples,)
            Binary labels: the VAE learns the images of ``pos_label``, the threshold
            separates them from the others.

        Returns
        -------
        self : AnomalyVAEClassifier
            The fitted classifier.

        %(raises_fit)s
            Also if ``y`` does not have exactly two classes, or ``pos_label`` is not one of
            them.
        """
        # The data checks (and n_features_in_, feature_names_in_) on the flat view; the VAE
        # gets X as given, so that it sees the image shape.
        _, y = validate_data(self, flatten_images(X, None)[0], y, dtype="numeric")
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) > 2:
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{type_of_target(y, input_name='y')}: y has {len(self.classes_)} classes."
            )
        if len(self.classes_) < 2:
            raise ValueError(
                f"AnomalyVAEClassifier needs labels of 2 classes; got 1 class "
                f"({self.classes_[0]!r})."
            )
        default = self.classes_[1]
        self.pos_label_ = _resolve_pos_label(
            default if self.pos_label is None else self.pos_label, self.classes_
        )
        vae = AnomalyVAETransformer() if self.vae is None else clone(self.vae)
        self.vae_ = vae.set_params(pos_label=self.pos_label_).fit(X, y)
        errors = self.vae_.transform(X)[:, 0].astype(np.float64)
        self.threshold_ = self._choose_threshold(errors, y == self.pos_label_)
        return self

    def _choose_threshold(self, errors: np.ndarray, is_pos: np.ndarray) -> float:
        if not isinstance(self.threshold, str):
            return float(self.threshold)
        if self.threshold == "percentile":
            return float(np.percentile(errors[is_pos], self.percentile))
        # A low error means positive: score = -error. roc_curve lists every distinct cut,
        # thresholds[0] = inf (nothing positive) and then errors in increasing order.
        fpr, tpr, thresholds = roc_curve(is_pos, -errors, drop_intermediate=False)
        cuts = -thresholds  # positive iff error <= cut
        best = 1 + int(np.argmax((tpr - fpr)[1:]))  # Youden's J = 2 * balanced accuracy - 1
        if best + 1 < len(cuts):
            return float((cuts[best] + cuts[best + 1]) / 2)
        return float(cuts[best])

    def decision_function(self, X):
        """Signed distance of the reconstruction error to the threshold.

        %(params_X_fitted)s

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``threshold_ - error`` when ``pos_label_`` is ``classes_[1]`` and
            ``error - threshold_`` otherwise, so that positive scores mean ``classes_[1]``,
            as scikit-learn's binary classifiers do.

        %(raises_fitted)s
        """
        check_is_fitted(self, "vae_")
        margin = self.threshold_ - self.vae_.transform(X)[:, 0].astype(np.float64)
        return margin if self.pos_label_ == self.classes_[1] else -margin

    def predict(self, X):
        """Label images: ``pos_label_`` when the error is at most ``threshold_``.

        %(params_X_fitted)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.

        %(raises_fitted)s
        """
        check_is_fitted(self, "vae_")
        errors = self.vae_.transform(X)[:, 0].astype(np.float64)
        negative = self.classes_[self.classes_ != self.pos_label_][0]
        return np.where(errors <= self.threshold_, self.pos_label_, negative)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
