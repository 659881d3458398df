"""The Recipient's side: label its own images with a donor kit.

:class:`RecipientLabeler` loads and verifies a kit, rebuilds its encoder and trains a
classifier on the kit's features; nothing here reaches back into the estimators that made the
kit. :func:`label_archive` labels archives of any size in bounded memory, resumably, in this
process or on a Dask cluster (``pip install skdcsae[distributed]``).
"""

from ._labeler import RecipientLabeler
from ._stream import LabellingReport, label_archive

__all__ = ["LabellingReport", "RecipientLabeler", "TorchThreads", "label_archive"]


def __getattr__(name):
    # TorchThreads subclasses distributed.WorkerPlugin: import distributed only when asked.
    if name == "TorchThreads":
        from ._cluster import TorchThreads

        return TorchThreads
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
