"""Readable names of the identifiers the pages show: model terms, components, quantities.

One mapping, :data:`LABELS`, used by ``report.html``, the profile pages and the forecast
page, so a reader sees "Relative job growth (lag 1)" where the tables and CSV files say
``vra_l1`` and "Net migration" where they say ``net_migration``.  :func:`label` looks a
name up (lag suffixes ``_l1``, ``_l2``... of any known term included) and falls back to
the identifier with spaces; :func:`term_labels` gives the labels of a model table with
the identifier kept in square brackets, so the page still matches ``coefficients.csv``.  The
decomposition components' names (:data:`COMPONENT_LABELS`) are part of :data:`LABELS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["TERM_LABELS", "COMPONENT_LABELS", "QUANTITY_LABELS", "LABELS", "label", "term_labels"]

#: Model terms (see ``docs/glossary.rst`` and the specifications in ``docs/MODEL.md``).
TERM_LABELS: dict[str, str] = {
    "const": "Constant",
    "vra": "Relative job growth",
    "centrality": "Centrality",
    "ds": "Demographic employment supply",
    "ra": "Own relative job growth",
    "nv": "Neighbours' relative job growth",
    "log_pop": "Log population",
    "ami": "Labour-market integration",
    "vra_sum": "Relative job growth, sum of lags",
}
#: Readable names of the components of :func:`geoattr.decompose` and of the waterfall's subtotals.
COMPONENT_LABELS: dict[str, str] = {
    "expected_births": "Expected births",
    "fertility_deviation": "Fertility deviation",
    "expected_deaths": "Expected deaths",
    "mortality_deviation": "Mortality deviation",
    "national_immigration": "National immigration",
    "centrality": "Centrality",
    "neighbour_job_growth": "Job growth in neighbouring units",
    "own_job_growth": "Job growth in the unit itself",
    "demographic_supply": "Demographic employment supply",
    "other": "Other model terms",
    "attractiveness": "Attractiveness",
    "discrepancy": "Discrepancy",
    "natural_change": "Natural change",
    "net_migration": "Net migration",
    "observed": "Observed change",
}
#: Quantities of a forecast (``forecast.csv``) and columns of the pages' tables.
QUANTITY_LABELS: dict[str, str] = {
    "net_migration": "Net migration",
    "net_migration_rate": "Net migration rate (%)",
    "population": "Population",
    "births": "Births",
    "deaths": "Deaths",
    "persons_per_year": "Persons per year",
    "residual": "Attractiveness",
    "residual_persons": "Attractiveness (persons)",
}
#: Every readable name: terms, components and quantities (one place for the pages).
LABELS: dict[str, str] = {**TERM_LABELS, **COMPONENT_LABELS, **QUANTITY_LABELS}

_LAG = re.compile(r"^(?P<base>.+)_l(?P<lag>[0-9]+)$")


def label(name: object) -> str:
    """The readable name of an identifier.

    Parameters
    ----------
    name : str
        A term (``vra_l1``), a decomposition component (``net_migration``), a forecast
        quantity; anything else is returned with ``_`` as spaces.

    Returns
    -------
    str
        E.g. ``"Relative job growth (lag 1)"``, ``"Net migration"``.

    Examples
    --------
    >>> label("vra_l1")
    'Relative job growth (lag 1)'
    >>> label("net_migration")
    'Net migration'
    >>> label("students_per_capita")
    'students per capita'
    """
    text = str(name)
    if text in LABELS:
        return LABELS[text]
    m = _LAG.match(text)
    if m and m["base"] in TERM_LABELS:
        return f"{TERM_LABELS[m['base']]} (lag {int(m['lag'])})"
    return text.replace("_", " ")


def term_labels(terms: Iterable[object]) -> dict[str, str]:
    """Labels of model terms for an HTML table: the readable name and the identifier in brackets.

    Parameters
    ----------
    terms : iterable of str

    Returns
    -------
    dict of str to str
        Term -> ``"<label> [<term>]"`` (``"Relative job growth (lag 1) [vra_l1]"``), or
        the label alone where it only capitalises the term (``"Centrality"``).
    """
    out = {}
    for t in terms:
        text, lab = str(t), label(t)
        out[text] = lab if lab.lower() == text.replace("_", " ").lower() else f"{lab} [{text}]"
    return out
