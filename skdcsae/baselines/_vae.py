"""VAETransformer: the standard (unsupervised) VAE baseline."""

from __future__ import annotations

from sklearn.base import ClassNamePrefixFeaturesOutMixin

from .._compat import _fit_context
from ._base import _BaseVAE

__all__ = ["VAETransformer"]


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
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat input rows. Not needed when X is passed as
        ``(n, H, W)`` or ``(n, C, H, W)``. ``None`` with 2-d X means tabular data: an MLP
        encoder is used instead of the conv encoder.
    conv_channels : tuple of int, default=(128, 64, 32, 16)
        Channels of the conv blocks (3x3 conv, norm, LeakyReLU 0.1, 2x2 max-pool), as in
        :class:`~skdcsae.DCSAETransformer`.
    dense_sizes : tuple of int, default=(2048, 1000, 250)
        Widths of the dense layers between the conv blocks (or the input) and the latent head.
        The decoder mirrors them.
    norm : {"batch", "group", "instance", "none"}, default="batch"
        Normalisation in the conv blocks (see :class:`DCSAETransformer`).
    scaling : {"auto", "minmax", "standard"} or None, default="auto"
        Input preprocessing learned in ``fit``: ``"minmax"`` maps the fit data's global
        [min, max] to [0, 1], ``"standard"`` standardises each feature; ``"auto"`` is
        ``"minmax"`` for images and ``"standard"`` for tabular data.
    lr : float, default=1e-3
        Adam learning rate.
    max_epochs : int, default=50
        Training epochs.
    batch_size : int, default=32
        Mini-batch size.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (seeded) and stop when the validation loss
        has not improved for ``n_iter_no_change`` epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        Share of the fit data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks passed to the skorch net (``(name, callback)`` tuples or callbacks).
    device : str, default="auto"
        ``"auto"`` (CUDA if available, else MPS, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``. An unavailable device raises ``ValueError`` at fit.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the reparameterisation noise. The same seed
        gives the same output on the CPU.
    verbose : int, default=0
        If non-zero, show a progress bar and the per-epoch loss table.

    Attributes
    ----------
    n_features_in_ : int
        Number of features per sample (``C * H * W`` for images).
    image_shape_ : tuple of int or None
        ``(C, H, W)`` of the images, or None for tabular data.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module (``.encoder``,
        ``.decoder``).
    history_ : skorch.history.History
        Per-epoch ``train_loss`` and the loss terms ``train_mse`` and ``train_kl``.
    n_iter_ : int
        Number of epochs run.
    device_ : str
        The device the net was trained on.
    input_offset_, input_scale_ : ndarray
        The learned input scaling ``(x - input_offset_) / input_scale_``.
    input_range_ : tuple of float
        Minimum and maximum value seen in the fit data.

    See Also
    --------
    skdcsae.DCSAETransformer : the supervised VAE with one latent head per class.
    skdcsae.AnomalyVAETransformer : a VAE trained on one class; outputs reconstruction errors.

    References
    ----------
    S. Padhye et al., "CAMARADERIE: Content-Agnostic Medical Image Annotation with
    Privacy-Preserving Data Sharing", CIKM 2023.

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

    def __init__(
        self,
        n_components=2,
        *,
        alpha=1.0,
        kl_weight=1.0,
        image_shape=None,
        conv_channels=(128, 64, 32, 16),
        dense_sizes=(2048, 1000, 250),
        norm="batch",
        scaling="auto",
        lr=1e-3,
        max_epochs=50,
        batch_size=32,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        callbacks=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.kl_weight = kl_weight
        self.image_shape = image_shape
        self.conv_channels = conv_channels
        self.dense_sizes = dense_sizes
        self.norm = norm
        self.scaling = scaling
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Images of the shape seen in ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Latent means (deterministic). float32 for float32 input, float64 otherwise.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        ValueError
            If ``X`` does not have the number of features (or image shape) seen in ``fit``.
        """
        X, dtype = self._validate_transform_input(X)
        mus, _ = self._encode(X)
        return mus[:, 0].astype(dtype)
