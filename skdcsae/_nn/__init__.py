"""The torch side of the package: modules, the losses, and the skorch nets that train them.

- ``_modules``: :class:`MultiHeadEncoder` (what a donor kit ships) and :class:`MultiHeadVAE`
  (encoder + decoder), built from a plain config dict (:func:`make_config`).
- ``_loss``: the DC-SAE and VAE loss terms as functions of tensors.
- ``_nets``: private skorch nets whose ``get_loss`` combines those terms.
- ``_dp``: DP-SGD training through Opacus (imported only when used).

Nothing here knows about scikit-learn estimators or donor kits.
"""

from ._loss import (
    auto_alpha,
    dcsae_loss_terms,
    kl_to_standard_normal,
    reconstruction_error,
    repulsion,
)
from ._modules import (
    MultiHeadEncoder,
    MultiHeadVAE,
    auto_architecture,
    auto_latent_dim,
    conv_stage_sizes,
    make_config,
)
from ._nets import _DCSAENet, _LatentNet, _VAENet

__all__ = [
    "MultiHeadEncoder",
    "MultiHeadVAE",
    "_DCSAENet",
    "_LatentNet",
    "_VAENet",
    "auto_alpha",
    "auto_architecture",
    "auto_latent_dim",
    "conv_stage_sizes",
    "dcsae_loss_terms",
    "kl_to_standard_normal",
    "make_config",
    "reconstruction_error",
    "repulsion",
]
