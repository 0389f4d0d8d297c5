"""Synthetic individual-level migration data with known parameters.

Register data on who moves and who emigrates are confidential, so the migration-choice
model (:mod:`geoattr.models.choice`) ships with a generator whose true coefficients are
known. Each row is a person-year of an adult (18-79) living in Norway on 1 January; the
outcome of the year is ``stay``, ``domestic`` (moved to another municipality) or
``emigration``, drawn from a multinomial logit with the terms of the model's default
specification (:data:`geoattr.models.choice.DEFAULT_SPEC`) and the coefficients
:data:`TRUE_PARAMS` (or the caller's; the defaults are the table
``geoattr/datasets/data/individuals_true_params.csv``).

**How the covariates are drawn** (shares are rough Norwegian magnitudes, not estimates):

* ``centrality``: SSB class 1-6 with shares 22, 24, 20, 16, 10, 8 %.
* ``background`` given the class: immigrants 26 % of the population in class 1
  falling to 9 % in class 6; native-born to immigrant parents
  (``born_to_immigrants``) 7 % falling to 0.8 %; the rest of the population otherwise.
* ``age`` (18-79) given the background: the rest of the population is spread evenly
  up to 60 and thins out above; immigrants are concentrated at 25-45; the native-born
  to immigrant parents are young (most under 35).
* ``sex``: 50 % women (48 % among immigrants).
* ``education`` given the age group and centrality: more higher education among the
  25-49-year-olds and in classes 1-2.
* ``labour`` given the age group and background: students among the young, outside
  the labour force among the old; immigrants are twice as often unemployed.
* ``family`` given the age group.
* ``year``: 2015-2019, uniformly (no effect; it makes the rows person-years).

With the default parameters about 6.5 % of the person-years are domestic moves and
0.7 % emigrations; immigrants emigrate at about 2 %.

The generator produces data only: it defines its own categories, references and term
names (the tests check that they equal the model's default specification) and computes
the linear predictors from lookup tables of the category codes, not with the design
builder of :mod:`geoattr.models.choice`, so recovering :data:`TRUE_PARAMS` with
:func:`geoattr.models.choice.fit_choice` also checks the design.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from geoattr.exceptions import InputError

__all__ = ["synthetic_individuals", "true_params", "TRUE_PARAMS"]

# The outcomes (the first is the base outcome; the others have an equation each).
_OUTCOMES: tuple[str, ...] = ("stay", "domestic", "emigration")
_EQUATIONS: tuple[str, ...] = _OUTCOMES[1:]
# Lower bounds of the age groups (the last is open).
_AGE_BREAKS: tuple[int, ...] = (18, 25, 30, 40, 50, 67)
# variable -> (categories in code order, reference category, coefficient prefix)
_FACTORS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "background": (("immigrant", "born_to_immigrants", "rest"), "rest", ""),
    "centrality": (("1", "2", "3", "4", "5_6"), "5_6", "centrality_"),
    "age": (("18_24", "25_29", "30_39", "40_49", "50_66", "67_plus"), "40_49", "age_"),
    "sex": (("male", "female"), "male", "sex_"),
    "education": (("compulsory", "upper_secondary", "higher_short", "higher_long"), "upper_secondary",
                  "education_"),
    "labour": (("employed", "unemployed", "student", "outside"), "employed", "labour_"),
    "family": (("single", "couple_no_children", "couple_children", "single_parent"), "single", "family_"),
}

_TRUE_FILE = "individuals_true_params.csv"

_CENT_SHARE = np.array([0.22, 0.24, 0.20, 0.16, 0.10, 0.08])
_IMM_SHARE = np.array([0.26, 0.17, 0.14, 0.11, 0.10, 0.09])
_BORN_SHARE = np.array([0.07, 0.045, 0.032, 0.026, 0.022, 0.020])
_AGES = np.arange(18, 80)
# Shares by age group (rows 18_24, 25_29, 30_39, 40_49, 50_66, 67_plus), one block of four
# columns per variable: education (compulsory, upper_secondary, higher_short, higher_long),
# labour (employed, unemployed, student, outside) and family (single, couple_no_children,
# couple_children, single_parent).
_BY_AGE = np.array([
    [0.35, 0.50, 0.12, 0.03,  0.55, 0.05, 0.35, 0.05,  0.80, 0.15, 0.03, 0.02],
    [0.18, 0.37, 0.30, 0.15,  0.75, 0.05, 0.12, 0.08,  0.50, 0.30, 0.15, 0.05],
    [0.16, 0.36, 0.30, 0.18,  0.82, 0.04, 0.03, 0.11,  0.25, 0.15, 0.50, 0.10],
    [0.18, 0.40, 0.27, 0.15,  0.84, 0.03, 0.01, 0.12,  0.20, 0.10, 0.60, 0.10],
    [0.24, 0.44, 0.22, 0.10,  0.74, 0.03, 0.005, 0.225,  0.25, 0.50, 0.20, 0.05],
    [0.32, 0.44, 0.17, 0.07,  0.15, 0.005, 0.005, 0.84,  0.35, 0.60, 0.03, 0.02],
])
_EDU, _LAB, _FAM = np.hsplit(_BY_AGE, 3)
_EDU_CENT = np.array([  # multipliers by merged centrality level (1, 2, 3, 4, 5_6)
    [0.80, 0.85, 1.15, 1.70],
    [0.90, 0.95, 1.10, 1.15],
    [1.00, 1.05, 0.95, 0.80],
    [1.10, 1.10, 0.90, 0.65],
    [1.20, 1.10, 0.85, 0.55],
])
_LAB_IMM = np.array([0.85, 2.0, 0.9, 1.3])


def _age_weights() -> np.ndarray:
    """Age distributions (rows: immigrant, born_to_immigrants, rest) over 18..79."""
    a = _AGES.astype(float)
    rest = np.where(a <= 60, 1.0, 1.0 - 0.4 * (a - 60) / 19)
    imm = np.exp(-0.5 * ((a - 36) / 11) ** 2) + 0.08
    born = np.exp(-0.5 * ((a - 22) / 7) ** 2) + 0.02 * (a < 50)
    w = np.vstack([imm, born, rest])
    return w / w.sum(axis=1, keepdims=True)


def _read_true() -> dict[str, tuple[float, float]]:
    """The default (domestic, emigration) coefficients by term, from ``data/individuals_true_params.csv``.

    The rows are in the order of the default specification's terms.
    """
    text = resources.files("geoattr.datasets").joinpath("data", _TRUE_FILE).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    return {term: (float(dom), float(emi)) for term, dom, emi in rows[1:]}


_TRUE: dict[str, tuple[float, float]] = _read_true()


def true_params(params: Mapping[Any, float] | pd.Series | None = None) -> pd.Series:
    """Return the true coefficients, optionally with some replaced.

    Parameters
    ----------
    params : mapping or Series, optional
        Replacements keyed by ``(equation, term)`` (e.g.
        ``{("emigration", "immigrant"): 2.5}``) or a Series on that MultiIndex.

    Returns
    -------
    pandas.Series
        Index ``(equation, term)`` in the order of
        :attr:`geoattr.models.choice.ChoiceResults.params` under the default
        specification; named ``true``.
    """
    terms, eqs = tuple(_TRUE), _EQUATIONS
    idx = pd.MultiIndex.from_product([list(eqs), list(terms)], names=["equation", "term"])
    vals = [_TRUE[t][k] for k in range(len(eqs)) for t in terms]
    out = pd.Series(vals, index=idx, name="true", dtype=float)
    if params is not None:
        items = params.items() if isinstance(params, (Mapping, pd.Series)) else None
        if items is None:
            raise InputError(f"params must be a mapping or a Series keyed by (equation, term), got {type(params)}")
        for key, v in items:
            if key not in idx:
                raise InputError(
                    f"unknown parameter {key!r}; keys are (equation, term) with equations {list(eqs)} and "
                    f"terms such as {list(terms[:4])}"
                )
            if not np.isfinite(float(v)):
                raise InputError(f"parameter {key!r} must be finite, got {v!r}")
            out[key] = float(v)
    return out


#: The default true coefficients (``true_params()``).
TRUE_PARAMS: pd.Series = true_params()


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category code per row from a row-stochastic ``(n, m)`` matrix (inverse CDF)."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(probs.shape[0])
    return (u[:, None] > cum[:, :-1]).sum(axis=1).astype(np.int8)


def _linear_predictors(truth: pd.Series, codes: dict[str, np.ndarray], bg: np.ndarray,
                       lev: np.ndarray) -> np.ndarray:
    """``(n, J)`` linear predictors (base column 0) minus their row maxima, from lookup tables of the codes."""
    n = len(bg)
    etas = []
    for eq in _EQUATIONS:
        b = truth.xs(eq, level="equation")
        eta = np.full(n, b["const"])
        for name, (cats, ref, prefix) in _FACTORS.items():
            table = np.array([0.0 if c == ref else b[prefix + c] for c in cats])
            eta += table[codes[name]]
        bgs, cents = _FACTORS["background"][0], _FACTORS["centrality"][0]
        inter = np.zeros((len(bgs), len(cents)))
        for i, bl in enumerate(bgs):
            for j, cl in enumerate(cents):
                key = f"{bl}:centrality_{cl}"
                inter[i, j] = b[key] if key in b.index else 0.0
        eta += inter[bg, lev]
        etas.append(eta)
    eta = np.column_stack([np.zeros(n), *etas])
    eta -= eta.max(axis=1, keepdims=True)
    return eta


def synthetic_individuals(
    n: int = 1_000_000,
    *,
    seed: int,
    params: Mapping[Any, float] | pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Person-years with a known migration-choice multinomial logit.

    Parameters
    ----------
    n : int, default 1,000,000
        Number of person-years.
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same data.
    params : mapping or Series, optional
        Replacements for some true coefficients (see :func:`true_params`).

    Returns
    -------
    data : pandas.DataFrame
        Index ``person_year`` (0..n-1); columns ``outcome`` (categorical ``stay``,
        ``domestic``, ``emigration``), ``background`` (categorical ``immigrant``,
        ``born_to_immigrants``, ``rest``), ``centrality`` (SSB class 1-6, int8),
        ``age`` (years, int8), ``sex``, ``education``, ``labour``, ``family``
        (categoricals) and ``year`` (int16).
    true_params : pandas.Series
        The coefficients the outcomes were drawn with, indexed ``(equation, term)``
        like :attr:`geoattr.models.choice.ChoiceResults.params`.

    Examples
    --------
    >>> df, truth = synthetic_individuals(10_000, seed=1)
    >>> list(df.columns)
    ['outcome', 'background', 'centrality', 'age', 'sex', 'education', 'labour', 'family', 'year']
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InputError(f"seed must be an integer, got {seed!r}")
    n = int(n)
    truth = true_params(params)
    rng = np.random.default_rng(seed)

    cls = (rng.choice(6, size=n, p=_CENT_SHARE) + 1).astype(np.int8)  # SSB class 1..6
    lev = np.minimum(cls, 5) - 1  # merged level code 0..4 (5_6 = 4)
    bgp = np.column_stack([_IMM_SHARE, _BORN_SHARE, 1 - _IMM_SHARE - _BORN_SHARE])[cls - 1]
    bg = _draw(rng, bgp)  # 0 immigrant, 1 born_to_immigrants, 2 rest
    aw = _age_weights()
    age = np.empty(n, dtype=np.int8)
    for b in range(3):
        sel = np.flatnonzero(bg == b)
        age[sel] = rng.choice(_AGES, size=sel.size, p=aw[b])
    ag = (np.searchsorted(np.asarray(_AGE_BREAKS), age, side="right") - 1).astype(np.int8)
    female = (rng.random(n) < np.where(bg == 0, 0.48, 0.50)).astype(np.int8)
    edu = _draw(rng, _EDU[ag] * _EDU_CENT[lev])
    lab = _draw(rng, _LAB[ag] * np.where((bg == 0)[:, None], _LAB_IMM, 1.0))
    fam = _draw(rng, _FAM[ag])
    year = rng.integers(2015, 2020, size=n).astype(np.int16)

    # linear predictors from lookup tables of the codes (independent of the design builder)
    codes = {"background": bg, "centrality": lev, "age": ag, "sex": female, "education": edu, "labour": lab,
             "family": fam}
    y = _draw(rng, np.exp(_linear_predictors(truth, codes, bg, lev)))

    def cat(c: np.ndarray, labels: list[str]) -> pd.Categorical:
        return pd.Categorical.from_codes(c.astype(np.int8), categories=labels)

    data = pd.DataFrame(
        {
            "outcome": cat(y, list(_OUTCOMES)),
            "background": cat(bg, list(_FACTORS["background"][0])),
            "centrality": cls,
            "age": age,
            "sex": cat(female, list(_FACTORS["sex"][0])),
            "education": cat(edu, list(_FACTORS["education"][0])),
            "labour": cat(lab, list(_FACTORS["labour"][0])),
            "family": cat(fam, list(_FACTORS["family"][0])),
            "year": year,
        },
        index=pd.RangeIndex(n, name="person_year"),
    )
    return data, truth

