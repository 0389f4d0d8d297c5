"""The book's decomposition on Statistics Norway data (skipped when ../shared/data/norway is absent).

SSB publishes no births or deaths by municipality: they come from the population by age
(children aged 0 on 1 January of t+1; deaths from the accounting identity), so the
components must add up to the observed change for every unit within 0.5 persons and at
most 0.5 persons per unit may be left in the discrepancy (issue 17).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr.data import Crosswalk
from geoattr.datasets import norway
from geoattr.decomposition import decompose
from geoattr.exceptions import InvalidGeometryWarning
from geoattr.models.ols import estimate

YEARS = (2006, 2021)


def _population_by_age(data_dir, units):
    """07459 by single age and sex on the stable units (2006-2023: every code present)."""
    cw = Crosswalk.from_frame(pd.read_csv(data_dir / norway.FILES["crosswalk"],
                                          dtype={"kommunenummer": str, "kommunenummer_2024": str}))
    to_stable = cw.stable_targets(norway.STABLE_YEARS)
    pa = pd.read_csv(data_dir / norway.FILES["population_by_age"], dtype={"kommunenummer": str})
    pa = pa[pa["year"].between(YEARS[0], YEARS[1] + 1)]
    pa["unit"] = to_stable.reindex(pa["kommunenummer"].str.zfill(4)).to_numpy()
    out = pa.groupby(["unit", "year", "sex", "age"], as_index=False)["population"].sum()
    assert set(out["unit"]) == set(units)
    return out


def _hmd_death_probabilities(data_dir, years):
    """q = 1 - exp(-m), the HMD central rates averaged over ``years`` (ages 0-105)."""
    m = pd.read_csv(data_dir / "mortality" / "hmd_mx_deaths_population_1x1_2000_2023.csv.gz")
    m = m[m["year"].between(*years) & m["sex"].isin(["F", "M"])].copy()
    m["age"] = pd.to_numeric(m["age"].astype(str).str.rstrip("+"))
    q = 1 - np.exp(-m[m["age"] <= 105].groupby(["age", "sex"])["mx"].mean().unstack("sex"))
    return q.rename(columns={"F": "female", "M": "male"}).clip(upper=1.0)


@pytest.fixture(scope="module")
def real_fit(real_data_dir):
    with pytest.warns(InvalidGeometryWarning, match="invalid geometr"):  # ~8 % of the 2024 polygons as published
        data = norway.load(real_data_dir, panel="2003-2022", units="stable")
    if data.population_by_age is None:
        data = data.replace(population_by_age=_population_by_age(real_data_dir, data.units))
    return data, estimate(data, "2019", unit_level="region", years=YEARS)


def _check(dec):
    w = dec.pivot(index="unit", columns="component", values="persons_per_year")
    assert {"expected_births", "fertility_deviation", "expected_deaths", "mortality_deviation"} <= set(w.columns)
    gap = (w.drop(columns="observed").sum(axis=1) - w["observed"]).abs()
    assert gap.max() <= 0.5, gap.sort_values().tail()
    assert w["discrepancy"].abs().max() <= 0.5
    return w


@pytest.mark.slow
def test_book_decomposition_on_ssb_data_with_the_data_or_gompertz_mortality(real_fit):
    data, fit = real_fit
    dec = decompose(fit, years=(YEARS[0], YEARS[1] - 1))
    w = _check(dec)
    assert (w["other"].abs() < 1e-6).all()  # no constant left over in the book's form
    assert len(w) == len(data.units)
    # expected births add up to the national children aged 0, the deviations to zero
    assert abs(w["fertility_deviation"].sum()) < 1e-6 * w["expected_births"].sum()
    assert abs(w["mortality_deviation"].sum()) < 1e-6 * abs(w["expected_deaths"].sum())
    old = _check(decompose(fit, years=(YEARS[0], YEARS[1] - 1), convention="as_estimated"))
    np.testing.assert_allclose(old["expected_births"], w["expected_births"], rtol=1e-12)


@pytest.mark.slow
def test_book_decomposition_with_hmd_death_probabilities(real_fit, real_data_dir):
    data, _ = real_fit
    with_q = data.replace(death_probabilities=_hmd_death_probabilities(real_data_dir, (YEARS[0], 2015)))
    fit = estimate(with_q, "2019", unit_level="region", years=YEARS)
    w = _check(decompose(fit, years=(YEARS[0], YEARS[1] - 1)))
    assert (w["expected_deaths"] < 0).all() and (w["expected_births"] > 0).all()
    # with published net migration (through 2016), deaths = children aged 0 - (change - net migration)
    # agree with the HMD's national deaths; the probabilities of 2006-2015 (one table for every
    # year, while mortality fell) predict them within 15 % each year
    # (2017-2021: net migration is the cohort-residual estimate and the implied deaths run 13-20 %
    # above the HMD's, docs/decomposition.rst)
    dec = decompose(fit, years=(YEARS[0], 2015))
    _check(dec)
    note = next(n for n in dec.attrs["notes"] if n.startswith("expected deaths scaled"))
    lo, hi = (float(x) for x in note.rsplit("factor ", 1)[1].split("-"))
    assert 0.85 < lo <= hi < 1.15, note
