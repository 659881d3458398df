"""VAETransformer: the standard (unsupervised) VAE baseline."""

from __future__ import annotations

from sklearn.base import ClassNamePrefixFeaturesOutMixin

from .._base import estimator_parameters
from .._compat import _fit_context
from .._docstrings import Substitution, shared_docs
from ._base import _BaseVAE

__all__ = ["VAETransformer"]


@Substitution(**shared_docs)
@estimator_parameters
class VAETransformer(ClassNamePrefixFeaturesOutMixin, _BaseVAE):
    """Standard VAE baseline: unsupervised latent means as features.

    The baseline of Padhye et al. (CIKM 2023, section 4.1): a variational autoencoder with a
    single Gaussian latent head, trained without labels on::

        L = alpha * ||x - x_hat||^2 + kl_weight * KL(N(mu, sigma^2) || N(0, I))

    (squared error summed over pixels, ``x_hat`` decoded from a reparameterised sample).
    ``transform(X)`` returns the latent means, so a downstream classifier (an SVC, as the
    paper's "VAE + SVM") can be trained on them. The network is the DC-SAE's
    (:class:`~skdcsae.DCSAETransformer`) with one head instead of one per class: the same
    conv or MLP encoder and decoder options, training loop, seeding and devices, so the two are
    directly comparable and interchangeable in a :class:`~sklearn.pipeline.Pipeline`.

    Parameters
    ----------
    n_components : int, default=2
        Latent dimensions (the paper uses 2).
    alpha : float, default=1.0
        Weight of the reconstruction error. With ``kl_weight=1`` the default is the plain
        evidence lower bound of a unit-variance Gaussian decoder (up to a factor 2).
    kl_weight : float, default=1.0
        Weight of the KL term that pulls the posterior to N(0, I).
    %(vae_parameters)s
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the reparameterisation noise. The same seed
        gives the same output on the CPU with the same number of torch threads.
    %(verbose)s

    Attributes
    ----------
    %(fitted_attributes)s
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module (``.encoder``,
        ``.decoder``).
    history_ : skorch.history.History
        Per-epoch ``train_loss`` and the loss terms ``train_mse`` and ``train_kl``.

    See Also
    --------
    skdcsae.DCSAETransformer : the supervised VAE with one latent head per class.
    skdcsae.AnomalyVAETransformer : a VAE trained on one class; outputs reconstruction errors.

    %(paper_reference)s

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from skdcsae import VAETransformer
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> vae = VAETransformer(image_shape=(8, 8), conv_channels=(16, 8), dense_sizes=(64,),
    ...                      max_epochs=5, device="cpu", random_state=0)
    >>> vae.fit_transform(X[:200]).shape  # unsupervised: no labels needed
    (200, 2)
    >>> list(vae.get_feature_names_out())
    ['vaetransformer0', 'vaetransformer1']
    >>> model = make_pipeline(vae, SVC()).fit(X[:200], y[:200])  # y only reaches the SVC
    >>> model.predict(X[200:203]).shape
    (3,)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the VAE (unsupervised).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Training images (uint8, float32 or float64) or tabular features.
        y : None
            Ignored; present for API consistency (a Pipeline passes its labels to the
            classifier after this step).

        Returns
        -------
        self : VAETransformer
            The fitted transformer.

        Raises
        ------
        ValueError
            If a parameter is invalid (scikit-learn's ``InvalidParameterError`` is a
            ``ValueError``), ``X`` and ``image_shape`` disagree, or ``device`` names a device
            this machine does not have.
        """
        X, _ = self._validate_input(X, reset=True)
        self._fit_vae(X)
        self._n_features_out = self.n_components
        return self

    def transform(self, X):
        """Encode images into the latent means.

        %(params_X_fitted)s

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Latent means (deterministic). float32 for float32 input, float64 otherwise.

        %(raises_fitted)s
        """
        X, dtype = self._validate_transform_input(X)
        mus, _ = self._encode(X)
        return mus[:, 0].astype(dtype)
