"""Export of a donor kit from a fitted transformer: estimator -> kit content -> file.

:class:`_DonorKitExportMixin` gives :class:`~skdcsae.DCSAETransformer` its
``export_donor_kit`` method. It validates the donor's images and labels, encodes them,
applies the release settings, assembles a :class:`~skdcsae.DonorKit` and hands it to
:func:`skdcsae.kit.write_donor_kit`. The kit package never sees the estimator.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from ._validation import unlabelled_mask
from ._version import __version__
from .kit import DonorKit, KitMember, ReleaseSettings, write_donor_kit
from .kit._release import DEFAULT_RELEASE_MODE, release_features

__all__ = ["_DonorKitExportMixin"]

_MAX_TEXT = 200
_MAX_LISTED_SIZES = 20


def _plain_value(value):
    """A hyperparameter as plain JSON data: tuples become lists, objects their type's name."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value) if math.isfinite(value) else repr(float(value))
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, (list, tuple)) and all(
        v is None or isinstance(v, (bool, Integral, Real, str, np.generic)) for v in value
    ):
        return [_plain_value(v) for v in value]
    return f"<{type(value).__name__}>"


def _plain_classes(classes: np.ndarray) -> tuple[list, np.ndarray]:
    """Classes as a JSON list of all strings, all integers or all floats, and as an array."""
    items = classes.tolist()
    if all(isinstance(c, str) for c in items):
        items = [str(c) for c in items]
        return items, np.asarray(items, dtype=str)
    if not any(isinstance(c, bool) for c in items):
        if all(isinstance(c, Integral) for c in items):
            items = [int(c) for c in items]
            return items, np.asarray(items, dtype=np.int64)
        if all(isinstance(c, Real) for c in items):
            items = [float(c) for c in items]
            return items, np.asarray(items, dtype=np.float64)
    raise ValueError(
        f"a donor kit stores class labels as all numbers or all strings; got {items[:5]!r}: "
        "convert y to ints or strings before fitting."
    )


def _image_preparation(bunch, n_images: int, image_shape) -> dict | None:
    """A bounded summary of how the donor's image files were prepared (resized, converted)."""
    if bunch is None:
        return None
    if image_shape is None:
        raise ValueError("image_preparation describes image files; this transformer is tabular.")
    try:
        shapes = np.asarray(bunch.original_shapes, dtype=np.int64)
        resized = np.asarray(bunch.resized, dtype=bool)
        converted = np.asarray(bunch.color_converted, dtype=bool)
    except AttributeError as exc:
        raise TypeError(
            "image_preparation must be the Bunch of skdcsae.datasets.load_image_folder (with "
            f"original_shapes, resized and color_converted) or None; {exc}."
        ) from None
    if (
        shapes.shape != (n_images, 2)
        or resized.shape != (n_images,)
        or converted.shape != (n_images,)
    ):
        raise ValueError(
            f"image_preparation describes {len(resized)} images, X has {n_images}: select the "
            "same images from the Bunch (e.g. bunch.original_shapes[keep])."
        )
    sizes, counts = np.unique(shapes[resized].reshape(-1, 2), axis=0, return_counts=True)
    order = np.lexsort((sizes[:, 1], sizes[:, 0], -counts))[:_MAX_LISTED_SIZES]
    listed = [[int(sizes[i, 0]), int(sizes[i, 1]), int(counts[i])] for i in order]
    n_resized = int(resized.sum())
    return {
        "n_resized": n_resized,
        "resized_from": listed,
        "n_resized_unlisted": n_resized - sum(c for *_, c in listed),
        "n_color_converted": int(converted.sum()),
    }


def _versions() -> dict[str, str]:
    import sklearn

    return {
        "skdcsae": str(__version__),
        "torch": str(torch.__version__),
        "scikit-learn": str(sklearn.__version__),
        "numpy": str(np.__version__),
        "python": str(platform.python_version()),
    }


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().to("cpu")
    if tensor.is_floating_point() and tensor.dtype not in (
        torch.float16,
        torch.float32,
        torch.float64,
    ):
        tensor = tensor.float()  # bfloat16 and friends have no numpy dtype
    return np.array(tensor.numpy(), order="C")  # a copy; keeps 0-d buffers 0-d


class _DonorKitExportMixin:
    """``export_donor_kit`` for a fitted latent transformer with one head per class."""

    def _donor_label_index(self, X, y) -> np.ndarray:
        if y is None:
            raise ValueError("export_donor_kit needs the labels y of the donor images X.")
        y = column_or_1d(y)
        check_consistent_length(X, y)
        classes = self.classes_
        known = np.isin(y, classes)
        if np.any(unlabelled_mask(y)):
            raise ValueError(
                "export_donor_kit releases features of labelled images only, and y marks some "
                "as unlabelled (-1): pass X[y != -1] and y[y != -1]."
            )
        if not np.all(known):
            raise ValueError(
                f"y has labels the transformer was not fitted on: {np.unique(y[~known])!r} "
                f"(classes_ are {classes!r})."
            )
        y_index = np.searchsorted(classes, y)
        missing = np.setdiff1d(np.arange(len(classes)), y_index)
        if len(missing):
            raise ValueError(
                f"export_donor_kit needs donor images of every class; y has none of "
                f"{classes[missing]!r}."
            )
        return y_index

    def _kit_member(self, X, y_index, settings: ReleaseSettings, class_names):
        """The encoder and the released features of these donor images, as a kit member."""
        if self.feature_mode == "paper":
            features = self._true_head_samples(X, y_index)
        else:
            mus, _ = self._encode(X)
            features = mus.reshape(len(mus), -1)
        released = release_features(
            features,
            y_index,
            len(self.classes_),
            settings,
            random_state=int(self._seed),
            class_names=class_names,
        )
        privacy = getattr(self, "privacy_", None)
        params = self.get_params(deep=False)
        hyper = {
            k: _plain_value(v)
            for k, v in sorted(params.items())
            if k not in ("callbacks", "device", "verbose")
        }
        if privacy is not None:
            # the seed regenerates DP-SGD's noise: never ship it with a private encoder
            hyper["random_state"] = "<withheld: differentially private training>"
            privacy = {k: _plain_value(v) for k, v in privacy.items()}
            if not isinstance(privacy["epsilon"], float):
                privacy["epsilon"] = None  # infinite: no guarantee (noise multiplier 0)
        hyper["n_iter"] = int(self.n_iter_)
        hyper["trained_on"] = str(self.device_)
        encoder = self.net_.module_.encoder
        member = KitMember(
            encoder_config=dict(encoder.config),
            encoder_weights={k: _to_numpy(v) for k, v in encoder.state_dict().items()},
            features=released.features,
            label_index=released.label_index,
            feature_weights=released.weights,
            sampling_seed=int(self._seed) if self.feature_mode == "paper" else None,
            hyperparameters=hyper,
            privacy=privacy,
            n_groups_per_class=released.n_groups_per_class,
            n_clipped=released.n_clipped,
        )
        return member, released.settings

    def export_donor_kit(
        self,
        path,
        X,
        y,
        *,
        release=DEFAULT_RELEASE_MODE,
        key=None,
        overwrite=False,
        image_preparation=None,
    ):
        """Write a donor kit: what the Donor ships to a Recipient (never images, never the decoder).

        The kit is one file of plain data: the encoder's architecture and weights, the
        released latent features of ``X`` with their labels, the classes, the input
        preprocessing, the release settings, hyperparameters, library versions, the creation
        time and a SHA-256 digest (optionally an HMAC-SHA256 signature). Load it with
        :func:`skdcsae.load_donor_kit` or pass it to :class:`skdcsae.RecipientLabeler`.

        Parameters
        ----------
        path : str or path-like
            File to write (conventionally ``*.joblib``), atomically.
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            The donor's labelled images, normally the ones the transformer was fitted on.
        y : array-like of shape (n_samples,)
            Their labels; every class in ``classes_`` must occur.
        release : str or ReleaseSettings, default="synthetic"
            What the kit's feature table holds (:class:`skdcsae.ReleaseSettings`; a mode name
            stands for that mode with the other settings at their defaults):

            - ``"synthetic"`` (the default): per class, rows drawn from a Gaussian mixture
              fitted to k-means groups of at least 10 donor images; no row belongs to a
              donor image. A class with fewer than ``min_count`` images is refused.
            - ``"prototypes"``: the groups' centres, weighted by their size.
            - ``"per_image"``: the paper's setting, one row per donor image; whoever holds one
              of the donor's images can tell that it was used (:func:`skdcsae.audit_donor_kit`).

            The default was measured on PneumoniaMNIST against ``"prototypes"``
            (``benchmarks/results/privacy_defaults.md``).
        key : str or bytes, default=None
            Shared secret: adds an HMAC-SHA256 signature that ``load_donor_kit(path, key=key)``
            verifies.
        overwrite : bool, default=False
            Replace ``path`` if it exists; otherwise an existing file raises
            ``FileExistsError``.
        image_preparation : Bunch or None, default=None
            The Bunch of :func:`skdcsae.datasets.load_image_folder` for the images of ``X``
            (``original_shapes``, ``resized``, ``color_converted``, one entry per image): the
            kit records how many images were resized from which sizes and how many were
            colour-converted.

        Returns
        -------
        kit : DonorKit
            What was written (equal to what loading the file gives).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator has not been fitted.
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        TypeError
            If ``overwrite`` is not a bool, or ``release`` or ``image_preparation`` has the
            wrong type.
        ValueError
            If ``y`` is missing, differs in length from ``X``, has labels the transformer
            was not fitted on or lacks one of its classes; if ``X`` does not match the fitted
            input shape; if a class has fewer images than the release's ``min_count``.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_digits
        >>> from skdcsae import DCSAETransformer, ReleaseSettings, load_donor_kit
        >>> X, y = load_digits(n_class=2, return_X_y=True)
        >>> dcsae = DCSAETransformer(dense_sizes=(16,), max_epochs=2, min_steps=0, device="cpu",
        ...                          random_state=0).fit(X[:100], y[:100])
        >>> folder = tempfile.mkdtemp()
        >>> kit = dcsae.export_donor_kit(os.path.join(folder, "kit.joblib"), X[:100], y[:100])
        >>> kit.release.mode, kit.features.shape
        ('synthetic', (200, 20))
        >>> paper = dcsae.export_donor_kit(os.path.join(folder, "paper.joblib"), X[:100],
        ...                                y[:100], release="per_image")
        >>> paper.features.shape
        (100, 20)
        >>> load_donor_kit(os.path.join(folder, "kit.joblib")) == kit
        True
        """
        check_is_fitted(self, "net_")
        settings = ReleaseSettings.from_release(release)
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be a bool, got {overwrite!r}.")
        if not overwrite and os.path.lexists(os.fspath(path)):
            raise FileExistsError(
                f"{os.fspath(path)} already exists; pass overwrite=True to replace it."
            )
        X, _ = self._validate_transform_input(X)
        y_index = self._donor_label_index(X, y)
        names, classes = _plain_classes(self.classes_)
        counts = np.bincount(y_index, minlength=len(classes))
        settings.check_class_sizes(counts, names)  # before encoding anything
        preparation = _image_preparation(image_preparation, len(X), self.image_shape_)
        member, settings = self._kit_member(X, y_index, settings, names)
        image_shape = self.image_shape_
        kit = DonorKit(
            members=(member,),
            classes=classes,
            image_shape=None if image_shape is None else tuple(int(s) for s in image_shape),
            n_features_in=int(self.n_features_in_),
            scaling=self.scaling_,
            input_offset=np.asarray(self.input_offset_, dtype=np.float32),
            input_scale=np.asarray(self.input_scale_, dtype=np.float32),
            input_range=tuple(float(v) for v in self.input_range_),
            feature_mode=self.feature_mode,
            release=settings,
            n_images_per_class=tuple(int(c) for c in counts),
            image_preparation=preparation,
            model=type(self).__name__,
            versions=_versions(),
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )
        return write_donor_kit(kit, path, key=key, overwrite=overwrite)
