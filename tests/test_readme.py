"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert BLOCKS


def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch, capsys):
    """The blocks build on each other, as a reader runs them: one namespace, in order."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in BLOCKS:
        exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert out.strip(), "the README examples print their results"
