"""skdcsae.plotting: every function returns a Figure, draws the right data and saves a PNG."""

import copy
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skdcsae import DCSAETransformer
from skdcsae.plotting import (
    _summarize,
    plot_accuracy_curves,
    plot_latent_comparison,
    plot_latent_space,
    plot_reconstructions,
)

from .conftest import FAST_CONV, FAST_MLP

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted():
    """A fast DC-SAE on digits 0 vs 1 (the ``digits_binary`` data), fitted once per module."""
    X, y = load_digits(n_class=2, return_X_y=True)
    X = X.reshape(-1, 8, 8)
    return DCSAETransformer(**FAST_CONV, random_state=0).fit(X, y), X, y


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _assert_png(path):
    assert path.is_file() and path.read_bytes()[:8] == PNG_MAGIC
    from PIL import Image

    with Image.open(path) as image:
        assert image.width > 100 and image.height > 100


def _flatten(X):
    return np.asarray(X).reshape(len(X), -1)


# --- latent space -------------------------------------------------------------------------------
def test_latent_space_one_panel_per_head(fitted, tmp_path):
    model, X, y = fitted
    fig = plot_latent_space(model, X, y, class_names=["zero", "one"], path=tmp_path / "z.png")
    assert isinstance(fig, Figure)
    _assert_png(tmp_path / "z.png")
    assert [ax.get_title() for ax in fig.axes] == [
        "DCSAETransformer: head 0 (class zero)",
        "DCSAETransformer: head 1 (class one)",
    ]
    heads = model.transform(X).reshape(len(X), 2, 2)
    for h, ax in enumerate(fig.axes):
        assert len(ax.collections) == 2  # one scatter per class
        for label, collection in zip((0, 1), ax.collections, strict=True):
            np.testing.assert_allclose(collection.get_offsets(), heads[y == label, h])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [f"zero (n={(y == 0).sum()})", f"one (n={(y == 1).sum()})"]


def test_latent_space_options(fitted):
    model, X, y = fitted
    fig = plot_latent_space(model, X, heads=1, title="only head 1")
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "only head 1"
    assert len(fig.axes[0].collections) == 1  # no labels: one colour
    fig = plot_latent_space(model, X, y, class_names={0: "a", 1: "b"})
    assert fig.axes[0].get_legend().get_texts()[1].get_text().startswith("b ")
    with pytest.raises(ValueError, match="heads"):
        plot_latent_space(model, X, y, heads=[0, 2])
    with pytest.raises(ValueError, match="labels but X has"):
        plot_latent_space(model, X, y[:-1])
    with pytest.raises(ValueError, match="Pass a dict"):
        plot_latent_space(model, X, np.where(y == 0, "zero", "one"), class_names=["a", "b"])


def test_latent_space_on_given_axes(fitted):
    model, X, y = fitted
    fig, axes = plt.subplots(1, 2)
    assert plot_latent_space(model, X, y, ax=axes) is fig
    assert axes[1].get_title().startswith("DCSAETransformer: head 1")
    _, single = plt.subplots()
    with pytest.raises(ValueError, match="2 panel"):
        plot_latent_space(model, X, y, ax=single)


def test_latent_space_paper_mode_is_one_panel(fitted):
    model, X, y = fitted
    paper = copy.deepcopy(model).set_params(feature_mode="paper")
    fig = plot_latent_space(paper, X, y)
    assert len(fig.axes) == 1
    np.testing.assert_allclose(
        np.concatenate([c.get_offsets() for c in fig.axes[0].collections]),
        np.concatenate([paper.transform(X)[y == c] for c in (0, 1)]),
    )


@pytest.mark.parametrize(
    ("n_components", "xlabel"), [(1, "z0"), (2, "pca0"), (5, "PC1 ")], ids=["1d", "2d", "5d"]
)
def test_latent_space_any_transformer(n_components, xlabel):
    X, y = load_digits(n_class=3, return_X_y=True)
    fig = plot_latent_space(PCA(n_components).fit(X), X, y)
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 3
    assert fig.axes[0].get_xlabel().startswith(xlabel)
    assert fig.axes[0].get_title() == "PCA"


def test_latent_comparison_side_by_side(fitted, tmp_path):
    model, X, y = fitted
    pca = make_pipeline(FunctionTransformer(_flatten), PCA(2)).fit(X)
    fig = plot_latent_comparison(
        {"DC-SAE": model, "PCA": pca}, X, y, title="digits", path=tmp_path / "cmp.png"
    )
    assert isinstance(fig, Figure)
    _assert_png(tmp_path / "cmp.png")
    assert [ax.get_title() for ax in fig.axes] == [
        "DC-SAE: head 0 (class 0)",
        "DC-SAE: head 1 (class 1)",
        "PCA",
    ]
    assert len(plot_latent_comparison({"DC-SAE": model, "PCA": pca}, X, y, heads=1).axes) == 2
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_latent_comparison({}, X, y)


def test_latent_comparison_takes_a_list(fitted):
    """A list of models, as one would pass to a loop, is drawn named by class (#17)."""
    model, X, y = fitted
    pca = PCA(2).fit(_flatten(X))
    flat = make_pipeline(FunctionTransformer(_flatten), PCA(2)).fit(X)
    for models in ([model, flat], (model, flat)):
        titles = [ax.get_title() for ax in plot_latent_comparison(models, X, y).axes]
        assert titles == [
            "DCSAETransformer: head 0 (class 0)",
            "DCSAETransformer: head 1 (class 1)",
            "Pipeline",
        ]
    twice = plot_latent_comparison([pca, pca], _flatten(X), y)
    assert [ax.get_title() for ax in twice.axes] == ["PCA (1)", "PCA (2)"]
    for bad in ([], model, "PCA"):
        with pytest.raises(ValueError, match=r"non-empty dict .* or a non-empty list"):
            plot_latent_comparison(bad, X, y)


# --- reconstructions ----------------------------------------------------------------------------
def test_reconstructions_true_head(fitted, tmp_path):
    model, X, y = fitted
    fig = plot_reconstructions(model, X, y, n=5, path=tmp_path / "rec.png")
    assert isinstance(fig, Figure)
    _assert_png(tmp_path / "rec.png")
    assert len(fig.axes) == 2 * 5
    rows = np.array(fig.axes).reshape(2, 5)
    lo, hi = model.input_range_
    # the first images of each class, 3 of class 0 and 2 of class 1, grouped by class
    shown_idx = np.r_[np.flatnonzero(y == 0)[:3], np.flatnonzero(y == 1)[:2]]
    for j, i in enumerate(shown_idx):  # the originals, shown in the fit data's range
        np.testing.assert_allclose(rows[0, j].images[0].get_array(), (X[i] - lo) / (hi - lo))
        assert rows[0, j].get_title() == str(y[i])
    assert rows[1, 0].get_ylabel() == "true head"
    # The true-head row equals the matching row of the all-heads figure (no y: the first n).
    every = np.array(plot_reconstructions(model, X[shown_idx], n=5).axes).reshape(3, 5)
    assert [every[i, 0].get_ylabel() for i in range(3)] == ["original", "head 0", "head 1"]
    for j, i in enumerate(shown_idx):
        shown = rows[1, j].images[0].get_array()
        np.testing.assert_allclose(shown, every[1 + y[i], j].images[0].get_array())
        assert not np.allclose(shown, every[2 - y[i], j].images[0].get_array())
        assert shown.shape == (8, 8) and shown.min() >= 0 and shown.max() <= 1
    # Reconstructions are drawn in pixel space, like the originals (the scaling is undone).
    originals = np.array([ax.images[0].get_array() for ax in rows[0]])
    rebuilt = np.array([ax.images[0].get_array() for ax in rows[1]])
    assert abs(rebuilt.mean() - originals.mean()) < 0.1
    assert np.abs(rebuilt - originals).mean() < 0.25


def test_reconstructions_show_every_class(fitted):
    """Sorted data used to give 8 images of one class; now every class shows (#17)."""
    model, X, y = fitted
    order = np.argsort(y, kind="stable")  # all the 0s first
    titles = [ax.get_title() for ax in plot_reconstructions(model, X[order], y[order]).axes[:8]]
    assert titles == ["0"] * 4 + ["1"] * 4
    again = [ax.get_title() for ax in plot_reconstructions(model, X[order], y[order]).axes[:8]]
    assert again == titles  # deterministic
    three = np.r_[y[:6], 2]  # more images asked for than a class has: the others fill in
    shown = plot_reconstructions(model, X[:7], three, n=7, head="all").axes[:7]
    assert sorted(ax.get_title() for ax in shown) == sorted(str(v) for v in three)


def test_reconstructions_errors(fitted):
    model, X, y = fitted
    with pytest.raises(ValueError, match="needs y"):
        plot_reconstructions(model, X, head="true")
    with pytest.raises(ValueError, match="head must be"):
        plot_reconstructions(model, X, head=2)
    with pytest.raises(ValueError, match="features per image"):
        plot_reconstructions(model, X[:, :4, :4])
    tabular = DCSAETransformer(**FAST_MLP, random_state=0).fit(_flatten(X), y)
    with pytest.raises(ValueError, match="image model"):
        plot_reconstructions(tabular, _flatten(X))
    with pytest.raises(TypeError, match="encoder"):
        pca = PCA(2).fit(_flatten(X))
        pca.net_ = object()
        plot_reconstructions(pca, _flatten(X))


# --- accuracy curves ----------------------------------------------------------------------------
RESULTS = {
    "DC-SAE": {10: [0.80, 0.90], 180: [0.95, 0.93, 0.94, 0.96], 40: [0.9, 0.92]},
    "VAE + SVC": {10: [0.5, 0.52], 180: 0.55},
}


def test_summarize_mean_and_sem():
    sizes, means, sems, counts = _summarize(RESULTS)["DC-SAE"]
    assert sizes.tolist() == [10, 40, 180]
    np.testing.assert_allclose(means, [0.85, 0.91, 0.945])
    np.testing.assert_allclose(sems[0], np.std([0.8, 0.9], ddof=1) / np.sqrt(2))
    assert counts.tolist() == [2, 2, 4]
    assert _summarize(RESULTS)["VAE + SVC"][2][1] == 0.0  # one seed: no error bar


def test_accuracy_curves(tmp_path):
    fig = plot_accuracy_curves(RESULTS, chance=0.5, title="PneumoniaMNIST", path=tmp_path / "a.png")
    assert isinstance(fig, Figure)
    _assert_png(tmp_path / "a.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["DC-SAE", "VAE + SVC", "chance"]
    line = ax.containers[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [10, 40, 180])
    np.testing.assert_allclose(line.get_ydata(), [0.85, 0.91, 0.945])
    assert [int(t) for t in ax.get_xticks()] == [10, 40, 180]
    fig2, ax2 = plt.subplots()
    assert plot_accuracy_curves(RESULTS, ax=ax2) is fig2


@pytest.mark.parametrize(
    "bad",
    [{}, [], {"m": {}}, {"m": {10: []}}, {"m": {10: [0.5, float("nan")]}}, {"m": [0.5]}],
    ids=["empty", "list", "no-sizes", "no-seeds", "nan", "not-a-dict"],
)
def test_accuracy_curves_rejects_bad_tables(bad):
    with pytest.raises(ValueError, match="results"):
        plot_accuracy_curves(bad)


# --- optional dependencies ----------------------------------------------------------------------
def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skdcsae\[plots\]"):
        plot_accuracy_curves(RESULTS)


def test_optional_dependencies_are_imported_lazily():
    code = (
        "import sys, skdcsae.plotting, skdcsae.datasets; "
        "print(sorted(m for m in ('matplotlib', 'PIL', 'pydicom') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
