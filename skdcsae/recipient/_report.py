"""One self-contained HTML page a person reads before labels enter a registry.

Everything is inline (figures and thumbnails as base64 PNG, CSS in the page), there is no
JavaScript, and a Content-Security-Policy forbids every network request: the file can be mailed,
archived and opened offline. Every string from outside -- file names, labels, the kit's text --
is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import html
import os
from pathlib import Path

import numpy as np
from sklearn.metrics import brier_score_loss, confusion_matrix

from .._files import atomic_write_bytes
from . import _report_figures as figures
from ._calibration import expected_calibration_error

__all__ = ["write_report"]

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_KIT_STATEMENT_KEYS = ("release", "clipping", "feature noise", "encoder training")
_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2125;
margin:0 auto;max-width:1100px;padding:0 24px 48px}
header{border-bottom:2px solid #2c6e9b;margin-bottom:8px}
h1{font-size:26px;margin:22px 0 6px}h2{font-size:20px;margin:30px 0 8px;color:#2c6e9b}
nav a{margin-right:14px}section{margin-bottom:8px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #c9d1d9;padding:4px 10px;
text-align:right}th{background:#eef3f7}td.l,th.l{text-align:left}
.note{color:#57606a;font-size:13px}.warn{color:#9a3412;font-weight:600}
.ok{color:#166534;font-weight:600}img.fig{max-width:100%;height:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(124px,1fr));gap:10px}
figure{margin:0;border:1px solid #d0d7de;border-radius:4px;padding:6px;background:#fafbfc}
figure img{width:100%;height:auto;image-rendering:pixelated;display:block;background:#000}
figcaption{font-size:12px;margin-top:4px}
.k{display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
dl{display:grid;grid-template-columns:190px 1fr;gap:4px 14px}dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}pre{background:#f6f8fa;padding:10px;overflow-x:auto;
font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.cm{display:inline-block;vertical-align:top;margin-right:28px}
"""


def _e(value) -> str:
    """Escape anything for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str, css: str = "fig") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="{css}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(header, rows, left=1) -> str:
    head = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="l">{_e(v)}</td>' if i < left else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _align(y_true, classes) -> np.ndarray:
    """True labels in the kit's label type (folder labels are strings, kit classes may not be)."""
    y = np.asarray(y_true).ravel()
    if classes.dtype.kind in "iu" and y.dtype.kind in "US":
        with contextlib.suppress(ValueError):
            y = y.astype(classes.dtype)
    unknown = ~np.isin(y, classes)
    if np.any(unknown):
        raise ValueError(
            f"y_true has labels {np.unique(y[unknown])[:5].tolist()!r} that the kit's classes "
            f"{classes.tolist()!r} do not include."
        )
    return y


def _short(name: str, width: int = 17) -> str:
    """The end of a long name (the part that tells images apart); the full one is a tooltip."""
    return name if len(name) <= width else "\u2026" + name[-(width - 1) :]


def _review_rule(result) -> str:
    rules = []
    if result.review_fraction is not None:
        rules.append(f"the {result.review_fraction:.0%} least confident labels")
    if result.min_confidence is not None:
        rules.append(f"every label with probability below {result.min_confidence:g}")
    if not rules:
        return "No review rule was given: no image is flagged."
    n = len(result.labels)
    return (
        f"Review rule: {' and '.join(rules)}; {result.n_flagged} of {n} images "
        f"({result.n_flagged / n:.1%}) are flagged for a person to check."
    )


def _summary_section(result) -> str:
    n = len(result.labels)
    rows = []
    for c in result.classes:
        mine = result.labels == c
        flagged = int(np.sum(mine & result.needs_review))
        mean = f"{result.confidence[mine].mean():.3f}" if mine.any() else "-"
        rows.append(
            [c, int(mine.sum()), f"{mine.mean():.1%}", flagged, int(mine.sum()) - flagged, mean]
        )
    rows.append(
        [
            "all",
            n,
            "100%",
            result.n_flagged,
            n - result.n_flagged,
            f"{result.confidence.mean():.3f}",
        ]
    )
    header = ["label", "images", "share", "needs review", "kept", "mean probability"]
    return f'<section id="summary"><h2>Labels</h2>{_table(header, rows)}</section>'


def _confidence_section(result) -> str:
    threshold = None
    if result.n_flagged and result.n_flagged < len(result.labels):
        kept = result.confidence[~result.needs_review]
        threshold = float(kept.min())
    png = figures.confidence_histogram(result, threshold)
    return (
        '<section id="confidence"><h2>Confidence</h2>'
        f"{_img(png, 'Histogram of the probability of each assigned label')}"
        '<p class="note">The probability of each assigned label, calibrated on the donor\'s '
        "features: among labels given probability 0.9, about 9 in 10 should be right when the "
        "recipient's images resemble the donor's. Images to the left are the least certain."
        "</p></section>"
    )


def _review_section(result, X, names, kit, max_thumbnails) -> str:
    parts = ['<section id="review"><h2>Review queue</h2>']
    order = result.review_order
    if order.size == 0:
        parts.append("<p>No image is flagged for review.</p></section>")
        return "".join(parts)
    shown = order[:max_thumbnails]
    more = (
        f" Showing the first {len(shown)}; the review CSV lists all {order.size}."
        if order.size > len(shown)
        else ""
    )
    parts.append(
        f"<p>{order.size} images flagged, least confident first: check these labels before "
        f"they are used (#k is the rank in the review CSV).{_e(more)}</p>"
    )
    shape = getattr(kit, "image_shape", None)
    if shape is None:  # tabular kit: no pictures, a table instead
        rows = [
            [rank, names[i], result.labels[i], f"{result.confidence[i]:.3f}"]
            for rank, i in enumerate(shown, 1)
        ]
        parts.append(_table(["rank", "file", "label", "probability"], rows, left=2))
        return "".join(parts) + "</section>"
    lo, hi = (float(v) for v in kit.input_range)
    flat = np.asarray(X).reshape(len(X), -1) if not hasattr(X, "iloc") else np.asarray(X)
    parts.append('<div class="grid">')
    for rank, i in enumerate(shown, 1):
        png = figures.thumbnail(flat[i].reshape(shape), lo, hi)
        caption = (
            f'<span class="k"><b>#{rank}</b> label <b>{_e(result.labels[i])}</b></span>'
            f'<span class="k">p = {result.confidence[i]:.3f}</span>'
            f'<span class="k" title="{_e(names[i])}">{_e(_short(names[i]))}</span>'
        )
        parts.append(
            f"<figure>{_img(png, f'flagged image {names[i]}', 'thumb')}"
            f"<figcaption>{caption}</figcaption></figure>"
        )
    parts.append("</div></section>")
    return "".join(parts)


def _latent_section(result, kit) -> str:
    return (
        '<section id="latent"><h2>Latent space</h2>'
        f"{_img(figures.latent_space(result, kit), 'Latent features of the recipient images')}"
        '<p class="note">Each point is one of your images as the donor\'s encoder sees it, '
        "coloured by its label; crosses are the donor kit's rows, ringed points need review. "
        "Flagged images usually sit between the classes, or away from every donor row (images "
        "unlike the donor's).</p></section>"
    )


def _truth_section(result, y_true) -> str:
    y = _align(y_true, result.classes)
    kept = ~result.needs_review
    right = result.labels == y
    metrics = [
        ["accuracy, all labels", f"{right.mean():.3f}", len(y)],
        [
            "accuracy, kept labels",
            f"{right[kept].mean():.3f}" if kept.any() else "-",
            int(kept.sum()),
        ],
        [
            "accuracy, flagged labels",
            f"{right[~kept].mean():.3f}" if (~kept).any() else "-",
            int((~kept).sum()),
        ],
        [
            "expected calibration error (15 bins)",
            f"{expected_calibration_error(y, result.proba, labels=result.classes):.3f}",
            len(y),
        ],
        ["Brier score", f"{brier_score_loss(y, result.proba, labels=result.classes):.3f}", len(y)],
    ]
    parts = [
        '<section id="truth"><h2>Against the true labels</h2>',
        "<p>The data came with labels: here is how the assigned labels compare.</p>",
        _table(["measure", "value", "images"], metrics),
    ]
    for title, mask in (("all labels", np.ones_like(kept)), ("kept labels", kept)):
        cm = confusion_matrix(y[mask], result.labels[mask], labels=result.classes)
        rows = [[f"true {c}", *row.tolist()] for c, row in zip(result.classes, cm, strict=True)]
        header = [title, *[f"labelled {c}" for c in result.classes]]
        parts.append(f'<div class="cm">{_table(header, rows)}</div>')
    parts.append(_img(figures.coverage_curve(y, result), "Accuracy against coverage"))
    parts.append(
        '<p class="note">Accuracy of the most confident labels against the fraction kept; '
        "the top axis is the review fraction. Where the curve is flat, reviewing more buys "
        "little.</p></section>"
    )
    return "".join(parts)


def _kit_statement(kit) -> list[str]:
    """The kit's own words on what it releases and how its encoder was trained."""
    try:
        lines = kit.summary().splitlines()
    except Exception:  # a kit object without a working summary still gets a report
        return []
    return [line.strip() for line in lines if line.strip().startswith(_KIT_STATEMENT_KEYS)]


def _classifier_fact(labeler) -> str:
    """How the classifier was trained: on the kit's rows alone, or adapted to these images."""
    added = getattr(labeler, "n_pseudo_labelled_", None)
    if added is None or not np.any(added):
        return "trained on the feature rows of the kit alone"
    return (
        f"trained on the feature rows of the kit and adapted to these images: {int(np.sum(added))} "
        f"of them, as many per class, joined it (self-training {labeler.self_training:g})"
    )


def _kit_section(kit, key_given: bool, classifier: str = "") -> str:
    signed = bool(getattr(kit, "signed", getattr(kit, "hmac_sha256", None) is not None))
    if signed and key_given:
        signature = '<span class="ok">signed (HMAC-SHA256) and verified with the shared key</span>'
    elif signed:
        signature = (
            '<span class="warn">signed, but not verified: no key was given (--key-file)</span>'
        )
    else:
        signature = (
            '<span class="warn">unsigned: the digest catches damage, not a forged kit</span>'
        )
    versions = getattr(kit, "versions", {}) or {}
    facts = [
        ("made by", getattr(kit, "model", "?")),
        ("created", getattr(kit, "created", "?")),
        ("classes", ", ".join(map(str, np.asarray(kit.classes).tolist()))),
        ("donor rows", getattr(kit, "n_donor", len(kit.features))),
        ("release mode", getattr(kit, "release_mode", "?")),
        ("SHA-256 digest", getattr(kit, "sha256", "?")),
    ]
    if classifier:
        facts.append(("classifier", classifier))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    items += f"<dt>signature</dt><dd>{signature}</dd>"
    items += "<dt>versions</dt><dd>" + _e(", ".join(f"{k} {v}" for k, v in versions.items()))
    items += "</dd>"
    statement = "".join(f"<li>{_e(line)}</li>" for line in _kit_statement(kit))
    summary = _e(kit.summary()) if hasattr(kit, "summary") else ""
    return (
        '<section id="kit"><h2>Donor kit</h2>'
        f"<dl>{items}</dl>"
        "<h3>What the donor states about privacy</h3>"
        f"<ul>{statement or '<li>The kit states nothing.</li>'}</ul>"
        "<details><summary>The kit's full summary</summary>"
        f"<pre>{summary}</pre></details></section>"
    )


def render_report(
    labeler, X, result, *, y_true=None, names=None, source=None, max_thumbnails=60
) -> str:
    """The report as a string (see :func:`write_report`); nothing is written."""
    from .._version import __version__

    n = len(result.labels)
    if n == 0:
        raise ValueError("The report needs at least one labelled image.")
    if len(X) != n:
        raise ValueError(f"X has {len(X)} images but the result has {n} labels.")
    names = [f"image {i}" for i in range(n)] if names is None else [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"names has {len(names)} entries but there are {n} images.")
    kit = labeler.kit_
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    origin = f" from {source}" if source is not None else ""
    sections = [
        _summary_section(result),
        _confidence_section(result),
        _review_section(result, X, names, kit, max_thumbnails),
        _latent_section(result, kit),
    ]
    links = [
        ("summary", "Labels"),
        ("confidence", "Confidence"),
        ("review", "Review queue"),
        ("latent", "Latent space"),
    ]
    if y_true is not None:
        sections.append(_truth_section(result, y_true))
        links.append(("truth", "Against true labels"))
    key_given = getattr(labeler, "key", None) is not None
    sections.append(_kit_section(kit, key_given, _classifier_fact(labeler)))
    links.append(("kit", "Donor kit"))
    nav = "".join(f'<a href="#{anchor}">{_e(text)}</a>' for anchor, text in links)
    digest = str(getattr(kit, "sha256", ""))[:16]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Labelling report: {n} images</title><style>{_STYLE}</style></head><body>"
        "<header><h1>Labelling report</h1>"
        f"<p>{n} images{_e(origin)} labelled with the donor kit {_e(digest)}&hellip; "
        f"({_e(getattr(kit, 'model', ''))}) on {_e(when)} by skdcsae {_e(__version__)}.</p>"
        f"<p><b>{_e(_review_rule(result))}</b></p><nav>{nav}</nav></header>"
        + "".join(sections)
        + '<footer class="note"><p>Self-contained page: no script, no network access.</p>'
        "</footer></body></html>\n"
    )


def write_report(
    path,
    labeler,
    X,
    result=None,
    *,
    y_true=None,
    names=None,
    source=None,
    max_thumbnails=60,
    overwrite=False,
):
    """Write the labelling report: one self-contained HTML file for a person to review.

    Sections: counts per label (flagged and kept), the confidence histogram, thumbnails of
    the flagged images (least confident first), the latent space with the donor kit's rows,
    the kit's provenance (model, creation, release mode and privacy statement, digest and
    signature status) and, when ``y_true`` is given, accuracy, calibration error, confusion
    matrices and the accuracy-coverage curve. Figures and thumbnails are inline PNGs; the page
    has no JavaScript and its Content-Security-Policy blocks every network request.

    Parameters
    ----------
    path : str or path-like
        The HTML file to write (atomically).
    labeler : RecipientLabeler
        The fitted labeler (its kit and key are reported).
    X : array-like of shape (n_samples, ...)
        The images that were labelled: the flagged ones are shown.
    result : LabellingResult, default=None
        What ``labeler.label(X, ...)`` returned; None labels ``X`` now with no review rule.
    y_true : array-like of shape (n_samples,), default=None
        True labels, when known: adds the comparison section.
    names : sequence of str, default=None
        A name per image (file names); None numbers them.
    source : str, default=None
        Where the images came from, for the header.
    max_thumbnails : int, default=60
        Most flagged images shown as thumbnails (all are in the review CSV).
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ImportError
        If matplotlib is not installed (``pip install skdcsae[plots]``).
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If ``X``, ``result``, ``names`` or ``y_true`` disagree in length, or ``y_true`` has
        labels the kit does not know.

    Examples
    --------
    A small kit of random numbers stands in for a donor's:

    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdcsae import RecipientLabeler
    >>> from skdcsae.kit._examples import example_kit
    >>> from skdcsae.recipient import write_report
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> folder = tempfile.mkdtemp()
    >>> labeler = RecipientLabeler(example_kit(), device="cpu").fit()
    >>> result = labeler.label(X[100:], review_fraction=0.1)
    >>> path = write_report(os.path.join(folder, "report.html"), labeler, X[100:], result,
    ...                     y_true=y[100:])
    >>> 'id="review"' in path.read_text()
    True
    """
    if not isinstance(max_thumbnails, (int, np.integer)) or max_thumbnails < 0:
        raise ValueError(f"max_thumbnails must be a non-negative integer; got {max_thumbnails!r}.")
    path = Path(os.fspath(path))
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    if result is None:
        result = labeler.label(X)
    text = render_report(
        labeler,
        X,
        result,
        y_true=y_true,
        names=names,
        source=source,
        max_thumbnails=int(max_thumbnails),
    )
    atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)
    return path
