"""The on-disk state of a labelling run: what makes it resumable and never torn.

Beside the output ``labels.csv`` a run keeps ``labels.csv.parts/``:

- ``manifest.json``: what is being labelled (the kit's SHA-256 and the labeler's settings, the
  source's identity, the partition size). A resumed run must match it.
- ``part-000012.csv``: the labels of partition 12, written whole to a temporary file and
  renamed into place (:func:`skdcsae._files.atomic_write_bytes`), so a part either exists
  complete or not at all, whoever wrote it and however the run stopped.
- ``done.jsonl``: one line per finished partition (rows, label counts, skipped files, who
  labelled it and how long it took), appended by the driving process only, after its part
  is in place. A partition is finished when its line and its part both exist.

At the end the parts are concatenated, in order, into ``labels.csv`` (again through a
temporary file and a rename) and the folder is removed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from pathlib import Path

from .._files import atomic_write_bytes, atomic_writer
from .._sanitize import csv_cell, terminal_text

__all__ = ["RunState", "part_bytes", "parts_dir_for"]

FORMAT = "skdcsae-labelling-run/1"
MANIFEST = "manifest.json"
DONE_LOG = "done.jsonl"


def parts_dir_for(out: Path) -> Path:
    """The folder that holds a run's parts: ``<out>.parts`` beside the output."""
    return out.with_name(out.name + ".parts")


def part_path(parts_dir: Path, partition: int) -> Path:
    return Path(parts_dir) / f"part-{partition:06d}.csv"


def _csv_bytes(rows) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


def part_bytes(names, labels, scores, score_column="probability") -> bytes:
    """A part's CSV: the header and one ``file,label,<score_column>`` row per image, cells
    neutralised."""
    rows = [("file", "label", score_column)]
    rows += [
        (csv_cell(name), csv_cell(label), "" if score != score else f"{score:.6g}")
        for name, label, score in zip(names, labels, scores, strict=True)
    ]
    return _csv_bytes(rows)


def write_part(parts_dir, partition: int, data: bytes) -> None:
    """Put a part in place atomically; a recomputed partition replaces its identical twin."""
    atomic_write_bytes(part_path(parts_dir, partition), data, overwrite=True)


class RunState:
    """The parts folder of one output: created, checked against ``manifest`` or resumed.

    Parameters
    ----------
    out : Path
        The final CSV.
    manifest : dict
        What this run labels (JSON-serialisable).
    resume : bool
        Continue a run found in the folder (it must match ``manifest``); False discards it.
    """

    def __init__(self, out: Path, manifest: dict, *, resume: bool):
        self.out = Path(out)
        self.dir = parts_dir_for(self.out)
        self.manifest = json.loads(json.dumps({"format": FORMAT, **manifest}))
        self.done: dict[int, dict] = {}
        if self.dir.exists():
            found = self._read_manifest()
            if not resume:
                shutil.rmtree(self.dir)
            elif found != self.manifest:
                changed = sorted(k for k in self.manifest if found.get(k) != self.manifest[k])
                raise ValueError(
                    f"{terminal_text(self.dir)} holds an unfinished run with another "
                    f"{', '.join(changed)}; pass resume=False (--restart) to discard it."
                )
        if not self.dir.exists():
            self.dir.mkdir()
            data = json.dumps(self.manifest, indent=1, sort_keys=True).encode() + b"\n"
            atomic_write_bytes(self.dir / MANIFEST, data, overwrite=False)
        self._remove_stale()
        self.done = {
            record["partition"]: record
            for record in self._read_log()
            if part_path(self.dir, record["partition"]).is_file()
        }

    @staticmethod
    def previous_manifest(out: Path) -> dict | None:
        """The manifest of an unfinished run for ``out``, if there is a readable one."""
        try:
            return json.loads((parts_dir_for(Path(out)) / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def _remove_stale(self) -> None:
        """Temporary files of a writer that was killed (a process, or a Dask worker)."""
        for stale in self.dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def _read_manifest(self) -> dict:
        try:
            return json.loads((self.dir / MANIFEST).read_text())
        except (OSError, ValueError):
            raise ValueError(
                f"{terminal_text(self.dir)} exists but is not the folder of a labelling run; "
                "move it away or choose another output."
            ) from None

    def _read_log(self) -> list[dict]:
        path = self.dir / DONE_LOG
        if not path.exists():
            return []
        records = []
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line torn by a kill is not a record
                records.append(json.loads(line))
        return records

    def record(self, record: dict) -> None:
        """Append a finished partition's line (one write, flushed to disk)."""
        line = json.dumps(record, sort_keys=True) + "\n"
        with open(self.dir / DONE_LOG, "a", encoding="utf-8") as log:
            log.write(line)
            log.flush()
            os.fsync(log.fileno())
        self.done[record["partition"]] = record

    def log_counts(self) -> dict[int, int]:
        """How many times each partition was recorded as finished (for checks and tests)."""
        counts: dict[int, int] = {}
        for record in self._read_log():
            counts[record["partition"]] = counts.get(record["partition"], 0) + 1
        return counts

    def merge(self, n_partitions: int, *, overwrite: bool, skipped_path: Path | None) -> None:
        """Write the skipped files' list, then every part in order into the output."""
        self._remove_stale()
        skipped = [row for k in range(n_partitions) for row in self.done[k]["skipped"]]
        if skipped and skipped_path is not None:
            rows = [("file", "reason")] + [(csv_cell(n), csv_cell(r)) for n, r in skipped]
            atomic_write_bytes(skipped_path, _csv_bytes(rows), overwrite=overwrite)
        hint = "pass overwrite=True (--force) to replace it"
        with atomic_writer(self.out, overwrite=overwrite, overwrite_hint=hint) as dst:
            for k in range(n_partitions):
                with open(part_path(self.dir, k), "rb") as src:
                    header = src.readline()  # the same in every part
                    if k == 0:
                        dst.write(header)
                    shutil.copyfileobj(src, dst, 1 << 20)

    def remove(self) -> None:
        shutil.rmtree(self.dir)
