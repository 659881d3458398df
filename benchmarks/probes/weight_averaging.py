"""Probe for issue #12: an exponential moving average of the encoder's weights, and the width.

Fits ``DCSAETransformer(random_state=seed, **params)`` + ``SVC()`` on ``n`` balanced
PneumoniaMNIST images per class (the benchmark's donor draw), scores recipient A (the rest of
the train split) and B (the test split), and prints one JSON row per (config, n, seed)::

    OMP_NUM_THREADS=1 python benchmarks/probes/weight_averaging.py 80 0,1,2,3 ema995,d16

``emaD`` keeps an exponential moving average (decay ``0.D``) of every parameter and
BatchNorm statistic after each optimiser step, with PyTorch's
:class:`torch.optim.swa_utils.AveragedModel`, and loads it into the encoder when training
ends; it goes in through the estimator's documented ``callbacks`` parameter. ``d16`` fixes 16
latent dimensions per head. ``defaults`` is the library as it is; its rows reproduce
``benchmarks/results/accuracy.jsonl``. Results: ``benchmarks/results/probes/weight_averaging.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_configs

from skdcsae import DCSAETransformer


class WeightEMA(Callback):
    """An exponential moving average of the module's weights, swapped in at the end."""

    def __init__(self, decay: float):
        self.decay = decay

    def on_train_begin(self, net, **kwargs):
        self.average_ = AveragedModel(
            net.module_, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True
        )

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.average_.update_parameters(net.module_)

    def on_train_end(self, net, **kwargs):
        net.module_.load_state_dict(self.average_.module.state_dict())


def _params(name: str) -> dict:
    if name == "defaults":
        return {}
    if name == "d16":
        return {"n_components": 16}
    if name.startswith("ema"):
        return {"callbacks": [("ema", WeightEMA(float("0." + name[3:])))]}
    raise ValueError(f"unknown config {name!r}")


def main(n: int, seeds: list[int], names: list[str]) -> None:
    score_configs(
        n,
        seeds,
        names,
        lambda name, seed: DCSAETransformer(random_state=seed, device="cpu", **_params(name)),
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), [int(s) for s in sys.argv[2].split(",")], sys.argv[3].split(","))
