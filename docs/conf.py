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
# Top-level pages have no section navigation: give their width to the text.
html_sidebars = {
    page: []
    for page in (
        "index",
        "install",
        "quickstart",
        "user_guide",
        "donor_kit",
        "baselines",
        "benchmarks",
        "cli",
        "changelog",
    )
}
html_theme_options["secondary_sidebar_items"] = {
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


def _md_inline(text: str) -> str:
    text = re.sub(r"`([^`]+)`", r"``\1``", text)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"`\1 <\2>`__", text)


def _md_table(rows: list[str]) -> list[str]:
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    header, body = cells[0], [r for r in cells[2:]]
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *body]:
        row = row + [""] * (len(header) - len(row))
        out.append("   * - " + _md_inline(row[0]))
        out += ["     - " + _md_inline(c) for c in row[1 : len(header)]]
    return [*out, ""]


def _markdown_to_rst(md: str) -> str:
    """The small Markdown subset the benchmark report writes: headings, lists, pipe tables."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^(#{1,3})\s+(.*)$", line)
        if heading:
            text = _md_inline(heading.group(2).strip())
            out += [text, _MD_HEADING[len(heading.group(1))] * len(text), ""]
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


def _benchmark_results() -> str:
    """Every committed ``benchmarks/results/*.md`` and ``*.png``, or a note that there are none.

    Markdown tables are converted to reStructuredText; a file the converter cannot render
    cleanly is shown verbatim instead, so a new report format never breaks the build.
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
    parts = []
    for path in png:
        title = f"Figure: ``benchmarks/results/{path.name}``"
        parts += [
            title,
            "-" * len(title),
            "",
            f".. image:: /../benchmarks/results/{path.name}",
            "   :width: 100%",
            "",
        ]
    for path in md:
        title = f"``benchmarks/results/{path.name}``"
        parts += [title, "-" * len(title), ""]
        rst = _markdown_to_rst(path.read_text(encoding="utf-8"))
        if _rst_is_clean(rst):
            parts += [rst, ""]
        else:
            parts += [
                f".. literalinclude:: /../benchmarks/results/{path.name}",
                "   :language: text",
                "",
            ]
    return "\n".join(parts) + "\n"


def _benchmark_scripts() -> str:
    """Each ``benchmarks/*.py`` with its module docstring (its usage, as the script says it)."""
    import ast

    parts = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        parts += [
            f"``benchmarks/{path.name}``",
            "",
            ".. code-block:: text",
            "",
            _indent(doc or "(no docstring)"),
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
