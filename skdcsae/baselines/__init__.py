"""The paper's comparison methods, as estimators that drop into the same Pipeline.

- :class:`VAETransformer`: a standard (unsupervised) VAE; its latent means are the features.
- :class:`AnomalyVAETransformer` / :class:`AnomalyVAEClassifier`: a VAE trained on the normal
  class only; the reconstruction error decides.
- :class:`ResNet18Classifier`: a supervised CNN on the donor's images (no privacy), the skyline.

Every name is also importable from :mod:`skdcsae`.
"""

from ._anomaly import AnomalyVAEClassifier, AnomalyVAETransformer
from ._resnet import ResNet18Classifier
from ._vae import VAETransformer

__all__ = [
    "AnomalyVAEClassifier",
    "AnomalyVAETransformer",
    "ResNet18Classifier",
    "VAETransformer",
]
