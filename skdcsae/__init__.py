"""skdcsae: privacy-preserving collaborative labelling of medical images (DC-SAE / CAMARADERIE).

A Donor with a few labelled images trains a :class:`DCSAETransformer` and ships a donor kit
(encoder weights and latent features, never images); a Recipient labels its own images with it.
The paper's standard-VAE baseline is here too: :class:`VAETransformer`.
"""

from ._dcsae import DCSAETransformer
from ._vae import VAETransformer

__version__ = "0.1.0.dev0"

__all__ = [
    "DCSAETransformer",
    "VAETransformer",
    "__version__",
]
