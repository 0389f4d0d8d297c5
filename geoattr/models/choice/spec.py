"""What the migration-choice model contains: :class:`Factor` and :class:`ChoiceSpec`.

Every categorical variable is treatment coded with an explicit reference category; the
specification names the outcomes, the base outcome, the variables, their categories,
their references and the coefficient names (see :mod:`geoattr.models.choice`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from geoattr.exceptions import InputError

__all__ = [
    "Factor",
    "ChoiceSpec",
    "DEFAULT_SPEC",
    "OUTCOMES",
    "BACKGROUNDS",
    "CENTRALITY_CLASSES",
    "AGE_BREAKS",
]

OUTCOMES: tuple[str, ...] = ("stay", "domestic", "emigration")
BACKGROUNDS: tuple[str, ...] = ("immigrant", "born_to_immigrants", "rest")
#: SSB centrality class (1 most central ... 6 least central) -> category of the model.
CENTRALITY_CLASSES: Mapping[int, str] = MappingProxyType({1: "1", 2: "2", 3: "3", 4: "4", 5: "5_6", 6: "5_6"})
AGE_BREAKS: tuple[int, ...] = (18, 25, 30, 40, 50, 67)

_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Factor:
    """A categorical covariate with declared categories and an explicit reference category.

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
        bad = [c for c in cats if not _NAME_RE.match(c)]
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
    def non_reference(self) -> tuple[str, ...]:
        """The categories other than the reference (one dummy each)."""
        return tuple(c for c in self.categories if c != self.reference)

    @property
    def terms(self) -> tuple[str, ...]:
        """Coefficient names of the dummies."""
        return tuple(self.term_prefix + c for c in self.non_reference)

    def with_reference(self, reference: str) -> Factor:
        """Return a copy with another reference category."""
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
        Centrality category, default ``1, 2, 3, 4, 5_6`` with reference ``5_6`` and
        prefix ``centrality_``.
    centrality_classes : mapping, default {1: "1", ..., 5: "5_6", 6: "5_6"}
        Raw SSB centrality class -> category (merges classes 5 and 6).  Values already
        equal to a category (e.g. ``"5_6"``) are accepted as well.
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
        if len(outs) < 2 or len(set(outs)) != len(outs) or not all(_NAME_RE.match(o) for o in outs):
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
        """Reference category of every categorical variable (``outcome``: the base)."""
        return {"outcome": self.base, **{f.name: f.reference for f in self.factors}}

    def with_references(self, **references: str) -> ChoiceSpec:
        """Return a copy with other reference categories, e.g. ``spec.with_references(education="compulsory")``.

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
            beyond the default four), ``reference`` (variable -> category, ``outcome``
            sets the base), ``centrality_classes`` (raw class -> category).

        Returns
        -------
        ChoiceSpec
        """
        m = dict(model or {})
        base = cls()
        cats = {str(k): tuple(str(x) for x in v) for k, v in dict(m.get("categories", {})).items()}
        refs = {str(k): str(v) for k, v in dict(m.get("reference", {})).items()}
        control_names = [str(c) for c in m.get("controls", [f.name for f in _default_controls()])]
        controls = _controls_from_config(control_names, cats, refs)
        _check_config_names(m, cats, refs, control_names)
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


def _controls_from_config(names: Sequence[str], cats: Mapping[str, tuple[str, ...]],
                          refs: Mapping[str, str]) -> list[Factor]:
    """The control factors of a ``[model]`` table: declared categories, else the default controls."""
    known = {f.name: f for f in _default_controls()}
    controls = []
    for name in names:
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
    return controls


def _check_config_names(m: Mapping[str, Any], cats: Mapping[str, Any], refs: Mapping[str, str],
                        control_names: Sequence[str]) -> None:
    """Refuse ``[model.categories]`` and ``[model.reference]`` entries for variables not in the model."""
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


#: The default specification (see :mod:`geoattr.models.choice` for its terms).
DEFAULT_SPEC = ChoiceSpec()
