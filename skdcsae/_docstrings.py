"""Parameter and attribute documentation shared by the estimators, written once.

Following imbalanced-learn's ``Substitution`` pattern: a docstring names a shared block as
``%(name)s`` and the class is decorated with ``@Substitution(**shared_docs)``, which fills the
class docstring and those of the methods it defines. Parameter blocks are indented for a class
docstring's parameter list (4 spaces for the name line, 8 for the text); the method blocks are
whole sections of a method docstring (8 and 12 spaces).
"""

from __future__ import annotations

import inspect

__all__ = ["Substitution", "plot_docs", "shared_docs"]


class Substitution:
    """Decorator: fill ``%(name)s`` placeholders of a docstring from keyword arguments.

    On a class it also fills the docstrings of the functions the class body defines; a method
    wrapped by a descriptor (``available_if``) takes its own decorator, under the descriptor.
    """

    def __init__(self, **params: str):
        self.params = params

    def _fill(self, obj) -> None:
        # A docstring without placeholders is left as written: its "%" needs no escaping.
        if obj.__doc__ and "%(" in obj.__doc__:
            obj.__doc__ = obj.__doc__ % self.params

    def __call__(self, obj):
        self._fill(obj)
        if isinstance(obj, type):
            for member in vars(obj).values():
                if inspect.isfunction(member):
                    self._fill(member)
        return obj


_IMAGE_SHAPE = """image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat input rows. Not needed when X is passed as
        ``(n, H, W)`` or ``(n, C, H, W)``. ``None`` with 2-d X means tabular data: an MLP
        encoder is used instead of the conv encoder."""

_SCALING = """scaling : {"auto", "minmax", "standard"} or None, default="auto"
        Input preprocessing learned in ``fit``. ``"minmax"`` maps the fit data's global
        [min, max] to [0, 1] (so uint8 images and float images in [0, 1] give the same
        features); ``"standard"`` standardises each feature. ``"auto"`` is ``"minmax"`` for
        images and ``"standard"`` for tabular data."""

_EARLY_STOPPING = """early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified when there are labels,
        seeded) and stop when the validation loss has not improved for ``n_iter_no_change``
        epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        Share of the fit data held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs."""

_RUNTIME = """callbacks : list of skorch callbacks, default=None
        Extra callbacks passed to the skorch net (``(name, callback)`` tuples or callbacks).
    device : str, default="auto"
        ``"auto"`` (CUDA if available, else MPS, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``. An unavailable device raises ``ValueError`` at fit."""

_VERBOSE = """verbose : int, default=0
        If non-zero, show one progress bar over the epochs and the per-epoch loss table."""

_FITTED = """n_features_in_ : int
        Number of features per sample (``C * H * W`` for images).
    image_shape_ : tuple of int or None
        ``(C, H, W)`` of the images, or None for tabular data.
    n_iter_ : int
        Number of epochs run.
    device_ : str
        The device the net was trained on.
    input_offset_, input_scale_ : ndarray
        The learned input scaling ``(x - input_offset_) / input_scale_``.
    input_range_ : tuple of float
        Minimum and maximum value seen in the fit data."""

_ARCHITECTURE_VAE = """conv_channels : tuple of int, default=(128, 64, 32, 16)
        Channels of the conv blocks (3x3 conv, norm, LeakyReLU 0.1, 2x2 max-pool), as in
        :class:`~skdcsae.DCSAETransformer`.
    dense_sizes : tuple of int, default=(2048, 1000, 250)
        Widths of the dense layers between the conv blocks (or the input) and the latent head.
        The decoder mirrors them.
    norm : {"batch", "group", "instance", "none"}, default="batch"
        Normalisation in the conv blocks (see :class:`~skdcsae.DCSAETransformer`)."""

_VAE_SCHEDULE = """min_steps : int, default=0
        Fewest optimiser steps: with a positive value training runs ``max(max_epochs,
        ceil(min_steps / steps_per_epoch))`` epochs (see
        :class:`~skdcsae.DCSAETransformer`). 0 trains exactly ``max_epochs`` epochs.
    lr_schedule : {"constant", "cosine"}, default="constant"
        ``"cosine"`` decays the learning rate from ``lr`` to 0 over all the steps.
    augment : bool or dict, default=False
        Jitter training images on the fly with a small random affine and gamma, as
        :class:`~skdcsae.DCSAETransformer` does by default."""

_VAE_TRAINING = (
    """lr : float, default=1e-3
        Adam learning rate.
    max_epochs : int, default=50
        Training epochs.
    """
    + _VAE_SCHEDULE
    + """
    batch_size : int, default=32
        Mini-batch size."""
)

_RAISES_NOT_FITTED = """Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted."""

_X_RECIPIENT = """Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Recipient images (uint8 or float) of the donor's shape"""

shared_docs = {
    "image_shape": _IMAGE_SHAPE,
    "scaling": _SCALING,
    "early_stopping": _EARLY_STOPPING,
    "runtime": _RUNTIME,
    "verbose": _VERBOSE,
    "fitted_attributes": _FITTED,
    # The VAE baselines' parameters from image_shape to device, in their docstring order.
    "vae_parameters": "\n    ".join(
        [_IMAGE_SHAPE, _ARCHITECTURE_VAE, _SCALING, _VAE_TRAINING, _EARLY_STOPPING, _RUNTIME]
    ),
    "paper_reference": """References
    ----------
    S. Padhye et al., "CAMARADERIE: Content-Agnostic Medical Image Annotation with
    Privacy-Preserving Data Sharing", CIKM 2023.""",
    # Whole sections of method docstrings: the X of a fitted estimator's methods and the
    # errors they raise, the recipient's images and the kit's shape checks.
    "params_X_fitted": """Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Images of the shape seen in ``fit``.""",
    "raises_fitted": _RAISES_NOT_FITTED
    + """
        ValueError
            If ``X`` does not have the number of features (or image shape) seen in ``fit``.""",
    "raises_fit": """Raises
        ------
        ValueError
            If a parameter is invalid (scikit-learn's ``InvalidParameterError`` is a
            ``ValueError``), ``X`` and ``image_shape`` disagree, ``X`` and ``y`` differ in
            length, or ``device`` names a device this machine does not have.""",
    "params_input_features": """Parameters
        ----------
        input_features : array-like of str or None
            Ignored; present for API consistency.""",
    "params_X_recipient": _X_RECIPIENT + ".",
    "params_X_recipient_lazy": _X_RECIPIENT
    + """,
            or a ``dask.array.Array`` of them.""",
    "raises_kit_shape": _RAISES_NOT_FITTED
    + """
        ValueError
            If ``X`` does not have the kit's input shape (image size, channel count or
            feature count), or, with ``range_tolerance`` set, its values leave the donor's input
            range or look rescaled to [0, 1].""",
}

#: The end of every plotting function's docstring (where it saves, what it returns, and the
#: missing-matplotlib error; the function's own errors follow), and the scatter plots' style.
plot_docs = {
    "scatter_style": """title : str, default=None
        Figure title.
    s : float, default=14
        Marker size.
    alpha : float, default=0.7
        Marker opacity.""",
    "plot_output": """path : str or path-like, default=None
        If given, save the figure there (PNG unless the extension says otherwise).

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install skdcsae[plots]``).""",
}
