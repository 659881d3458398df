"""The order of the example gallery: from the first Pipeline to the comparison of methods."""

from __future__ import annotations

from pathlib import Path

ORDER = (
    "plot_pipeline_svc.py",
    "plot_latent_space.py",
    "plot_grid_search.py",
    "plot_donor_kit_roundtrip.py",
    "plot_privacy_audit.py",
    "plot_image_folder.py",
    "plot_baselines.py",
)


class ExampleOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``; unlisted examples go last."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename) -> tuple[int, str]:
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)
