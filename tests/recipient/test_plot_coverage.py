"""plot_risk_coverage: the accuracy-coverage curve (skdcsae/_plot_coverage.py)."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from skdcsae._plot_coverage import plot_risk_coverage
from skdcsae.recipient import accuracy_at_coverage, risk_coverage_curve


def _predictions(seed, n=400):
    rng = np.random.default_rng(seed)
    confidence = rng.uniform(0.5, 1.0, n)
    y_true = rng.integers(0, 2, n)
    right = rng.uniform(size=n) < confidence
    return y_true, np.where(right, y_true, 1 - y_true), confidence


def test_one_run_draws_the_exact_curve_and_marks(tmp_path):
    y, p, c = _predictions(0)
    fig = plot_risk_coverage(y, p, c, label="calibrated", path=tmp_path / "rc.png")
    assert (tmp_path / "rc.png").stat().st_size > 5000
    ax = fig.axes[0]
    curve = next(line for line in ax.lines if line.get_gid() == "risk-coverage")
    coverage, accuracy, _ = risk_coverage_curve(y, p, c)
    np.testing.assert_allclose(curve.get_xdata()[1:], coverage)
    np.testing.assert_allclose(curve.get_ydata()[1:], accuracy)
    texts = sorted(t.get_text() for t in ax.texts)
    expected = sorted(f"{accuracy_at_coverage(y, p, c, m):.3f}" for m in (0.8, 0.9))
    assert texts == expected
    assert ax.get_xlabel() == "Coverage: fraction of labels kept"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["calibrated"]
    top = [a for a in ax.child_axes if getattr(a, "_skdcsae_review_axis", False)]
    assert len(top) == 1 and "Review fraction" in top[0].get_xlabel()
    plt.close(fig)


def test_several_runs_give_a_mean_curve_and_overlays_take_new_colours():
    runs = [_predictions(s) for s in range(4)]
    y, p, c = (list(a) for a in zip(*runs, strict=True))
    fig = plot_risk_coverage(y, p, c, label="n=50", mark=())
    ax = fig.axes[0]
    mean = next(line for line in ax.lines if line.get_gid() == "risk-coverage")
    expected = np.mean([[accuracy_at_coverage(*r, 0.5)] for r in runs])
    assert mean.get_ydata()[49] == pytest.approx(expected)  # grid point 0.50
    assert len(ax.collections) == 1  # the standard-error band
    plot_risk_coverage(*runs[0], label="one seed", ax=ax, mark=(0.7,))
    colours = [line.get_color() for line in ax.lines if line.get_gid() == "risk-coverage"]
    assert colours == ["C0", "C1"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["n=50 (4 runs)", "one seed"]
    assert sum(getattr(a, "_skdcsae_review_axis", False) for a in ax.child_axes) == 1
    plt.close(fig)


def test_bad_input():
    y, p, c = _predictions(0)
    with pytest.raises(ValueError, match="mark must hold coverages"):
        plot_risk_coverage(y, p, c, mark=(0.0,))
    with pytest.raises(ValueError, match="one array per run"):
        plot_risk_coverage(y, p, [c, c])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        plot_risk_coverage(y, p[:-1], c)
    plt.close("all")
