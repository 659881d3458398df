"""The Recipient's side: label its own images with a donor kit.

:class:`RecipientLabeler` loads and verifies a kit, rebuilds its encoder and trains a
classifier on the kit's features; nothing here reaches back into the estimators that made the
kit. :meth:`RecipientLabeler.label` adds calibrated confidence and a review queue
(:class:`LabellingResult`); the measures of calibration and selective labelling are
:func:`expected_calibration_error`, :func:`risk_coverage_curve` and
:func:`accuracy_at_coverage`; :func:`write_report` writes the HTML page a person reviews.
:func:`label_archive` labels archives of any size in bounded memory, resumably, in this
process or on a Dask cluster (``pip install skdcsae[distributed]``).
"""

from ._calibration import accuracy_at_coverage, expected_calibration_error, risk_coverage_curve
from ._labeler import RecipientLabeler
from ._report import write_report
from ._review import LabellingResult
from ._stream import LabellingReport, label_archive

__all__ = [
    "LabellingReport",
    "LabellingResult",
    "RecipientLabeler",
    "TorchThreads",
    "accuracy_at_coverage",
    "expected_calibration_error",
    "label_archive",
    "risk_coverage_curve",
    "write_report",
]


def __getattr__(name):
    # TorchThreads subclasses distributed.WorkerPlugin: import distributed only when asked.
    if name == "TorchThreads":
        from ._cluster import TorchThreads

        return TorchThreads
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
