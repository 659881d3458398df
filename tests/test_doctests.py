"""The Examples sections of every public class and function run as doctests.

Collects the docstrings of each name in ``skdcsae.__all__``, ``skdcsae.datasets.__all__``,
``skdcsae.plotting.__all__`` and ``skdcsae.recipient.__all__`` (classes with their methods)
and of the public modules themselves, and runs them like ``pytest --doctest-modules`` would,
so the default ``python -m pytest`` keeps the documented examples honest.
"""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

PUBLIC_MODULES = ("skdcsae", "skdcsae.datasets", "skdcsae.plotting", "skdcsae.recipient")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _public_objects():
    seen = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        yield module_name, module
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if id(obj) not in seen:
                seen.add(id(obj))
                yield f"{module_name}.{name}", obj


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    for qualname, obj in _public_objects():
        module = inspect.getmodule(obj)
        # For a module, do not recurse into what it re-exports: those run under their own name.
        tests = finder.find(obj, qualname, module=module if inspect.ismodule(obj) else False)
        if inspect.ismodule(obj):
            tests = [t for t in tests if t.name == qualname]
        yield from ((t.name, t) for t in tests if t.examples)


DOCTESTS = dict(_doctests())


def test_every_public_name_has_an_example():
    """Each public class and function has at least one doctest example."""
    missing = [
        qualname
        for qualname, obj in _public_objects()
        if not inspect.ismodule(obj) and qualname not in DOCTESTS
    ]
    assert not missing, f"public names without an Examples doctest: {missing}"


@pytest.mark.parametrize("name", sorted(DOCTESTS))
def test_docstring_examples(name, tmp_path, monkeypatch):
    if "plotting" in name:
        pytest.importorskip("matplotlib")
        import matplotlib

        matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    test = DOCTESTS[name]
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    runner.run(test, out=lambda text: print(text, end=""))
    result = runner.summarize(verbose=False)
    if "plotting" in name:
        import matplotlib.pyplot as plt

        plt.close("all")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
