"""The spatial Durbin panels and balance='keep' as columns of compare() (issue 19 items 2-3).

References: the estimators called directly on the comparison's own design
(geoattr.models.spatial_panel_durbin, pinned to spreg in test_spatial_panel_ext) and, on a
balanced panel, today's balanced sar_fe / sem_fe columns (balance='keep' equals them there).
"""

from __future__ import annotations

import numpy as np
import pytest

from geoattr import weights as gw
from geoattr.compare import GRID_MODELS, compare
from geoattr.exceptions import IsolatesWarning
from geoattr.models.spatial_panel_durbin import fit_durbin_panel
from geoattr.variables import build_design

MODELS = ["sar_fe", "sem_fe", "sdm_fe", "sdem_fe", "sdm_re", "sar_fe_keep", "sem_fe_keep"]


@pytest.fixture(scope="module")
def panels(synthetic_data):
    with pytest.warns(IsolatesWarning):
        queen = gw.row_standardise(gw.contiguity(synthetic_data.polygons))
    return compare(synthetic_data, weights={"queen": queen}, models=MODELS, years=(2020, 2023)), queen


@pytest.mark.slow
def test_durbin_panels_and_keep_are_columns_of_compare(panels, synthetic_data):
    c, queen = panels
    t = c.table
    assert list(t.columns) == [f"{m}|queen" for m in MODELS]
    assert c.errors == {}
    assert all(m in GRID_MODELS for m in MODELS)
    # the Durbin columns are the estimators on the comparison's design (1e-12), with W_x rows
    base = build_design(synthetic_data, "2022", years=(2020, 2023))
    alt = build_design(synthetic_data, [x.replace("vra", "ra") if x.startswith("vra") else x
                                        for x in base.X.columns if x != "const"], years=base.years)
    for m in ("sdm_fe", "sdem_fe"):
        ref = fit_durbin_panel(alt.y, alt.X, queen, model=m)
        np.testing.assert_allclose(t.loc[list(ref.params.index), f"{m}|queen"], ref.params, rtol=0, atol=1e-12)
    for m in ("sdm_fe", "sdem_fe", "sdm_re"):
        col = t[f"{m}|queen"]
        assert np.isfinite(col[["W_ra", "W_ra (se)", "W_ds"]]).all(), m  # time-varying regressors get W_x rows
        assert np.isfinite(col["rmse_holdout"]) and np.isfinite(col["pesaran_cd"])
    assert t.loc["rho", "sdm_fe|queen"] == pytest.approx(c.results["sdm_fe|queen"].params["rho"], abs=1e-15)
    assert np.isnan(t.loc["rho", "sdem_fe|queen"]) and np.isfinite(t.loc["lambda", "sdem_fe|queen"])
    # balanced panel: balance='keep' is today's estimator, to 1e-7, the held-out error too
    for m in ("sar_fe", "sem_fe"):
        a, b = t[f"{m}|queen"], t[f"{m}_keep|queen"]
        np.testing.assert_allclose(b.to_numpy(dtype=float), a.to_numpy(dtype=float), rtol=0, atol=1e-7,
                                   equal_nan=True)
