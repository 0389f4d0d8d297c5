"""The ``Examples`` sections of the package's docstrings run and print what they say.

Reference: the outputs written in the docstrings themselves (``doctest``, with ``ELLIPSIS``
and ``NORMALIZE_WHITESPACE`` as in numpy's and pandas' own docstring tests).  Before this
test the example of ``geoattr.models.tsqr.augmented_r`` printed a k x 1 array where its text
showed a vector, and nothing ran it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import geoattr

MODULES = sorted(m.name for m in pkgutil.walk_packages(geoattr.__path__, "geoattr.")
                 if not m.name.endswith("__main__"))  # ``python -m geoattr`` would run the CLI on import


def _with_examples(name: str) -> bool:
    """Whether the module has an example that runs (one not marked ``+SKIP``, e.g. for a file it reads)."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    return any(not ex.options.get(doctest.SKIP) for t in finder.find(importlib.import_module(name))
               for ex in t.examples)


@pytest.mark.parametrize("name", [m for m in MODULES if _with_examples(m)])
def test_docstring_examples_run_as_written(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False,
                             report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} printed something else (above)"


def test_the_sweep_finds_the_package_s_examples():
    """The collection itself: the modules with examples include these (it could find none)."""
    found = {m for m in MODULES if _with_examples(m)}
    assert {"geoattr.models.tsqr", "geoattr.pipeline.sidejobs"} <= found
