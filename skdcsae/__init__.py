"""skdcsae: privacy-preserving collaborative labelling of medical images (DC-SAE / CAMARADERIE).

A Donor with a few labelled images trains a :class:`DCSAETransformer` and ships a donor kit
(encoder weights and latent features, never images); a Recipient labels its own images with it
(:class:`RecipientLabeler`). The paper's baselines are in :mod:`skdcsae.baselines`, the kit in
:mod:`skdcsae.kit`, the loaders in :mod:`skdcsae.datasets`; every public name is importable
from here.
"""

from ._audit import LeakageAudit, audit_donor_kit
from ._dcsae import PAPER_PARAMS, DCSAETransformer
from ._version import __version__
from .baselines import (
    AnomalyVAEClassifier,
    AnomalyVAETransformer,
    ResNet18Classifier,
    VAETransformer,
)
from .kit import DonorKit, DonorKitError, ReleaseSettings, load_donor_kit
from .recipient import RecipientLabeler

__all__ = [
    "PAPER_PARAMS",
    "AnomalyVAEClassifier",
    "AnomalyVAETransformer",
    "DCSAETransformer",
    "DonorKit",
    "DonorKitError",
    "LeakageAudit",
    "RecipientLabeler",
    "ReleaseSettings",
    "ResNet18Classifier",
    "VAETransformer",
    "__version__",
    "audit_donor_kit",
    "load_donor_kit",
]
