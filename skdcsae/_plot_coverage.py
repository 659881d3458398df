"""The accuracy-coverage (risk-coverage) curve of selective labelling.

Re-exported from :mod:`skdcsae.plotting`. matplotlib is imported only when the function runs.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ._docstrings import Substitution, plot_docs
from .recipient._calibration import accuracy_at_coverage, risk_coverage_curve

__all__ = ["plot_risk_coverage"]

_GRID = np.round(np.arange(1, 101) / 100, 2)


def _runs(y_true, y_pred, confidence):
    """One ``(y_true, y_pred, confidence)`` triple per run, from arrays or lists of arrays."""
    if isinstance(confidence, (list, tuple)) and len(confidence) and np.ndim(confidence[0]) == 1:
        if not (
            isinstance(y_true, (list, tuple))
            and isinstance(y_pred, (list, tuple))
            and len(y_true) == len(y_pred) == len(confidence)
        ):
            raise ValueError(
                "Pass y_true, y_pred and confidence as three arrays, or as three lists with one "
                "array per run."
            )
        return list(zip(y_true, y_pred, confidence, strict=True))
    return [(y_true, y_pred, confidence)]


@Substitution(**plot_docs)
def plot_risk_coverage(
    y_true,
    y_pred,
    confidence,
    *,
    label=None,
    mark=(0.8, 0.9),
    ax=None,
    title=None,
    color=None,
    path=None,
):
    """Accuracy of the most confident labels against the fraction kept (coverage).

    Sort the labels from the most to the least confident and keep the first ``c``: the curve
    gives their accuracy for every coverage ``c``. Sending the other ``1 - c`` to a person
    (``review_fraction = 1 - c`` in :meth:`skdcsae.RecipientLabeler.label`) is worth it where
    the curve rises steeply to the left. The top axis reads the review fraction. Call again
    with the same ``ax`` to overlay curves.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,), or list of them
        True and predicted labels. Lists (one array per run, e.g. per seed) draw the mean
        accuracy over runs on a 1%% coverage grid with a band of one standard error.
    confidence : array-like of shape (n_samples,), or list of them
        Confidence of each prediction (higher: more confident), e.g.
        ``LabellingResult.confidence``.
    label : str, default=None
        Legend entry of the curve.
    mark : sequence of float, default=(0.8, 0.9)
        Coverages to mark with a dot and their accuracy; empty for none.
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` creates a figure.
    title : str, default=None
        Axes title.
    color : color, default=None
        Line colour; None takes the next of the Axes' cycle.
    %(plot_output)s
    ValueError
        If the inputs have different lengths, are empty, or a coverage in ``mark`` is outside
        (0, 1].

    See Also
    --------
    skdcsae.recipient.risk_coverage_curve : the curve's numbers.
    skdcsae.recipient.accuracy_at_coverage : one point of it.

    Examples
    --------
    >>> import numpy as np
    >>> from skdcsae.plotting import plot_risk_coverage
    >>> rng = np.random.default_rng(0)
    >>> confidence = rng.uniform(0.5, 1.0, 500)
    >>> y_true = np.zeros(500, dtype=int)
    >>> y_pred = (rng.uniform(size=500) > confidence).astype(int)  # right with p=confidence
    >>> fig = plot_risk_coverage(y_true, y_pred, confidence, label="calibrated")
    >>> fig.axes[0].get_xlabel()
    'Coverage: fraction of labels kept'
    """
    from ._plotting import _axes_for, _save

    runs = _runs(y_true, y_pred, confidence)
    marks = [float(m) for m in mark]
    if any(not isinstance(m, Real) or not 0.0 < m <= 1.0 for m in marks):
        raise ValueError(f"mark must hold coverages in (0, 1]; got {mark!r}.")
    fig, (axis,) = _axes_for(ax, 1, figsize=(5.6, 4.2))
    if color is None:  # the next colour of the cycle, counting this function's curves only
        color = f"C{sum(line.get_gid() == 'risk-coverage' for line in axis.lines) % 10}"
    if len(runs) == 1:
        coverage, accuracy, _ = risk_coverage_curve(*runs[0])
        coverage, accuracy = np.r_[0.0, coverage], np.r_[accuracy[0], accuracy]
        axis.plot(
            coverage,
            accuracy,
            color=color,
            lw=1.6,
            label=label,
            drawstyle="steps-post",
            gid="risk-coverage",
        )
        points = [accuracy_at_coverage(*runs[0], m) for m in marks]
    else:
        curves = np.array([[accuracy_at_coverage(*r, c) for c in _GRID] for r in runs])
        mean = curves.mean(axis=0)
        sem = curves.std(axis=0, ddof=1) / np.sqrt(len(runs))
        runs_label = f"{len(runs)} runs" if label is None else f"{label} ({len(runs)} runs)"
        axis.plot(_GRID, mean, color=color, lw=1.6, label=runs_label, gid="risk-coverage")
        axis.fill_between(_GRID, mean - sem, mean + sem, color=color, alpha=0.2, lw=0)
        points = [float(np.mean([accuracy_at_coverage(*r, m) for r in runs])) for m in marks]
    for m, acc in zip(marks, points, strict=True):
        axis.plot([m], [acc], "o", color=color, ms=5, zorder=3)
        axis.annotate(
            f"{acc:.3f}",
            (m, acc),
            textcoords="offset points",
            xytext=(-4, 6),
            ha="right",
            fontsize="small",
            color=color,
        )
    axis.set_xlim(0.0, 1.0)
    axis.set_xlabel("Coverage: fraction of labels kept")
    axis.set_ylabel("Accuracy of the kept labels")
    if not any(getattr(a, "_skdcsae_review_axis", False) for a in axis.child_axes):
        top = axis.secondary_xaxis("top", functions=(lambda c: 1 - c, lambda r: 1 - r))
        top.set_xlabel("Review fraction (sent to a person)", fontsize="small")
        top._skdcsae_review_axis = True
    axis.grid(alpha=0.3)
    if label is not None or len(runs) > 1 or axis.get_legend() is not None:
        axis.legend(loc="lower left", fontsize="small")
    if title is not None:
        axis.set_title(title)
    return _save(fig, path)
