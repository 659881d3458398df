"""DCSAETransformer: the supervised VAE with one latent head per class (DC-SAE)."""

from __future__ import annotations

from dataclasses import KW_ONLY
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import _BaseLatentTransformer, estimator_parameters
from ._compat import Interval, StrOptions, _fit_context
from ._docstrings import Substitution, shared_docs
from ._export import _DonorKitExportMixin
from ._inference import DONOR_OFFSET, head_features, paper_sample
from ._nn import _DCSAENet, auto_alpha, auto_latent_dim
from ._paper import PAPER_PARAMS
from ._self_training import balanced_pseudo_labels
from ._validation import unlabelled_mask

__all__ = ["PAPER_PARAMS", "DCSAETransformer"]


@Substitution(**shared_docs)
@estimator_parameters
class DCSAETransformer(_DonorKitExportMixin, _BaseLatentTransformer):
    """Donor-side DC-SAE: a VAE with one Gaussian latent head per class.

    ``fit(X, y)`` trains the network with the DC-SAE loss of Padhye et al. (CIKM 2023,
    section 4.4), generalised to K classes::

        L = kl_weight * L_kl + alpha * L_mse + beta * L_rep

    where the decoder reconstructs ``x`` from a sample of the true-label head (``L_mse``, squared
    error summed over pixels), every wrong-label head is pulled to N(0, I) (``L_kl``), and the
    true head's mean is pushed at least ``rho`` (squared distance) from every wrong head's mean
    (``L_rep``). ``transform(X)`` encodes images into latent features for a downstream
    classifier such as :class:`~sklearn.svm.SVC`.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Latent dimensions per class head. ``"auto"`` widens the latent with the donor's data:
        one dimension per five training images of the smallest class, at least 8 and at most
        16 (8 up to 44 images per class, 16 from 80). With ``self_training``, the second fit
        counts the pseudo-labelled images too. The width used is ``n_components_``. The paper
        uses 2.
    alpha : float or "auto", default="auto"
        Weight of the reconstruction error, which is summed over the input's values.
        ``"auto"`` is 10 (the paper's PneumoniaMNIST value) up to 784 values per image (one
        28x28 grey image), and ``10 * 784 / values`` beyond: a 64x64 or an RGB image's
        reconstruction then weighs what a 28x28 grey image's does against the latent terms.
        The value used is ``alpha_``. Paper: 10 for PneumoniaMNIST, 20 for APTOS/COVID.
    beta : float, default=10.0
        Weight of the repulsion term.
    rho : float or None, default=None
        Repulsion margin: the squared distance beyond which heads no longer repel. None means
        ``2.5 * n_components_``, a fixed multiple of the prior's squared radius (5 at the
        paper's 2 dimensions, the paper's value).
    kl_weight : float, default=1.0
        Weight of the KL term on the wrong-class heads.
    feature_mode : {"means", "paper"}, default="means"
        What ``transform`` returns.

        - ``"means"``: the means of *all* heads, concatenated (``K * n_components_`` features).
          Deterministic and label-free, so donor and recipient features live in the same space.
        - ``"paper"``: Algorithm 1 of the paper (binary only). ``fit_transform(X, y)`` returns a
          sample from each image's true-label head; ``transform(X)`` a sample from the positive
          head (``classes_[1]``). Samples are seeded from ``random_state``, so a Pipeline
          reproduces the paper exactly. Donor negatives then sit far from the origin while
          recipient negatives (read from the positive head, whose wrong-class output is pulled
          to N(0, I)) sit near it: the two feature sets are not in the same space, which is why
          this mode scores lower and is not the default.
    %(image_shape)s
    conv_channels : "auto" or tuple of int, default="auto"
        Channels of the conv blocks (3x3 conv, norm, LeakyReLU 0.1, 2x2 max-pool). ``"auto"``
        suits the image size: as many blocks as halve the shorter side to about 7 pixels
        (2 for 28x28, 5 for 224x224), channels doubling from 32 (at most 128) and 16 in the
        last block. The authors' network is ``(128, 64, 32, 16)``.
    dense_sizes : "auto" or tuple of int, default="auto"
        Widths of the dense layers between the conv blocks (or the input, for tabular data)
        and the latent heads; the decoder mirrors them. ``"auto"`` is ``(256,)``; the authors'
        is ``(2048, 1000, 250)``.
    norm : {"batch", "group", "instance", "none"}, default="batch"
        Normalisation in the conv blocks. ``"batch"`` is the paper's and stores running means
        and variances of the training data in the encoder. ``"group"`` (GroupNorm, up to 8
        groups) and ``"instance"`` (GroupNorm with one group per channel) normalise each
        image on its own and store no data statistics (the user guide compares them).
        ``dp=True`` needs ``"group"``, ``"instance"`` or ``"none"`` for
        images (tabular data uses an MLP without normalisation layers, so ``norm`` does not
        matter there).
    dp : bool, default=False
        Train with differential privacy (DP-SGD, through Opacus; install it with
        ``pip install "skdcsae[privacy]"``). Each step draws a random subset of the images
        (each one independently with probability ``batch_size / n_samples``), limits how much
        any single image can change the weights (its gradient is clipped to ``max_grad_norm``),
        and adds Gaussian noise. The guarantee, reported in ``privacy_``, covers the
        encoder/decoder weights that training produces: whoever sees them learns almost
        nothing about whether any one image was in the training set. It does **not** cover
        features computed afterwards: the donor features in an exported kit are a function of
        the donor images themselves and are protected only by the export's own release
        settings. Nor does it cover the input scaling learned in ``fit`` (``input_range_``,
        ``input_offset_``, ``input_scale_``, computed exactly from the data): for images these
        are the pixel range; for tabular data, scale it with public bounds first and pass
        ``scaling=None``. Needs ``norm="group"``, ``"instance"`` or ``"none"`` for images
        (BatchNorm mixes the samples of a batch) and ``early_stopping=False`` (the validation
        split and the choice of the best epoch are outside the accounting). Exactly one of
        ``target_epsilon`` and ``noise_multiplier`` must be given. The batch sampling and
        the noise come from torch's seeded generator (not Opacus' cryptographically secure
        mode), so that ``random_state`` reproduces a fit: treat the ``random_state`` of a
        private fit as a secret, since whoever knows it can regenerate the noise.
    target_epsilon : float, default=None
        Privacy budget epsilon to reach after ``max_epochs`` epochs (smaller is more private;
        1-10 is the usual range). The noise multiplier is then computed with Opacus' RDP
        accountant for sample rate ``batch_size / n_samples``. Only with ``dp=True``.
    target_delta : float, default=None
        The delta of the (epsilon, delta) guarantee: the probability with which it may fail.
        ``None`` means ``min(1e-5, 1 / (10 * n_samples))``, well below ``1 / n_samples`` as
        it must be (a mechanism that publishes each record with probability delta satisfies
        (0, delta)-DP). Only with ``dp=True``.
    noise_multiplier : float, default=None
        Standard deviation of the gradient noise relative to ``max_grad_norm``, given instead
        of ``target_epsilon``; the epsilon it gives is reported in ``privacy_``. ``0`` only
        clips (no privacy: epsilon is infinite). Only with ``dp=True``.
    max_grad_norm : float, default=1.0
        Per-sample gradient clipping bound (L2 norm over all weights) used with ``dp=True``.
    %(scaling)s
    lr : float, default=1e-3
        Adam learning rate. (The paper uses 1e-4 with batch size 1; batched training needs a
        larger step.)
    max_epochs : int, default=50
        Fewest training epochs (the paper's PneumoniaMNIST setting); see ``min_steps``.
    min_steps : int, default=1500
        Fewest optimiser steps: training runs ``max(max_epochs, ceil(min_steps /
        steps_per_epoch))`` epochs, so that a small donor is trained as long as a large one
        (with 10 images per class, 50 epochs are only 100 steps). 0 trains exactly
        ``max_epochs`` epochs, as the paper.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` decays the learning rate from ``lr`` to 0 over all the training steps
        (per batch); ``"constant"`` keeps ``lr`` (the paper). With ``dp=True`` the rate stays
        constant (Opacus' optimizer takes no torch scheduler).
    augment : bool or dict, default=True
        Jitter every training image on the fly with a small random affine (rotation up to
        10 degrees, shift up to 7%% of the side, scale up to 5%%, bilinear, border padding;
        no flips, since laterality matters in medical images) and then a random gamma curve
        on the image's own intensity range (exponent ``exp(U(-0.4, 0.4))``, 0.67 to 1.49),
        drawn from the seeded generator. A dict overrides
        ``{"rotation": 10.0, "shift": 0.07, "scale": 0.05, "gamma": 0.4}``; ``"gamma": 0``
        is the affine alone. Images only (tabular data is never augmented); ``False`` is the
        paper's setting.
    self_training : float or None, default=0.5
        What rows labelled ``-1`` (unlabelled donor images, scikit-learn's semi-supervised
        convention) add to the fit. With a float, a first fit on the labelled rows labels them
        with a calibrated SVC on its features, and the fit is repeated on the labelled rows
        plus pseudo-labelled ones: of those whose probability is at least this value, the
        same number per class, the most confident (the fit then costs two trainings). With
        None they only set the input scaling. A fit without ``-1`` rows is the same either
        way.
    batch_size : int, default=16
        Mini-batch size. The paper trains with batch size 1, which is slow.
    %(early_stopping)s
    %(runtime)s
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the reparameterisation noise, the
        ``"paper"`` feature samples and, with ``dp=True``, the Poisson sampling of batches and
        the gradient noise. The same seed gives the same output on the CPU with the same
        number of torch threads. A kit of a ``dp=True`` fit does not record ``random_state``
        (whoever knows it can regenerate the noise); keep its integer seed secret, or None.
    %(verbose)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``; head ``k`` belongs to ``classes_[k]``.
    n_components_ : int
        Latent dimensions per head of this fit: ``n_components``, or its ``"auto"`` width.
    alpha_ : float
        Reconstruction weight of this fit: ``alpha``, or its ``"auto"`` value.
    %(fitted_attributes)s
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    n_pseudo_labelled_ : int
        Unlabelled rows that joined the training with a pseudo-label (0 without ``-1`` rows
        or with ``self_training=None``).
    history_ : skorch.history.History
        Per-epoch ``train_loss`` and the loss terms ``train_mse``, ``train_kl``, ``train_rep``.
    privacy_ : dict or None
        With ``dp=True``, the guarantee of the trained weights, plain data only:
        ``mechanism`` ("DP-SGD"), ``epsilon``, ``delta``, ``noise_multiplier``,
        ``max_grad_norm``, ``sample_rate``, ``epochs``, ``steps``, ``accountant`` ("rdp") and
        ``library`` ("opacus <version>"). ``None`` with ``dp=False``.

    Notes
    -----
    ``DCSAETransformer(**skdcsae.PAPER_PARAMS)`` is the paper's exact setting: 2 latent
    dimensions, margin 5, the authors' network, learning rate 1e-4 with batch size 1, 50
    epochs, no schedule or augmentation, and Algorithm 1's features.

    See Also
    --------
    skdcsae.RecipientLabeler : labels recipient images from an exported donor kit.

    %(paper_reference)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from skdcsae import DCSAETransformer
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(image_shape=(8, 8), max_epochs=5, min_steps=0, random_state=0)
    >>> model = make_pipeline(dcsae, SVC()).fit(X[:120], y[:120])
    >>> dcsae.n_components_  # "auto": one per 5 images of the smallest class, 8 to 16
    11
    >>> dcsae.transform(X[:3]).shape  # 11 latent dimensions per class head
    (3, 22)
    >>> bool(model.score(X[120:], y[120:]) > 0.9)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseLatentTransformer._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "beta": [Interval(Real, 0, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "rho": [Interval(Real, 0, None, closed="neither"), None],
        "self_training": [Interval(Real, 0, 1, closed="neither"), None],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
        "feature_mode": [StrOptions({"means", "paper"})],
        "dp": ["boolean"],
        "target_epsilon": [Interval(Real, 0, None, closed="neither"), None],
        "target_delta": [Interval(Real, 0, 1, closed="neither"), None],
        "noise_multiplier": [Interval(Real, 0, None, closed="left"), None],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither")],
    }
    _net_class = _DCSAENet

    n_components: int | str = "auto"
    _: KW_ONLY
    alpha: float | str = "auto"
    beta: float = 10.0
    rho: float | None = None
    kl_weight: float = 1.0
    feature_mode: str = "means"
    conv_channels: tuple | str = "auto"
    dense_sizes: tuple | str = "auto"
    dp: bool = False
    target_epsilon: float | None = None
    target_delta: float | None = None
    noise_multiplier: float | None = None
    max_grad_norm: float = 1.0
    min_steps: int = 1500
    lr_schedule: str = "cosine"
    augment: bool | dict = True
    self_training: float | None = 0.5
    batch_size: int = 16

    def _latent_dim(self) -> int:
        return self.n_components_

    def _latent_width(self, y_index: np.ndarray) -> int:
        """``n_components``, or its ``"auto"`` width for training rows of these classes."""
        if self.n_components == "auto":
            return auto_latent_dim(int(np.bincount(y_index).min()))
        return int(self.n_components)

    def _rho(self) -> float:
        return 2.5 * self.n_components_ if self.rho is None else float(self.rho)

    def _net_kwargs(self):
        kwargs = {
            "alpha": self.alpha_,
            "beta": float(self.beta),
            "rho": self._rho(),
            "kl_weight": float(self.kl_weight),
        }
        if self._dp_settings is not None:
            kwargs.update({k: v for k, v in self._dp_settings.items() if k != "library"})
        return kwargs

    def _schedule_callbacks(self, total_steps: int) -> list:
        # Opacus' DPOptimizer wraps the optimizer without torch's scheduler hooks
        return [] if self.dp else super()._schedule_callbacks(total_steps)

    def _training_net_class(self):
        if self._dp_settings is None:
            return _DCSAENet
        from ._nn._dp import _DPDCSAENet

        return _DPDCSAENet

    def _check_dp(self, n_samples: int) -> dict | None:
        """Validate the DP parameters; the DP-SGD settings of this fit (None with dp=False)."""
        from ._nn._dp import check_dp_parameters, dp_settings

        if not check_dp_parameters(self):
            return None

        return dp_settings(
            n_samples=n_samples,
            batch_size=self.batch_size,
            max_epochs=self._training_epochs(self._n_train(n_samples)),
            target_epsilon=self.target_epsilon,
            target_delta=self.target_delta,
            noise_multiplier=self.noise_multiplier,
            max_grad_norm=self.max_grad_norm,
        )

    def _privacy_report(self) -> dict | None:
        if self._dp_settings is None:
            return None
        from ._nn._dp import privacy_report

        return privacy_report(self._dp_settings, self.net_.privacy_spent_, self.n_iter_)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the DC-SAE on labelled donor images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Donor images (uint8, float32 or float64) or tabular features.
        y : array-like of shape (n_samples,)
            Class labels; at least two classes. ``-1`` marks an unlabelled image (numeric
            labels only, scikit-learn's semi-supervised convention): see ``self_training``.

        Returns
        -------
        self : DCSAETransformer
            The fitted transformer.

        %(raises_fit)s
            Also if ``y`` has fewer than two classes, or more than two with
            ``feature_mode="paper"``; and with ``dp=True``, if not exactly one of
            ``target_epsilon`` and ``noise_multiplier`` is given, if the images would be
            trained with ``norm="batch"``, or with ``early_stopping=True`` (and with
            ``dp=False``, if a DP-only parameter is set).
        ImportError
            If ``dp=True`` and Opacus is not installed.
        """
        X, y = self._validate_input(X, y, reset=True, require_y=True)
        labelled = ~unlabelled_mask(y)
        check_classification_targets(y[labelled])
        self.classes_, y_index = np.unique(y[labelled], return_inverse=True)
        if len(self.classes_) < 2:
            found = f"1 class ({self.classes_[0]!r})" if len(self.classes_) else "no labels"
            hint = (
                " (-1 marks unlabelled rows, scikit-learn's semi-supervised convention; "
                "recode a class named -1)"
                if not labelled.all()
                else ""
            )
            raise ValueError(
                f"DCSAETransformer needs labels of at least 2 classes; got {found}{hint}. "
                "The DC-SAE learns one latent head per class."
            )
        if self.feature_mode == "paper" and len(self.classes_) != 2:
            raise ValueError(
                f"feature_mode='paper' (the paper's Algorithm 1) is defined for two classes; "
                f"got {len(self.classes_)}. Use feature_mode='means' for more classes."
            )
        pseudo = self.self_training is not None and not labelled.all()
        if pseudo and self.dp:
            raise ValueError(
                "dp=True trains on the labelled rows only: pass self_training=None to keep "
                "the -1 rows for the input scaling, or leave them out."
            )
        self.n_components_ = self._latent_width(y_index)
        self._dp_settings = self._check_dp(int(labelled.sum()))
        self._fit_scaling(X)  # every donor image, labelled or not
        n_values = int(np.prod(self._module_input_shape()))  # what L_mse sums over
        self.alpha_ = auto_alpha(n_values) if self.alpha == "auto" else float(self.alpha)
        X_train, y_train = X[labelled], y_index
        self.n_pseudo_labelled_ = 0
        if pseudo:
            self._train(X_train, y_train, n_heads=len(self.classes_))
            keep, guessed = self._pseudo_labels(X_train, y_train, X[~labelled])
            X_train = np.concatenate([X_train, X[~labelled][keep]])
            y_train = np.concatenate([y_train, guessed[keep]])
            self.n_pseudo_labelled_ = int(keep.sum())
            self.n_components_ = self._latent_width(y_train)  # the rows the second fit sees
        self._train(X_train, y_train, n_heads=len(self.classes_))
        self.privacy_ = self._privacy_report()
        return self

    def _pseudo_labels(self, X_labelled, y_index, X_unlabelled):
        """``(keep, y_index)`` of unlabelled rows (see :func:`balanced_pseudo_labels`)."""
        return balanced_pseudo_labels(
            self._means(X_labelled),
            y_index,
            self._means(X_unlabelled),
            threshold=self.self_training,
            random_state=self._seed,
        )

    def _means(self, X: np.ndarray) -> np.ndarray:
        """Every head's means of validated rows (the ``"means"`` features)."""
        return head_features(*self._encode(X), feature_mode="means", sampling_seed=self._seed)

    def transform(self, X):
        """Encode images into latent features.

        %(params_X_fitted)s

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_classes * d) or (n_samples, d)
            All heads' means (``feature_mode="means"``), or samples from the positive head
            (``"paper"``), with ``d = n_components_`` latent dimensions per head. float32 for
            float32 input, float64 otherwise.

        %(raises_fitted)s
        """
        X, dtype = self._validate_transform_input(X)
        mus, logvars = self._encode(X)
        features = head_features(
            mus, logvars, feature_mode=self.feature_mode, sampling_seed=self._seed
        )
        return features.astype(dtype)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the training features.

        With ``feature_mode="paper"`` these are samples from each image's *true-label* head
        (Algorithm 1); otherwise the same as ``fit(X, y).transform(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Donor images or tabular features, as :meth:`fit` takes them.
        y : array-like of shape (n_samples,)
            Class labels, as :meth:`fit` takes them (``-1`` rows are refused in ``"paper"``
            mode).
        **fit_params : dict
            Unused; for API compatibility.

        Returns
        -------
        X_new : ndarray
            Training features.

        Raises
        ------
        ValueError
            For the reasons :meth:`fit` gives.
        """
        self.fit(X, y)
        if self.feature_mode != "paper":
            return self.transform(X)
        if unlabelled_mask(column_or_1d(y)).any():
            raise ValueError(
                "feature_mode='paper' samples each image's true-label head, which an "
                "unlabelled (-1) row does not have: use fit(X, y) then transform(X[y != -1])."
            )
        Xv, dtype = self._validate_transform_input(X)
        y_index = np.searchsorted(self.classes_, np.asarray(y).ravel())
        return self._true_head_samples(Xv, y_index).astype(dtype)

    def _true_head_samples(self, X: np.ndarray, y_index: np.ndarray) -> np.ndarray:
        """Algorithm 1's donor features: a seeded sample from each image's true-label head."""
        mus, logvars = self._encode(X)
        rows = np.arange(len(y_index))
        return paper_sample(
            self._seed, mus[rows, y_index], logvars[rows, y_index], offset=DONOR_OFFSET
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        %(params_input_features)s

        Returns
        -------
        names : ndarray of str
            ``dcsaetransformer_head{k}_z{j}`` for head ``k`` (class ``classes_[k]``) and latent
            dimension ``j``; ``dcsaetransformer_z{j}`` in ``"paper"`` mode.
        """
        check_is_fitted(self, "net_")
        prefix = type(self).__name__.lower()
        if self.feature_mode == "paper":
            names = [f"{prefix}_z{j}" for j in range(self.n_components_)]
        else:
            names = [
                f"{prefix}_head{k}_z{j}"
                for k in range(len(self.classes_))
                for j in range(self.n_components_)
            ]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
