"""skdcsae: privacy-preserving collaborative labelling of medical images (DC-SAE / CAMARADERIE).

A Donor with a few labelled images trains a :class:`DCSAETransformer` and ships a donor kit
(encoder weights and latent features, never images); a Recipient labels its own images with it.
The baselines of the paper are here too: :class:`VAETransformer` (standard VAE),
:class:`AnomalyVAETransformer` / :class:`AnomalyVAEClassifier` (anomaly-detection VAE) and
:class:`ResNet18Classifier` (the supervised skyline).
"""

from ._anomaly import AnomalyVAEClassifier, AnomalyVAETransformer
from ._audit import LeakageAudit, audit_donor_kit
from ._dcsae import DCSAETransformer
from ._kit import DonorKit, DonorKitError, load_donor_kit
from ._recipient import RecipientLabeler
from ._resnet import ResNet18Classifier
from ._vae import VAETransformer

__version__ = "0.1.0.dev0"

__all__ = [
    "AnomalyVAEClassifier",
    "AnomalyVAETransformer",
    "DCSAETransformer",
    "DonorKit",
    "DonorKitError",
    "LeakageAudit",
    "RecipientLabeler",
    "ResNet18Classifier",
    "VAETransformer",
    "__version__",
    "audit_donor_kit",
    "load_donor_kit",
]
