"""Probe for issue #12: the large-donor levers together, at the sizes where 0.96 is asked.

Each lever alone moved recipient A by at most +0.3 points at n=180 (a wider net,
``net_width.md``; a longer fit, ``latent_width.md``). This probe stacks them, to bound what
the estimator can reach at the benchmark's largest sizes whatever the cost::

    OMP_NUM_THREADS=1 python benchmarks/probes/combined.py 180 0,1,2,3 wide_long

- ``defaults``: nothing changed (reproduces the benchmark's rows);
- ``wide_long``: ``conv_channels=(64, 32), dense_sizes=(512,)`` (twice the ``"auto"`` net's
  width at 28x28) and ``min_steps=3000`` (twice the default step budget).

Results: ``benchmarks/results/probes/combined.md`` (``paired.py`` prints the table).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _draws import score_from_argv

from skdcsae import DCSAETransformer

PARAMS = {
    "defaults": {},
    "wide_long": {"conv_channels": (64, 32), "dense_sizes": (512,), "min_steps": 3000},
}


def make(name: str, seed: int) -> DCSAETransformer:
    return DCSAETransformer(random_state=seed, device="cpu", **PARAMS[name])


if __name__ == "__main__":
    score_from_argv(make)
