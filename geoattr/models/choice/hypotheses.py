"""Readable linear hypotheses on the migration-choice coefficients: ``R beta = q``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from geoattr.exceptions import InputError

__all__ = ["parse_hypothesis", "hypothesis_items"]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_:]*)|(?P<op>[-+*=])|(?P<bad>\S))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        val = m.group(kind)
        if kind == "bad":
            raise InputError(f"cannot read {val!r} in the restriction {text!r}")
        out.append((kind, val))
    return out


def _resolver(shown: str, terms: list[str], equations: list[str], default_eq: str | None) -> Callable[[str], int]:
    """Position in the flattened coefficient vector of a (possibly equation-qualified) name."""
    pos = {t: i for i, t in enumerate(terms)}
    K = len(terms)

    def resolve(name: str) -> int:
        if name in pos:
            if default_eq is None:
                raise InputError(
                    f"coefficient {name!r} in {shown!r} needs an equation: start the hypothesis with "
                    f"one of {[e + ':' for e in equations]} or write e.g. {equations[-1]}:{name}"
                )
            return equations.index(default_eq) * K + pos[name]
        head, _, rest = name.partition(":")
        if head in equations and rest in pos:
            return equations.index(head) * K + pos[rest]
        guess = difflib.get_close_matches(rest if head in equations else name, terms, n=3)
        hint = f"; did you mean {guess}?" if guess else f"; the terms are {terms}"
        raise InputError(f"unknown coefficient {name!r} in {shown!r}{hint}")

    return resolve


def _restriction(toks: list[tuple[str, str]], shown: str, size: int,
                 resolve: Callable[[str], int]) -> tuple[np.ndarray, float]:
    """One restriction ``lhs = rhs`` as a row of ``R`` and its ``q``."""
    r = np.zeros(size)
    const = 0.0
    side = 1.0
    i = 0
    expect_term = True
    sign = 1.0
    while i < len(toks):
        kind, val = toks[i]
        if kind == "op" and val == "=":
            if expect_term:
                raise InputError(f"missing term before '=' in {shown!r}")
            side, sign, expect_term = -1.0, 1.0, True
            i += 1
            continue
        if kind == "op" and val in "+-":
            sign = sign * (-1.0 if val == "-" else 1.0) if expect_term else (-1.0 if val == "-" else 1.0)
            expect_term = True
            i += 1
            continue
        if not expect_term:
            raise InputError(f"expected '+', '-' or '=' before {val!r} in {shown!r}")
        if kind == "num":
            num = float(val)
            if i + 1 < len(toks) and toks[i + 1] == ("op", "*"):
                if i + 2 >= len(toks) or toks[i + 2][0] != "name":
                    raise InputError(f"expected a coefficient after '{val}*' in {shown!r}")
                r[resolve(toks[i + 2][1])] += side * sign * num
                i += 3
            else:
                const += side * sign * num
                i += 1
        elif kind == "name":
            k = resolve(val)
            num = 1.0
            if i + 1 < len(toks) and toks[i + 1] == ("op", "*"):
                if i + 2 >= len(toks) or toks[i + 2][0] != "num":
                    raise InputError(f"expected a number after '{val}*' in {shown!r}")
                num = float(toks[i + 2][1])
                i += 2
            r[k] += side * sign * num
            i += 1
        else:
            raise InputError(f"unexpected {val!r} in {shown!r}")
        expect_term, sign = False, 1.0
    if expect_term:
        raise InputError(f"the restriction {shown!r} ends without a term")
    if not np.any(r):
        raise InputError(f"the restriction {shown!r} involves no coefficient")
    return r, -const


def parse_hypothesis(
    text: str,
    *,
    terms: Sequence[str],
    equations: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a readable linear hypothesis into the Wald restriction ``R beta = q``.

    Parameters
    ----------
    text : str
        The hypothesis (the syntax is described under Notes).
    terms : sequence of str
        Coefficient names of one equation.
    equations : sequence of str
        Equation names, in the order of the flattened coefficient vector
        (equation-major: all terms of the first equation, then the second ...).

    Returns
    -------
    R : numpy.ndarray, shape (m, len(equations) * len(terms))
    q : numpy.ndarray, shape (m,)

    Raises
    ------
    InputError
        Unknown coefficients (with suggestions), unqualified coefficients without an
        equation prefix, malformed expressions, restrictions without coefficients,
        or linearly dependent restrictions.

    Notes
    -----
    * One or more restrictions separated by ``;`` form one joint hypothesis.
    * A restriction may start with an equation prefix ``emigration:``; it sets the
      equation of its unqualified coefficients and of those of the following
      restrictions (until another prefix).
    * A coefficient is a term name (``immigrant:centrality_1``), or qualified with its
      equation (``domestic:immigrant``), optionally multiplied by a number
      (``2*sex_female``, ``sex_female*0.5``).  Both sides of ``=`` are sums and
      differences of coefficients and numbers.

    Examples: ``"emigration: immigrant:centrality_1 = 0"``;
    ``"emigration: immigrant = born_to_immigrants"``;
    ``"domestic:sex_female = emigration:sex_female"``;
    ``"emigration: immigrant:centrality_1 = 0; immigrant:centrality_2 = 0"`` (df 2).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"a hypothesis must be a non-empty string, got {text!r}")
    terms, equations = list(terms), list(equations)
    rows, qs = [], []
    default_eq: str | None = None
    for part in [p for p in re.split(r"[;\n]", text) if p.strip()]:
        shown = part.strip()
        prefix = re.match(r"\s*([A-Za-z_]\w*)\s*:(?:\s|$)", part)
        if prefix:
            if prefix.group(1) not in equations:
                raise InputError(
                    f"{prefix.group(1)!r} in {shown!r} is not an equation; equations: {equations}"
                )
            default_eq = prefix.group(1)
            part = part[prefix.end():]
        toks = _tokens(part)
        if any(k == "name" and v.endswith(":") for k, v in toks):
            raise InputError(f"misplaced ':' in {shown!r}; write 'equation: term = value'")
        if sum(1 for k, v in toks if k == "op" and v == "=") != 1:
            raise InputError(f"a restriction needs exactly one '=', got {shown!r}")
        r, q = _restriction(toks, shown, len(equations) * len(terms), _resolver(shown, terms, equations, default_eq))
        rows.append(r)
        qs.append(q)
    R = np.vstack(rows)
    if np.linalg.matrix_rank(R) < len(rows):
        raise InputError(f"the restrictions of {text!r} are linearly dependent; remove the redundant ones")
    return R, np.asarray(qs)


def hypothesis_items(hypotheses: Any) -> list[tuple[str, str]]:
    """``(name, restriction)`` pairs from a string, a mapping name -> restriction, or a sequence.

    A sequence may hold strings (each its own name) or mappings with ``restriction``
    and optionally ``name`` (the configuration's ``[[hypotheses]]``).
    """
    if isinstance(hypotheses, str):
        return [(hypotheses, hypotheses)]
    if isinstance(hypotheses, Mapping):
        return [(str(k), str(v)) for k, v in hypotheses.items()]
    out = []
    for h in hypotheses:
        if isinstance(h, str):
            out.append((h, h))
        elif isinstance(h, Mapping):
            extra = set(h) - {"name", "restriction"}
            if "restriction" not in h or extra:
                raise InputError(
                    f"each hypothesis needs a 'restriction' (and optionally a 'name'), got keys {sorted(h)}"
                )
            out.append((str(h.get("name", h["restriction"])), str(h["restriction"])))
        else:
            raise InputError(f"a hypothesis must be a string or a mapping, got {type(h).__name__}")
    return out
