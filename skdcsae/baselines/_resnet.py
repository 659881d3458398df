"""ResNet18Classifier: the supervised skyline, a ResNet-18 trained directly on donor images."""

from __future__ import annotations

from dataclasses import KW_ONLY
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.dataset import unpack_data
from torch import nn

from .._base import _TorchEstimatorMixin, estimator_parameters
from .._compat import Interval, _fit_context
from .._docstrings import Substitution, shared_docs

__all__ = ["ResNet18Classifier"]

_STAGE_BLOCKS = (2, 2, 2, 2)  # ResNet-18
_MAX_SHIFT = 2  # pixels, for augment=True


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class _ResNet18(nn.Module):
    """ResNet-18 for small images: 3x3 stride-1 stem and no max-pool (as MedMNIST's benchmark).

    Four stages of two :class:`_BasicBlock` each, ``width * (1, 2, 4, 8)`` channels, strides
    1, 2, 2, 2, global average pooling and a linear layer giving class logits.
    """

    def __init__(self, in_channels: int, n_classes: int, width: int = 64):
        super().__init__()
        widths = [width * m for m in (1, 2, 4, 8)]
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        c_in = width
        for stage, (c_out, n_blocks) in enumerate(zip(widths, _STAGE_BLOCKS, strict=True)):
            for block in range(n_blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(_BasicBlock(c_in, c_out, stride))
                c_in = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, n_classes)
        for m in self.modules():  # He initialisation, as torchvision's ResNet
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips (p=0.5) and shifts of up to ``_MAX_SHIFT`` pixels (zero fill)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
    s = _MAX_SHIFT
    padded = nn.functional.pad(x, (s, s, s, s))
    dy, dx = torch.randint(0, 2 * s + 1, (2, n), generator=generator).tolist()
    crops = [
        padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(zip(dy, dx, strict=True))
    ]
    return torch.stack(crops)


class _ResNetNet(NeuralNetClassifier):
    """skorch classifier net with seeded augmentation and no lone one-sample batches.

    BatchNorm cannot normalise a single value per channel, which a last training batch of one
    sample gives once the feature map is 1x1; when ``len(train data) % batch_size == 1`` that
    sample is dropped for the epoch (a different one each epoch, as batches are shuffled).
    """

    def __init__(self, module, *args, augment=False, augment_seed=0, **kwargs):
        super().__init__(module, *args, criterion=nn.CrossEntropyLoss, **kwargs)
        self.augment = augment
        self.augment_seed = augment_seed

    def initialize(self):
        super().initialize()
        self.augment_generator_ = torch.Generator().manual_seed(self.augment_seed)
        return self

    def get_iterator(self, dataset, training=False):
        iterator = super().get_iterator(dataset, training=training)
        n = len(dataset)
        if training and n > 1 and n % iterator.batch_size == 1:
            kwargs = self.get_params_for("iterator_train")
            kwargs.update(batch_size=iterator.batch_size, drop_last=True)
            iterator = self.iterator_train(dataset, **kwargs)
        return iterator

    def train_step_single(self, batch, **fit_params):
        if self.augment:
            Xi, yi = unpack_data(batch)
            batch = (_augment(Xi, self.augment_generator_), yi)
        return super().train_step_single(batch, **fit_params)


@Substitution(**shared_docs)
@estimator_parameters
class ResNet18Classifier(_TorchEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Supervised ResNet-18 trained directly on the donor images: the skyline (no privacy).

    The upper bound of Padhye et al. (CIKM 2023): a classifier with direct access to the
    donor's labelled images, which the DC-SAE protocol never shares. The network is a
    ResNet-18 (BasicBlock, [2, 2, 2, 2], widths ``width * (1, 2, 4, 8)``) adapted to small
    images as in MedMNIST's benchmark: a 3x3 stride-1 stem and no initial max-pool, global
    average pooling, and a linear layer. It is trained with cross-entropy and Adam on a
    private skorch :class:`~skorch.NeuralNetClassifier`.

    Parameters
    ----------
    width : int, default=64
        Channels of the first stage; the stages have ``width * (1, 2, 4, 8)``. 64 is the
        standard ResNet-18 (11 M parameters); 16 or 32 train much faster on a CPU.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat input rows. Not needed when X is passed as
        ``(n, H, W)`` or ``(n, C, H, W)``. ``None`` with 2-d X (tabular data) runs each row
        through the network as a one-row image ``(1, 1, n_features)``: this keeps the
        scikit-learn API whole, but a conv net is no model for tabular data.
    augment : bool, default=False
        Light, seeded training augmentation for images: random horizontal flips (p = 0.5) and
        random shifts of up to 2 pixels (zero fill in the scaled space).
    %(scaling)s
    lr : float, default=1e-3
        Adam learning rate.
    max_epochs : int, default=30
        Training epochs.
    batch_size : int, default=32
        Mini-batch size.
    %(early_stopping)s
    %(runtime)s
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and augmentation. The same seed gives the same
        predictions on the CPU with the same number of torch threads.
    %(verbose)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    %(fitted_attributes)s
    net_ : skorch.NeuralNetClassifier
        The trained skorch net; ``net_.module_`` is the torch ResNet.
    history_ : skorch.history.History
        Per-epoch ``train_loss`` (and ``valid_loss``, ``valid_acc`` with early stopping).

    See Also
    --------
    skdcsae.DCSAETransformer : the privacy-preserving method this skyline bounds.

    References
    ----------
    K. He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    J. Yang et al., "MedMNIST v2", Scientific Data 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import ResNet18Classifier
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> clf = ResNet18Classifier(width=8, image_shape=(8, 8), max_epochs=5, device="cpu",
    ...                          random_state=0).fit(X[:200], y[:200])
    >>> clf.predict_proba(X[200:203]).shape
    (3, 2)
    >>> bool(clf.score(X[200:], y[200:]) > 0.9)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_TorchEstimatorMixin._torch_parameter_constraints,
        "width": [Interval(Integral, 1, None, closed="left")],
        "augment": ["boolean"],
    }

    width: int = 64
    _: KW_ONLY
    max_epochs: int = 30

    def _module_input_shape(self) -> tuple[int, ...]:
        return self.image_shape_ if self.image_shape_ is not None else (1, 1, self.n_features_in_)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the ResNet on labelled images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n, H, W) or (n, C, H, W)
            Training images (uint8, float32 or float64).
        y : array-like of shape (n_samples,)
            Class labels; at least two classes.

        Returns
        -------
        self : ResNet18Classifier
            The fitted classifier.

        %(raises_fit)s
            Also if ``y`` has fewer than two classes.
        """
        X, y = self._validate_input(X, y, reset=True, require_y=True)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"ResNet18Classifier needs labels of at least 2 classes; got 1 class "
                f"({self.classes_[0]!r})."
            )
        self._fit_scaling(X)
        seed = self._draw_seed()
        self._fit_net(
            _ResNetNet,
            self._to_tensor(X),
            torch.as_tensor(y_index, dtype=torch.long),
            seed=seed,
            stratified=True,
            module=_ResNet18,
            module__in_channels=self._module_input_shape()[0],
            module__n_classes=len(self.classes_),
            module__width=self.width,
            classes=list(range(len(self.classes_))),
            augment=bool(self.augment),
            augment_seed=seed,
        )
        return self

    def predict(self, X):
        """Predict class labels.

        %(params_X_fitted)s

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The most probable class of each image.

        %(raises_fitted)s
        """
        check_is_fitted(self, "net_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_proba(self, X):
        """Class probabilities (softmax of the ResNet's logits).

        %(params_X_fitted)s

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``.

        %(raises_fitted)s
        """
        X, _ = self._validate_predict_input(X)
        proba = self._forward_batches(
            X, lambda module, batch: torch.softmax(module(batch), dim=1).cpu().numpy()
        )
        return proba.astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
