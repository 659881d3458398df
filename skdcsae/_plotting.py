"""Helpers of :mod:`skdcsae.plotting`: figures, panels, label names, image selection.

Nothing here imports matplotlib at import time; :func:`_pyplot` does when a plot is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral

import numpy as np

_INSTALL_HINT = "pip install skdcsae[plots]"
_PANEL_SIZE = (4.2, 3.8)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(f"skdcsae.plotting needs matplotlib: {_INSTALL_HINT}") from exc
    return plt


def _save(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=150, bbox_inches="tight")
    return fig


def _axes_for(ax, n_panels: int, *, figsize=None):
    """``n_panels`` Axes in one row: new ones, or the user's (one Axes or a sequence)."""
    if ax is None:
        plt = _pyplot()
        width, height = figsize or (_PANEL_SIZE[0] * n_panels, _PANEL_SIZE[1])
        fig, axes = plt.subplots(
            1, n_panels, figsize=(width, height), squeeze=False, layout="constrained"
        )
        return fig, list(axes[0])
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n_panels:
        raise ValueError(
            f"This plot has {n_panels} panel(s) but {len(axes)} Axes were given; pass "
            f"{n_panels} Axes (or ax=None to create a figure)."
        )
    return axes[0].figure, axes


def _label_namer(class_names):
    """A function label -> display name, from a dict or a sequence indexed by label."""
    if class_names is None:
        return str
    if isinstance(class_names, Mapping):
        return lambda label: str(class_names.get(label, label))
    names = list(class_names)

    def name(label):
        if isinstance(label, (Integral, np.integer)) and 0 <= int(label) < len(names):
            return str(names[int(label)])
        raise ValueError(
            f"class_names given as a sequence names integer labels 0..{len(names) - 1} "
            f"(like a Bunch's target_names); got label {label!r}. Pass a dict instead."
        )

    return name


def _to_2d(block: np.ndarray, rng_seed: int = 0):
    """Coordinates to draw for one block of latent features, and the axis labels."""
    d = block.shape[1]
    if d == 2:
        return block, ("z0", "z1")
    if d == 1:  # a strip plot: the value against a little seeded jitter
        jitter = np.random.default_rng(rng_seed).uniform(-0.4, 0.4, len(block))
        return np.column_stack([block[:, 0], jitter]), ("z0", "jitter")
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0).fit(block)
    ratio = pca.explained_variance_ratio_
    return pca.transform(block), (f"PC1 ({ratio[0]:.0%} var.)", f"PC2 ({ratio[1]:.0%} var.)")


def _latent_panels(transformer, X, heads, namer, name=None):
    """One panel per latent head (multi-head skdcsae models) or one for the whole output."""
    Z = np.asarray(transformer.transform(X))
    if Z.ndim != 2:
        raise ValueError(f"transform(X) must return a 2-d array; got shape {Z.shape}.")
    config = getattr(getattr(getattr(transformer, "net_", None), "module_", None), "config", None)
    name = name or type(transformer).__name__
    blocks = [(Z, name)]
    if (
        isinstance(config, Mapping)
        and getattr(transformer, "feature_mode", "means") == "means"
        and Z.shape[1] == config["n_heads"] * config["latent_dim"]
        and config["n_heads"] > 1
    ):
        k, d = config["n_heads"], config["latent_dim"]
        classes = getattr(transformer, "classes_", None)
        per_head = Z.reshape(len(Z), k, d)
        blocks = []
        for h in range(k):
            owner = (
                f" (class {namer(classes[h])})" if classes is not None and len(classes) == k else ""
            )
            blocks.append((per_head[:, h], f"{name}: head {h}{owner}"))
    if heads != "all":
        if len(blocks) == 1:
            raise ValueError(f"heads={heads!r} needs a multi-head model; {name} has one output.")
        chosen = [heads] if isinstance(heads, Integral) else list(heads)
        bad = [h for h in chosen if not isinstance(h, Integral) or not 0 <= h < len(blocks)]
        if bad or not chosen:
            raise ValueError(
                f"heads must be 'all' or indices in 0..{len(blocks) - 1}; got {heads!r}."
            )
        blocks = [blocks[h] for h in chosen]
    panels = [(*_to_2d(block), title) for block, title in blocks]
    if len(blocks) == 1 and Z.shape[1] == 2 and hasattr(transformer, "get_feature_names_out"):
        try:  # e.g. PCA's "pca0", "pca1"
            names = tuple(str(f) for f in transformer.get_feature_names_out())
        except Exception:  # not every transformer can name its features
            names = ()
        if len(names) == 2:
            panels = [(panels[0][0], names, panels[0][2])]
    return panels


def _draw_panel(ax, coords, axis_labels, title, y, namer, *, s, alpha, legend):
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    if y is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=s, alpha=alpha, lw=0, color="C0")
    else:
        for i, label in enumerate(np.unique(y)):
            mask = y == label
            ax.scatter(
                coords[mask, 0],
                coords[mask, 1],
                s=s,
                alpha=alpha,
                lw=0,
                color=f"C{i % 10}",
                label=f"{namer(label)} (n={int(mask.sum())})",
            )
        if legend:
            ax.legend(loc="best", fontsize="small", markerscale=1.5, framealpha=0.8)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title, fontsize="medium")


def _check_y(y, n):
    if y is None:
        return None
    y = np.asarray(y).ravel()
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels but X has {n} samples.")
    return y


def _image_for_display(flat, shape, lo, hi):
    """(C, H, W) pixels as something imshow draws, scaled to [0, 1]."""
    image = flat.reshape(shape).astype(np.float64)
    image = np.clip((image - lo) / (hi - lo) if hi > lo else image * 0, 0, 1)
    return image.transpose(1, 2, 0) if shape[0] == 3 else image[0]


def _summarize(results):
    """``{method: (sizes, means, sems, n_seeds)}`` from ``{method: {n: [accuracies]}}``."""
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            "results must be a non-empty dict {method: {donor_size: [accuracy per seed]}}."
        )
    summary = {}
    for method, by_size in results.items():
        if not isinstance(by_size, Mapping) or not by_size:
            raise ValueError(
                f"results[{method!r}] must be a non-empty dict {{donor_size: [accuracies]}}."
            )
        sizes, means, sems, counts = [], [], [], []
        for size in sorted(by_size):
            values = np.atleast_1d(np.asarray(by_size[size], dtype=np.float64))
            if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
                raise ValueError(
                    f"results[{method!r}][{size!r}] must be one or more finite numbers; "
                    f"got {by_size[size]!r}."
                )
            sizes.append(size)
            means.append(values.mean())
            sems.append(values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0)
            counts.append(values.size)
        summary[method] = tuple(np.asarray(v) for v in (sizes, means, sems, counts))
    return summary


def _named_transformers(transformers) -> list:
    """``[(name, transformer), ...]`` from a dict, or from a list named by class."""
    if isinstance(transformers, Mapping):
        items = [(str(name), t) for name, t in transformers.items()]
    elif isinstance(transformers, (list, tuple)):
        names = [type(t).__name__ for t in transformers]
        items = [
            (f"{name} ({names[:i].count(name) + 1})" if names.count(name) > 1 else name, t)
            for i, (name, t) in enumerate(zip(names, transformers, strict=True))
        ]
    else:
        items = []
    if not items:
        raise ValueError(
            "transformers must be a non-empty dict {name: fitted transformer} or a non-empty "
            f"list of fitted transformers; got {type(transformers).__name__}."
        )
    return items


def _balanced_indices(y: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` indices spread evenly over the classes of ``y``, grouped by class.

    Each class in turn (sorted) takes its next image in the order of ``y`` until ``n`` are
    taken, so the first images of every class are shown and the choice is deterministic.
    """
    per_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    taken = [0] * len(per_class)
    left = min(n, len(y))
    while left:
        for k, idx in enumerate(per_class):
            if left and taken[k] < len(idx):
                taken[k] += 1
                left -= 1
    return np.concatenate([idx[:t] for idx, t in zip(per_class, taken, strict=True)])
