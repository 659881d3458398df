"""The HTML labelling report: its sections in a real browser, escaping, self-containment."""

import base64
import dataclasses
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from skdcsae import DCSAETransformer, RecipientLabeler
from skdcsae.recipient import write_report

from ..conftest import FAST_MLP
from .chromium import render

SECTIONS = ("summary", "confidence", "review", "latent", "truth", "kit")
EVIL_NAME = '<script>alert("name")</script>"><img src=x onerror=alert(1)>.png'
EVIL_KIT = "<script>alert('kit')</script>"


@pytest.fixture(scope="module")
def labelled(digits_kit):
    path, X, y, _, rest = digits_kit
    labeler = RecipientLabeler(path, device="cpu").fit()
    result = labeler.label(X[rest], review_fraction=0.2)
    names = [f"scan_{i:03d}.png" for i in rest]
    names[int(result.review_order[0])] = EVIL_NAME  # shown first among the thumbnails
    return labeler, X[rest], y[rest], result, names


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(dom):
    parser = _Tags()
    parser.feed(dom)
    return parser.tags


def _data_images(text):
    return re.findall(r'src="data:image/png;base64,([^"]+)"', text)


def test_report_loads_in_chromium_with_every_section_and_no_console_message(labelled, tmp_path):
    labeler, X, y, result, names = labelled
    # every string of the kit is untrusted: plant markup in them
    kit = labeler.kit_
    labeler.kit_ = dataclasses.replace(
        kit, model=EVIL_KIT, created=EVIL_KIT, versions={"x": EVIL_KIT}
    )
    try:
        path = write_report(
            tmp_path / "report.html", labeler, X, result, y_true=y, names=names, source=EVIL_KIT
        )
    finally:
        labeler.kit_ = kit
    text = path.read_text(encoding="utf-8")
    assert EVIL_NAME not in text and EVIL_KIT not in text and "<script" not in text
    assert "&lt;script&gt;alert(&#x27;kit&#x27;)&lt;/script&gt;" in text
    # self-contained: every src/href is inline data or an anchor
    assert not re.search(r'(?:src|href)="(?!data:image/png;base64,|#)', text)
    for blob in _data_images(text):
        Image.open(io.BytesIO(base64.b64decode(blob))).verify()
    dom, console = render(path, tmp_path / "browser", screenshot=tmp_path / "shot.png")
    assert console == []
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom
    for heading in ("Labels", "Confidence", "Review queue", "Latent space", "Donor kit"):
        assert f"<h2>{heading}</h2>" in dom
    tags = _tags(dom)  # what the browser built: no script element, no event handler
    assert "script" not in {t for t, _ in tags}
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    n_thumbs = dom.count('class="thumb"')
    assert n_thumbs == min(60, result.n_flagged)
    assert f"{result.n_flagged} images flagged" in dom
    shot = np.asarray(Image.open(tmp_path / "shot.png").convert("L"), dtype=float)
    assert shot.shape[1] == 1200 and shot.std() > 20  # drawn, not a blank page
    assert (shot < 128).mean() > 0.02  # text, figures and thumbnails


def test_the_console_check_catches_a_blocked_request(tmp_path):
    """Negative control: the same harness reports what the page's CSP blocks."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        'content="default-src \'none\'"></head><body><img src="https://example.invalid/a.png">'
        "<script>console.error('x')</script></body></html>"
    )
    _, console = render(page, tmp_path / "browser")
    assert len(console) >= 2 and any("Content Security Policy" in m for m in console)


def test_report_without_truth_without_review_and_for_a_tabular_kit(labelled, tmp_path):
    labeler, X, _, _, _ = labelled
    plain = labeler.label(X)
    text = write_report(tmp_path / "r.html", labeler, X, plain).read_text()
    assert '<section id="truth">' not in text
    assert "No review rule was given" in text and "No image is flagged" in text
    assert "image 0" not in text  # nothing flagged: no names listed
    assert "trained on the feature rows of the kit alone" in text
    adapted = RecipientLabeler(labeler.kit, device="cpu").fit(X)
    text = write_report(tmp_path / "a.html", adapted, X, adapted.label(X)).read_text()
    added = int(adapted.n_pseudo_labelled_.sum())
    assert added > 0 and f"adapted to these images: {added} of them" in text
    # a tabular kit has no pictures: the flagged rows are a table
    rng = np.random.default_rng(0)
    Xt = np.vstack([rng.normal(0, 1, (40, 5)), rng.normal(1.5, 1, (40, 5))])
    yt = np.repeat(["healthy", "sick"], 40)
    est = DCSAETransformer(**{**FAST_MLP, "random_state": 0}).fit(Xt, yt)
    est.export_donor_kit(tmp_path / "tab.joblib", Xt, yt)
    tab = RecipientLabeler(tmp_path / "tab.joblib", device="cpu").fit()
    result = tab.label(Xt, min_confidence=0.8)
    text = write_report(tmp_path / "t.html", tab, Xt, result, y_true=yt).read_text()
    assert 'class="thumb"' not in text and "<th>rank</th>" not in text  # ranks are left cells
    assert '<th class="l">rank</th>' in text and "labelled sick" in text
    with pytest.raises(ValueError, match=r"labels .*'ill'.* do not include"):
        write_report(tmp_path / "u.html", tab, Xt, result, y_true=np.repeat(["ill"], 80))


def test_signature_status_and_refusals(digits_kit, tmp_path):
    path, X, y, donor, rest = digits_kit
    est = DCSAETransformer(
        conv_channels=(8,),
        dense_sizes=(16,),
        max_epochs=2,
        min_steps=0,
        device="cpu",
        random_state=0,
    ).fit(X[donor], y[donor])
    signed = tmp_path / "signed.joblib"
    est.export_donor_kit(signed, X[donor], y[donor], key=b"secret")
    Xr = X[rest[:30]]
    for key, status in ((b"secret", "verified with the shared key"), (None, "not verified")):
        labeler = RecipientLabeler(signed, device="cpu", key=key).fit()
        text = write_report(tmp_path / f"{status}.html", labeler, Xr).read_text()
        assert status in text
    unsigned = RecipientLabeler(path, device="cpu").fit()
    out = write_report(tmp_path / "u.html", unsigned, Xr, unsigned.label(Xr, review_fraction=1))
    text = out.read_text()
    assert "unsigned" in text and text.count('class="thumb"') == 30
    assert "Showing the first" not in text
    limited = write_report(
        tmp_path / "few.html",
        unsigned,
        Xr,
        unsigned.label(Xr, review_fraction=1),
        max_thumbnails=5,
    ).read_text()
    assert limited.count('class="thumb"') == 5 and "Showing the first 5" in limited
    with pytest.raises(FileExistsError, match="already exists"):
        write_report(out, unsigned, Xr)
    with pytest.raises(ValueError, match="names has 2 entries"):
        write_report(tmp_path / "n.html", unsigned, Xr, names=["a", "b"])
