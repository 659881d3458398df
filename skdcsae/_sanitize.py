"""Make untrusted strings safe to print on a terminal or to write into a CSV cell.

Image file names, folder names and labels come from outside: a name can hold an escape
sequence that clears the screen, a right-to-left override that makes ``gpj.exe`` look like
``exe.jpg``, or a cell such as ``=HYPERLINK(...)`` that a spreadsheet runs as a formula.
:func:`terminal_text` is for anything printed or put in a message; :func:`csv_cell` is for
anything written into a CSV file.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["csv_cell", "terminal_text"]

# Unicode bidirectional formatting characters (Unicode Standard Annex #9): the Arabic letter
# mark, LRM/RLM, the embeddings and overrides LRE..RLO and PDF, and the isolates LRI..PDI.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f" + "".join(map(chr, range(0x202A, 0x202F))) + "\u2066\u2067\u2068\u2069"
)
# Cc: C0 controls, DEL, C1 controls. Cs: lone surrogates (undecodable bytes of a file name
# under Python's surrogateescape; printing them raises). Zl/Zp: line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

# First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"):
# = + - @, tab and carriage return; also line feed and NUL (OWASP ASVS 1.2.10 lists NUL) and
# the full-width forms of = + - @, which some spreadsheet locales accept as well.
_FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")
# A plain decimal number (ASCII digits only): a spreadsheet reads it as that number.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def _needs_escape(char: str) -> bool:
    return char in _BIDI_CONTROLS or unicodedata.category(char) in _ESCAPED_CATEGORIES


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value) -> str:
    r"""Escape control characters so that a string prints as what it is.

    C0 and C1 control characters (newline and escape included), DEL, Unicode bidirectional
    overrides, embeddings, isolates and marks, line and paragraph separators and lone
    surrogates are written as Python-style escapes (``\x1b``, ``\u202e``). Everything else,
    including non-ASCII letters and backslashes, is kept, so printable text comes back
    unchanged. The result never moves the cursor, changes colours or reorders what
    follows it on a terminal.

    Parameters
    ----------
    value : object
        The text; anything else is converted with :class:`str` first.

    Returns
    -------
    text : str
        ``value`` with every control character escaped.

    Examples
    --------
    >>> from skdcsae._sanitize import terminal_text
    >>> terminal_text("scan\x1b[2J.png")
    'scan\\x1b[2J.png'
    >>> terminal_text("report\u202egnp.exe")
    'report\\u202egnp.exe'
    >>> terminal_text("Röntgen 1.png")
    'Röntgen 1.png'
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # fast path: nothing to escape
        return text
    return "".join(_escape(c) if _needs_escape(c) else c for c in text)


def csv_cell(value) -> str:
    """Neutralise a CSV cell that a spreadsheet would run as a formula.

    Following the OWASP guidance on CSV injection, a cell whose first character (after any
    leading spaces) is ``=``, ``+``, ``-``, ``@``, a tab, a carriage return, a line feed, NUL
    or a full-width ``=``, ``+``, ``-`` or ``@`` gets a single quote (``'``) in front:
    spreadsheets then show it as text. Quoting of commas, quotes and line breaks inside the
    cell is left to :mod:`csv`, which already does it.

    A plain number such as ``-1.5``, ``+2`` or ``-3e-05`` is left as it is: OWASP would
    prefix it too, but a number cannot carry a formula, and the quote would turn a numeric
    column (a negative decision score, for instance) into text for pandas and spreadsheets.

    Parameters
    ----------
    value : object
        The cell; anything else than a string is converted with :class:`str` first.

    Returns
    -------
    cell : str
        ``value`` unchanged, or with ``'`` in front when it could start a formula.

    Examples
    --------
    >>> from skdcsae._sanitize import csv_cell
    >>> csv_cell('=HYPERLINK("http://example.com")')
    '\\'=HYPERLINK("http://example.com")'
    >>> csv_cell("@SUM(A1)"), csv_cell("-1.5"), csv_cell("normal/001.png")
    ("'@SUM(A1)", '-1.5', 'normal/001.png')
    """
    text = value if isinstance(value, str) else str(value)
    stripped = text.lstrip(" ")
    if stripped and stripped[0] in _FORMULA_TRIGGERS and not _NUMBER.fullmatch(stripped):
        return "'" + text
    return text
