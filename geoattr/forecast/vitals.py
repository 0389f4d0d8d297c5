"""The national fertility and mortality a projection uses, from what the data provide.

The cohort-component step (:mod:`geoattr.forecast.cohort`) needs national death
probabilities by age and sex and national births per woman by age.  They come from
the data, in this order:

* **Death probabilities**: the year-specific table
  (``PanelData.death_probabilities_by_year``, e.g. the SSB adapter's from the HMD death
  rates) taken for the launch year, or the table's nearest year when the launch year is
  outside it, and held over the horizon; else the single schedule
  ``PanelData.death_probabilities``.
* **Fertility**: ``PanelData.fertility_rates`` when given; else, with the population by
  age, the national fertility the decomposition estimates
  (:func:`geoattr.natural_change.estimate_fertility_rates`: children aged 0 on
  1 January of ``t+1`` per woman aged 15-49 on 1 January of ``t``) for the last
  observed year that has the next year's population, one rate for ages 15-49, held
  over the horizon.

Without either, the projection is made in total, not by age (see
:mod:`geoattr.forecast.launch`).  Every choice is written to the rules (run.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geoattr.data import PanelData
from geoattr.demography import death_probabilities_in_year
from geoattr.natural_change import FERTILE_AGES, estimate_fertility_rates

__all__ = ["NationalVitals", "national_vitals"]


@dataclass(frozen=True)
class NationalVitals:
    """National rates for the cohort-component step.

    Attributes
    ----------
    death_probabilities : pandas.DataFrame
        Index age, columns ``female``, ``male``.
    fertility_rates : pandas.Series
        Births per woman by age of the mother (index age).
    """

    death_probabilities: pd.DataFrame
    fertility_rates: pd.Series


def national_vitals(data: PanelData, *, first: int, last: int, rules: list[str]) -> NationalVitals | None:
    """The death probabilities and fertility of a projection launched on 1 January of ``first``.

    Parameters
    ----------
    data : PanelData
        The model's unit data.
    first : int
        The first projected year.
    last : int
        The last observed (fitted) year.
    rules : list of str
        Appended with what was chosen.

    Returns
    -------
    NationalVitals or None
        None when the data give no death probabilities, or neither fertility rates nor a
        population by age to estimate them from.
    """
    q = _death_probabilities(data, first, rules)
    f = _fertility(data, last, rules)
    if q is None or f is None:
        return None
    return NationalVitals(death_probabilities=q, fertility_rates=f)


def _death_probabilities(data: PanelData, first: int, rules: list[str]) -> pd.DataFrame | None:
    qy = data.death_probabilities_by_year
    if qy is not None:
        have = sorted(int(y) for y in qy.index.get_level_values(0).unique())
        near = min(have, key=lambda y: (abs(y - first), y))
        rules.append(f"deaths: the national death probabilities of {near} (year-specific table {have[0]}-{have[-1]}; "
                     + ("the launch year's" if near == first else f"the nearest year to the launch year {first}")
                     + "), held constant over the horizon")
        return death_probabilities_in_year(qy, first)
    if data.death_probabilities is not None:
        rules.append("deaths: the data's national death probabilities (one schedule), held constant")
        return data.death_probabilities
    return None


def _fertility(data: PanelData, last: int, rules: list[str]) -> pd.Series | None:
    if data.fertility_rates is not None:
        rules.append("births: the data's national fertility rates by age, held constant")
        return data.fertility_rates
    pa = data.population_by_age
    if pa is None:
        return None
    have = set(int(y) for y in pa["year"].unique())
    years = [y for y in sorted(have) if y + 1 in have and y <= last]
    if not years:
        return None
    est = estimate_fertility_rates(pa, years=[years[-1]])
    rate = float(est["rate"].iloc[0])
    lo, hi = FERTILE_AGES
    rules.append(f"births: national fertility estimated from the population by age as in the decomposition "
                 f"(children aged 0 on 1 January {years[-1] + 1} / women aged {lo}-{hi} on 1 January {years[-1]} = "
                 f"{rate:.5f} per woman, the same at every age {lo}-{hi}), held constant over the horizon")
    return pd.Series(rate, index=pd.Index(range(lo, hi + 1), name="age"), name="fertility")
