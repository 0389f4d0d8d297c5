"""Decomposition of population change: identity for every unit and hand-computed parts."""

from __future__ import annotations

import numpy as np
import pytest

from geoattr.decomposition import decompose
from geoattr.exceptions import InputError
from geoattr.models.ols import estimate


def _wide(dec):
    return dec.pivot(index="unit", columns="component", values="persons_per_year")


def test_parts_add_up_for_every_unit(toy_data):
    fit = estimate(toy_data, "2019", years=(2003, 2004))
    w = _wide(decompose(fit))
    parts = w.drop(columns="observed").sum(axis=1)
    np.testing.assert_allclose(parts, w["observed"], atol=1e-9)
    assert set(w.columns) == {"observed", "national_immigration", "centrality", "neighbour_job_growth",
                              "own_job_growth", "other", "attractiveness", "discrepancy"}


def test_parts_by_hand(toy_data):
    fit = estimate(toy_data, "2019", years=(2003, 2004))
    w = _wide(decompose(fit, convention="as_estimated"))  # the coefficients of fit itself
    b = fit.results.params
    X = fit.unit_design.X
    P = fit.unit_design.population
    # centrality part of 0101: mean over 2003-2004 of b_c * c * P / 100
    c = (b["centrality"] * X["centrality"] * P / 100).xs("0101", level="unit").mean()
    assert w.loc["0101", "centrality"] == pytest.approx(c, rel=1e-12)
    # own + neighbour job growth = VRA terms x coefficients
    vra = sum(b[t] * X[t] for t in ("vra", "vra_l1", "vra_l2")) * P / 100
    np.testing.assert_allclose((w["own_job_growth"] + w["neighbour_job_growth"]).to_numpy(),
                               vra.groupby(level="unit").mean().to_numpy(), rtol=1e-10)
    # 0101 works 100 % locally in 2003, so its lag-0 growth in 2003 is all "own"
    # observed change = P[t+1] - P[t]: toy populations grow by 10 x size factor a year
    assert w.loc["0102", "observed"] == pytest.approx(20.0)
    # migration parts add up to net migration (persons) per year
    mig = w[["national_immigration", "centrality", "neighbour_job_growth", "own_job_growth", "other",
             "attractiveness"]].sum(axis=1)
    nm = toy_data.column("net_migration").loc[(slice(None), [2003, 2004])].groupby(level="unit").mean()
    np.testing.assert_allclose(mig.to_numpy(), nm.to_numpy(), rtol=1e-10)


def test_national_immigration_is_national_rate(toy_data):
    fit = estimate(toy_data, ["vra"], years=(2003, 2003))
    w = _wide(decompose(fit))
    nat = 100 * (2 + 4 + 6) / (1030 + 2060 + 5150)
    assert w.loc["0103", "national_immigration"] == pytest.approx(nat * 5150 / 100, rel=1e-12)


def test_years_outside_model(toy_data):
    fit = estimate(toy_data, "2019", years=(2003, 2004))
    with pytest.raises(InputError, match="years 2003-2005 lie outside the model's years 2003-2004"):
        decompose(fit, years=(2003, 2005))
    fit5 = estimate(toy_data, "2019", years=(2003, 2005))
    with pytest.raises(InputError, match=r"needs the population of 1 January \[2006\]"):
        decompose(fit5)


@pytest.mark.slow
def test_synthetic_decomposition_identity_and_no_discrepancy(synthetic, synthetic_data):
    """Generator truth: P[t+1] = P[t] + births - deaths + NM, so the discrepancy is 0."""
    fit = estimate(synthetic_data, "2022", years=(2005, 2022))
    dec = decompose(fit)  # the data carry the generator's fertility rates
    w = _wide(dec)
    np.testing.assert_allclose(w.drop(columns="observed").sum(axis=1), w["observed"], atol=1e-6)
    assert w["discrepancy"].abs().max() < 1e-6
    # national sums of the deviations are zero (expected births/deaths scaled to national totals)
    assert abs(w["fertility_deviation"].sum()) < 1e-6 * w["expected_births"].sum()
    assert abs(w["mortality_deviation"].sum()) < 1e-6 * abs(w["expected_deaths"].sum())
