"""Probe for issue #12: dropout in the encoder, a regulariser no earlier probe tried.

With 20 to 360 donor images the encoder can memorise them, and the SVC then learns its
boundary on features that are cleaner than any recipient's. Dropout (Srivastava et al., JMLR
2014) is the usual guard. ``DCSAETransformer(random_state=seed)`` is trained as usual, with
one change in the encoder, and scored with ``SVC()`` on balanced PneumoniaMNIST with the
benchmark's donor draw (A: the rest of the train split; B: the test split)::

    OMP_NUM_THREADS=1 python benchmarks/probes/dropout.py 10 0,1,2,3 heads0.2,heads0.5,flat0.2

- ``heads<p>``: dropout with probability ``p`` on the dense features that feed the latent
  heads;
- ``flat<p>``: dropout on the flattened conv features that feed the dense layer, as well.

Dropout acts during training only; features are computed in evaluation mode, as always. The
probe subclasses the private skorch net through the ``_training_net_class`` hook and wraps
layers of the built module; nothing in the library changes. Results:
``benchmarks/results/probes/dropout.md`` (``paired.py`` prints the table against the
benchmark's ``DC-SAE (defaults)`` rows).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv, trained_by

from skdcsae._nn._nets import _DCSAENet


def _dropout_net(p: float, flat: bool) -> type:
    class _DropoutNet(_DCSAENet):
        def initialize_module(self):
            super().initialize_module()
            encoder = self.module_.encoder
            encoder.heads = torch.nn.Sequential(torch.nn.Dropout(p), encoder.heads)
            if flat:
                layers = list(encoder.body)
                at = next(
                    i for i, layer in enumerate(layers) if isinstance(layer, torch.nn.Flatten)
                )
                layers.insert(at + 1, torch.nn.Dropout(p))
                encoder.body = torch.nn.Sequential(*layers)
            self.module_.to(self.device)
            return self

    return _DropoutNet


def make_estimator(name: str, seed: int):
    for prefix, flat in (("heads", False), ("flat", True)):
        if name.startswith(prefix):
            return trained_by(_dropout_net(float(name[len(prefix) :]), flat), name, seed)
    raise SystemExit(f"unknown config {name!r}; use heads<p> or flat<p>")


if __name__ == "__main__":
    score_from_argv(make_estimator)
