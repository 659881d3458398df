"""Pictures for the labelling report, each returned as PNG bytes (nothing touches the disk)."""

from __future__ import annotations

import io

import numpy as np

_DPI = 110


def _figure(width: float, height: float):
    """A matplotlib Figure without pyplot (no GUI backend, no global state)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "the labelling report draws its figures with matplotlib: pip install skdcsae[plots]"
        ) from exc
    return Figure(figsize=(width, height), layout="constrained")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def confidence_histogram(result, threshold=None) -> bytes:
    """Histogram of the labels' confidence, stacked by predicted label."""
    fig = _figure(6.0, 3.0)
    ax = fig.add_subplot()
    n_classes = len(result.classes)
    edges = np.linspace(1.0 / n_classes if n_classes > 1 else 0.0, 1.0, 26)
    groups = [result.confidence[result.labels == c] for c in result.classes]
    ax.hist(
        groups,
        bins=edges,
        stacked=True,
        color=[f"C{i % 10}" for i in range(n_classes)],
        label=[f"{c} (n={len(g)})" for c, g in zip(result.classes, groups, strict=True)],
    )
    if threshold is not None:
        ax.axvline(threshold, color="0.2", ls="--", lw=1, label="review below this")
    ax.set_xlabel("Probability of the assigned label (calibrated)")
    ax.set_ylabel("Images")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return _png(fig)


def latent_space(result, kit) -> bytes:
    """The recipient's latent features per head, flagged images ringed, donor rows as crosses."""
    from .._plotting import _to_2d

    member = kit.members[0]  # an ensemble's members sit side by side: show the first
    donor = np.asarray(member.features)
    donor_labels = np.asarray(kit.classes)[member.label_index]
    features = result.features[:, : donor.shape[1]]
    k, d = int(member.encoder_config["n_heads"]), member.latent_dim
    if kit.feature_mode == "means" and k > 1 and features.shape[1] == k * d:
        blocks = [
            (features[:, h * d : (h + 1) * d], donor[:, h * d : (h + 1) * d], f"head {h}")
            for h in range(k)
        ]
        titles = [f"head {h} (class {kit.classes[h]})" for h in range(k)]
    else:
        blocks, titles = [(features, donor, "features")], ["latent features"]
    fig = _figure(4.0 * len(blocks), 3.8)
    axes = fig.subplots(1, len(blocks), squeeze=False)[0]
    for i, ((recipient, donor_block, _), title) in enumerate(zip(blocks, titles, strict=True)):
        both, axis_labels = _to_2d(np.vstack([recipient, donor_block]))
        coords, donor_coords = both[: len(recipient)], both[len(recipient) :]
        ax = axes[i]
        ax.axhline(0, color="0.85", lw=0.8, zorder=0)
        ax.axvline(0, color="0.85", lw=0.8, zorder=0)
        for j, c in enumerate(result.classes):
            mine = coords[result.labels == c]
            ax.scatter(mine[:, 0], mine[:, 1], s=8, alpha=0.5, lw=0, color=f"C{j % 10}")
        flagged = coords[result.needs_review]
        ax.scatter(flagged[:, 0], flagged[:, 1], s=22, facecolors="none", edgecolors="k", lw=0.6)
        for j, c in enumerate(result.classes):
            rows = donor_coords[donor_labels == c]
            ax.scatter(rows[:, 0], rows[:, 1], marker="x", s=26, lw=1.2, color=f"C{j % 10}")
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
        ax.set_title(title, fontsize="medium")
    handles = [
        axes[0].scatter([], [], s=14, color=f"C{j % 10}", label=f"recipient, labelled {c}")
        for j, c in enumerate(result.classes)
    ]
    handles += [
        axes[0].scatter([], [], marker="x", color="0.3", label="donor kit rows"),
        axes[0].scatter([], [], s=22, facecolors="none", edgecolors="k", label="needs review"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")
    return _png(fig)


def coverage_curve(y_true, result) -> bytes:
    """Accuracy-coverage curve with the review rule's operating point."""
    from .._plot_coverage import plot_risk_coverage

    fig = _figure(5.6, 4.0)
    ax = fig.add_subplot()
    kept = 1.0 - result.n_flagged / len(result.labels)
    marks = [m for m in (0.8, 0.9) if not 0 < kept < 1 or abs(m - kept) > 0.03]
    marks = sorted([*marks, round(kept, 4)] if 0 < kept < 1 else marks)
    plot_risk_coverage(y_true, result.labels, result.confidence, ax=ax, mark=marks)
    if 0 < kept < 1:
        ax.axvline(kept, color="0.3", ls=":", lw=1)
        ax.annotate(
            "this review rule",
            (kept, 0.02),
            xycoords=("data", "axes fraction"),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            fontsize="small",
            color="0.3",
        )
    return _png(fig)


def thumbnail(image: np.ndarray, lo: float, hi: float) -> bytes:
    """One image (``(C, H, W)``) as a PNG at its own resolution, scaled from [lo, hi]."""
    from PIL import Image

    img = np.asarray(image, dtype=np.float64)
    span = hi - lo if hi > lo else 1.0
    img = np.clip(np.rint((img - lo) / span * 255.0), 0, 255).astype(np.uint8)
    img = np.moveaxis(img, 0, -1) if img.shape[0] == 3 else img[0]
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="PNG")
    return buffer.getvalue()
