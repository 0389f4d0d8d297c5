"""Figures and a map of the Barometer (municipalities or regions).

* :func:`barometer_coefficients_figure`: the slope on job growth per period with its
  95 % interval, and the R² of each period's regression;
* :func:`barometer_long_run_bars`: the units with the highest and lowest long-run index
  (:func:`geoattr.report.figures.ranking_bars` on the long-run top and bottom lists);
* :func:`barometer_map`: a web map whose first layer is the long-run index and whose
  second layer has a slider over the periods (labelled by their last year).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from geoattr._docstrings import FIGURE_PATH, fill_doc
from geoattr.barometer import BarometerResults
from geoattr.barometer_regions import barometer_top_bottom
from geoattr.exceptions import InputError
from geoattr.report.figures import ranking_bars
from geoattr.report.maps import residual_map

__all__ = ["barometer_coefficients_figure", "barometer_long_run_bars", "barometer_map"]


def _suffix_ok(path: str | Path | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg"):
        raise InputError(f"figure path {str(p)!r} must end in .png or .svg")
    return p


def _save(fig: Figure, out: Path | None) -> Figure:
    if out is not None:
        fig.savefig(out, format=out.suffix.lower().lstrip("."), dpi=150)
    return fig


@fill_doc(figure_path=FIGURE_PATH)
def barometer_coefficients_figure(bar: BarometerResults, *, level: float = 0.95, path: str | Path | None = None
                                  ) -> Figure:
    """The slope on job growth of each period's regression, with its interval, and the R².

    Parameters
    ----------
    bar : BarometerResults
    level : float, default 0.95
        Confidence level of the intervals (normal approximation).
    {figure_path}
    """
    out = _suffix_ok(path)
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    c = bar.coefficients()
    z = stats.norm.ppf(0.5 + level / 2)
    fig = Figure(figsize=(8, 3.4))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    x = range(len(c))
    ax1.errorbar(x, c["b"], yerr=z * c["se"], fmt="o", color="#2166ac", capsize=3)
    ax1.axhline(0, color="grey", lw=0.8)
    ax1.set_xticks(list(x), list(c.index), rotation=45, ha="right", fontsize=8)
    ax1.set_title(f"slope on job growth, {round(100 * level)} % interval", fontsize=9)
    ax2.bar(list(x), c["r2"], color="#92c5de")
    ax2.set_xticks(list(x), list(c.index), rotation=45, ha="right", fontsize=8)
    ax2.set_ylim(0, 1)
    ax2.set_title("R² of the period's regression", fontsize=9)
    fig.tight_layout()
    return _save(fig, out)


@fill_doc(figure_path=FIGURE_PATH)
def barometer_long_run_bars(bar: BarometerResults, *, n: int = 10, names: pd.Series | None = None,
                            path: str | Path | None = None) -> Figure:
    """Bars of the ``n`` highest and ``n`` lowest long-run indices.

    Parameters
    ----------
    bar : BarometerResults
    n : int, default 10
    names : pandas.Series, optional
        Unit -> name.
    {figure_path}
    """
    out = _suffix_ok(path)
    tb = barometer_top_bottom(bar, n=n, names=names)
    fig = ranking_bars(tb[tb["period"] == "long-run"].drop(columns="period"), n=n)
    ax = fig.axes[0]
    ax.set_title(f"Barometer: highest and lowest long-run index ({bar.options.get('unit_level', 'municipality')}s)")
    ax.set_xlabel("long-run index: sum of the last periods' residuals (percentage points)")
    return _save(fig, out)


def barometer_map(polygons: gpd.GeoDataFrame, bar: BarometerResults, *, names: pd.Series | None = None,
                  path: str | Path | None = None, **map_options: Any) -> folium.Map:
    """Web map of the Barometer: the long-run index, and the index of each period (slider).

    Parameters
    ----------
    polygons : geopandas.GeoDataFrame
        Polygons of the Barometer's units (for regions: ``PanelData.aggregate().polygons``).
    bar : BarometerResults
    names : pandas.Series, optional
        Unit -> name for the tooltips.
    path : str or Path, optional
        Write the HTML there.
    **map_options
        Further :func:`geoattr.report.maps.residual_map` options (``self_contained``,
        ``tiles``...); LISA and profile links are off unless given.

    Returns
    -------
    folium.Map
    """
    idx = bar.index[bar.index["flow"] == "total"].copy()
    idx["residual_persons"] = idx["residual"] * idx["population"] / 100
    idx = idx.rename(columns={"y": "actual"})
    long_periods = [f"{s}-{e}" for s, e in bar.periods[-int(bar.options.get("long_run_periods", 3)):]]
    sums = idx[idx["period"].isin(long_periods)].groupby("unit")[["actual", "expected", "residual",
                                                                   "residual_persons"]].sum()
    yearly = idx.set_index(["unit", "end"]).rename_axis(["unit", "year"])[["actual", "expected", "residual",
                                                                         "residual_persons"]]
    map_options.setdefault("lisa", False)
    map_options.setdefault("profile_links", None)
    level = bar.options.get("unit_level", "municipality")
    return residual_map(polygons, sums, yearly=yearly, names=names, path=path,
                        layer_name=f"Barometer long-run index ({level}s, periods {', '.join(long_periods)})",
                        **map_options)
