"""Differentially private training of the DC-SAE (DP-SGD through Opacus).

DP-SGD (Abadi et al., 2016): every training step draws a Poisson sample of the data (each
sample independently, with probability ``sample_rate``), clips each sample's gradient to an L2
norm of at most ``max_grad_norm``, sums the clipped gradients, adds Gaussian noise of standard
deviation ``noise_multiplier * max_grad_norm`` and divides by the expected batch size. An RDP
accountant turns (noise multiplier, sample rate, steps) into (epsilon, delta).

:class:`_DPDCSAENet` is the skorch net of :class:`skdcsae.DCSAETransformer` with that training
step. It keeps skorch's loop and changes three things, for the duration of ``partial_fit`` only:

- the training iterator is Opacus' :class:`~opacus.data_loader.DPDataLoader` (Poisson
  sampling, seeded by the net's ``iterator_train__generator``);
- per-sample gradient hooks (:class:`~opacus.GradSampleModule`) are attached to the module's
  layers, but ``module_`` itself stays the plain :class:`~skdcsae._nn.MultiHeadVAE`: the
  wrapper's forward only delegates, and the hooks sit on the submodules, so calling the
  module (and its ``decode``) directly computes per-sample gradients too;
- ``optimizer_`` is an Opacus :class:`~opacus.optimizers.DPOptimizer` around the Adam
  optimizer, with an RDP accountant on its step hook.

Afterwards the hooks, the per-parameter attributes Opacus adds and the DPOptimizer are removed,
so the fitted net holds the plain module and optimizer (picklable, unprefixed ``state_dict``
keys) and the privacy spent as plain numbers in ``privacy_spent_``.

Opacus is imported lazily, only when ``dp=True``.
"""

from __future__ import annotations

import logging
import math
import warnings

import torch
from skorch.dataset import get_len

from ._nets import _DCSAENet

__all__ = [
    "_DPDCSAENet",
    "check_dp_parameters",
    "default_delta",
    "dp_settings",
    "import_opacus",
    "privacy_report",
]

# Attributes Opacus sets on parameters and modules while it trains (1.5 and 1.6).
_PARAM_ATTRS = (
    "grad_sample",
    "_forward_counter",
    "_current_grad_sample",
    "_norm_sample",
    "summed_grad",
)
_MODULE_ATTRS = ("activations", "max_batch_len", "autograd_grad_sample_hooks")

# RDP orders: Opacus' defaults (1.1 ... 63) plus larger ones, which give tighter bounds when
# the noise is large (Opacus warns "Optimal order is the largest alpha" otherwise).
_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + list(range(64, 257, 8))


def import_opacus():
    """Import Opacus, or say how to install it."""
    try:
        import opacus
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'dp=True needs Opacus. Install it with pip install "skdcsae[privacy]" '
            "(or pip install opacus)."
        ) from exc
    return opacus


def default_delta(n_samples: int) -> float:
    """``min(1e-5, 1 / (10 * n_samples))``: the default ``target_delta``.

    delta bounds the probability that the epsilon guarantee fails; a mechanism that publishes
    each record with probability delta is (0, delta)-DP, so delta must be well below
    ``1 / n_samples``. 1e-5 is the customary value in DP deep learning (Abadi et al., 2016);
    ``1 / (10 n)`` keeps ``n * delta <= 0.1`` on data sets larger than 10,000 samples.
    """
    return min(1e-5, 1.0 / (10 * n_samples))


def check_dp_parameters(est) -> bool:
    """Whether ``est`` trains with DP-SGD; raises if its DP parameters are inconsistent.

    Raises
    ------
    ValueError
        If a DP-only parameter is set with ``dp=False``, or with ``dp=True`` if not exactly one
        of ``target_epsilon`` and ``noise_multiplier`` is given, if images would be trained
        with ``norm="batch"``, with ``feature_mode="paper"`` or with ``early_stopping=True``.
    """
    given = [
        name
        for name in ("target_epsilon", "target_delta", "noise_multiplier")
        if getattr(est, name) is not None
    ]
    if not est.dp:
        if given:
            raise ValueError(
                f"{', '.join(given)} set but dp=False: training would not be private. "
                f"Set dp=True, or leave {', '.join(given)} at None."
            )
        return False
    if (est.target_epsilon is None) == (est.noise_multiplier is None):
        raise ValueError(
            "dp=True needs exactly one of target_epsilon (the privacy budget to reach) and "
            "noise_multiplier (the noise to add); got "
            + ("both." if est.target_epsilon is not None else "neither.")
        )
    if est.image_shape_ is not None and est.norm == "batch":
        raise ValueError(
            "dp=True cannot train with norm='batch': BatchNorm mixes the samples of a batch "
            "(and stores their statistics), so per-sample gradients and the DP guarantee "
            "are undefined. Use norm='group' (or 'instance' or 'none')."
        )
    if est.feature_mode == "paper":
        raise ValueError(
            "dp=True cannot be combined with feature_mode='paper': Algorithm 1's feature "
            "samples are seeded from the training seed and their seed travels in the donor "
            "kit, which would let a reader regenerate the training noise. Use "
            "feature_mode='means' (the default)."
        )
    if est.early_stopping:
        raise ValueError(
            "dp=True cannot be combined with early_stopping=True: the validation split and "
            "the choice of the best epoch use the data outside the privacy accounting. "
            "Set early_stopping=False and choose max_epochs in advance."
        )
    return True


def dp_settings(
    *,
    n_samples: int,
    batch_size: int,
    max_epochs: int,
    target_epsilon: float | None,
    target_delta: float | None,
    noise_multiplier: float | None,
    max_grad_norm: float,
) -> dict:
    """The DP-SGD settings of a fit: noise multiplier, sample rate, steps, delta.

    With ``target_epsilon``, the noise multiplier is the smallest (to Opacus' bisection
    tolerance) for which the RDP accountant gives at most ``target_epsilon`` after exactly the
    steps the training will take: ``max_epochs * int(1 / sample_rate)``, as many as Opacus'
    Poisson sampler yields per epoch.
    """
    opacus = import_opacus()
    from opacus.accountants.utils import get_noise_multiplier

    sample_rate = min(1.0, batch_size / n_samples)
    steps_per_epoch = int(1 / sample_rate)  # what UniformWithReplacementSampler yields
    steps = steps_per_epoch * max_epochs
    delta = default_delta(n_samples) if target_delta is None else float(target_delta)
    if target_epsilon is not None:
        try:
            with warnings.catch_warnings():
                # the bisection tries noise levels far beyond the answer; their loose bounds
                # do not matter
                warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
                sigma = get_noise_multiplier(
                    target_epsilon=float(target_epsilon),
                    target_delta=delta,
                    sample_rate=sample_rate,
                    steps=steps,
                    accountant="rdp",
                    alphas=_ALPHAS,
                )
        except ValueError as exc:
            raise ValueError(
                f"target_epsilon={target_epsilon} cannot be reached with delta={delta:g} in "
                f"{steps} steps at sample rate {sample_rate:g} ({exc}). Raise target_epsilon, "
                f"or train fewer epochs or with a smaller batch_size."
            ) from exc
    else:
        sigma = float(noise_multiplier)
    return {
        "noise_multiplier": float(sigma),
        "max_grad_norm": float(max_grad_norm),
        "sample_rate": float(sample_rate),
        "expected_batch_size": max(1, round(sample_rate * n_samples)),
        "delta": float(delta),
        "library": f"opacus {opacus.__version__}",
    }


def privacy_report(settings: dict, spent: dict, epochs: int) -> dict:
    """The guarantee of a finished DP-SGD fit as plain data (``privacy_`` of the estimator)."""
    return {
        "mechanism": "DP-SGD",
        "epsilon": float(spent["epsilon"]),
        "delta": float(settings["delta"]),
        "noise_multiplier": float(settings["noise_multiplier"]),
        "max_grad_norm": float(settings["max_grad_norm"]),
        "sample_rate": float(settings["sample_rate"]),
        "epochs": int(epochs),
        "steps": int(spent["steps"]),
        "accountant": "rdp",
        "library": str(settings["library"]),
    }


def _quiet_empty_batch(record: logging.LogRecord) -> bool:
    """Logging filter: drop Opacus' warning about an empty first batch (handled here)."""
    return "First batch is empty" not in record.getMessage()


def _strip_opacus_attributes(module: torch.nn.Module) -> None:
    """Remove what Opacus leaves on parameters and submodules, so the module pickles clean."""
    for p in module.parameters():
        for attr in _PARAM_ATTRS:
            if hasattr(p, attr):
                delattr(p, attr)
    for m in module.modules():
        for attr in _MODULE_ATTRS:
            if attr in m.__dict__:
                delattr(m, attr)


class _DPDCSAENet(_DCSAENet):
    """The DC-SAE net trained with DP-SGD (see the module docstring).

    ``noise_multiplier``, ``max_grad_norm``, ``sample_rate``, ``expected_batch_size`` and
    ``delta`` come from :func:`dp_settings`. After ``fit``, ``privacy_spent_`` holds
    ``{"epsilon", "steps"}``.
    """

    def __init__(
        self,
        module,
        *args,
        noise_multiplier=1.0,
        max_grad_norm=1.0,
        sample_rate=0.01,
        expected_batch_size=1,
        delta=1e-5,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.noise_multiplier = noise_multiplier
        self.max_grad_norm = max_grad_norm
        self.sample_rate = sample_rate
        self.expected_batch_size = expected_batch_size
        self.delta = delta

    def initialize(self):
        super().initialize()
        self.privacy_spent_ = None  # a fresh module has spent nothing yet
        return self

    # --- Poisson sampling ---------------------------------------------------------------
    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training=False)
        from opacus.data_loader import DPDataLoader

        # The seeded generator of ``iterator_train__generator`` carries on across epochs.
        generator = self.get_params_for("iterator_train").get("generator")
        return DPDataLoader(dataset, sample_rate=self.sample_rate, generator=generator)

    # --- training step ------------------------------------------------------------------
    def train_step_single(self, batch, **fit_params):
        Xi, _ = batch
        if get_len(Xi) > 0:
            return super().train_step_single(batch, **fit_params)
        # An empty Poisson sample still makes a (noise-only) step: the accountant assumes one
        # noisy release per step whatever the batch size. Forward passes on zero rows would
        # give a NaN mean loss; give the optimizer empty per-sample gradients instead.
        self._set_training(True)
        for p in self.module_.parameters():
            if p.requires_grad:
                p.grad_sample = p.new_zeros((0, *p.shape))
        for name in self.term_names:
            self.history.record_batch(f"train_{name}", 0.0)
        loss = torch.zeros((), device=next(self.module_.parameters()).device)
        return {"loss": loss, "y_pred": None}

    # --- attaching and detaching Opacus ---------------------------------------------------
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if not self.initialized_:
            self.initialize()
        hooks, plain_optimizer, accountant = self._attach_dp()
        loader_log = logging.getLogger("opacus.data_loader")
        loader_log.addFilter(_quiet_empty_batch)
        try:
            with warnings.catch_warnings():
                # torch's note that the first layer's input needs no gradient (it is data)
                warnings.filterwarnings(
                    "ignore", message="Full backward hook is firing", category=UserWarning
                )
                return super().partial_fit(X, y, classes=classes, **fit_params)
        finally:
            loader_log.removeFilter(_quiet_empty_batch)
            self._detach_dp(hooks, plain_optimizer, accountant)

    def _attach_dp(self):
        from opacus import GradSampleModule
        from opacus.accountants import RDPAccountant
        from opacus.optimizers import DPOptimizer

        problems = GradSampleModule.validate(self.module_, strict=False)
        if problems:
            raise ValueError(
                "dp=True cannot compute per-sample gradients for this network: "
                f"{'; '.join(str(p) for p in problems)}. Layers that keep statistics across "
                "samples (BatchNorm) are not compatible with DP-SGD; use norm='group'."
            )
        hooks = GradSampleModule(self.module_, batch_first=True, loss_reduction="mean")
        plain_optimizer = self.optimizer_
        optimizer = DPOptimizer(
            plain_optimizer,
            noise_multiplier=float(self.noise_multiplier),
            max_grad_norm=float(self.max_grad_norm),
            expected_batch_size=int(self.expected_batch_size),
            loss_reduction="mean",
        )
        accountant = RDPAccountant()
        # a second partial_fit (warm start) adds its steps to those already spent
        spent = getattr(self, "privacy_spent_", None)
        accountant.history = [tuple(h) for h in spent["history"]] if spent else []
        optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(self.sample_rate))
        self.optimizer_ = optimizer
        return hooks, plain_optimizer, accountant

    def _detach_dp(self, hooks, plain_optimizer, accountant):
        self.optimizer_ = plain_optimizer
        hooks.to_standard_module()  # removes the hooks
        _strip_opacus_attributes(self.module_)
        steps = sum(int(n) for _, _, n in accountant.history)
        if not steps:
            epsilon = 0.0
        elif any(sigma == 0 for sigma, _, _ in accountant.history):
            epsilon = math.inf  # clipping without noise: no privacy at all
        else:
            epsilon = float(accountant.get_epsilon(delta=float(self.delta), alphas=_ALPHAS))
        self.privacy_spent_ = {
            "epsilon": epsilon if not math.isnan(epsilon) else math.inf,
            "steps": steps,
            "history": [tuple(h) for h in accountant.history],
        }
