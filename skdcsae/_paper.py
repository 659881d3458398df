"""The paper's exact DC-SAE setting, one parameter dict away from the defaults."""

__all__ = ["PAPER_PARAMS"]

#: The paper's exact setting (Padhye et al., CIKM 2023, PneumoniaMNIST; the authors' code):
#: ``DCSAETransformer(**PAPER_PARAMS)``, exported with ``release="per_image"``. The defaults
#: differ where measurements found better (see the user guide).
PAPER_PARAMS = {
    "n_components": 2,
    "alpha": 10.0,
    "beta": 10.0,
    "rho": 5.0,
    "feature_mode": "paper",
    "conv_channels": (128, 64, 32, 16),
    "dense_sizes": (2048, 1000, 250),
    "lr": 1e-4,
    "max_epochs": 50,
    "min_steps": 0,
    "lr_schedule": "constant",
    "augment": False,
    "self_training": None,
    "batch_size": 1,
}
