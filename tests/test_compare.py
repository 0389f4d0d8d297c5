"""The specification comparison on synthetic data, where the VRA model is the truth."""

from __future__ import annotations

import numpy as np
import pytest

from geoattr import weights as gw
from geoattr.compare import compare
from geoattr.exceptions import InputError, IsolatesWarning


@pytest.fixture(scope="module")
def comparison(synthetic_data):
    data = synthetic_data
    with pytest.warns(IsolatesWarning):
        queen = gw.row_standardise(gw.contiguity(data.polygons))
    ws = {"commuting": gw.without_diagonal(gw.commuting(data.flows, year=2023, ids=data.units)), "queen": queen}
    return compare(data, weights=ws, models=["vra_ols", "slx", "sar", "sem", "fe"], years=(2012, 2023))


@pytest.mark.slow
def test_table_layout(comparison):
    t = comparison.table
    assert list(t.columns) == ["vra_ols", "slx|commuting", "slx|queen", "sar|commuting", "sar|queen", "sem|commuting",
                               "sem|queen", "fe"]
    for row in ("vra", "vra (se)", "ra", "rho", "lambda", "loglik", "aic", "bic", "r2", "moran_I_z[queen]",
                "moran_p[commuting]", "lm_lag_p[queen]", "rmse_holdout"):
        assert row in t.index, row
    assert np.isnan(t.loc["vra", "sar|queen"]) and np.isnan(t.loc["ra", "vra_ols"])
    assert t.loc["nobs", "vra_ols"] == 356 * 12
    assert comparison.errors == {}
    # Pesaran's CD row: the diagnostics function on each model's residuals
    from geoattr.models.diagnostics import pesaran_cd
    for name in ("vra_ols", "sar|queen", "fe"):
        cd = pesaran_cd(comparison.results[name].resids)
        assert t.loc["pesaran_cd", name] == pytest.approx(cd.statistic, rel=1e-12)
        assert t.loc["pesaran_cd_p", name] == pytest.approx(cd.pvalue, rel=1e-12)


@pytest.mark.slow
def test_true_model_wins(comparison):
    """Generator truth: y follows the commuting-weighted VRA model."""
    t = comparison.table
    assert t.loc["loglik"].idxmax() == "vra_ols"
    assert t.loc["rmse_holdout"].idxmin() == "vra_ols"


@pytest.mark.slow
def test_exports(comparison, tmp_path):
    tex = comparison.to_latex()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "vra" in tex and "(" in tex
    assert "***" in tex  # VRA is significant
    comparison.to_csv(tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_text().startswith("row,")
    assert "<table" in comparison.to_html()


def test_compare_errors(toy_data):
    with pytest.raises(InputError, match=r"unknown model\(s\) \['gmm'\]"):
        compare(toy_data, weights={}, models=["gmm"])
    with pytest.raises(InputError, match="spatial models need weights="):
        compare(toy_data, weights={}, models=["sar"])
