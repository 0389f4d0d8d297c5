"""Shared pieces of numpydoc docstrings (one text for a parameter that many functions take).

A docstring names a shared piece on a line of its own, ``{name}``; :func:`fill_doc`
replaces that line by the piece, indented as the line was, so the result is the
plain numpydoc text that ``help()`` and Sphinx read.  Braces anywhere else in a
docstring are left alone.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["fill_doc", "OUTPUT_FILES", "FIGURE_PATH"]

#: The ``out`` and ``files`` parameters of the pipeline's writers.
OUTPUT_FILES = """out : Path
    Output folder.
files : dict of str to Path
    The run's files by output name; updated with what this function writes."""

#: The ``path`` parameter and the Returns section of the figure functions.
FIGURE_PATH = """path : str or Path, optional
    Also save the figure there (``.png`` or ``.svg``).

Returns
-------
matplotlib.figure.Figure"""

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>\w+)\}[ \t]*$", re.MULTILINE)


def fill_doc(**pieces: str) -> Callable[[T], T]:
    """Decorator that replaces each ``{name}`` line of a docstring by ``pieces[name]``.

    Parameters
    ----------
    **pieces : str
        Docstring text by name; its first line goes at the indentation of the
        placeholder line and the following lines keep their indentation relative to it.

    Returns
    -------
    callable
        The decorator; it returns the decorated object with its ``__doc__`` filled.

    Raises
    ------
    KeyError
        A placeholder names no piece, or a piece is not used (a typo either way).
    """

    def decorate(obj: T) -> T:
        used: set[str] = set()

        def replace(m: re.Match[str]) -> str:
            used.add(m["name"])
            text = textwrap.dedent(pieces[m["name"]]).strip("\n")
            return textwrap.indent(text, m["indent"])

        obj.__doc__ = _PLACEHOLDER.sub(replace, obj.__doc__ or "")
        if set(pieces) - used:
            raise KeyError(f"{getattr(obj, '__qualname__', obj)}: no {{name}} line for {sorted(set(pieces) - used)}")
        return obj

    return decorate
