"""skdcsae: privacy-preserving collaborative labelling of medical images (DC-SAE / CAMARADERIE).

A Donor with a few labelled images trains a :class:`DCSAETransformer` and ships a donor kit
(encoder weights and latent features, never images); a Recipient labels its own images with it.
"""

from ._dcsae import DCSAETransformer
from ._kit import DonorKit, DonorKitError, load_donor_kit
from ._recipient import RecipientLabeler

__version__ = "0.1.0.dev0"

__all__ = [
    "DCSAETransformer",
    "DonorKit",
    "DonorKitError",
    "RecipientLabeler",
    "__version__",
    "load_donor_kit",
]
