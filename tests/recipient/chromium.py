"""Render a page in real headless Chromium (not a test module).

:func:`render` returns the DOM after loading, the console messages Chromium logged and writes a
screenshot. Chromium is looked for as ``chromium``, ``chromium-browser`` or ``google-chrome``;
without it the caller's test is skipped, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]
# Chromium logs every console message (errors, warnings, CSP violations) as ":CONSOLE".
_CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)")


def chromium() -> str:
    """Path of a Chromium binary; skip (or fail under CI=true) when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def render(page: Path, workdir: Path, *, screenshot: Path | None = None, width: int = 1200):
    """Load ``page``; return ``(dom, console messages)``, and screenshot it if asked.

    The DOM comes from ``--dump-dom``. The screenshot is a second run in a ``width`` x 6000
    window (headless Chromium cannot size the window to the page).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    dumped = _run(page, workdir / "profile-dom", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    console = _CONSOLE.findall(dumped.stderr)
    if screenshot is not None:
        shot = _run(
            page,
            workdir / "profile-shot",
            f"--screenshot={screenshot}",
            f"--window-size={width},6000",
        )
        assert shot.returncode == 0, shot.stderr[-2000:]
        console += _CONSOLE.findall(shot.stderr)
    return dumped.stdout, console
