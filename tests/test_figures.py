"""Figures: the plotted data, labels, bar heights and saved files, checked against the input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

import geoattr
from conftest import make_result
from geoattr.exceptions import InputError
from geoattr.report.figures import (
    coefficients_over_time,
    decomposition_waterfall,
    forest_plot,
    observed_vs_expected,
    ranking_bars,
)

Z95 = 1.959964


@pytest.fixture
def att():
    """12 units x 2 years; unit u_k has mean residual k - 5.5 (distinct), expected k / 10."""
    units = [f"{k:04d}" for k in range(12)]
    rows = []
    for k, u in enumerate(units):
        for year, shift in ((2020, -0.5), (2021, 0.5)):
            expected = k / 10 + shift
            resid = (k - 5.5) + (0.25 if year == 2020 else -0.25)
            rows.append((u, year, expected + resid, expected, resid, 1000.0, 10.0 * resid))
    columns = ["unit", "year", "actual", "expected", "residual", "population", "residual_persons"]
    frame = pd.DataFrame(rows, columns=columns).set_index(["unit", "year"])
    # a shuffled row order: the figures must not depend on it
    return frame.sample(frac=1.0, random_state=3)


def test_observed_vs_expected(att):
    before = att.copy()
    fig = observed_vs_expected(att, label_n=2)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    pts = ax.collections[0].get_offsets()
    assert len(pts) == 12
    means = att.groupby(level="unit").mean()
    got = pd.DataFrame(np.asarray(pts), columns=["expected", "actual"]).sort_values("expected")
    np.testing.assert_allclose(got["expected"], means["expected"].sort_values(), atol=1e-12)
    np.testing.assert_allclose(got["actual"], means.sort_values("expected")["actual"], atol=1e-12)
    assert sorted(t.get_text() for t in ax.texts) == ["0000", "0001", "0010", "0011"]
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), line.get_ydata())  # the 45-degree line
    pd.testing.assert_frame_equal(att, before)


def test_observed_vs_expected_year_and_names(att):
    names = {"0011": "Bergen", "0000": "Oslo"}
    fig = observed_vs_expected(att, year=2021, label_n=1, names=names)
    ax = fig.axes[0]
    pts = np.asarray(ax.collections[0].get_offsets())
    y2021 = att.xs(2021, level="year")
    assert sorted(pts[:, 0]) == pytest.approx(sorted(y2021["expected"]), abs=1e-12)
    assert sorted(t.get_text() for t in ax.texts) == ["Bergen", "Oslo"]
    assert "2021" in ax.get_title()
    assert len(observed_vs_expected(att, label_n=0).axes[0].texts) == 0
    with pytest.raises(
        InputError, match=r"year 1999 is not in the table; it covers \[2020, 2021\]"
    ):
        observed_vs_expected(att, year=1999)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['expected'\]"):
        observed_vs_expected(att.drop(columns="expected"))
    with pytest.raises(InputError, match="label_n must be an integer >= 0"):
        observed_vs_expected(att, label_n=-1)


@pytest.fixture
def yearly():
    rows = []
    for year, (b, s) in zip(
        range(2010, 2014), [(0.2, 0.01), (0.25, 0.02), (0.22, 0.05), (0.3, 0.03)]
    ):
        rows += [
            ("2022", "municipality", year, "const", 1.0, 0.5),
            ("2022", "municipality", year, "vra", b, s),
            ("2022", "municipality", year, "ds", -b, s / 2),
        ]
    return pd.DataFrame(rows, columns=["spec", "level", "year", "term", "estimate", "std_error"])


def band_limits(ax) -> dict[float, tuple[float, float]]:
    """Lower and upper edge of the fill_between band at each year."""
    verts = ax.collections[0].get_paths()[0].vertices
    out: dict[float, list[float]] = {}
    for x, y in verts:
        out.setdefault(float(x), []).append(float(y))
    return {x: (min(v), max(v)) for x, v in out.items()}


def test_coefficients_over_time_band(yearly):
    before = yearly.copy()
    fig = coefficients_over_time(yearly)
    assert [ax.get_title() for ax in fig.axes] == ["vra", "ds"]  # const left out by default
    for ax, term in zip(fig.axes, ["vra", "ds"]):
        sub = yearly[yearly["term"] == term]
        lim = band_limits(ax)
        assert sorted(lim) == [2010.0, 2011.0, 2012.0, 2013.0]
        for year, b, s in zip(sub["year"], sub["estimate"], sub["std_error"]):
            lo, hi = lim[float(year)]
            assert abs(lo - (b - Z95 * s)) < 1e-9 and abs(hi - (b + Z95 * s)) < 1e-9
        np.testing.assert_allclose(ax.lines[0].get_ydata(), sub["estimate"], atol=0)
    pd.testing.assert_frame_equal(yearly, before)


def test_coefficients_over_time_options(yearly):
    fig = coefficients_over_time(yearly, terms=["const", "vra"], level=0.90)
    assert [ax.get_title() for ax in fig.axes] == ["const", "vra"]
    z = stats.norm.ppf(0.95)
    lo, hi = band_limits(fig.axes[1])[2012.0]
    assert lo == pytest.approx(0.22 - z * 0.05, abs=1e-12) and hi == pytest.approx(
        0.22 + z * 0.05, abs=1e-12
    )
    with pytest.raises(InputError, match=r"term\(s\) \['rho'\] are not estimated"):
        coefficients_over_time(yearly, terms=["rho"])
    with pytest.raises(InputError, match="level must lie strictly between 0 and 1"):
        coefficients_over_time(yearly, level=95)
    with pytest.raises(InputError, match="appear more than once"):
        coefficients_over_time(pd.concat([yearly, yearly]))


def test_coefficients_over_time_on_estimate_by_year(synthetic_data):
    fit = geoattr.estimate(synthetic_data, "2022", years=(2015, 2020))
    frame = geoattr.estimate_by_year(fit.design).to_frame()
    fig = coefficients_over_time(frame, terms=["vra"])
    r = geoattr.estimate_by_year(fit.design).results[2017]
    lo, hi = band_limits(fig.axes[0])[2017.0]
    assert abs(hi - (r.params["vra"] + Z95 * r.std_errors["vra"])) < 1e-9
    assert abs(lo - (r.params["vra"] - Z95 * r.std_errors["vra"])) < 1e-9


def test_ranking_bars_from_attractiveness(att):
    fig = ranking_bars(att, n=3)
    ax = fig.axes[0]
    assert len(ax.patches) == 6
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # top to bottom: most attractive first, least attractive last
    ys = [p.get_y() for p in ax.patches]
    order = [labels[i] for i in np.argsort(ys)[::-1]]
    assert order == ["0011", "0010", "0009", "0002", "0001", "0000"]
    widths = {lab: p.get_width() for lab, p in zip(labels, ax.patches)}
    means = att["residual"].groupby(level="unit").mean()
    for u, w in widths.items():
        assert w == pytest.approx(means[u], abs=1e-12)
    assert len(ranking_bars(att, n=10).axes[0].patches) == 12  # 2n > units: all of them once


def test_ranking_bars_from_rankings_and_cumulate(att):
    cum = geoattr.cumulate(att)
    fig = ranking_bars(cum, n=2)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0011", "0010", "0001", "0000"]
    rk = geoattr.rankings(cum, n=2, names=pd.Series({u: f"kommune {u}" for u in cum.index}))
    fig = ranking_bars(rk, n=2)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "kommune 0011",
        "kommune 0010",
        "kommune 0001",
        "kommune 0000",
    ]
    assert [p.get_width() for p in ax.patches] == pytest.approx(
        list(cum.loc[["0011", "0010", "0001", "0000"], "residual"]), abs=1e-12
    )
    with pytest.raises(InputError, match="pass the output of geoattr.attractiveness"):
        ranking_bars(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(InputError, match="n must be an integer >= 1"):
        ranking_bars(att, n=0)


@pytest.fixture
def decomposition():
    comps = {
        "expected_births": 50.0,
        "expected_deaths": -40.0,
        "national_immigration": 30.5,
        "attractiveness": -12.25,
        "discrepancy": 0.0,
    }
    rows = [("0301", "observed", sum(comps.values()))] + [("0301", c, v) for c, v in comps.items()]
    rows += [("1101", "observed", 1.5), ("1101", "attractiveness", 1.0)]  # rounded: a 0.5 gap
    return pd.DataFrame(rows, columns=["unit", "component", "persons_per_year"])


def test_decomposition_waterfall(decomposition):
    before = decomposition.copy()
    fig = decomposition_waterfall(decomposition, "0301", names={"0301": "Oslo"})
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 6
    assert abs(bars[-1].get_height() - 28.25) < 1e-9 and bars[-1].get_y() == 0.0
    # each component starts where the previous one ended
    starts = np.cumsum([0.0, 50.0, -40.0, 30.5, -12.25])
    for bar, start, h in zip(bars[:-1], starts, [50.0, -40.0, 30.5, -12.25, 0.0]):
        assert bar.get_y() == pytest.approx(start) and bar.get_height() == pytest.approx(h)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "observed change"
    assert "Oslo" in ax.get_title()
    pd.testing.assert_frame_equal(decomposition, before)


def test_decomposition_waterfall_total_is_observed(decomposition):
    bars = decomposition_waterfall(decomposition, "1101").axes[0].patches
    assert bars[0].get_y() + bars[0].get_height() == 1.0
    assert abs(bars[-1].get_height() - 1.5) < 1e-9  # the total is the observed value, not the sum


def test_decomposition_waterfall_errors(decomposition):
    with pytest.raises(InputError, match=r"unit '9999' is not in the decomposition"):
        decomposition_waterfall(decomposition, "9999")
    with pytest.raises(InputError, match="has no 'observed' component"):
        decomposition_waterfall(decomposition[decomposition["component"] != "observed"], "0301")
    with pytest.raises(InputError, match=r"components \['observed'\] appear twice"):
        decomposition_waterfall(pd.concat([decomposition, decomposition.head(1)]), "0301")


def test_decomposition_waterfall_on_decompose(synthetic_data):
    fit = geoattr.estimate(synthetic_data, "2022", years=(2015, 2020))
    dec = geoattr.decompose(fit)
    unit = dec["unit"].iloc[0]
    observed = dec[(dec["unit"] == unit) & (dec["component"] == "observed")][
        "persons_per_year"
    ].item()
    ax = decomposition_waterfall(dec, unit).axes[0]
    assert abs(ax.patches[-1].get_height() - observed) < 1e-9
    last = ax.patches[-2]
    assert abs(last.get_y() + last.get_height() - observed) < 1e-6  # the components reach the total


def test_forest_plot():
    a = make_result(
        {"const": 1.0, "vra": 0.25, "ds": -0.4}, {"const": 0.1, "vra": 0.02, "ds": 0.05}
    )
    b = make_result({"const": 0.9, "vra": 0.3}, {"const": 0.1, "vra": 0.04})
    fig = forest_plot({"OLS": a, "robust": b})
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    expected = {"OLS": {"vra": (0.25, 0.02), "ds": (-0.4, 0.05)}, "robust": {"vra": (0.3, 0.04)}}
    npoints = 0
    for cont, (model, terms) in zip(ax.containers, expected.items()):
        x = cont.lines[0].get_xdata()
        segs = cont.lines[2][0].get_segments()
        assert list(x) == pytest.approx([b for b, _ in terms.values()])
        for seg, (b, s) in zip(segs, terms.values()):
            assert abs(seg[0][0] - (b - Z95 * s)) < 1e-9 and abs(seg[1][0] - (b + Z95 * s)) < 1e-9
        npoints += len(x)
    assert npoints == 3  # const left out; ds only in OLS
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == ["ds (OLS)", "vra (OLS)", "vra (robust)"]
    ys = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert ys["vra (OLS)"] > ys["vra (robust)"] > ys["ds (OLS)"]  # terms grouped, top to bottom


def test_forest_plot_duck_typed_and_errors():
    r = SimpleNamespace(params=pd.Series({"x": 2.0}), std_errors=pd.Series({"x": 0.5}))
    ax = forest_plot({"m": r}, level=0.9).axes[0]
    seg = ax.containers[0].lines[2][0].get_segments()[0]
    z = stats.norm.ppf(0.95)
    assert seg[0][0] == pytest.approx(2.0 - z * 0.5, abs=1e-12) and seg[1][0] == pytest.approx(
        2.0 + z * 0.5
    )
    with pytest.raises(InputError, match="model 'bad' has no params"):
        forest_plot({"m": r, "bad": object()})
    with pytest.raises(InputError, match=r"term\(s\) \['y'\] are not estimated"):
        forest_plot({"m": r}, terms=["y"])


def test_saving(att, yearly, decomposition, tmp_path):
    png, svg = tmp_path / "ove.png", tmp_path / "bars.SVG"
    fig = observed_vs_expected(att, path=png)
    assert isinstance(fig, Figure)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ranking_bars(att, path=svg)
    assert "<svg" in svg.read_text()
    coefficients_over_time(yearly, path=str(tmp_path / "c.png"))
    decomposition_waterfall(decomposition, "1101", path=tmp_path / "w.svg")
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG") and "<svg" in (
        tmp_path / "w.svg"
    ).read_text()
    bad = tmp_path / "fig.pdf"
    with pytest.raises(InputError, match=r"suffix must be one of \['.png', '.svg'\]"):
        forest_plot({"m": SimpleNamespace(params=pd.Series({"x": 1.0}))}, path=bad)
    with pytest.raises(InputError, match="suffix must be one of"):
        observed_vs_expected(att, path=tmp_path / "noext")
    assert not bad.exists()
