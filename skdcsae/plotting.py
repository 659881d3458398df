"""Plots of latent spaces, reconstructions and accuracy curves.

matplotlib is an optional dependency, imported only when a function is called:
``pip install skdcsae[plots]``. Every function returns the matplotlib
:class:`~matplotlib.figure.Figure` and saves it when given ``path``.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from ._docstrings import Substitution, plot_docs
from ._plot_coverage import plot_risk_coverage
from ._plotting import (
    _axes_for,
    _balanced_indices,
    _check_y,
    _draw_panel,
    _image_for_display,
    _label_namer,
    _latent_panels,
    _named_transformers,
    _pyplot,
    _save,
    _summarize,
)

__all__ = [
    "plot_accuracy_curves",
    "plot_latent_comparison",
    "plot_latent_space",
    "plot_reconstructions",
    "plot_risk_coverage",
]


def _draw_panels(panels, y, namer, *, ax, title, s, alpha, path, panel_title=True):
    """Draw latent panels in one row (legend in the first) and save; a lone panel takes the
    title as its own when ``panel_title``, else the figure takes it."""
    y = _check_y(y, len(panels[0][0]))
    fig, axes = _axes_for(ax, len(panels))
    for i, (axis, (coords, labels, name)) in enumerate(zip(axes, panels, strict=True)):
        _draw_panel(axis, coords, labels, name, y, namer, s=s, alpha=alpha, legend=i == 0)
    if title is not None:
        if panel_title and len(axes) == 1:
            axes[0].set_title(title)
        else:
            fig.suptitle(title)
    return _save(fig, path)


@Substitution(**plot_docs)
def plot_latent_space(
    transformer, X, y=None, *, heads="all", class_names=None, ax=None, title=None, s=14,
    alpha=0.7, path=None,
):  # fmt: skip
    """Scatter plot of the latent features of ``X``, coloured by class.

    For a fitted multi-head skdcsae model such as :class:`~skdcsae.DCSAETransformer` (with
    ``feature_mode="means"``) each latent head gets its own panel showing that head's plane,
    as in Figure 2 of Padhye et al. (2023): the true-class head spreads the images of its
    class away from the origin while the images of the other classes are pulled to it. For
    any other transformer the output of ``transform`` is drawn in one panel. A 2-d latent is
    drawn as is; a 1-d one as a strip plot; more dimensions are projected on their first two
    principal components.

    Parameters
    ----------
    transformer : fitted estimator with ``transform``
        For example a :class:`~skdcsae.DCSAETransformer` or a scikit-learn ``PCA``.
    X : array-like
        Images or features, passed to ``transformer.transform`` unchanged.
    y : array-like of shape (n_samples,), default=None
        Class labels to colour the points by; ``None`` draws them in one colour.
    heads : "all", int or sequence of int, default="all"
        Which heads of a multi-head model to draw.
    class_names : dict or sequence of str, default=None
        Display names of the labels: a dict ``{label: name}``, or a sequence indexed by
        integer label (such as a dataset Bunch's ``target_names``).
    ax : matplotlib Axes or sequence of Axes, default=None
        Where to draw, one Axes per panel. ``None`` creates a figure.
    %(scatter_style)s
    %(plot_output)s
    ValueError
        If ``y`` and ``X`` differ in length, ``ax`` has the wrong number of Axes, ``heads``
        does not fit the model, ``transform`` does not return a 2-d array, or a label has no
        entry in a sequence ``class_names``.

    See Also
    --------
    plot_latent_comparison : The latent spaces of several models side by side.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import DCSAETransformer
    >>> from skdcsae.plotting import plot_latent_space
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(image_shape=(8, 8), max_epochs=3, min_steps=0, random_state=0)
    >>> dcsae = dcsae.fit(X, y)
    >>> fig = plot_latent_space(dcsae, X, y, class_names=["zero", "one"])
    >>> [ax.get_title() for ax in fig.axes]
    ['DCSAETransformer: head 0 (class zero)', 'DCSAETransformer: head 1 (class one)']
    """
    namer = _label_namer(class_names)
    panels = _latent_panels(transformer, X, heads, namer)
    return _draw_panels(panels, y, namer, ax=ax, title=title, s=s, alpha=alpha, path=path)


@Substitution(**plot_docs)
def plot_latent_comparison(
    transformers, X, y=None, *, heads="all", class_names=None, ax=None, title=None, s=14,
    alpha=0.7, path=None,
):  # fmt: skip
    """The latent spaces of several fitted models side by side (e.g. DC-SAE beside a VAE).

    Each model gets the panels :func:`plot_latent_space` would draw for it (one per head for
    a multi-head skdcsae model, one otherwise), all in one row.

    Parameters
    ----------
    transformers : dict of str to fitted estimator, or list of fitted estimators
        Display name -> fitted transformer, drawn in this order. A list is drawn in its
        order and named by class (``"DCSAETransformer"``, ``"VAETransformer"``; repeated
        classes are numbered).
    X : array-like
        Passed unchanged to every ``transform``.
    y : array-like of shape (n_samples,), default=None
        Class labels to colour the points by.
    heads : "all", int or sequence of int, default="all"
        Heads to draw for multi-head models (ignored for single-output models).
    class_names : dict or sequence of str, default=None
        Display names of the labels (see :func:`plot_latent_space`).
    ax : sequence of matplotlib Axes, default=None
        One Axes per panel; ``None`` creates a figure.
    %(scatter_style)s
    %(plot_output)s
    ValueError
        If ``transformers`` is empty or neither a dict nor a list, or for any reason
        :func:`plot_latent_space` gives.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from skdcsae import DCSAETransformer
    >>> from skdcsae.plotting import plot_latent_comparison
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(image_shape=(8, 8), max_epochs=3, min_steps=0, random_state=0)
    >>> dcsae = dcsae.fit(X, y)
    >>> fig = plot_latent_comparison({"DC-SAE": dcsae, "PCA": PCA(2).fit(X)}, X, y)
    >>> len(fig.axes)
    3
    >>> [ax.get_title() for ax in plot_latent_comparison([dcsae, PCA(2).fit(X)], X, y).axes]
    ['DCSAETransformer: head 0 (class 0)', 'DCSAETransformer: head 1 (class 1)', 'PCA']
    """
    named = _named_transformers(transformers)
    namer = _label_namer(class_names)
    panels = []
    for name, transformer in named:
        chosen = heads
        if heads != "all":
            config = getattr(
                getattr(getattr(transformer, "net_", None), "module_", None), "config", None
            )
            if not isinstance(config, Mapping) or config.get("n_heads", 1) < 2:
                chosen = "all"
        panels += _latent_panels(transformer, X, chosen, namer, name=name)
    return _draw_panels(
        panels, y, namer, ax=ax, title=title, s=s, alpha=alpha, path=path, panel_title=False
    )


@Substitution(**plot_docs)
def plot_reconstructions(
    transformer, X, y=None, *, n=8, head=None, class_names=None, title=None, path=None
):
    """Originals above their reconstructions from the latent means.

    The images are encoded with the fitted network of a skdcsae transformer, the mean of a
    latent head is decoded, and the result is shown in the images' own pixel range. With
    ``y`` each image is decoded from the head of its true class (what the DC-SAE learns to
    reconstruct); without it, one row per head is drawn, which shows how each head encodes
    images of the other classes.

    Parameters
    ----------
    transformer : fitted skdcsae transformer
        An image model such as :class:`~skdcsae.DCSAETransformer` (fitted with an image
        shape): its ``net_.module_`` must have ``encoder`` and ``decode``.
    X : array-like
        Images in a layout the transformer accepts.
    y : array-like of shape (n_samples,), default=None
        True labels (values of ``transformer.classes_``), to decode from the true head and
        to name the columns. With ``y`` the ``n`` images are spread evenly over the classes
        (the first images of each class, grouped by class); without it the first ``n``
        images are drawn.
    n : int, default=8
        Number of images.
    head : int, "true" or "all", default=None
        Which head(s) to decode: a head index, ``"true"`` (needs ``y``) or ``"all"``.
        ``None`` means ``"true"`` when ``y`` is given and ``"all"`` otherwise.
    class_names : dict or sequence of str, default=None
        Display names of the labels (see :func:`plot_latent_space`).
    title : str, default=None
        Figure title.
    %(plot_output)s
    TypeError
        If the transformer is not a fitted skdcsae model with an encoder and a decoder.
    ValueError
        If the model has no image shape, ``n`` is not a positive int, ``X`` does
        not match the fitted image size, or ``head`` is invalid (``head='true'`` needs ``y``
        with labels in ``classes_``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import DCSAETransformer
    >>> from skdcsae.plotting import plot_reconstructions
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> dcsae = DCSAETransformer(image_shape=(8, 8), max_epochs=3, min_steps=0, random_state=0)
    >>> dcsae = dcsae.fit(X, y)
    >>> fig = plot_reconstructions(dcsae, X, y, n=4)
    >>> len(fig.axes)  # 2 rows of 4
    8
    """
    import torch
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(transformer, "net_")
    module = getattr(transformer.net_, "module_", None)
    if not (hasattr(module, "encoder") and hasattr(module, "decode")):
        raise TypeError(
            f"plot_reconstructions needs a skdcsae model whose net_.module_ has `encoder` and "
            f"`decode`; {type(transformer).__name__} has none."
        )
    shape = getattr(transformer, "image_shape_", None)
    if shape is None:
        raise ValueError("plot_reconstructions needs an image model (fitted with an image shape).")
    if not isinstance(n, Integral) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    X = np.asarray(X)
    flat = X.reshape(len(X), -1)
    if flat.shape[1] != transformer.n_features_in_:
        raise ValueError(
            f"X has {flat.shape[1]} features per image; the model was fitted on "
            f"{transformer.n_features_in_} (image shape {shape})."
        )
    y = _check_y(y, len(flat))
    shown = np.arange(min(n, len(flat))) if y is None else _balanced_indices(y, n)
    flat = flat[shown]
    y = None if y is None else y[shown]
    m = len(flat)
    n_heads = module.config["n_heads"]
    if head is None:
        head = "true" if y is not None and n_heads > 1 else "all"
    if head == "true":
        if y is None:
            raise ValueError("head='true' needs y, the true labels.")
        classes = transformer.classes_
        unknown = np.setdiff1d(y, classes)
        if unknown.size:
            raise ValueError(f"y has labels {unknown.tolist()} not in classes_ {classes.tolist()}.")
        rows = [("true head", np.searchsorted(classes, y))]
    elif head == "all":
        rows = [(f"head {h}", np.full(m, h)) for h in range(n_heads)]
    elif isinstance(head, Integral) and 0 <= head < n_heads:
        rows = [(f"head {head}", np.full(m, head))]
    else:
        raise ValueError(
            f"head must be None, 'true', 'all' or an int in 0..{n_heads - 1}; got {head!r}."
        )

    device = transformer.net_.device
    module.eval()
    with torch.inference_mode():
        mus, _ = module.encoder(transformer._to_tensor(flat).to(device))
        picked = torch.arange(m, device=mus.device)
        decoded = [
            module.decode(mus[picked, torch.as_tensor(idx, device=mus.device)])
            .reshape(m, -1)
            .cpu()
            .numpy()
            .astype(np.float64)
            for _, idx in rows
        ]
    scale = np.asarray(transformer.input_scale_, dtype=np.float64)
    offset = np.asarray(transformer.input_offset_, dtype=np.float64)
    lo, hi = transformer.input_range_
    if transformer.scaling_ == "standard":  # per-feature scaling: show in the fit data's range
        lo, hi = float(np.min(flat)), float(np.max(flat))

    namer = _label_namer(class_names)
    plt = _pyplot()
    fig, axes = plt.subplots(
        1 + len(rows),
        m,
        figsize=(1.3 * m + 0.8, 1.35 * (1 + len(rows))),
        squeeze=False,
        layout="constrained",
    )
    cmap = "gray" if shape[0] == 1 else None
    for j in range(m):
        originals = [flat[j].astype(np.float64)] + [d[j] * scale + offset for d in decoded]
        for i, pixels in enumerate(originals):
            axis = axes[i, j]
            axis.imshow(_image_for_display(pixels, shape, lo, hi), cmap=cmap, vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if j == 0:
                axis.set_ylabel("original" if i == 0 else rows[i - 1][0], fontsize="small")
        if y is not None:
            axes[0, j].set_title(namer(y[j]), fontsize="small")
    if title is not None:
        fig.suptitle(title)
    return _save(fig, path)


@Substitution(**plot_docs)
def plot_accuracy_curves(
    results,
    *,
    ax=None,
    title=None,
    xlabel="Donor images per class",
    ylabel="Accuracy",
    chance=None,
    path=None,
):
    """Accuracy against donor size, mean and standard error over seeds (the paper's Fig. 3).

    Parameters
    ----------
    results : dict
        ``{method: {donor_size: [accuracy of each seed]}}``, e.g.
        ``{"DC-SAE": {10: [0.82, 0.91], 180: [0.95, 0.94]}, "VAE + SVC": {...}}``. A single
        number instead of a list counts as one seed. Methods are drawn in dict order. To
        build it from rows (dicts with ``method``, ``n``, ``accuracy``)::

            results = {}
            for row in rows:
                results.setdefault(row["method"], {}).setdefault(row["n"], []).append(
                    row["accuracy"])
    ax : matplotlib Axes, default=None
        Where to draw; ``None`` creates a figure.
    title : str, default=None
        Axes title.
    xlabel, ylabel : str
        Axis labels.
    chance : float, default=None
        If given, a dashed horizontal line at this accuracy (e.g. 0.5 for balanced binary).
    %(plot_output)s
    ValueError
        If ``results`` is not a non-empty ``{method: {donor_size: [accuracies]}}`` of finite
        numbers, or ``chance`` is neither a number nor None.

    Notes
    -----
    Error bars are the standard error of the mean, ``std(ddof=1) / sqrt(n_seeds)``; a size
    with a single seed has no error bar.

    Examples
    --------
    >>> from skdcsae.plotting import plot_accuracy_curves
    >>> results = {
    ...     "DC-SAE": {10: [0.82, 0.88, 0.91, 0.85], 180: [0.95, 0.94, 0.95, 0.94]},
    ...     "VAE + SVC": {10: [0.52, 0.49, 0.55, 0.50], 180: [0.55, 0.51, 0.50, 0.52]},
    ... }
    >>> fig = plot_accuracy_curves(results, chance=0.5)
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['DC-SAE', 'VAE + SVC', 'chance']
    """
    summary = _summarize(results)
    if chance is not None and not isinstance(chance, Real):
        raise ValueError(f"chance must be a number or None; got {chance!r}.")
    fig, (axis,) = _axes_for(ax, 1, figsize=(6.0, 4.2))
    all_sizes, handles = set(), []
    for i, (method, (sizes, means, sems, _)) in enumerate(summary.items()):
        handle = axis.errorbar(
            sizes,
            means,
            yerr=sems,
            marker="o",
            ms=4,
            capsize=3,
            lw=1.5,
            color=f"C{i % 10}",
            label=str(method),
        )
        handles.append(handle)
        all_sizes.update(sizes.tolist())
    if chance is not None:
        handles.append(axis.axhline(chance, color="0.5", ls="--", lw=1, label="chance"))
    axis.set_xticks(sorted(all_sizes))
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.grid(alpha=0.3)
    axis.legend(handles=handles, loc="best", fontsize="small")
    if title is not None:
        axis.set_title(title)
    return _save(fig, path)
