"""The package's shape: one-way imports, small modules, and an unchanged public surface."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import skdcsae
import skdcsae.baselines
import skdcsae.datasets
import skdcsae.kit
import skdcsae.recipient

PACKAGE = Path(skdcsae.__file__).resolve().parent
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every skdcsae module ``path`` imports, at any depth (functions included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("skdcsae"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("skdcsae"):
                found.add(module)
                # ``from . import x`` imports the submodule x when it is one
                for alias in node.names:
                    candidate = f"{module}.{alias.name}"
                    if _path_of(candidate) is not None:
                        found.add(candidate)
    return found - {name}


def _path_of(module: str) -> Path | None:
    rel = Path(*module.split(".")[1:])
    for candidate in (PACKAGE / rel / "__init__.py", (PACKAGE / rel).with_suffix(".py")):
        if candidate.exists():
            return candidate
    return None


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[_module_name(path)] = {m for m in _imports(path) if _path_of(m) is not None}
    return graph


def _reaches(graph, start, target, seen=None) -> bool:
    seen = set() if seen is None else seen
    for nxt in graph.get(start, ()):
        if nxt == target:
            return True
        if nxt not in seen:
            seen.add(nxt)
            if _reaches(graph, nxt, target, seen):
                return True
    return False


def test_no_import_cycles_not_even_in_functions():
    graph = _graph()
    # a package's __init__ re-exports its modules: that edge is not a cycle of the design
    cycles = sorted(
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if not a.startswith(b + ".")
        and _reaches(graph, b, a)
        and not b.startswith(a + ".")
        and b != a.rpartition(".")[0]
    )
    assert not cycles, cycles


# (importer prefix, imported prefixes it must never reach): data flows one way,
# estimator -> kit content -> file -> kit -> recipient.
FORBIDDEN = {
    "skdcsae._nn": (
        "skdcsae.kit",
        "skdcsae._base",
        "skdcsae._dcsae",
        "skdcsae.recipient",
        "skdcsae.baselines",
        "skdcsae._cli",
    ),
    "skdcsae._inference": ("skdcsae._base", "skdcsae.kit", "skdcsae._nn._nets"),
    "skdcsae.kit": (
        "skdcsae._base",
        "skdcsae._dcsae",
        "skdcsae._export",
        "skdcsae.baselines",
        "skdcsae.recipient",
        "skdcsae._cli",
        "skdcsae._audit",
        "skdcsae.plotting",
    ),
    "skdcsae.recipient": (
        "skdcsae._base",
        "skdcsae._dcsae",
        "skdcsae._export",
        "skdcsae.baselines",
        "skdcsae._cli",
        "skdcsae._nn._nets",
    ),
    "skdcsae.datasets": (
        "skdcsae.kit",
        "skdcsae._base",
        "skdcsae._dcsae",
        "skdcsae.recipient",
        "skdcsae._cli",
    ),
}


@pytest.mark.parametrize("importer", sorted(FORBIDDEN))
def test_data_flows_one_way(importer):
    graph = _graph()
    wrong = sorted(
        f"{a} imports {b}"
        for a, targets in graph.items()
        if a == importer or a.startswith(importer + ".")
        for b in targets
        if any(b == f or b.startswith(f + ".") for f in FORBIDDEN[importer])
    )
    assert not wrong, wrong


def test_recipient_side_does_not_import_skorch():
    paths = [*(PACKAGE / "recipient").rglob("*.py"), PACKAGE / "_inference.py"]
    paths += [*(PACKAGE / "kit").rglob("*.py")]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "skorch" for n in names), path


def test_no_module_over_500_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_every_public_name_imports():
    for module in (skdcsae, skdcsae.datasets, skdcsae.kit, skdcsae.baselines, skdcsae.recipient):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)
    from skdcsae import plotting

    for name in plotting.__all__:
        assert callable(getattr(plotting, name))


def test_every_cli_command_has_help(capsys):
    from skdcsae._cli import build_parser, main

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse's own registry
    assert {"donor", "recipient", "inspect", "audit", "demo"} <= set(commands)
    for command in ["", *commands]:
        with pytest.raises(SystemExit) as exit_info:
            main([*([command] if command else []), "--help"])
        assert exit_info.value.code == 0, command
        assert "usage: skdcsae" in capsys.readouterr().out, command


def test_python_dash_m_runs_the_cli():
    args = [sys.executable, "-m", "skdcsae", "--help"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and "usage: skdcsae" in out.stdout, out.stderr
