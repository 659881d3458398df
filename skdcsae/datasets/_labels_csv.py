"""Read a ``file,label`` CSV that labels the images of a folder.

Hospitals often keep a list of image files and their labels rather than one folder per
class. The list is data from outside, so it is read within limits (bytes and rows), every
path must stay inside the folder (no absolute paths, no ``..``, no symbolic link leading
out), and every problem is reported, one line each, before any image is read.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from .._files import read_regular_file
from .._sanitize import terminal_text

#: The file looked for in an image folder when ``labels`` is not given.
LABELS_FILENAME = "labels.csv"
#: Largest labels file read, in bytes (about a million rows of typical length).
MAX_CSV_BYTES = 64 << 20
#: Most data rows read from a labels file.
MAX_CSV_ROWS = 1_000_000
_MAX_PATH = 4096
_MAX_LISTED = 20
_DELIMITERS = (",", ";", "\t")  # Excel writes ";" where "," is the decimal separator


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    return max(_DELIMITERS, key=first.count) if any(d in first for d in _DELIMITERS) else ","


def _header(cells) -> tuple[int, int] | None:
    names = [c.strip().lower() for c in cells]
    if "file" in names and "label" in names:
        if names.count("file") > 1 or names.count("label") > 1:
            raise ValueError("its header row names the file or label column twice")
        return names.index("file"), names.index("label")
    return None


def _check_path(cell: str, root: Path, root_real: str, extensions) -> tuple[str | None, str]:
    """The path relative to ``root`` (POSIX form), or None and what is wrong with it."""
    if "\0" in cell or len(cell) > _MAX_PATH:
        return None, "is not a usable path (NUL character or longer than 4096 characters)"
    if cell.startswith(("/", "\\")) or PureWindowsPath(cell).drive:
        return None, "is an absolute path; give paths relative to the folder"
    parts = PurePosixPath(cell).parts
    if ".." in parts:
        return None, "leaves the folder ('..' is not allowed)"
    if not parts:
        return None, "is not a file name"
    rel = PurePosixPath(*parts).as_posix()
    full = root / rel
    if not os.path.exists(full):
        hint = " (separate folders with /, not \\)" if "\\" in cell else ""
        return None, f"does not exist in the folder{hint}"
    real = os.path.realpath(full)
    if not real.startswith(root_real.rstrip(os.sep) + os.sep):
        return None, "is a symbolic link (or inside one) that leads outside the folder"
    if Path(rel).suffix.lower() not in extensions:
        return None, "is not an image of a supported type (" + ", ".join(sorted(extensions)) + ")"
    return rel, ""


def _problems_error(csv_path, problems, total_rows) -> ValueError:
    lines = [f"  line {n}: {terminal_text(text)}" for n, text in problems[:_MAX_LISTED]]
    if len(problems) > _MAX_LISTED:
        lines.append(f"  ... and {len(problems) - _MAX_LISTED} more")
    hint = ""
    if problems and problems[0][0] == 1:
        hint = "\nIf line 1 is a header, name its columns file and label."
    return ValueError(
        f"{terminal_text(csv_path)} has {len(problems)} problem(s) in {total_rows} row(s); "
        "nothing was read:\n" + "\n".join(lines) + hint
    )


def read_labels_csv(csv_path, root, *, extensions):
    """Read ``csv_path`` and return ``(files, labels, delimiter)``, in the file's order.

    ``files`` are paths relative to ``root`` with ``/`` separators; ``labels`` are the
    label strings as written (surrounding spaces removed). Raises ``ValueError`` listing
    every problem (one line each, with its line number) if any row is wrong.
    """
    root = Path(root)
    root_real = os.path.realpath(root)
    data = read_regular_file(csv_path, max_bytes=MAX_CSV_BYTES)
    shown = terminal_text(os.fspath(csv_path))
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Excel) is dropped
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{shown} is not UTF-8 text (invalid byte at offset {exc.start}); save it as "
            "'CSV UTF-8'."
        ) from None
    del data
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    files, labels, problems = [], [], []
    first_line: dict[str, int] = {}
    columns = None  # (file column, label column) from a header; None: two columns
    rows, first = 0, True
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank line
            if first:
                first = False
                try:
                    columns = _header(cells)
                except ValueError as exc:
                    raise ValueError(f"{shown}: {exc}.") from None
                if columns is not None:
                    continue
            rows += 1
            if rows > MAX_CSV_ROWS:
                raise ValueError(
                    f"{shown} has more than {MAX_CSV_ROWS:,} rows, the most a labels file "
                    "may hold; split the folder."
                )
            if columns is None and len(cells) != 2:
                why = f"has {len(cells)} columns; without a header each row must be file,label"
                problems.append((line, why))
                continue
            file_col, label_col = columns or (0, 1)
            if len(cells) <= max(file_col, label_col):
                problems.append((line, f"has {len(cells)} columns, fewer than the header"))
                continue
            cell, label = cells[file_col].strip(), cells[label_col].strip()
            rel, why = _check_path(cell, root, root_real, extensions)
            if rel is None:
                problems.append((line, f"{cell} {why}"))
                continue
            if not label:
                problems.append((line, f"{cell} has no label"))
                continue
            if terminal_text(label) != label:
                problems.append((line, f"the label of {cell} contains control characters"))
                continue
            if rel in first_line:
                problems.append((line, f"{cell} is listed again (first on line {first_line[rel]})"))
                continue
            first_line[rel] = line
            files.append(rel)
            labels.append(label)
    except csv.Error as exc:
        raise ValueError(f"{shown}, line {reader.line_num}: {exc}.") from None
    if problems:
        raise _problems_error(csv_path, problems, rows)
    if not files:
        raise ValueError(f"{shown} lists no images; expected rows file,label.")
    return files, labels, delimiter
