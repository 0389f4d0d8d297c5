r"""Migration choice: stay, move within the country or emigrate (individual level).

A multinomial logit of the outcome of a person-year, one of ``stay`` (the base
outcome), ``domestic`` (moved to another municipality) and ``emigration``, on the
person's background group interacted with the centrality class of the home
municipality, controlling for age, sex, education, labour-market status and family
situation (MODEL.md, "Migration choice").  The numerical engine is
:class:`statsmodels.discrete.discrete_model.MNLogit`; geoattr builds the design,
validates the input, checks for separation, and turns the results into labelled
tables, predicted probabilities with intervals, Wald tests of user-stated linear
restrictions and a figure.

**The model.** For person-year :math:`i` with covariates :math:`x_i` and outcome :math:`j`,

.. math::

    P(y_i = j) = \frac{\exp(x_i'\beta_j)}{\sum_{k} \exp(x_i'\beta_k)}, \qquad \beta_{stay} = 0,

so each non-base outcome has its own *equation* (``domestic``, ``emigration``) and
:math:`\exp(\beta_{j,t})` is the relative risk ratio (RRR): the factor by which
:math:`P(j)/P(stay)` changes when dummy :math:`t` switches from 0 to 1.

**The design (formula-free, treatment coding).** Every categorical variable is coded
as 0/1 dummies for its non-reference levels; the reference level of each variable is
explicit in :class:`ChoiceSpec` (and in ``[model.reference]`` of the configuration).
With the default specification the terms are, in this order:

* ``const``: the reference person (rest of the population, centrality class 5-6,
  aged 40-49, male, upper secondary education, employed, single);
* ``immigrant``, ``born_to_immigrants``: background group (reference ``rest``; the
  second are the native-born to immigrant parents);
* ``centrality_1`` ... ``centrality_4``: SSB centrality class of the home
  municipality, 1 (most central) to 6; classes 5 and 6 merged into ``5_6``, the
  reference;
* ``immigrant:centrality_1`` ... ``born_to_immigrants:centrality_4``: background x
  centrality interactions (non-reference levels only), so ``immigrant:centrality_1``
  is the difference in the immigrant-vs-rest log-odds between class 1 and class 5-6;
* ``age_18_24``, ``age_25_29``, ``age_30_39``, ``age_50_66``, ``age_67_plus``: age
  groups from ``age_breaks`` (reference ``40_49``); or ``age`` and ``age_sq`` with
  ``age="quadratic"``, where ``age = (years - 40) / 10``;
* ``sex_female`` (reference ``male``);
* ``education_compulsory``, ``education_higher_short`` (up to 4 years),
  ``education_higher_long`` (reference ``upper_secondary``);
* ``labour_unemployed``, ``labour_student``, ``labour_outside`` (outside the labour
  force; reference ``employed``);
* ``family_couple_no_children``, ``family_couple_children``,
  ``family_single_parent`` (reference ``single``).

**Statistics.**

* Standard errors come from the inverse of the observed information (the negative
  Hessian of the log-likelihood at the estimate), as statsmodels computes them; 95 %
  intervals are ``coef +- 1.96 se``, and RRR intervals are their exponentials.
* ``pseudo_rsquared`` is McFadden's :math:`1 - \ell(\hat\beta) / \ell_0`, where
  :math:`\ell_0 = \sum_j n_j \log(n_j / n)` is the log-likelihood of the model with
  constants only (computed in closed form instead of refitting).
* Hypotheses are Wald tests :math:`W = (R\hat\beta - q)'(R V R')^{-1}(R\hat\beta - q)`,
  chi-square with ``rank(R)`` degrees of freedom, computed by statsmodels'
  ``wald_test``; the restriction syntax is described in :func:`parse_hypothesis`.
* Predicted probabilities get intervals either by the delta method on the logit
  scale of each probability (``method="delta"``, the default; the interval is mapped
  back, so it stays inside (0, 1)) or by parametric simulation, drawing
  coefficients from :math:`N(\hat\beta, V)` with a seeded generator and taking
  percentiles (``method="simulation"``).
* The likelihood is evaluated on the distinct covariate patterns with their outcome
  counts (the same likelihood as on the person-years; see :func:`fit_design`).
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import platform
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.exceptions import ConvergenceWarning, DroppedRowsWarning, GeoattrWarning, InputError

__all__ = [
    "Factor",
    "ChoiceSpec",
    "ChoiceDesign",
    "ChoiceResults",
    "SeparationWarning",
    "DEFAULT_SPEC",
    "DEFAULT_PROFILES",
    "build_design",
    "fit_design",
    "fit_choice",
    "separation_report",
    "parse_hypothesis",
    "plot_choice_probabilities",
    "load_choice_config",
    "run_choice",
]

OUTCOMES: tuple[str, ...] = ("stay", "domestic", "emigration")
BACKGROUNDS: tuple[str, ...] = ("immigrant", "born_to_immigrants", "rest")
#: SSB centrality class (1 most central ... 6 least central) -> level of the model.
CENTRALITY_CLASSES: Mapping[int, str] = MappingProxyType({1: "1", 2: "2", 3: "3", 4: "4", 5: "5_6", 6: "5_6"})
AGE_BREAKS: tuple[int, ...] = (18, 25, 30, 40, 50, 67)

_LEVEL_RE = re.compile(r"^[A-Za-z0-9_]+$")


class SeparationWarning(GeoattrWarning):
    """An outcome never occurs in a level of a covariate: its coefficient is not identified."""


# --------------------------------------------------------------------------- specification
@dataclass(frozen=True)
class Factor:
    """A categorical covariate with declared categories and an explicit reference level.

    Parameters
    ----------
    name : str
        Column name in the data (after the ``columns`` mapping).
    categories : sequence of str
        Allowed values, in the order of the design's columns.  Letters, digits and
        underscores only (the names become coefficient names).
    reference : str
        The category left out of the design; coefficients are contrasts against it.
    prefix : str, optional
        Prefix of the coefficient names (default ``name + "_"``, e.g.
        ``education_higher_long``; the background factor uses ``""``).
    """

    name: str
    categories: tuple[str, ...]
    reference: str
    prefix: str | None = None

    def __post_init__(self) -> None:
        cats = tuple(str(c) for c in self.categories)
        object.__setattr__(self, "categories", cats)
        object.__setattr__(self, "reference", str(self.reference))
        if len(cats) < 2:
            raise InputError(f"factor {self.name!r} needs at least two categories, got {list(cats)}")
        if len(set(cats)) != len(cats):
            dup = sorted({c for c in cats if cats.count(c) > 1})
            raise InputError(f"factor {self.name!r} lists categories more than once: {dup}")
        bad = [c for c in cats if not _LEVEL_RE.match(c)]
        if bad:
            raise InputError(
                f"categories of {self.name!r} may contain only letters, digits and '_' (they become "
                f"coefficient names); rename {bad}"
            )
        if self.reference not in cats:
            raise InputError(
                f"reference level {self.reference!r} of {self.name!r} is not one of its categories {list(cats)}"
            )
        if self.term_prefix == "" and any(c[0].isdigit() for c in cats):
            raise InputError(f"categories of {self.name!r} (no prefix) must start with a letter, got {list(cats)}")

    @property
    def term_prefix(self) -> str:
        """Prefix of the coefficient names."""
        return f"{self.name}_" if self.prefix is None else self.prefix

    @property
    def levels(self) -> tuple[str, ...]:
        """The non-reference categories (one dummy each)."""
        return tuple(c for c in self.categories if c != self.reference)

    @property
    def terms(self) -> tuple[str, ...]:
        """Coefficient names of the dummies."""
        return tuple(self.term_prefix + c for c in self.levels)

    def with_reference(self, reference: str) -> Factor:
        """Return a copy with another reference level."""
        return replace(self, reference=reference)


def _default_controls() -> tuple[Factor, ...]:
    return (
        Factor("sex", ("male", "female"), "male"),
        Factor("education", ("compulsory", "upper_secondary", "higher_short", "higher_long"), "upper_secondary"),
        Factor("labour", ("employed", "unemployed", "student", "outside"), "employed"),
        Factor("family", ("single", "couple_no_children", "couple_children", "single_parent"), "single"),
    )


def _age_labels(breaks: Sequence[int]) -> tuple[str, ...]:
    b = [int(x) for x in breaks]
    return tuple([f"{lo}_{hi - 1}" for lo, hi in itertools.pairwise(b)] + [f"{b[-1]}_plus"])


@dataclass(frozen=True)
class ChoiceSpec:
    """What the migration-choice model contains and how each variable is coded.

    Parameters
    ----------
    outcomes : tuple of str, default ("stay", "domestic", "emigration")
        Outcome categories; every non-base outcome gets an equation.
    base : str, default "stay"
        The base outcome (its coefficients are fixed at zero).
    background : Factor
        Background group, default categories ``immigrant``, ``born_to_immigrants``
        (native-born to immigrant parents), ``rest`` with reference ``rest`` and no
        coefficient prefix.
    centrality : Factor
        Centrality level, default ``1, 2, 3, 4, 5_6`` with reference ``5_6`` and prefix
        ``centrality_``.
    centrality_classes : mapping, default {1: "1", ..., 5: "5_6", 6: "5_6"}
        Raw SSB centrality class -> level (merges classes 5 and 6).  Values already
        equal to a level (e.g. ``"5_6"``) are accepted as well.
    interaction : bool, default True
        Include background x centrality interactions.
    age : {"groups", "quadratic", "none"}, default "groups"
        Age as dummies of the groups defined by ``age_breaks`` (reference
        ``age_reference``), or as ``age = (years - age_centre) / age_scale`` and its
        square, or not at all.
    age_breaks : tuple of int, default (18, 25, 30, 40, 50, 67)
        Lower bounds of the age groups; the last group is open (``67_plus``).  Ages
        below the first bound are rejected.
    age_reference : str, default "40_49"
    age_centre, age_scale : float, default 40 and 10
        Centring and scaling of the quadratic age terms.
    controls : tuple of Factor
        Further categorical controls; default sex, education, labour-market status
        (``labour``) and family situation (``family``).
    """

    outcomes: tuple[str, ...] = OUTCOMES
    base: str = "stay"
    background: Factor = field(default_factory=lambda: Factor("background", BACKGROUNDS, "rest", prefix=""))
    centrality: Factor = field(default_factory=lambda: Factor("centrality", ("1", "2", "3", "4", "5_6"), "5_6"))
    centrality_classes: Mapping[Any, str] = field(default_factory=lambda: CENTRALITY_CLASSES)
    interaction: bool = True
    age: Literal["groups", "quadratic", "none"] = "groups"
    age_breaks: tuple[int, ...] = AGE_BREAKS
    age_reference: str = "40_49"
    age_centre: float = 40.0
    age_scale: float = 10.0
    controls: tuple[Factor, ...] = field(default_factory=_default_controls)

    def __post_init__(self) -> None:
        outs = tuple(str(o) for o in self.outcomes)
        object.__setattr__(self, "outcomes", outs)
        object.__setattr__(self, "controls", tuple(self.controls))
        object.__setattr__(self, "age_breaks", tuple(int(b) for b in self.age_breaks))
        object.__setattr__(self, "centrality_classes", MappingProxyType(dict(self.centrality_classes)))
        if len(outs) < 2 or len(set(outs)) != len(outs) or not all(_LEVEL_RE.match(o) for o in outs):
            raise InputError(
                f"outcomes must be two or more distinct names of letters, digits and '_', got {list(outs)}"
            )
        if self.base not in outs:
            raise InputError(f"base outcome {self.base!r} is not one of the outcomes {list(outs)}")
        bad = sorted(set(self.centrality_classes.values()) - set(self.centrality.categories))
        if bad:
            raise InputError(
                f"centrality_classes maps to {bad}, which are not centrality levels {list(self.centrality.categories)}"
            )
        if self.age not in ("groups", "quadratic", "none"):
            raise InputError(f"age must be 'groups', 'quadratic' or 'none', got {self.age!r}")
        if self.age == "groups":
            b = self.age_breaks
            if len(b) < 2 or any(x >= y for x, y in itertools.pairwise(b)):
                raise InputError(f"age_breaks must be at least two increasing ages, got {list(b)}")
            self.age_factor  # validates the reference  # noqa: B018
        if self.age == "quadratic" and not self.age_scale > 0:
            raise InputError(f"age_scale must be positive, got {self.age_scale!r}")
        names = [f.name for f in self.factors] + (["age"] if self.age == "quadratic" else [])
        if len(set(names)) != len(names):
            raise InputError(f"variable names must be unique, got {names}")
        terms = self.terms
        dup = sorted({t for t in terms if terms.count(t) > 1})
        if dup:
            raise InputError(f"coefficient names collide: {dup}; give the factors distinct prefixes")
        clash = [t for t in terms for e in self.equations if t.startswith(e + ":")]
        if clash:
            raise InputError(f"coefficient names must not start with an equation name and ':', got {clash}")

    # -- derived ----------------------------------------------------------------
    @property
    def equations(self) -> tuple[str, ...]:
        """The non-base outcomes, one equation each."""
        return tuple(o for o in self.outcomes if o != self.base)

    @property
    def age_factor(self) -> Factor | None:
        """The age groups as a :class:`Factor` (``None`` unless ``age="groups"``)."""
        if self.age != "groups":
            return None
        return Factor("age", _age_labels(self.age_breaks), self.age_reference)

    @property
    def factors(self) -> tuple[Factor, ...]:
        """Every categorical variable of the design, in column order."""
        age = (self.age_factor,) if self.age == "groups" else ()
        return (self.background, self.centrality, *age, *self.controls)  # type: ignore[arg-type]

    @property
    def interaction_terms(self) -> tuple[str, ...]:
        """Names of the background x centrality interaction terms."""
        if not self.interaction:
            return ()
        return tuple(f"{b}:{c}" for b in self.background.terms for c in self.centrality.terms)

    @property
    def terms(self) -> tuple[str, ...]:
        """All coefficient names of one equation, in column order."""
        out = ["const", *self.background.terms, *self.centrality.terms, *self.interaction_terms]
        if self.age == "quadratic":
            out += ["age", "age_sq"]
        for f in self.factors[2:]:
            out += list(f.terms)
        return tuple(out)

    @property
    def variables(self) -> tuple[str, ...]:
        """Columns the data must have (besides ``outcome``)."""
        names = [self.background.name, self.centrality.name]
        if self.age != "none":
            names.append("age")
        return tuple(names + [f.name for f in self.controls])

    @property
    def references(self) -> dict[str, str]:
        """Reference level of every categorical variable (``outcome``: the base)."""
        return {"outcome": self.base, **{f.name: f.reference for f in self.factors}}

    def with_references(self, **references: str) -> ChoiceSpec:
        """Return a copy with other reference levels, e.g. ``spec.with_references(education="compulsory")``.

        Keys are variable names (``outcome`` sets the base outcome).
        """
        refs = dict(references)
        kw: dict[str, Any] = {}
        if "outcome" in refs:
            kw["base"] = refs.pop("outcome")
        if self.background.name in refs:
            kw["background"] = self.background.with_reference(refs.pop(self.background.name))
        if self.centrality.name in refs:
            kw["centrality"] = self.centrality.with_reference(refs.pop(self.centrality.name))
        if "age" in refs and self.age == "groups":
            kw["age_reference"] = refs.pop("age")
        controls = []
        for f in self.controls:
            controls.append(f.with_reference(refs.pop(f.name)) if f.name in refs else f)
        kw["controls"] = tuple(controls)
        if refs:
            raise InputError(
                f"unknown variable(s) {sorted(refs)} for a reference level; known: {sorted(self.references)}"
            )
        return replace(self, **kw)

    @classmethod
    def from_config(cls, model: Mapping[str, Any] | None = None) -> ChoiceSpec:
        """Build a specification from the ``[model]`` table of a choice configuration.

        Parameters
        ----------
        model : mapping, optional
            Keys ``age`` (``"groups"``/``"quadratic"``/``"none"``), ``age_groups``
            (lower bounds), ``age_centre``, ``age_scale``, ``interaction``, ``controls``
            (names, in order), ``categories`` (variable -> list; needed for controls
            beyond the default four), ``reference`` (variable -> level, ``outcome``
            sets the base), ``centrality_classes`` (raw class -> level).

        Returns
        -------
        ChoiceSpec
        """
        m = dict(model or {})
        base = cls()
        cats = {str(k): tuple(str(x) for x in v) for k, v in dict(m.get("categories", {})).items()}
        refs = {str(k): str(v) for k, v in dict(m.get("reference", {})).items()}
        known = {f.name: f for f in _default_controls()}
        control_names = [str(c) for c in m.get("controls", list(known))]
        controls = []
        for name in control_names:
            if name in cats:
                ref = refs.get(name, known[name].reference if name in known and known[name].reference in cats[name]
                               else cats[name][0])
                controls.append(Factor(name, cats[name], ref))
            elif name in known:
                controls.append(known[name].with_reference(refs.get(name, known[name].reference)))
            else:
                raise InputError(
                    f"[model] control {name!r} is not one of the default controls {sorted(known)}; declare its "
                    f"levels in [model.categories] {name} = [...]"
                )
        unknown = set(cats) - set(control_names) - {"outcome", "background", "centrality"}
        if unknown:
            raise InputError(f"[model.categories] names {sorted(unknown)}, which are not in the model")
        known_refs = {"outcome", "background", "centrality", *control_names}
        if m.get("age", "groups") == "groups":
            known_refs.add("age")
        unknown = set(refs) - known_refs
        if unknown:
            raise InputError(
                f"[model.reference] names {sorted(unknown)}, which are not categorical variables of the model "
                f"({sorted(known_refs)})"
            )
        outcomes = cats.get("outcome", base.outcomes)
        bg = cats.get("background", base.background.categories)
        cent = cats.get("centrality", base.centrality.categories)
        classes = base.centrality_classes
        if "centrality_classes" in m:
            classes = {(int(k) if str(k).lstrip("-").isdigit() else str(k)): str(v)
                       for k, v in dict(m["centrality_classes"]).items()}
        age_breaks = tuple(int(b) for b in m.get("age_groups", base.age_breaks))
        labels = _age_labels(age_breaks) if len(age_breaks) >= 1 else ()
        age_ref = refs.get("age", base.age_reference if base.age_reference in labels else (labels[0] if labels else ""))
        return cls(
            outcomes=outcomes,
            base=refs.get("outcome", base.base if base.base in outcomes else outcomes[0]),
            background=Factor("background", bg, refs.get("background", "rest" if "rest" in bg else bg[-1]), prefix=""),
            centrality=Factor("centrality", cent, refs.get("centrality", "5_6" if "5_6" in cent else cent[-1])),
            centrality_classes=classes,
            interaction=bool(m.get("interaction", True)),
            age=m.get("age", "groups"),
            age_breaks=age_breaks,
            age_reference=age_ref,
            age_centre=float(m.get("age_centre", 40.0)),
            age_scale=float(m.get("age_scale", 10.0)),
            controls=tuple(controls),
        )


#: The default specification (see the module docstring for its terms).
DEFAULT_SPEC = ChoiceSpec()


# --------------------------------------------------------------------------- design
@dataclass(frozen=True)
class ChoiceDesign:
    """The numerical design of the migration-choice model.

    Every regressor is a function of the categorical codes (and of age), so the
    person-years fall into a limited number of distinct *covariate patterns* (at
    most 11,520 with the default specification, whatever the number of rows).  The
    design keeps one row per pattern plus the pattern of every person-year; the
    dense ``(n, k)`` matrix is materialised only on request (:meth:`full_exog`).

    Attributes
    ----------
    exog : numpy.ndarray
        ``(m, k)`` float64 design rows of the ``m`` distinct covariate patterns,
        columns named by ``terms``.
    counts : numpy.ndarray or None
        ``(m, J)`` number of person-years per pattern and outcome (columns: base
        outcome, then the equations); ``None`` for prediction designs.
    inverse : numpy.ndarray
        Pattern (row of ``exog``) of every person-year, length ``n``.
    endog : numpy.ndarray or None
        Outcome code of every person-year (0 = base outcome, then the equations in
        order); ``None`` for prediction designs.
    terms : tuple of str
        Column names of ``exog``.
    index : pandas.Index
        Row labels of the data rows used.
    spec : ChoiceSpec
    outcome_counts : pandas.DataFrame or None
        Rows per outcome (columns) in every level of every categorical variable and
        every background x centrality cell (index ``variable, level``).
    accounting : Accounting
        Rows read, used and dropped (and why).
    """

    exog: np.ndarray
    counts: np.ndarray | None
    inverse: np.ndarray
    endog: np.ndarray | None
    terms: tuple[str, ...]
    index: pd.Index
    spec: ChoiceSpec
    outcome_counts: pd.DataFrame | None
    accounting: Accounting

    @property
    def nobs(self) -> int:
        """Number of person-years (rows of the data used)."""
        return int(self.inverse.shape[0])

    @property
    def n_patterns(self) -> int:
        """Number of distinct covariate patterns."""
        return int(self.exog.shape[0])

    def full_exog(self) -> np.ndarray:
        """Materialise the dense ``(n, k)`` design matrix of the person-years (``8 n k`` bytes)."""
        return self.exog[self.inverse]

    def frame(self) -> pd.DataFrame:
        """Return the dense design matrix as a DataFrame on the data's index."""
        return pd.DataFrame(self.full_exog(), index=self.index, columns=list(self.terms), copy=False)

    def outcome(self) -> pd.Series:
        """Return the outcome as a categorical Series on the data's index."""
        if self.endog is None:
            raise InputError("this design was built without an outcome (a prediction design)")
        order = (self.spec.base, *self.spec.equations)
        return pd.Series(pd.Categorical.from_codes(self.endog, categories=list(order)), index=self.index,
                         name="outcome")


def _unique_codes(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 = missing) and the distinct values of a column, fast for categoricals."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), list(series.cat.categories)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, list(uniques)


def _lookup_codes(
    series: pd.Series,
    lookup: Mapping[Any, int],
    recode: Mapping[Any, Any] | None,
) -> tuple[np.ndarray, dict[Any, int]]:
    """Map a column to category codes; returns codes (-1 missing, -2 unknown) and unknown value counts."""
    codes_in, uniques = _unique_codes(series)
    mapped = np.empty(len(uniques) + 1, dtype=np.int64)
    mapped[-1] = -1
    for k, u in enumerate(uniques):
        v = u
        if recode is not None:
            v = recode.get(u, recode.get(str(u), u))
        if v is None or (isinstance(v, float) and math.isnan(v)):
            mapped[k] = -1
            continue
        try:
            mapped[k] = lookup.get(v, lookup.get(str(v), -2))
        except TypeError:
            mapped[k] = -2
    codes = mapped[codes_in]
    unknown: dict[Any, int] = {}
    if (mapped == -2).any():
        counts = np.bincount(codes_in[codes_in >= 0], minlength=len(uniques))
        unknown = {uniques[k]: int(counts[k]) for k in np.flatnonzero(mapped[:-1] == -2) if counts[k] > 0}
    return codes, unknown


def _first_rows(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    rows = index[np.flatnonzero(mask)[:limit]].tolist()
    more = int(mask.sum()) - len(rows)
    return ", ".join(repr(r) for r in rows) + (f" and {more} more" if more > 0 else "")


def build_design(
    data: pd.DataFrame,
    *,
    spec: ChoiceSpec | None = None,
    columns: Mapping[str, str] | None = None,
    recode: Mapping[str, Mapping[Any, Any]] | None = None,
    on_missing: Literal["raise", "drop"] = "raise",
    outcome: bool = True,
) -> ChoiceDesign:
    """Validate person-level data and build the treatment-coded design.

    The design is stored by covariate pattern (see :class:`ChoiceDesign`); the
    dense person-year matrix is available from :meth:`ChoiceDesign.full_exog`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person-year with the columns ``outcome`` (unless
        ``outcome=False``), ``background``, ``centrality``, ``age`` and the controls
        of ``spec`` (default ``sex``, ``education``, ``labour``, ``family``).  Not
        modified.
    spec : ChoiceSpec, optional
        Default :data:`DEFAULT_SPEC`.
    columns : mapping, optional
        Model variable -> column name in ``data`` (e.g. ``{"outcome": "flytting"}``).
    recode : mapping, optional
        Model variable -> {raw value: category}, applied to the distinct values
        (e.g. ``{"outcome": {0: "stay", 1: "domestic", 2: "emigration"}}``).
    on_missing : {"raise", "drop"}, default "raise"
        Rows with a missing or unknown outcome, or a missing covariate, raise an
        :class:`~geoattr.exceptions.InputError` naming their count and first rows;
        with ``"drop"`` they are dropped, counted in ``accounting`` and reported by a
        :class:`~geoattr.exceptions.DroppedRowsWarning`.
    outcome : bool, default True
        Whether the outcome column is part of the data (``False`` for prediction).

    Returns
    -------
    ChoiceDesign

    Raises
    ------
    InputError
        Missing columns; covariate values outside the declared categories (always, with
        the column, the values and their row count); missing values (unless dropped);
        an outcome or a declared level that never occurs.
    """
    spec = DEFAULT_SPEC if spec is None else spec
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if on_missing not in ("raise", "drop"):
        raise InputError(f"on_missing must be 'raise' or 'drop', got {on_missing!r}")
    columns = dict(columns or {})
    recode = {k: dict(v) for k, v in (recode or {}).items()}
    wanted = (["outcome"] if outcome else []) + list(spec.variables)
    bad_keys = sorted((set(columns) | set(recode)) - set(wanted) - ({"outcome"} if not outcome else set()))
    if bad_keys:
        raise InputError(f"columns/recode name unknown model variable(s) {bad_keys}; the model has {wanted}")
    colname = {v: columns.get(v, v) for v in wanted}
    missing_cols = [f"{v!r}" + (f" (column {colname[v]!r})" if colname[v] != v else "")
                    for v in wanted if colname[v] not in data.columns]
    if missing_cols:
        raise InputError(
            f"the data lack the column(s) {', '.join(missing_cols)}; they have {list(data.columns)[:20]}. "
            "Rename them or map them with columns={'outcome': 'your_column', ...}"
        )
    n = len(data)
    index = data.index
    acc = Accounting()
    codes: dict[str, np.ndarray] = {}
    missing = np.zeros(n, dtype=bool)
    missing_by: dict[str, int] = {}
    unknown_msgs: list[str] = []

    factors = [f for f in spec.factors if f.name != "age"]
    for f in factors:
        lookup: dict[Any, int] = {c: i for i, c in enumerate(f.categories)}
        if f.name == spec.centrality.name:
            for raw, lab in spec.centrality_classes.items():
                lookup.setdefault(raw, f.categories.index(lab))
                lookup.setdefault(str(raw), f.categories.index(lab))
        c, unknown = _lookup_codes(data[colname[f.name]], lookup, recode.get(f.name))
        if unknown:
            rows = sum(unknown.values())
            allowed = list(f.categories)
            if f.name == spec.centrality.name:
                allowed = sorted({str(k) for k in spec.centrality_classes}) + allowed
            unknown_msgs.append(
                f"column {colname[f.name]!r} ({f.name}) has {len(unknown)} value(s) outside its declared "
                f"categories {allowed}: {format_ids(unknown)} ({rows:,} rows)"
            )
        codes[f.name] = c
        miss = c == -1
        if miss.any():
            missing |= miss
            missing_by[f.name] = int(miss.sum())

    age_values: np.ndarray | None = None
    if spec.age != "none":
        raw = data[colname["age"]]
        if recode.get("age"):
            raise InputError("recode is not available for age (a number); transform the column instead")
        if not (pd.api.types.is_numeric_dtype(raw) or raw.isna().all()):
            try:
                raw = pd.to_numeric(raw)
            except (TypeError, ValueError) as err:
                raise InputError(f"column {colname['age']!r} (age) must hold numbers of years: {err}") from None
        age_values = raw.to_numpy(dtype=float, na_value=np.nan)
        miss = np.isnan(age_values)
        if miss.any():
            missing |= miss
            missing_by["age"] = int(miss.sum())
        if spec.age == "groups":
            c = np.searchsorted(np.asarray(spec.age_breaks, dtype=float), age_values, side="right") - 1
            c[miss] = -1
            low = (~miss) & (age_values < spec.age_breaks[0])
            if low.any():
                vals = sorted({float(v) for v in age_values[low]})[:10]
                unknown_msgs.append(
                    f"column {colname['age']!r} (age) has ages below the first age group {spec.age_breaks[0]} "
                    f"({int(low.sum()):,} rows, e.g. {vals}); drop them or lower age_breaks"
                )
            codes["age"] = c
    if unknown_msgs:
        raise InputError("; ".join(unknown_msgs) + ". Recode the values or declare them as categories")

    y: np.ndarray | None = None
    if outcome:
        order = (spec.base, *spec.equations)
        y, unknown = _lookup_codes(data[colname["outcome"]], {o: i for i, o in enumerate(order)}, recode.get("outcome"))
        bad = y < 0
        if bad.any():
            n_bad, n_nan = int(bad.sum()), int((y == -1).sum())
            what = ", ".join(([f"{n_bad - n_nan:,} unknown: {format_ids(unknown)}"] if unknown else [])
                             + ([f"{n_nan:,} missing"] if n_nan else []))
            if on_missing == "raise":
                raise InputError(
                    f"{n_bad:,} row(s) have a missing or unknown outcome (allowed: {list(spec.outcomes)}; "
                    f"{what}); first rows: {_first_rows(index, bad)}. Fix them, or pass on_missing='drop' "
                    "to leave them out (they are counted and reported)"
                )
            missing_by = {"outcome": n_bad, **missing_by}
            missing |= bad
    if missing.any():
        n_miss = int(missing.sum())
        detail = ", ".join(f"{k}: {v:,}" for k, v in missing_by.items())
        if on_missing == "raise":
            raise InputError(
                f"{n_miss:,} row(s) have missing values ({detail}); first rows: {_first_rows(index, missing)}. "
                "Fill them, or pass on_missing='drop' to leave them out (they are counted and reported)"
            )
        warnings.warn(
            f"dropped {n_miss:,} of {n:,} rows with a missing or unknown value ({detail}) at the caller's request "
            "(on_missing='drop')",
            DroppedRowsWarning,
            stacklevel=2,
        )
    acc.record("persons", read=n, dropped={f"missing {k}": v for k, v in missing_by.items()})
    keep = ~missing
    if missing.any():
        codes = {k: v[keep] for k, v in codes.items()}
        if y is not None:
            y = y[keep]
        if age_values is not None:
            age_values = age_values[keep]
        index = index[keep]
    m = int(keep.sum())
    if outcome and m == 0:
        raise InputError("no rows left to estimate the model")

    terms = spec.terms
    inverse, first = _patterns(spec, codes, age_values)
    X = _fill_design(spec, {k: v[first] for k, v in codes.items()},
                     None if age_values is None else age_values[first])

    counts = pattern_counts = None
    if outcome:
        assert y is not None
        J = len(spec.outcomes)
        order = (spec.base, *spec.equations)
        totals = np.bincount(y, minlength=J)
        absent = [order[k] for k in range(J) if totals[k] == 0]
        if absent:
            raise InputError(
                f"outcome(s) {absent} never occur in the {m:,} rows; the model needs every outcome "
                f"(declared: {list(spec.outcomes)})"
            )
        counts = _outcome_counts(spec, codes, y)
        pattern_counts = np.bincount(inverse * J + y, minlength=len(first) * J).reshape(len(first), J)
    return ChoiceDesign(exog=X, counts=pattern_counts, inverse=inverse, endog=y, terms=terms, index=index,
                        spec=spec, outcome_counts=counts, accounting=acc)


def _patterns(spec: ChoiceSpec, codes: Mapping[str, np.ndarray],
              age_values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct covariate patterns: the pattern of every row and the first row of every pattern.

    Every regressor is a function of the factor codes (and of age with
    ``age="quadratic"``), so rows with equal codes have equal design rows.
    """
    parts = [codes[f.name].astype(np.int64) for f in spec.factors]
    radix = [len(f.categories) for f in spec.factors]
    if spec.age == "quadratic":
        assert age_values is not None
        _, age_code = np.unique(age_values, return_inverse=True)
        parts.append(age_code.astype(np.int64))
        radix.append(int(age_code.max()) + 1 if len(age_code) else 1)
    n = len(parts[0]) if parts else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if math.prod(radix) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for c, r in zip(parts, radix, strict=True):
            key *= r
            key += c
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:  # pragma: no cover - only with very many fine-grained controls
        _, first, inverse = np.unique(np.column_stack(parts), axis=0, return_index=True, return_inverse=True)
    return inverse.ravel().astype(np.int64), first.astype(np.int64)


def _fill_design(spec: ChoiceSpec, codes: Mapping[str, np.ndarray], age_values: np.ndarray | None) -> np.ndarray:
    """Treatment-coded design rows (``const``, background, centrality, interactions, age, controls)."""
    terms = spec.terms
    m = len(codes[spec.background.name])
    X = np.empty((m, len(terms)), dtype=np.float64, order="F")  # column-major: fast to fill
    X[:, 0] = 1.0
    j = 1
    bg, ce = spec.background, spec.centrality
    for f in (bg, ce):
        for lev in f.levels:
            np.equal(codes[f.name], f.categories.index(lev), out=X[:, j], casting="unsafe")
            j += 1
    if spec.interaction:
        bcols = {lev: codes[bg.name] == bg.categories.index(lev) for lev in bg.levels}
        ccols = {lev: codes[ce.name] == ce.categories.index(lev) for lev in ce.levels}
        for bl in bg.levels:
            for cl in ce.levels:
                np.logical_and(bcols[bl], ccols[cl], out=X[:, j], casting="unsafe")
                j += 1
    if spec.age == "quadratic":
        assert age_values is not None
        a = (age_values - spec.age_centre) / spec.age_scale
        X[:, j] = a
        X[:, j + 1] = a * a
        j += 2
    for f in spec.factors[2:]:
        for lev in f.levels:
            np.equal(codes[f.name], f.categories.index(lev), out=X[:, j], casting="unsafe")
            j += 1
    assert j == len(terms)
    return np.ascontiguousarray(X)


def _outcome_counts(spec: ChoiceSpec, codes: Mapping[str, np.ndarray], y: np.ndarray) -> pd.DataFrame:
    J = len(spec.outcomes)
    order = [spec.base, *spec.equations]
    blocks = []
    keys: list[tuple[str, str]] = []
    cats: list[tuple[str, np.ndarray, list[str]]] = [(f.name, codes[f.name], list(f.categories))
                                                     for f in spec.factors]
    if spec.interaction:
        bg, ce = spec.background, spec.centrality
        cell = codes[bg.name] * len(ce.categories) + codes[ce.name]
        labels = [f"{b}:{c}" for b in bg.categories for c in ce.categories]
        cats.append((f"{bg.name}:{ce.name}", cell, labels))
    for name, c, labels in cats:
        L = len(labels)
        tab = np.bincount(c * J + y, minlength=L * J).reshape(L, J)
        blocks.append(tab)
        keys += [(name, lab) for lab in labels]
    frame = pd.DataFrame(np.vstack(blocks), index=pd.MultiIndex.from_tuples(keys, names=["variable", "level"]),
                         columns=pd.Index(order, name="outcome"))
    return frame


def separation_report(design: ChoiceDesign) -> pd.DataFrame:
    """Levels and cells in which an outcome never occurs (quasi-complete separation).

    In a multinomial logit, a level whose rows never take outcome ``j`` (or never
    take the base outcome) drives its coefficient in equation ``j`` (or in every
    equation) to minus (plus) infinity: the maximum-likelihood estimate does not
    exist.  The check cross-tabulates the outcome by every level of every
    categorical variable, reference levels included, and by every background x
    centrality cell when the interaction is in the model.

    Parameters
    ----------
    design : ChoiceDesign

    Returns
    -------
    pandas.DataFrame
        Columns ``variable``, ``level``, ``outcome`` (the outcome never observed),
        ``rows`` (rows in the level); empty when every cell has every outcome.
    """
    if design.outcome_counts is None:
        raise InputError("the design has no outcome")
    c = design.outcome_counts
    rows = c.sum(axis=1)
    out = []
    for (var, lev), r in c.iterrows():
        for o in c.columns:
            if r[o] == 0 and rows[(var, lev)] > 0:
                out.append({"variable": var, "level": lev, "outcome": o, "rows": int(rows[(var, lev)])})
    return pd.DataFrame(out, columns=["variable", "level", "outcome", "rows"])


def _separation_message(rep: pd.DataFrame) -> str:
    parts = [f"no {r.outcome!r} among the {r.rows:,} rows with {r.variable} = {r.level!r}" for r in rep.itertuples()]
    shown = "; ".join(parts[:8]) + (f"; and {len(parts) - 8} more" if len(parts) > 8 else "")
    return (
        f"perfect separation: {shown}. The coefficients of these levels would go to infinity; merge the "
        "level with a neighbouring one, choose another reference level, drop the interaction, or use more data "
        "(on_separation='warn' fits anyway)"
    )


# --------------------------------------------------------------------------- estimation
def _pattern_model(counts: np.ndarray, exog: np.ndarray) -> Any:
    """Build a statsmodels ``MNLogit`` on covariate patterns with outcome counts (see :func:`fit_design`)."""
    from statsmodels.discrete.discrete_model import MNLogit

    class _PatternMNLogit(MNLogit):
        """``MNLogit`` whose rows are covariate patterns and whose endog holds outcome counts.

        statsmodels accepts a 2-D numeric endog as the outcome indicators, and its
        ``loglike`` (``sum(d * log p)``) is already right for counts; ``score`` and
        ``hessian`` need each pattern's number of person-years ``n_p``.
        """

        def __init__(self, endog: np.ndarray, exog: np.ndarray) -> None:
            super().__init__(endog, exog, missing="none")
            self._n_p = np.asarray(endog, dtype=float).sum(axis=1)

        def score(self, params: np.ndarray) -> np.ndarray:
            b = params.reshape(self.K, -1, order="F")
            pr = self.cdf(self.exog @ b)
            resid = self.wendog[:, 1:] - self._n_p[:, None] * pr[:, 1:]
            return (resid.T @ self.exog).ravel()

        def hessian(self, params: np.ndarray) -> np.ndarray:
            b = params.reshape(self.K, -1, order="F")
            pr = self.cdf(self.exog @ b)[:, 1:]
            X, K, E = self.exog, self.K, self.J - 1
            H = np.empty((E * K, E * K))
            for i in range(E):
                for j in range(i, E):
                    w = self._n_p * pr[:, i] * ((1.0 if i == j else 0.0) - pr[:, j])
                    block = -(X.T * w) @ X
                    H[i * K:(i + 1) * K, j * K:(j + 1) * K] = block
                    H[j * K:(j + 1) * K, i * K:(i + 1) * K] = block.T
            return H

    return _PatternMNLogit(counts.astype(float), exog)


def fit_design(
    design: ChoiceDesign,
    *,
    on_separation: Literal["raise", "warn"] = "raise",
    method: str = "newton",
    maxiter: int = 50,
    start_params: Literal["constants", "zeros"] = "constants",
    aggregate: bool | Literal["auto"] = "auto",
) -> ChoiceResults:
    r"""Estimate the multinomial logit on a built design with statsmodels ``MNLogit``.

    With ``aggregate`` (the default when the person-years have at most half as many
    distinct covariate patterns as rows), the likelihood is evaluated on the
    patterns with their outcome counts: :math:`\ell = \sum_p \sum_j N_{pj} \log
    P_{pj}` is exactly the individual-level log-likelihood, and so are its score
    and Hessian, so estimates, standard errors and the log-likelihood equal those
    of ``MNLogit`` on the person-years (the tests pin them to 1e-6), at a cost that
    no longer grows with the number of rows beyond one pass to count them.  The
    optimiser, covariance and Wald tests are statsmodels' own (``_PatternMNLogit``
    subclasses ``MNLogit`` and replaces only ``score`` and ``hessian``, which weight
    each pattern by its number of person-years).

    Parameters
    ----------
    design : ChoiceDesign
        From :func:`build_design`.
    on_separation : {"raise", "warn"}, default "raise"
        What to do when an outcome never occurs in a level (see
        :func:`separation_report`) or statsmodels reports perfect separation:
        raise :class:`~geoattr.exceptions.InputError`, or emit a
        :class:`SeparationWarning` and fit anyway (the affected coefficients and their
        standard errors are then meaningless).
    method : str, default "newton"
        statsmodels optimiser (``"newton"``, ``"bfgs"``, ``"lbfgs"``, ...).
    maxiter : int, default 50
    start_params : {"constants", "zeros"}, default "constants"
        ``"constants"`` starts from the constants-only estimate
        (``log(n_j / n_base)``, zero slopes), which saves Newton steps at the same
        optimum; ``"zeros"`` is statsmodels' default.
    aggregate : bool or "auto", default "auto"
        Fit on the covariate patterns (``True``) or on the dense person-year design
        (``False``: plain ``MNLogit(endog, exog)``); ``"auto"`` aggregates when
        ``n_patterns <= nobs / 2``.

    Returns
    -------
    ChoiceResults
    """
    from statsmodels.discrete.discrete_model import MNLogit
    from statsmodels.tools import sm_exceptions as sme

    if design.endog is None:
        raise InputError("the design has no outcome (it was built with outcome=False)")
    if on_separation not in ("raise", "warn"):
        raise InputError(f"on_separation must be 'raise' or 'warn', got {on_separation!r}")
    if start_params not in ("constants", "zeros"):
        raise InputError(f"start_params must be 'constants' or 'zeros', got {start_params!r}")
    if aggregate not in (True, False, "auto"):
        raise InputError(f"aggregate must be True, False or 'auto', got {aggregate!r}")
    if aggregate == "auto":
        aggregate = design.n_patterns <= design.nobs // 2
    spec = design.spec
    assert design.outcome_counts is not None
    empty = design.outcome_counts[design.outcome_counts.sum(axis=1) == 0]
    if len(empty):
        cells = [f"{v} = {lv!r}" for v, lv in empty.index]
        more = f" and {len(cells) - 10} more" if len(cells) > 10 else ""
        raise InputError(
            f"declared level(s) or cells with no rows: {', '.join(cells[:10])}{more}; the design is then "
            "collinear. Remove the levels from the categories, merge them with another level, or drop the "
            "interaction"
        )
    rep = separation_report(design)
    if len(rep):
        msg = _separation_message(rep)
        if on_separation == "raise":
            raise InputError(msg)
        warnings.warn(msg, SeparationWarning, stacklevel=2)
    J, K = len(spec.outcomes), len(design.terms)
    assert design.counts is not None
    totals = design.counts.sum(axis=0).astype(float)
    start = np.zeros((K, J - 1))
    if start_params == "constants":
        start[0] = np.log(totals[1:] / totals[0])
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    # the pattern model's matrices are small (thousands of rows): one BLAS thread is faster than
    # several, which spend more time synchronising than computing (10x on a busy 2-core machine)
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1 if aggregate else None):
        warnings.simplefilter("always")
        try:
            if aggregate:
                model = _pattern_model(design.counts, design.exog)
            else:
                model = MNLogit(design.endog, design.full_exog(), missing="none")
            res = model.fit(start_params=start.ravel(order="F"), method=method, maxiter=int(maxiter), disp=0)
        except sme.PerfectSeparationError as err:  # older statsmodels raised instead of warning
            raise InputError(f"statsmodels reports perfect separation ({err}); see separation_report()") from err
        except np.linalg.LinAlgError as err:
            raise InputError(
                f"the information matrix is singular ({err}): the design has collinear columns or separated "
                "levels; check separation_report() and the categories"
            ) from err
    seconds = time.perf_counter() - t0
    out = ChoiceResults(res, design, seconds=seconds, aggregated=bool(aggregate))
    for w in caught:
        if issubclass(w.category, sme.PerfectSeparationWarning):
            msg = f"statsmodels reports perfect separation: {w.message}"
            if on_separation == "raise":
                raise InputError(msg + "; see separation_report(design) for the levels concerned")
            warnings.warn(msg, SeparationWarning, stacklevel=2)
        elif issubclass(w.category, sme.ConvergenceWarning) and not out.converged:
            continue  # reported once below, with the iteration count
        elif issubclass(w.category, (sme.ConvergenceWarning, sme.HessianInversionWarning)):
            warnings.warn(f"statsmodels: {w.message}", ConvergenceWarning, stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    diverging = out.params[(out.params.abs() > 15) | (out.std_errors > 100) | ~np.isfinite(out.std_errors)]
    if len(diverging) and not len(rep):
        names = [f"{e}:{t}" for e, t in diverging.index]
        msg = (f"coefficients {names[:8]} diverge (|coef| > 15 or std. error > 100"
               + ("" if out.converged else f", no convergence in {maxiter} iterations")
               + "): likely quasi-separation by a combination of levels")
        if on_separation == "raise":
            raise InputError(msg + "; merge sparse levels or pass on_separation='warn'")
        warnings.warn(msg, SeparationWarning, stacklevel=2)
    if not out.converged:
        warnings.warn(
            f"MNLogit ({method}) did not converge in {maxiter} iterations; raise maxiter or check separation",
            ConvergenceWarning,
            stacklevel=2,
        )
    return out


def fit_choice(
    data: pd.DataFrame,
    *,
    spec: ChoiceSpec | None = None,
    columns: Mapping[str, str] | None = None,
    recode: Mapping[str, Mapping[Any, Any]] | None = None,
    on_missing: Literal["raise", "drop"] = "raise",
    on_separation: Literal["raise", "warn"] = "raise",
    method: str = "newton",
    maxiter: int = 50,
    aggregate: bool | Literal["auto"] = "auto",
) -> ChoiceResults:
    """Estimate the migration-choice multinomial logit on person-level data.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person-year (see :func:`build_design` for the columns); not modified.
    spec : ChoiceSpec, optional
        Variables, categories and reference levels; default :data:`DEFAULT_SPEC`.
    columns, recode, on_missing
        See :func:`build_design`.
    on_separation, method, maxiter, aggregate
        See :func:`fit_design`.

    Returns
    -------
    ChoiceResults

    Examples
    --------
    >>> from geoattr.datasets.individuals import synthetic_individuals
    >>> df, truth = synthetic_individuals(50_000, seed=1)
    >>> res = fit_choice(df)
    >>> res.params.index.names
    FrozenList(['equation', 'term'])
    """
    design = build_design(data, spec=spec, columns=columns, recode=recode, on_missing=on_missing)
    return fit_design(design, on_separation=on_separation, method=method, maxiter=maxiter, aggregate=aggregate)


# --------------------------------------------------------------------------- hypotheses
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
    pos = {t: i for i, t in enumerate(terms)}
    K = len(terms)
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
        r = np.zeros(len(equations) * K)
        const = 0.0
        side = 1.0
        i = 0

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
        rows.append(r)
        qs.append(-const)
    R = np.vstack(rows)
    if np.linalg.matrix_rank(R) < len(rows):
        raise InputError(f"the restrictions of {text!r} are linearly dependent; remove the redundant ones")
    return R, np.asarray(qs)


# --------------------------------------------------------------------------- results
class ChoiceResults:
    """Results of the migration-choice multinomial logit (labelled pandas output).

    Coefficients are indexed by ``(equation, term)``; equations are the non-base
    outcomes.  The statsmodels results are kept as :attr:`engine`.

    Parameters
    ----------
    engine : statsmodels MultinomialResults
    design : ChoiceDesign
        The design the model was fitted on (only its metadata are kept, not the matrix).
    seconds : float, default 0
        Time spent in the statsmodels fit.
    aggregated : bool, default False
        Whether the likelihood was evaluated on the covariate patterns.
    """

    def __init__(self, engine: Any, design: ChoiceDesign, *, seconds: float = 0.0, aggregated: bool = False) -> None:
        self.engine = engine
        self.aggregated = bool(aggregated)
        self.n_patterns = design.n_patterns
        self.spec: ChoiceSpec = design.spec
        self.terms: tuple[str, ...] = design.terms
        self.equations: tuple[str, ...] = design.spec.equations
        self.outcome_counts: pd.DataFrame | None = design.outcome_counts
        self.accounting: Accounting = design.accounting
        self.nobs: int = design.nobs
        assert design.counts is not None
        self.outcome_totals = pd.Series(design.counts.sum(axis=0),
                                        index=pd.Index([self.spec.base, *self.equations], name="outcome"),
                                        name="rows")
        self.seconds = float(seconds)

    # -- coefficients ------------------------------------------------------------
    @cached_property
    def _index(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_product([list(self.equations), list(self.terms)], names=["equation", "term"])

    @cached_property
    def params(self) -> pd.Series:
        """Coefficients (log relative risk ratios against the base outcome)."""
        return pd.Series(np.asarray(self.engine.params).ravel(order="F"), index=self._index, name="coef")

    @cached_property
    def cov(self) -> pd.DataFrame:
        """Covariance of the coefficients (inverse observed information)."""
        v = np.asarray(self.engine.cov_params())
        return pd.DataFrame(v, index=self._index, columns=self._index)

    @cached_property
    def std_errors(self) -> pd.Series:
        """Standard errors."""
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self._index, name="std_err")

    @property
    def bse(self) -> pd.Series:
        """Alias of :attr:`std_errors` (statsmodels' name)."""
        return self.std_errors

    @property
    def zvalues(self) -> pd.Series:
        """Wald z statistics ``coef / std_err``."""
        return (self.params / self.std_errors).rename("z")

    @property
    def tvalues(self) -> pd.Series:
        """Alias of :attr:`zvalues` (statsmodels' name)."""
        return self.zvalues

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the z statistics (standard normal)."""
        return pd.Series(2 * stats.norm.sf(np.abs(self.zvalues.to_numpy())), index=self._index, name="p_value")

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals ``coef +- z_{(1+level)/2} se`` (columns ``lower``, ``upper``)."""
        z = _z(level)
        return pd.DataFrame({"lower": self.params - z * self.std_errors, "upper": self.params + z * self.std_errors})

    def rrr(self, level: float = 0.95) -> pd.DataFrame:
        """Relative risk ratios ``exp(coef)`` with the exponentiated Wald intervals."""
        ci = self.conf_int(level)
        return pd.DataFrame({"rrr": np.exp(self.params), "lower": np.exp(ci["lower"]), "upper": np.exp(ci["upper"])})

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Return the coefficient table.

        Returns
        -------
        pandas.DataFrame
            Index ``(equation, term)``; columns ``coef``, ``std_err``, ``z``,
            ``p_value``, ``ci_lower``, ``ci_upper``, ``rrr``, ``rrr_lower``,
            ``rrr_upper`` (intervals at ``level``).
        """
        ci = self.conf_int(level)
        return pd.DataFrame({
            "coef": self.params, "std_err": self.std_errors, "z": self.zvalues, "p_value": self.pvalues,
            "ci_lower": ci["lower"], "ci_upper": ci["upper"], "rrr": np.exp(self.params),
            "rrr_lower": np.exp(ci["lower"]), "rrr_upper": np.exp(ci["upper"]),
        })

    # -- fit statistics ----------------------------------------------------------
    @property
    def llf(self) -> float:
        """Log-likelihood at the estimate."""
        return float(self.engine.llf)

    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of the constants-only model, ``sum_j n_j log(n_j / n)`` (closed form)."""
        n = self.outcome_totals.to_numpy(dtype=float)
        n = n[n > 0]
        return float(np.sum(n * np.log(n / n.sum())))

    @property
    def pseudo_rsquared(self) -> float:
        """McFadden's pseudo R², ``1 - llf / llnull``."""
        return 1.0 - self.llf / self.llnull

    @property
    def aic(self) -> float:
        """``-2 llf + 2 k`` with ``k`` the number of coefficients."""
        return -2 * self.llf + 2 * len(self._index)

    @property
    def bic(self) -> float:
        """``-2 llf + k log(n)``."""
        return -2 * self.llf + len(self._index) * math.log(self.nobs)

    @property
    def converged(self) -> bool:
        """Whether the optimiser reported convergence."""
        return bool(self.engine.mle_retvals.get("converged", False))

    @property
    def iterations(self) -> int | None:
        """Optimiser iterations."""
        it = self.engine.mle_retvals.get("iterations")
        return None if it is None else int(it)

    def fit_statistics(self) -> pd.Series:
        """``nobs``, outcome counts, ``llf``, ``llnull``, ``pseudo_r2``, ``aic``, ``bic``, convergence."""
        d: dict[str, Any] = {"nobs": self.nobs}
        d.update({f"n_{k}": int(v) for k, v in self.outcome_totals.items()})
        d.update({"llf": self.llf, "llnull": self.llnull, "pseudo_r2": self.pseudo_rsquared, "aic": self.aic,
                  "bic": self.bic, "converged": self.converged, "iterations": self.iterations,
                  "n_patterns": self.n_patterns, "aggregated": self.aggregated, "fit_seconds": self.seconds})
        return pd.Series(d, name="value")

    # -- tests -------------------------------------------------------------------
    def restriction(self, hypothesis: str) -> tuple[np.ndarray, np.ndarray]:
        """``(R, q)`` of a readable hypothesis (see :func:`parse_hypothesis`)."""
        return parse_hypothesis(hypothesis, terms=self.terms, equations=self.equations)

    def wald_test(self, r_matrix: np.ndarray, q: np.ndarray | float | None = None) -> pd.Series:
        """Chi-square Wald test of ``R beta = q`` by statsmodels' ``wald_test``.

        Parameters
        ----------
        r_matrix : array_like, shape (m, n_params)
            Columns in the order of :attr:`params` (equation-major).
        q : array_like, optional
            Default zeros.

        Returns
        -------
        pandas.Series
            ``statistic``, ``df``, ``p_value``.
        """
        R = np.atleast_2d(np.asarray(r_matrix, dtype=float))
        if R.shape[1] != len(self._index):
            raise InputError(f"r_matrix must have {len(self._index)} columns (one per coefficient), got {R.shape[1]}")
        qv = np.zeros(R.shape[0]) if q is None else np.broadcast_to(np.asarray(q, dtype=float), (R.shape[0],))
        w = self.engine.wald_test((R, qv), scalar=True, use_f=False)
        return pd.Series({"statistic": float(w.statistic), "df": int(w.df_denom), "p_value": float(w.pvalue)},
                         dtype=object)

    def test(self, hypotheses: Mapping[str, str] | Sequence[str] | Sequence[Mapping[str, str]]) -> pd.DataFrame:
        """Wald tests of hypotheses stated as linear restrictions.

        Parameters
        ----------
        hypotheses : mapping name -> restriction, or sequence
            Restriction strings (see :func:`parse_hypothesis`), e.g.
            ``{"no urban-rural difference for immigrants": "emigration: immigrant:centrality_1 = 0"}``.
            A sequence of strings uses each string as its name; a sequence of mappings
            needs ``restriction`` and optionally ``name`` keys (the configuration form).

        Returns
        -------
        pandas.DataFrame
            Columns ``hypothesis``, ``restriction``, ``statistic`` (chi-square), ``df``,
            ``p_value`` and, for single restrictions, ``estimate`` (``R beta - q``) and
            ``std_err`` (from statsmodels' ``t_test``).
        """
        items = _hypothesis_items(hypotheses)
        rows = []
        for name, text in items:
            R, q = self.restriction(text)
            w = self.wald_test(R, q)
            est = se = np.nan
            if R.shape[0] == 1:
                t = self.engine.t_test((R, q), use_t=False)
                est = float(np.asarray(t.effect).ravel()[0]) - float(q[0])
                se = float(np.asarray(t.sd).ravel()[0])
            rows.append({"hypothesis": name, "restriction": text, "statistic": w["statistic"], "df": int(w["df"]),
                         "p_value": w["p_value"], "estimate": est, "std_err": se})
        return pd.DataFrame(rows, columns=["hypothesis", "restriction", "statistic", "df", "p_value", "estimate",
                                           "std_err"])

    # -- predictions -------------------------------------------------------------
    def _coef_matrix(self) -> np.ndarray:
        return self.params.to_numpy().reshape(len(self.equations), len(self.terms)).T

    def probabilities(self, data: pd.DataFrame, *, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
        """Predicted outcome probabilities for the rows of ``data`` (no intervals).

        Parameters
        ----------
        data : pandas.DataFrame
            Covariate columns as for :func:`build_design` (an ``outcome`` column is
            ignored).
        columns : mapping, optional

        Returns
        -------
        pandas.DataFrame
            One column per outcome (``stay``, ``domestic``, ``emigration``) on the
            index of ``data``.
        """
        d = build_design(data, spec=self.spec, columns=columns, outcome=False)
        P = _softmax(d.exog @ self._coef_matrix())[d.inverse]
        return pd.DataFrame(P, index=d.index, columns=[self.spec.base, *self.equations])

    def predict(
        self,
        profiles: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]] | pd.DataFrame,
        *,
        method: Literal["delta", "simulation"] = "delta",
        level: float = 0.95,
        n_draws: int = 2000,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Predicted probabilities for user-defined profiles, with intervals.

        Parameters
        ----------
        profiles : mapping, sequence of mappings, or DataFrame
            A mapping ``{name: {variable: value, ...}}`` or a sequence of mappings
            with a ``name`` key (the configuration's ``[[profiles]]``).  A list as a
            value expands the profile over its elements (all combinations); omitted
            ``background`` and ``centrality`` expand over all their levels; every other
            model variable (``age`` in years, ``sex``, ``education``, ``labour``,
            ``family``) must be given.  ``centrality`` accepts the SSB class (1-6) or
            the level (``"5_6"``).  A DataFrame is used row by row (its ``profile``
            column, if any, names the rows).
        method : {"delta", "simulation"}, default "delta"
            ``"delta"``: delta method on the logit of each probability,
            ``logit(p) +- z se``, mapped back to (0, 1).  ``"simulation"``: ``n_draws``
            coefficient vectors from ``N(beta_hat, V)`` (generator seeded with
            ``seed``); the interval is the ``(1 - level) / 2`` and
            ``(1 + level) / 2`` percentiles of the simulated probabilities.
        level : float, default 0.95
        n_draws : int, default 2000
        seed : int or None, default 0

        Returns
        -------
        pandas.DataFrame
            Columns ``profile``, the model variables (``centrality`` as its level),
            ``age_group`` (with age groups), then ``p_<outcome>``,
            ``p_<outcome>_lower``, ``p_<outcome>_upper`` for every outcome.  ``attrs``
            records the method, level and seed.
        """
        if method not in ("delta", "simulation"):
            raise InputError(f"method must be 'delta' or 'simulation', got {method!r}")
        z = _z(level)
        frame = _profile_frame(profiles, self.spec)
        design = build_design(frame.drop(columns="profile"), spec=self.spec, outcome=False)
        X = design.full_exog()
        B = self._coef_matrix()
        P = _softmax(X @ B)
        outs = [self.spec.base, *self.equations]
        m, K, E = X.shape[0], X.shape[1], len(self.equations)
        lower = np.empty_like(P)
        upper = np.empty_like(P)
        V = self.cov.to_numpy()
        if method == "delta":
            for j in range(len(outs)):
                # d logit(p_j) / d beta_k = (1{j=k} - p_k) x / (1 - p_j), k = 1..E (equation-major)
                c = -P[:, 1:].copy()
                if j > 0:
                    c[:, j - 1] += 1.0
                c /= (1.0 - P[:, [j]])
                G = (c[:, :, None] * X[:, None, :]).reshape(m, E * K)
                se = np.sqrt(np.einsum("ij,jk,ik->i", G, V, G))
                lg = np.log(P[:, j]) - np.log1p(-P[:, j])
                lower[:, j] = _expit(lg - z * se)
                upper[:, j] = _expit(lg + z * se)
        else:
            n_draws = int(n_draws)
            if n_draws < 100:
                raise InputError(f"n_draws must be at least 100, got {n_draws}")
            rng = np.random.default_rng(seed)
            draws = rng.multivariate_normal(self.params.to_numpy(), V, size=n_draws, method="eigh")
            Bs = draws.reshape(n_draws, E, K)
            eta = np.einsum("mt,set->sme", X, Bs)
            Ps = _softmax(eta)
            a = (1 - level) / 2
            lower = np.quantile(Ps, a, axis=0)
            upper = np.quantile(Ps, 1 - a, axis=0)
        out = frame.copy()
        out["centrality"] = [self.spec.centrality.categories[k] for k in _centrality_codes(frame, self.spec)]
        if self.spec.age == "groups":
            labels = np.asarray(self.spec.age_factor.categories)  # type: ignore[union-attr]
            grp = np.searchsorted(np.asarray(self.spec.age_breaks, float), frame["age"].astype(float), "right") - 1
            out.insert(out.columns.get_loc("age") + 1, "age_group", labels[grp])
        for j, o in enumerate(outs):
            out[f"p_{o}"] = P[:, j]
            out[f"p_{o}_lower"] = lower[:, j]
            out[f"p_{o}_upper"] = upper[:, j]
        out.attrs.update({"method": method, "level": level, "seed": seed if method == "simulation" else None,
                          "n_draws": n_draws if method == "simulation" else None})
        return out.reset_index(drop=True)

    # -- tables ------------------------------------------------------------------
    def to_markdown(self, level: float = 0.95, digits: int = 3) -> str:
        """RRR table in Markdown: one column per equation, ``RRR [lower, upper]`` with stars."""
        return _rrr_table(self, level=level, digits=digits, fmt="markdown")

    def to_latex(self, level: float = 0.95, digits: int = 3) -> str:
        """RRR table as a booktabs LaTeX ``tabular`` (one column per equation)."""
        return _rrr_table(self, level=level, digits=digits, fmt="latex")

    def summary(self) -> str:
        """Return a plain-text summary: fit statistics and the coefficient table."""
        fs = self.fit_statistics()
        head = "\n".join(f"{k:<14} {v}" for k, v in fs.items())
        refs = ", ".join(f"{k}={v}" for k, v in self.spec.references.items())
        body = self.to_frame().round(4).to_string()
        return f"Migration choice: multinomial logit (statsmodels MNLogit)\nreferences: {refs}\n{head}\n\n{body}"

    def __repr__(self) -> str:
        return (f"ChoiceResults(nobs={self.nobs:,}, equations={list(self.equations)}, terms={len(self.terms)}, "
                f"llf={self.llf:.2f}, converged={self.converged})")


def _hypothesis_items(hypotheses: Any) -> list[tuple[str, str]]:
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


def _z(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < float(level) < 1:
        raise InputError(f"level must lie strictly between 0 and 1, got {level!r}")
    return float(stats.norm.ppf(0.5 + float(level) / 2))


def _softmax(eta: np.ndarray) -> np.ndarray:
    """Probabilities from linear predictors of the non-base equations (base column prepended)."""
    full = np.concatenate([np.zeros((*eta.shape[:-1], 1)), eta], axis=-1)
    full -= full.max(axis=-1, keepdims=True)
    np.exp(full, out=full)
    full /= full.sum(axis=-1, keepdims=True)
    return full


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _centrality_codes(frame: pd.DataFrame, spec: ChoiceSpec) -> list[int]:
    cats = spec.centrality.categories
    out = []
    for v in frame["centrality"]:
        if v in cats or str(v) in cats:
            out.append(cats.index(str(v)))
        else:
            lab = spec.centrality_classes.get(v, spec.centrality_classes.get(str(v)))
            if lab is None and isinstance(v, str) and v.isdigit():
                lab = spec.centrality_classes.get(int(v))
            out.append(cats.index(lab))  # type: ignore[arg-type]
    return out


def _profile_frame(profiles: Any, spec: ChoiceSpec) -> pd.DataFrame:
    """Expand profile definitions into one row per combination, validating the values."""
    needed = list(spec.variables)
    if isinstance(profiles, pd.DataFrame):
        frame = profiles.copy()
        if "profile" not in frame.columns:
            frame.insert(0, "profile", [f"row_{i}" for i in range(len(frame))])
        lacking = [v for v in needed if v not in frame.columns]
        if lacking:
            raise InputError(f"the profile table lacks the column(s) {lacking}")
        frame = frame[["profile", *needed]]
    else:
        if isinstance(profiles, Mapping):
            items = [(str(k), dict(v)) for k, v in profiles.items()]
        else:
            items = []
            for k, p in enumerate(profiles):
                if not isinstance(p, Mapping):
                    raise InputError(f"a profile must be a mapping of variable -> value, got {type(p).__name__}")
                p = dict(p)
                items.append((str(p.pop("name", f"profile_{k + 1}")), p))
        if not items:
            raise InputError("no profiles given")
        rows = []
        for name, p in items:
            unknown = sorted(set(p) - set(needed))
            if unknown:
                raise InputError(f"profile {name!r}: unknown variable(s) {unknown}; the model has {needed}")
            p.setdefault(spec.background.name, list(spec.background.categories))
            p.setdefault(spec.centrality.name, list(spec.centrality.categories))
            lacking = [v for v in needed if v not in p]
            if lacking:
                raise InputError(
                    f"profile {name!r} does not set {lacking}; give a value (or a list of values) for each"
                )
            values = [p[v] if isinstance(p[v], (list, tuple)) else [p[v]] for v in needed]
            for combo in itertools.product(*values):
                rows.append({"profile": name, **dict(zip(needed, combo, strict=True))})
        frame = pd.DataFrame(rows, columns=["profile", *needed])
    # validate the values with the design builder's messages, naming the profile
    try:
        build_design(frame[needed], spec=spec, outcome=False)
    except InputError as err:
        raise InputError(f"invalid profile value: {err}") from None
    return frame


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _rrr_table(res: ChoiceResults, *, level: float, digits: int, fmt: str) -> str:
    t = res.to_frame(level)
    pct = f"{100 * level:g}"
    eqs = list(res.equations)
    if fmt == "markdown":
        lines = ["| term | " + " | ".join(f"{e}: RRR [{pct}% CI]" for e in eqs) + " |",
                 "|---|" + "---:|" * len(eqs)]
        for term in res.terms:
            cells = []
            for e in eqs:
                r = t.loc[(e, term)]
                cells.append(f"{r.rrr:.{digits}f}{_stars(r.p_value)} "
                             f"[{r.rrr_lower:.{digits}f}, {r.rrr_upper:.{digits}f}]")
            lines.append(f"| {term} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"Relative risk ratios against `{res.spec.base}` with {pct}% Wald intervals; "
                     f"* p<0.05, ** p<0.01, *** p<0.001; n = {res.nobs:,}, McFadden pseudo R² = "
                     f"{res.pseudo_rsquared:.4f}.")
        return "\n".join(lines) + "\n"

    def tex(s: str) -> str:
        return s.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")

    lines = [r"\begin{tabular}{l" + "c" * len(eqs) + "}", r"\toprule",
             " & ".join(["Term", *[tex(e) for e in eqs]]) + r" \\", r"\midrule"]
    for term in res.terms:
        cells = []
        for e in eqs:
            r = t.loc[(e, term)]
            st = _stars(r.p_value)
            cells.append(f"{r.rrr:.{digits}f}" + (f"$^{{{st}}}$" if st else "")
                         + f" [{r.rrr_lower:.{digits}f}, {r.rrr_upper:.{digits}f}]")
        lines.append(" & ".join([tex(term), *cells]) + r" \\")
    lines += [r"\midrule", f"Observations & \\multicolumn{{{len(eqs)}}}{{c}}{{{res.nobs:,}}} \\\\",
              r"\bottomrule", r"\end{tabular}",
              f"% Relative risk ratios against {tex(res.spec.base)} with {tex(pct + '%')} Wald intervals; "
              "* p<0.05, ** p<0.01, *** p<0.001"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- figure
_BG_COLOURS = ("#b2182b", "#2166ac", "#4d4d4d", "#1b7837", "#762a83")
_BG_MARKERS = ("o", "s", "^", "D", "v")


def plot_choice_probabilities(
    predictions: pd.DataFrame,
    *,
    profile: str | None = None,
    path: str | Path | None = None,
    intervals: bool = True,
    scale: Literal["linear", "log"] = "linear",
    title: str | None = None,
    max_panels: int = 16,
) -> Any:
    """Domestic-move probability (x) against emigration probability (y) by group and centrality.

    One point per background group and centrality level (labelled with the level,
    connected from the most to the least central level within a group), with the
    prediction intervals as error bars and the diagonal where both probabilities are
    equal.  When the profile also varies another variable (e.g. labour-market
    status), each combination gets its own panel.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Output of :meth:`ChoiceResults.predict` (needs ``p_domestic`` and
        ``p_emigration`` and their bounds).
    profile : str, optional
        Which profile to draw (default: the first).
    path : str or Path, optional
        Also save the figure here (``.png`` or ``.svg``).
    intervals : bool, default True
        Draw the intervals as error bars.
    scale : {"linear", "log"}, default "linear"
        Axis scale (percent either way).
    title : str, optional
    max_panels : int, default 16

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    need = ["profile", "background", "centrality", "p_domestic", "p_emigration"]
    if not isinstance(predictions, pd.DataFrame) or any(c not in predictions.columns for c in need):
        raise InputError(f"pass the output of ChoiceResults.predict (it needs columns {need})")
    if path is not None and Path(path).suffix.lower() not in (".png", ".svg"):
        raise InputError(f"cannot save a figure as {Path(path).name!r}: use a .png or .svg suffix")
    if scale not in ("linear", "log"):
        raise InputError(f"scale must be 'linear' or 'log', got {scale!r}")
    names = list(dict.fromkeys(predictions["profile"]))
    profile = names[0] if profile is None else profile
    if profile not in names:
        raise InputError(f"profile {profile!r} is not in the predictions; they have {names}")
    d = predictions[predictions["profile"] == profile]
    skip = {"profile", "background", "centrality", "age_group"} | {c for c in d.columns if c.startswith("p_")}
    varying = [c for c in d.columns if c not in skip and d[c].nunique(dropna=False) > 1]
    groups = list(d.groupby(varying, sort=False)) if varying else [((), d)]
    if len(groups) > max_panels:
        raise InputError(
            f"profile {profile!r} varies {varying} over {len(groups)} combinations (max_panels={max_panels}); "
            "fix some of them or raise max_panels"
        )
    ncol = min(len(groups), 4)
    nrow = math.ceil(len(groups) / ncol)
    fig = Figure(figsize=(4.2 * ncol + 0.8, 3.9 * nrow + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False, sharex=True, sharey=True)).ravel()
    bgs = list(dict.fromkeys(d["background"]))
    x_all = 100 * d["p_domestic"].to_numpy()
    y_all = 100 * d["p_emigration"].to_numpy()
    has_ci = intervals and {"p_domestic_lower", "p_emigration_upper"} <= set(d.columns)
    hi = max(x_all.max(), y_all.max()) * 1.15
    if has_ci:
        hi = max(hi, 100 * d["p_domestic_upper"].max() * 1.05, 100 * d["p_emigration_upper"].max() * 1.05)
    for ax, (key, g) in zip(axes, groups, strict=False):
        for k, b in enumerate(bgs):
            s = g[g["background"] == b]
            x, y = 100 * s["p_domestic"].to_numpy(), 100 * s["p_emigration"].to_numpy()
            col, mk = _BG_COLOURS[k % len(_BG_COLOURS)], _BG_MARKERS[k % len(_BG_MARKERS)]
            if has_ci:
                xerr = np.vstack([x - 100 * s["p_domestic_lower"], 100 * s["p_domestic_upper"] - x])
                yerr = np.vstack([y - 100 * s["p_emigration_lower"], 100 * s["p_emigration_upper"] - y])
                ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor=col, alpha=0.45, lw=0.9)
            ax.plot(x, y, "-", color=col, alpha=0.5, lw=1)
            ax.scatter(x, y, color=col, marker=mk, s=30, zorder=3, label=str(b).replace("_", " "))
            for xi, yi, c in zip(x, y, s["centrality"], strict=True):
                ax.annotate(str(c).replace("_", "-"), (xi, yi), xytext=(4, 3), textcoords="offset points",
                            fontsize=7, color=col)
        lo = 0.0 if scale == "linear" else max(min(x_all.min(), y_all.min()) * 0.5, 1e-3)
        ax.plot([lo, hi], [lo, hi], ls="--", color="0.5", lw=1, label="equal probability")
        ax.set_xscale(scale)
        ax.set_yscale(scale)
        if scale == "linear":
            ax.set_xlim(0, max(x_all.max() * 1.15, 1e-6) if not has_ci else
                        100 * d["p_domestic_upper"].max() * 1.08)
            ax.set_ylim(0, max(y_all.max() * 1.15, 1e-6) if not has_ci else
                        100 * d["p_emigration_upper"].max() * 1.08)
        key = key if isinstance(key, tuple) else (key,)
        if varying:
            ax.set_title(", ".join(f"{v} = {k}" for v, k in zip(varying, key, strict=True)), fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    for k, ax in enumerate(axes[:len(groups)]):
        if k + ncol >= len(groups):
            ax.set_xlabel("domestic move, % per year")
        if k % ncol == 0:
            ax.set_ylabel("emigration, % per year")
    axes[0].legend(fontsize=8, loc="upper left")
    fixed = [c for c in d.columns if c not in skip and c not in varying]
    sub = ", ".join(f"{c} = {d[c].iloc[0]}" for c in fixed)
    fig.suptitle(title or f"Predicted probabilities, profile {profile!r}: {sub}\n(labels: centrality class)",
                 fontsize=10)
    if path is not None:
        fig.savefig(Path(path), format=Path(path).suffix.lower().lstrip("."), dpi=150)
    return fig


# --------------------------------------------------------------------------- configuration and CLI job
_CHOICE_SECTIONS: dict[str, set[str]] = {
    "data": {"source", "n", "seed", "path", "format", "columns", "recode", "on_missing"},
    "model": {"age", "age_groups", "age_centre", "age_scale", "interaction", "controls", "categories", "reference",
              "centrality_classes", "on_separation", "method", "maxiter"},
    "predictions": {"method", "level", "n_draws", "seed"},
    "output": {"tables", "figures", "level", "digits"},
    "profiles": set(),
    "hypotheses": set(),
}

#: Profiles used when the configuration has no ``[[profiles]]`` (restricted to the model's variables).
DEFAULT_PROFILES: tuple[dict[str, Any], ...] = (
    {"name": "woman_35_higher_short", "age": 35, "sex": "female", "education": "higher_short",
     "labour": "employed", "family": "couple_children"},
)


def load_choice_config(path: str | Path) -> dict[str, Any]:
    """Read and check a migration-choice TOML configuration.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        The configuration with ``_config_dir`` (the file's folder, against which a
        relative ``[data] path`` is resolved).
    """
    from geoattr.config import read_toml

    return read_toml(path, check_choice_config)


def check_choice_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`InputError` naming unknown sections or keys and invalid values."""
    unknown = set(cfg) - set(_CHOICE_SECTIONS) - {"_config_dir"}
    if unknown:
        raise InputError(f"unknown configuration section(s) {sorted(unknown)}; allowed: {sorted(_CHOICE_SECTIONS)}")
    for sec, keys in _CHOICE_SECTIONS.items():
        val = cfg.get(sec)
        if val is None:
            continue
        if sec in ("profiles", "hypotheses"):
            if not isinstance(val, list) or not all(isinstance(x, Mapping) for x in val):
                raise InputError(f"[[{sec}]] must be an array of tables (write [[{sec}]] before each entry)")
            continue
        if not isinstance(val, Mapping):
            raise InputError(f"[{sec}] must be a table")
        bad = set(val) - keys
        if bad:
            raise InputError(f"unknown key(s) {sorted(bad)} in [{sec}]; allowed: {sorted(keys)}")
    data = cfg.get("data", {})
    src = data.get("source", "file" if "path" in data else "synthetic")
    if src not in ("synthetic", "file"):
        raise InputError(f"[data] source = {src!r} is not supported; use 'synthetic' or 'file' (with path = ...)")
    if src == "file" and "path" not in data:
        raise InputError("[data] source = 'file' needs path = \"persons.parquet\" (or .csv)")
    if data.get("on_missing", "raise") not in ("raise", "drop"):
        raise InputError(f"[data] on_missing must be 'raise' or 'drop', got {data['on_missing']!r}")
    pred = cfg.get("predictions", {})
    if pred.get("method", "delta") not in ("delta", "simulation"):
        raise InputError(f"[predictions] method must be 'delta' or 'simulation', got {pred['method']!r}")
    out = cfg.get("output", {})
    bad_t = set(out.get("tables", [])) - {"csv", "markdown", "latex"}
    if bad_t:
        raise InputError(f"[output] tables {sorted(bad_t)} unknown; use csv, markdown, latex")
    bad_f = set(out.get("figures", [])) - {"png", "svg"}
    if bad_f:
        raise InputError(f"[output] figures {sorted(bad_f)} unknown; use png, svg")


def _read_persons(dcfg: Mapping[str, Any], base: Path) -> pd.DataFrame:
    path = Path(dcfg["path"])
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise InputError(f"[data] path {str(path)!r} does not exist")
    fmt = dcfg.get("format") or path.suffix.lower().lstrip(".")
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt in ("csv", "txt"):
        return pd.read_csv(path)
    raise InputError(f"cannot read {path.name!r}: use a .parquet or .csv file (or set [data] format)")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "profile"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("geoattr", "numpy", "pandas", "scipy", "statsmodels", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def run_choice(
    config: Mapping[str, Any],
    *,
    out: str | Path,
    config_dir: str | Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Run the migration-choice job of a configuration and write its outputs.

    Parameters
    ----------
    config : mapping
        Parsed configuration (see :func:`load_choice_config` and
        ``examples/choice.toml``): ``[data]``, ``[model]``, ``[predictions]``,
        ``[output]``, ``[[profiles]]``, ``[[hypotheses]]``.
    out : str or Path
        Output folder (created).
    config_dir : str or Path, optional
        Base folder of a relative ``[data] path`` (default: the configuration's
        ``_config_dir``, else the working directory).
    echo : callable, optional
        Where to print short progress messages and the warnings of the run.

    Returns
    -------
    dict of str -> Path
        ``coefficients`` (CSV with RRRs and intervals), ``coefficients_md`` /
        ``coefficients_tex``, ``predictions``, ``hypotheses``, ``outcome_counts``,
        ``figure_<profile>_png`` / ``_svg`` per profile, and ``run`` (run.json with
        the configuration, versions, timings, row accounting, fit statistics and the
        warnings).
    """
    if not isinstance(config, Mapping):
        raise InputError(f"config must be a mapping (see load_choice_config), got {type(config).__name__}")
    check_choice_config(config)
    cfg = {k: ([dict(x) for x in v] if isinstance(v, list) else dict(v))
           for k, v in config.items() if not k.startswith("_")}
    base = Path(config_dir) if config_dir is not None else Path(config.get("_config_dir", "."))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    files: dict[str, Path] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoattrWarning)
        info = _run_choice(cfg, base, out, files, timings, echo)
    messages = []
    for w in caught:
        if issubclass(w.category, GeoattrWarning):
            messages.append(f"{w.category.__name__}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    info["warnings"] = list(dict.fromkeys(messages))
    info["timings_seconds"] = timings
    files["run"] = out / "run.json"
    files["run"].write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    if echo:
        for m in info["warnings"]:
            echo(f"  warning: {m}")
        echo(f"geoattr choice: wrote {len(files)} files to {out.resolve()}")
        for k, v in files.items():
            echo(f"  {k:<28} {v.name}")
    return files


def _run_choice(cfg: dict[str, Any], base: Path, out: Path, files: dict[str, Path], timings: dict[str, float],
                echo: Callable[[str], None] | None) -> dict[str, Any]:
    dcfg, mcfg = cfg.get("data", {}), dict(cfg.get("model", {}))
    pcfg, ocfg = cfg.get("predictions", {}), cfg.get("output", {})
    t0 = time.perf_counter()
    truth = None
    if dcfg.get("source", "file" if "path" in dcfg else "synthetic") == "synthetic":
        from geoattr.datasets.individuals import synthetic_individuals

        data, truth = synthetic_individuals(int(dcfg.get("n", 200_000)), seed=int(dcfg.get("seed", 2024)))
    else:
        data = _read_persons(dcfg, base)
    timings["read data"] = round(time.perf_counter() - t0, 4)
    spec = ChoiceSpec.from_config(mcfg)
    t0 = time.perf_counter()
    design = build_design(data, spec=spec, columns=dcfg.get("columns"), recode=dcfg.get("recode"),
                          on_missing=dcfg.get("on_missing", "raise"))
    timings["design"] = round(time.perf_counter() - t0, 4)
    if echo:
        echo(f"geoattr choice: {design.nobs:,} person-years ({design.n_patterns:,} covariate patterns), "
             f"{len(design.terms)} terms x {len(spec.equations)} equations")
    t0 = time.perf_counter()
    res = fit_design(design, on_separation=mcfg.get("on_separation", "raise"), method=mcfg.get("method", "newton"),
                     maxiter=int(mcfg.get("maxiter", 50)))
    timings["estimate"] = round(time.perf_counter() - t0, 4)
    del design
    level = float(ocfg.get("level", 0.95))
    digits = int(ocfg.get("digits", 3))
    tables = ocfg.get("tables", ["csv", "markdown", "latex"])
    coef = res.to_frame(level).reset_index()
    files["coefficients"] = out / "coefficients.csv"
    coef.to_csv(files["coefficients"], index=False)
    if "markdown" in tables:
        files["coefficients_md"] = out / "coefficients.md"
        files["coefficients_md"].write_text(res.to_markdown(level, digits), encoding="utf-8")
    if "latex" in tables:
        files["coefficients_tex"] = out / "coefficients.tex"
        files["coefficients_tex"].write_text(res.to_latex(level, digits), encoding="utf-8")
    assert res.outcome_counts is not None
    files["outcome_counts"] = out / "outcome_counts.csv"
    res.outcome_counts.reset_index().to_csv(files["outcome_counts"], index=False)

    t0 = time.perf_counter()
    profiles = cfg.get("profiles") or [
        {k: v for k, v in p.items() if k == "name" or k in spec.variables} for p in DEFAULT_PROFILES
    ]
    pred = res.predict(profiles, method=pcfg.get("method", "delta"), level=float(pcfg.get("level", level)),
                       n_draws=int(pcfg.get("n_draws", 2000)), seed=pcfg.get("seed", 0))
    files["predictions"] = out / "predictions.csv"
    pred.to_csv(files["predictions"], index=False)
    timings["predictions"] = round(time.perf_counter() - t0, 4)
    if "markdown" in tables:
        files["predictions_md"] = out / "predictions.md"
        files["predictions_md"].write_text(_predictions_markdown(pred), encoding="utf-8")
    hyp = res.test(cfg.get("hypotheses") or [])
    files["hypotheses"] = out / "hypotheses.csv"
    hyp.to_csv(files["hypotheses"], index=False)
    if "markdown" in tables and len(hyp):
        files["hypotheses_md"] = out / "hypotheses.md"
        files["hypotheses_md"].write_text(_frame_markdown(hyp, digits=4), encoding="utf-8")
    t0 = time.perf_counter()
    if {"domestic", "emigration"} <= set(res.equations):
        for name in dict.fromkeys(pred["profile"]):
            fig = plot_choice_probabilities(pred, profile=name)
            for ext in ocfg.get("figures", ["png", "svg"]):
                key = f"figure_{_safe(name)}_{ext}"
                files[key] = out / f"choice_{_safe(name)}.{ext}"
                fig.savefig(files[key], format=ext, dpi=150)
    timings["figures"] = round(time.perf_counter() - t0, 4)
    info: dict[str, Any] = {
        "config": cfg,
        "versions": _versions(),
        "references": spec.references,
        "terms": list(res.terms),
        "fit": {k: (v.item() if hasattr(v, "item") else v) for k, v in res.fit_statistics().items()},
        "outcome_shares": (res.outcome_totals / res.nobs).round(6).to_dict(),
        "row_accounting": res.accounting.to_dict(),
        "predictions": dict(pred.attrs),
        "engine": "statsmodels.discrete.discrete_model.MNLogit",
    }
    if truth is not None:
        info["synthetic_truth_max_abs_z"] = float(((res.params - truth) / res.std_errors).abs().max())
    return info


def _frame_markdown(frame: pd.DataFrame, *, digits: int = 4) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("" if math.isnan(v) else f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else
                             f"{v:.{digits}f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _predictions_markdown(pred: pd.DataFrame) -> str:
    show = pred.copy()
    for c in [c for c in show.columns if c.startswith("p_")]:
        show[c] = 100 * show[c]
    show = show.rename(columns={c: c + " (%)" for c in show.columns if c.startswith("p_")})
    return _frame_markdown(show, digits=3)
