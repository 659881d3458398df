"""Sphinx configuration of the skdcsae documentation.

Builds offline: no intersphinx, no MathJax from a CDN is needed for the text to read. The
example gallery (``examples/plot_*.py``) is executed on every build by sphinx-gallery, so every
number shown there is computed at build time.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Document (and run the gallery against) this checkout, not whatever skdcsae is installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))  # for _gallery_order

import skdcsae

project = "skdcsae"
author = "skdcsae developers"
copyright = "2026, skdcsae developers"
release = skdcsae.__version__
version = re.sub(r"(\.dev\d*|rc\d*)$", "", release)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.inc", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# --- autodoc / autosummary / numpydoc -------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
# Long signatures one parameter per line: on one line they were wider than the page.
maximum_signature_line_length = 68
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- sphinx-gallery -------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "abort_on_example_error": True,
    "doc_module": ("skdcsae",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skdcsae": None},
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
    "remove_config_comments": True,
    "matplotlib_animations": False,
}

# --- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skdcsae {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    # Offline build: no icons or version switchers fetched from the network.
    "icon_links": [],
}
# Top-level pages: no left-hand section navigation (the header has the pages), so the text gets
# the width; every one of them gets the "On this page" table of contents on the right.
TOP_LEVEL_PAGES = tuple(sorted(path.stem for path in DOCS.glob("*.rst")))  # a new page too
html_sidebars = {page: [] for page in TOP_LEVEL_PAGES if page != "api"}
# The theme's secondary sidebar ("On this page"). A page that matches no pattern here gets no
# sidebar at all, so list every page that should have one (exact names: a second wildcard
# pattern that also matched would be a warning).
html_theme_options["secondary_sidebar_items"] = {
    **{page: ["page-toc"] for page in TOP_LEVEL_PAGES if page != "index"},
    "generated/*": ["page-toc"],
    "auto_examples/*": [],  # the examples' outputs need the width
}
html_show_sourcelink = False

# --- pages generated at build time ----------------------------------------------------------
GENERATED = DOCS / "generated"
GENERATED.mkdir(exist_ok=True)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _wrap_help(text: str, width: int = 88) -> str:
    """Wrap the long lines a raw-description formatter leaves, keeping their indentation."""
    import textwrap

    lines = []
    for line in text.splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        lines += textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent)
    return "\n".join(lines)


def _cli_reference() -> str:
    """The ``--help`` of ``skdcsae`` and of every subcommand, from the real parser."""
    import argparse

    from skdcsae._cli import build_parser

    os.environ["COLUMNS"] = "88"  # argparse wraps at $COLUMNS: keep the build deterministic
    parser = build_parser()
    parts = ["``skdcsae --help``", "-" * 20, "", ".. code-block:: text", ""]
    parts += [_indent(_wrap_help(parser.format_help())), ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                title = f"``skdcsae {name}``"
                parts += [title, "-" * len(title), "", ".. code-block:: text", ""]
                parts += [_indent(_wrap_help(sub.format_help())), ""]
    return "\n".join(parts) + "\n"


_MD_HEADING = {1: "~", 2: "^", 3: '"'}
# Under a page section ("-"), a report's own title is that section: its "##" become "~".
_MD_HEADING_UNDER_TITLE = {2: "~", 3: "^"}
_ACRONYMS = r"\b(roc|auc|rss|cpu|gpu)\b"


def _md_inline(text: str) -> str:
    # Outside code, "path@commit" is not an e-mail address: keep docutils from linking it.
    parts = re.split(r"(`[^`]+`)", text)
    text = "".join(p if p.startswith("`") else re.sub(r"(\w)@(\w)", r"\1\\@\2", p) for p in parts)
    text = re.sub(r"`([^`]+)`", r"``\1``", text)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"`\1 <\2>`__", text)


def _md_table(rows: list[str]) -> list[str]:
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    header, body = cells[0], [r for r in cells[2:]]
    # Columns as wide as their content (not equal shares of the page); the CSS scrolls a table
    # that is still wider than the page instead of squeezing it.
    out = [".. list-table::", "   :header-rows: 1", "   :widths: auto", "   :class: sk-results", ""]
    for row in [header, *body]:
        row = row + [""] * (len(header) - len(row))
        # "0.916 ± 0.004" may break before the "±" (two lines in a narrow column), not after it
        row = [c.replace(" ± ", " \N{PLUS-MINUS SIGN}\N{NO-BREAK SPACE}") for c in row]
        out.append("   * - " + _md_inline(row[0]))
        out += ["     - " + _md_inline(c) for c in row[1 : len(header)]]
    return [*out, ""]


def _markdown_to_rst(md: str, headings: dict[int, str] = _MD_HEADING) -> str:
    """The small Markdown subset the benchmark report writes: headings, lists, pipe tables."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^(#{1,3})\s+(.*)$", line)
        if heading:
            text = heading.group(2).strip()
            if headings is _MD_HEADING_UNDER_TITLE:  # a report's table title: "label_rss: ..."
                first, sep, rest = text.partition(":")
                first = first.replace("_", " ").capitalize()
                first = re.sub(_ACRONYMS, lambda m: m.group(1).upper(), first, flags=re.I)
                text = first + sep + rest
            text = _md_inline(text)
            out += ["", text, headings.get(len(heading.group(1)), '"') * len(text), ""]
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            out += ["", *_md_table(lines[i:j])]
            i = j
            continue
        else:
            out.append(_md_inline(line))
        i += 1
    return "\n".join(out) + "\n"


def _rst_is_clean(rst: str) -> bool:
    """Whether docutils parses ``rst`` (in this page's heading context) without a warning."""
    import docutils.core
    import docutils.nodes

    text = f"Page\n====\n\nSection\n-------\n\n{rst}\n\nNext\n----\n\nText.\n"
    try:
        tree = docutils.core.publish_doctree(
            text, settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": False}
        )
    except Exception:
        return False
    return not any(m["level"] >= 2 for m in tree.findall(docutils.nodes.system_message))


# The order of the reports on the benchmark page (others follow, alphabetically), and the
# title and report of each committed figure (a figure not listed here gets its own section).
_REPORT_ORDER = ("accuracy.md", "privacy.md", "privacy_dp_settings.md", "speed.md", "gpu.md")
_FIGURES = {
    "figure3.png": (
        "accuracy.md",
        "Accuracy against the number of donor images per class, mean and standard error over "
        "donor seeds, for the three recipient sets of the tables below (the paper's Figure 3).",
    ),
}


def _report_title(md: str, fallback: str) -> tuple[str, str]:
    """A report's ``# title`` (or ``fallback``) and its text without that line."""
    lines = md.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("# "):
            return line[2:].strip(), "\n".join(lines[:k] + lines[k + 1 :])
    return fallback, md


def _figure(path: Path, caption: str) -> list[str]:
    return [
        f".. figure:: /../benchmarks/results/{path.name}",
        "   :width: 100%",
        f"   :alt: {caption}",
        "",
        f"   {caption} File: ``benchmarks/results/{path.name}``.",
        "",
    ]


def _benchmark_results() -> str:
    """Every committed ``benchmarks/results/*.md`` and ``*.png``, or a note that there are none.

    Each report is a section titled with the report's own title, its figures first, then its
    text with the Markdown tables converted to reStructuredText tables; a report the converter
    cannot render cleanly is shown verbatim instead, so a new report format never breaks the
    build.
    """
    results = ROOT / "benchmarks" / "results"
    md = sorted(results.glob("*.md")) if results.is_dir() else []
    png = sorted(results.glob("*.png")) if results.is_dir() else []
    if not md and not png:
        return (
            ".. note::\n\n"
            "   No benchmark reports are committed in this checkout yet. They appear here "
            "as soon as ``benchmarks/results/*.md`` (tables) and "
            "``benchmarks/results/*.png`` (figures) exist; see :ref:`regenerate-benchmarks`.\n"
        )
    rank = {name: k for k, name in enumerate(_REPORT_ORDER)}
    md.sort(key=lambda path: (rank.get(path.name, len(rank)), path.name))
    names = {path.name for path in md}
    parts = []
    for path in md:
        title, body = _report_title(path.read_text(encoding="utf-8"), path.stem)
        title = _md_inline(title)
        parts += [title, "-" * len(title), ""]
        for figure in png:
            report, caption = _FIGURES.get(figure.name, (None, None))
            if report == path.name:
                parts += _figure(figure, caption)
        parts += [f"Report: ``benchmarks/results/{path.name}``", ""]
        rst = _markdown_to_rst(body, _MD_HEADING_UNDER_TITLE)
        if _rst_is_clean(rst):
            parts += [rst, ""]
        else:
            parts += [
                f".. literalinclude:: /../benchmarks/results/{path.name}",
                "   :language: text",
                "",
            ]
    for figure in png:
        report, caption = _FIGURES.get(figure.name, (None, None))
        if report not in names:
            title = f"Figure: {figure.stem.replace('_', ' ')}"
            parts += [title, "-" * len(title), "", *_figure(figure, caption or figure.stem)]
    return "\n".join(parts) + "\n"


def _benchmark_scripts() -> str:
    """Each ``benchmarks/*.py``, titled with its docstring's first line, and its usage text."""
    import ast

    parts = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        summary, _, rest = doc.strip().partition("\n")
        title = _md_inline(summary.strip().rstrip(".")) or path.name
        parts += [
            title,
            "~" * len(title),
            "",
            f"Script: ``benchmarks/{path.name}``",
            "",
            ".. code-block:: text",
            "",
            _indent(rest.strip() or "(no usage text)"),
            "",
        ]
    return "\n".join(parts) + "\n" if parts else "No benchmark scripts in this checkout.\n"


def _public_names() -> dict[str, list[str]]:
    import skdcsae.datasets
    import skdcsae.plotting

    return {
        "skdcsae": [n for n in skdcsae.__all__ if not n.startswith("__")],
        "skdcsae.datasets": list(skdcsae.datasets.__all__),
        "skdcsae.plotting": list(skdcsae.plotting.__all__),
    }


def _privacy_results() -> str:
    """``benchmarks/results/privacy.md`` without its title, for the security page."""
    path = ROOT / "benchmarks" / "results" / "privacy.md"
    if not path.is_file():
        return ".. note::\n\n   ``benchmarks/results/privacy.md`` is not in this checkout.\n"
    body = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("# ")
    )
    rst = _markdown_to_rst(body)
    if _rst_is_clean(rst):
        return rst
    return ".. literalinclude:: /../benchmarks/results/privacy.md\n   :language: text\n"


with contextlib.redirect_stdout(io.StringIO()):
    _write_if_changed(GENERATED / "cli_help.inc", _cli_reference())
_write_if_changed(GENERATED / "benchmark_results.inc", _benchmark_results())
_write_if_changed(GENERATED / "benchmark_scripts.inc", _benchmark_scripts())
_write_if_changed(GENERATED / "privacy_results.inc", _privacy_results())


def _check_api_reference(app) -> None:
    """Warn (an error under ``-W``) when a public name is missing from ``api.rst``."""
    from sphinx.util import logging

    logger = logging.getLogger("skdcsae.docs")
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    for module, names in _public_names().items():
        for name in names:
            if not re.search(rf"^\s+{re.escape(name)}\s*$", api, flags=re.MULTILINE):
                logger.warning(f"api.rst does not list the public name {module}.{name}")


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated ``set_*_request`` methods (documented by scikit-learn)."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _check_api_reference)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
