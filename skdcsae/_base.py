"""Shared machinery of the torch-backed estimators.

:class:`_TorchEstimatorMixin` holds what every estimator of the package needs, transformer or
classifier: the common parameters and their validation, input reshaping and scaling, device
resolution, seeding, building and training a private skorch net, and batched, deterministic
inference. :class:`_BaseLatentTransformer` adds what DC-SAE and the VAE baselines share: the
multi-head VAE module, loss terms logged per epoch, and encoding to latent means. Subclasses say
which skorch net trains them and what ``transform`` returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, LRScheduler, PassthroughScoring
from skorch.dataset import ValidSplit
from torch.optim.lr_scheduler import CosineAnnealingLR

from ._compat import Interval, StrOptions, validate_data
from ._device import resolve_device
from ._inference import batched_inference, encode_in_batches, scaled_tensor
from ._nn import MultiHeadVAE, auto_architecture, make_config
from ._nn._augment import check_augmentation
from ._progress import EpochProgressBar, log_line
from ._validation import check_image_shape, flatten_images, output_dtype

__all__ = ["_BaseLatentTransformer", "_TorchEstimatorMixin", "estimator_parameters"]


def _is_auto(value) -> bool:
    return isinstance(value, str) and value == "auto"


#: Class decorator of every estimator here: a dataclass writes the explicit ``__init__``
#: scikit-learn needs (each parameter stored unchanged, nothing else set; validation happens in
#: ``fit``), so shared parameters are declared once, in the base that owns them. It leaves
#: ``BaseEstimator``'s ``repr`` and identity comparison alone. Subclasses redeclare a field
#: to change its default; parameters after ``_: KW_ONLY`` are keyword-only.
estimator_parameters = dataclass(eq=False, repr=False)


def _seed_context(seed: int, device: str):
    """Fork torch's global RNG, seed it, and restore it afterwards (no global side effects)."""
    devices = []
    if device.startswith("cuda"):
        devices = [torch.device(device).index or 0]
    return torch.random.fork_rng(devices=devices)


@dataclass(eq=False, repr=False, kw_only=True)
class _TorchEstimatorMixin:
    """Input handling, seeding, device and skorch training shared by every estimator here.

    Mix in before the sklearn base classes, e.g.
    ``class Foo(_TorchEstimatorMixin, ClassifierMixin, BaseEstimator)``, and decorate the
    estimator with :data:`estimator_parameters`. The parameters below are keyword-only.
    """

    image_shape: tuple | None = None
    scaling: str | None = "auto"
    augment: bool | dict = False
    lr: float = 1e-3
    max_epochs: int = 50
    batch_size: int = 32
    early_stopping: bool = False
    validation_fraction: float = 0.1
    n_iter_no_change: int = 10
    callbacks: list | None = None
    device: str = "auto"
    random_state: int | np.random.RandomState | None = None
    verbose: int = 0

    _torch_parameter_constraints: ClassVar[dict] = {
        "image_shape": ["array-like", None],
        "scaling": [StrOptions({"auto", "minmax", "standard"}), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "device": [str, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # --- input handling --------------------------------------------------------------------
    def _validate_input(self, X, y=None, *, reset: bool, require_y: bool = False):
        """Flatten image arrays, run sklearn's checks, and record shapes when ``reset``."""
        expected = self.image_shape if reset else getattr(self, "image_shape_", None)
        X, found_shape = flatten_images(X, expected)
        if require_y or (reset and y is not None):
            X, y = validate_data(self, X, y, reset=reset, dtype="numeric")
        else:
            X = validate_data(self, X, reset=reset, dtype="numeric")
        if reset:
            shape = check_image_shape(self.image_shape) or found_shape
            if shape is not None and math.prod(shape) != X.shape[1]:
                raise ValueError(
                    f"image_shape={shape} needs {math.prod(shape)} features per sample but X has "
                    f"{X.shape[1]}. Pass X as (n, {math.prod(shape)}) or fix image_shape."
                )
            self.image_shape_ = shape
        return X, y

    def _fit_scaling(self, X: np.ndarray) -> None:
        mode = self.scaling
        if mode == "auto":
            mode = "minmax" if self.image_shape_ is not None else "standard"
        Xf = X.astype(np.float64, copy=False)
        self.input_range_ = (float(Xf.min()), float(Xf.max()))
        if mode == "minmax":
            offset = np.float32(self.input_range_[0])
            scale = np.float32(self.input_range_[1] - self.input_range_[0])
        elif mode == "standard":
            offset = Xf.mean(axis=0).astype(np.float32)
            scale = Xf.std(axis=0).astype(np.float32)
        else:
            offset, scale = np.float32(0.0), np.float32(1.0)
        scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
        self.input_offset_ = np.asarray(offset, dtype=np.float32)
        self.input_scale_ = scale
        self.scaling_ = mode

    def _module_input_shape(self) -> tuple[int, ...]:
        return self.image_shape_ if self.image_shape_ is not None else (self.n_features_in_,)

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        """Scale a 2-d batch and reshape it to what the module takes (float32, on the CPU)."""
        return scaled_tensor(X, self.input_offset_, self.input_scale_, self._module_input_shape())

    def _validate_predict_input(self, X):
        """Check a fitted estimator's input; returns ``(X_2d, output dtype)``."""
        check_is_fitted(self, "net_")
        dtype = output_dtype(X)
        X, _ = self._validate_input(X, reset=False)
        return X, dtype

    # --- training ---------------------------------------------------------------------------
    def _make_callbacks(self, scoring=()) -> list:
        """``scoring`` (name, callback) pairs, then early stopping, progress and user callbacks."""
        callbacks = list(scoring)
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss", patience=self.n_iter_no_change, load_best=True
                    ),
                )
            )
        if self.verbose:  # one bar over all epochs (skorch's ProgressBar draws one per epoch)
            callbacks.append(("progress", EpochProgressBar()))
        for i, cb in enumerate(self.callbacks or []):
            callbacks.append(cb if isinstance(cb, tuple) else (f"user_{i}", cb))
        return callbacks

    def _log_params(self) -> dict:
        """The per-epoch loss table's sink: colours on a terminal only, above the bar.

        Only when verbose: skorch's ``PrintLog`` calls any sink other than ``print`` even
        when the net is silent.
        """
        return {"callbacks__print_log__sink": log_line} if self.verbose else {}

    def _draw_seed(self) -> int:
        """One integer seed for everything random in a fit, drawn from ``random_state``."""
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return self._seed

    # --- hooks: how long to train and how the learning rate moves ---------------------------
    def _training_epochs(self, n_train: int) -> int:
        """Epochs to train on ``n_train`` rows per epoch (default: ``max_epochs``)."""
        return self.max_epochs

    def _schedule_callbacks(self, total_steps: int) -> list:
        """``(name, callback)`` pairs that schedule the learning rate (default: none)."""
        return []

    def _n_train(self, n_samples: int) -> int:
        """Rows per training epoch: all of them, less the validation split when early stopping."""
        if not self.early_stopping:
            return n_samples
        return n_samples - math.ceil(n_samples * self.validation_fraction)

    def _fit_net(self, net_class, X_t, y_t, *, seed: int, stratified: bool, scoring=(), **kw):
        """Build ``net_class`` with the estimator's training settings, fit it, keep it as ``net_``.

        Weight initialisation, shuffling and any randomness inside the net's training step run
        under a forked, seeded torch RNG, so fitting is reproducible and leaves torch's global
        RNG untouched. ``kw`` goes to the net (``module``, ``module__*``, loss settings...).
        The number of epochs and the learning-rate schedule come from the hooks
        :meth:`_training_epochs` and :meth:`_schedule_callbacks`.
        """
        device = resolve_device(self.device)
        n_train = self._n_train(len(X_t))
        epochs = self._training_epochs(n_train)
        total_steps = epochs * math.ceil(n_train / self.batch_size)
        if self.early_stopping:
            train_split = ValidSplit(
                self.validation_fraction, stratified=stratified, random_state=seed
            )
        else:
            train_split = None
        with _seed_context(seed, device):
            torch.manual_seed(seed)
            net = net_class(
                optimizer=torch.optim.Adam,
                lr=self.lr,
                max_epochs=epochs,
                batch_size=self.batch_size,
                train_split=train_split,
                iterator_train__shuffle=True,
                iterator_train__generator=torch.Generator().manual_seed(seed),
                callbacks=self._make_callbacks(scoring) + self._schedule_callbacks(total_steps),
                **self._log_params(),
                device=device,
                verbose=int(bool(self.verbose)),
                **kw,
            )
            net.fit(X_t, y_t)
        net.module_.eval()
        self.net_ = net
        self.device_ = device
        self.n_iter_ = len(net.history)
        return net

    # --- inference --------------------------------------------------------------------------
    def _forward_batches(self, X: np.ndarray, fn: Callable):
        """``fn(module, batch)`` on batches of X on the net's device (see _batched_inference)."""
        return batched_inference(self.net_.module_, X, self._to_tensor, self.net_.device, fn)

    @property
    def history_(self):
        """Per-epoch training history (a :class:`skorch.history.History`): losses and terms."""
        check_is_fitted(self, "net_")
        return self.net_.history

    def __setstate__(self, state):
        # skorch maps a net saved on a GPU to the CPU when CUDA is missing; follow it.
        super().__setstate__(state)
        net = state.get("net_")
        if net is not None:
            self.device_ = str(net.device)


@estimator_parameters
class _BaseLatentTransformer(_TorchEstimatorMixin, TransformerMixin, BaseEstimator):
    """Base class; not for direct use. See :class:`skdcsae.DCSAETransformer`."""

    n_components: int = 2
    _: KW_ONLY
    conv_channels: tuple | str = (128, 64, 32, 16)
    dense_sizes: tuple | str = (2048, 1000, 250)
    norm: str = "batch"
    min_steps: int = 0
    lr_schedule: str = "constant"

    _parameter_constraints: ClassVar[dict] = {
        **_TorchEstimatorMixin._torch_parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "conv_channels": ["array-like", StrOptions({"auto"})],
        "dense_sizes": ["array-like", StrOptions({"auto"})],
        "norm": [StrOptions({"batch", "group", "instance", "none"})],
        "min_steps": [Interval(Integral, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "augment": ["boolean", dict],
    }

    # --- hooks for subclasses ------------------------------------------------------------
    _net_class: ClassVar[type] = None

    def _net_kwargs(self) -> dict:
        return {}

    def _training_net_class(self) -> type:
        """The skorch net that trains this fit (a subclass may pick one from its parameters)."""
        return self._net_class

    def _latent_dim(self) -> int:
        """Latent dimensions per head of this fit (a subclass may resolve ``"auto"``)."""
        return self.n_components

    # --- training length, learning-rate schedule and augmentation -----------------------------
    def _training_epochs(self, n_train: int) -> int:
        """``max(max_epochs, ceil(min_steps / steps_per_epoch))``: a floor of optimiser steps."""
        if not self.min_steps:
            return self.max_epochs
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size))
        return max(self.max_epochs, math.ceil(self.min_steps / steps_per_epoch))

    def _schedule_callbacks(self, total_steps: int) -> list:
        """Cosine decay of the learning rate to 0 over every step (per batch), if asked."""
        if self.lr_schedule == "constant":
            return []
        cosine = LRScheduler(
            policy=CosineAnnealingLR, T_max=max(1, total_steps), step_every="batch"
        )
        return [("lr_schedule", cosine)]

    def _augmentation(self) -> dict:
        """Net arguments of the on-the-fly augmentation (images only; seeded by the fit)."""
        if self.image_shape_ is None:
            return {}
        return {"augment": check_augmentation(self.augment), "augment_seed": self._seed}

    # --- training ---------------------------------------------------------------------------
    def _term_scoring(self) -> list:
        """Per-epoch averages of each loss term, for ``history_``."""
        scoring = []
        for name in self._net_class.term_names:
            scoring.append((f"train_{name}", PassthroughScoring(f"train_{name}", on_train=True)))
            if self.early_stopping:
                scoring.append((f"valid_{name}", PassthroughScoring(f"valid_{name}")))
        return scoring

    def _train(self, X: np.ndarray, y_index: np.ndarray | None, n_heads: int):
        """Build the module and the skorch net, train, and keep the net as ``net_``."""
        seed = self._draw_seed()
        conv_channels, dense_sizes = self._architecture()
        config = make_config(
            input_shape=self._module_input_shape(),
            conv_channels=conv_channels,
            dense_sizes=dense_sizes,
            latent_dim=self._latent_dim(),
            n_heads=n_heads,
            norm=self.norm,
        )
        X_t = self._to_tensor(X)
        y_t = None if y_index is None else torch.as_tensor(y_index, dtype=torch.long)
        self._fit_net(
            self._training_net_class(),
            X_t,
            y_t,
            seed=seed,
            stratified=y_index is not None,
            scoring=self._term_scoring(),
            module=MultiHeadVAE,
            module__config=config,
            **self._augmentation(),
            **self._net_kwargs(),
        )
        return self

    def _architecture(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``conv_channels`` and ``dense_sizes`` of this fit, ``"auto"`` resolved."""
        auto_conv, auto_dense = auto_architecture(self._module_input_shape())
        conv = auto_conv if _is_auto(self.conv_channels) else tuple(self.conv_channels)
        dense = auto_dense if _is_auto(self.dense_sizes) else tuple(self.dense_sizes)
        return conv, dense

    # --- encoding ---------------------------------------------------------------------------
    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means and log-variances of every head, ``(n, n_heads, d)`` each, in batches."""
        return encode_in_batches(self.net_.module_, X, self._to_tensor, self.net_.device)

    def _validate_transform_input(self, X):
        return self._validate_predict_input(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.non_deterministic = False
        return tags
