"""The waterfall of a unit's population change, with subtotals, as steps and as inline SVG.

:func:`waterfall_steps` orders the components of :func:`geoattr.decompose` for one unit
into the bars of a waterfall: the births and deaths, then their subtotal *natural
change*; the forces of migration, then their subtotal *net migration*; what is left
(``discrepancy`` and any component of another name); and the *observed change* from
zero.  Each component bar starts where the previous one ended; a subtotal spans the
bars of its group.  :func:`geoattr.report.figures.decomposition_waterfall` draws these
steps with matplotlib (``subtotals=True``), :func:`waterfall_svg` as a small inline SVG
for the profile pages (no plotting library, no script).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from geoattr._docstrings import fill_doc
from geoattr._format import escape_html
from geoattr.data.grouping import group_runs
from geoattr.exceptions import InputError
from geoattr.report.labels import COMPONENT_LABELS

__all__ = ["COMPONENT_LABELS", "NATURAL_CHANGE", "NET_MIGRATION", "component_values", "waterfall_steps",
           "unit_components", "waterfall_svg", "waterfall_svgs"]

#: The unit-and-frame parameters of the waterfall functions.
_UNIT_FRAME = """decomposition_frame : pandas.DataFrame
    Output of :func:`geoattr.decompose`.
unit : str
    Unit id."""

#: Components summed into the *natural change* subtotal, in order.
NATURAL_CHANGE = ("expected_births", "fertility_deviation", "expected_deaths", "mortality_deviation")
#: Components summed into the *net migration* subtotal, in order.
NET_MIGRATION = ("national_immigration", "centrality", "neighbour_job_growth", "own_job_growth",
                 "demographic_supply", "other", "attractiveness")


def component_values(decomposition_frame: pd.DataFrame, unit: Any) -> pd.Series:
    """One unit's components (index component, persons per year), checked.

    Parameters
    ----------
    decomposition_frame : pandas.DataFrame
        Output of :func:`geoattr.decompose` (``unit, component, persons_per_year``).
    unit : str
        Unit id.

    Returns
    -------
    pandas.Series
        In the table's order, ``observed`` included.

    Raises
    ------
    InputError
        Missing columns, an unknown unit, duplicated components or no ``observed`` row.
    """
    _check_columns(decomposition_frame)
    rows = decomposition_frame[decomposition_frame["unit"] == unit]
    if rows.empty:
        some = list(dict.fromkeys(decomposition_frame["unit"]))[:5]
        raise InputError(f"unit {unit!r} is not in the decomposition; its units include {some}")
    comp = rows["component"].astype(str)
    _check_components(comp, unit)
    return pd.Series(rows["persons_per_year"].to_numpy(dtype=float), index=comp.to_numpy())


def _check_columns(frame: Any) -> None:
    miss = [c for c in ("unit", "component", "persons_per_year") if c not in getattr(frame, "columns", ())]
    if miss:
        raise InputError(f"the decomposition lacks column(s) {miss}; pass the output of geoattr.decompose()")


def _check_components(comp: pd.Series, unit: Any) -> None:
    """One unit's components: each at most once, ``observed`` among them."""
    if comp.duplicated().any():
        raise InputError(f"components {sorted(set(comp[comp.duplicated()]))} appear twice for unit {unit!r}")
    if "observed" not in set(comp):
        raise InputError(f"the decomposition of unit {unit!r} has no 'observed' component")


@fill_doc(unit_frame=_UNIT_FRAME)
def waterfall_steps(decomposition_frame: pd.DataFrame, unit: Any) -> pd.DataFrame:
    """The bars of a unit's waterfall with the subtotals natural change and net migration.

    Parameters
    ----------
    {unit_frame}

    Returns
    -------
    pandas.DataFrame
        One row per bar, in drawing order: ``component`` (the id, or
        ``natural_change`` / ``net_migration`` / ``observed``), ``label`` (readable),
        ``kind`` (``"component"``, ``"subtotal"`` or ``"total"``), ``value``, ``start``
        and ``end`` (persons per year).  The last component ends at the sum of the
        components; the total runs from zero to the observed change.  A subtotal is
        absent when its group has no component.
    """
    values = component_values(decomposition_frame, unit)
    out = pd.DataFrame(_step_rows(values.index.tolist(), values.to_numpy().tolist()),
                       columns=["component", "kind", "value", "start", "end"])
    out.insert(1, "label", [_label(c) for c in out["component"]])
    return out


def _label(component: str) -> str:
    """A component's label: :data:`COMPONENT_LABELS`, else its name with spaces."""
    return COMPONENT_LABELS.get(component, component.replace("_", " "))


def _step_rows(components: list[str], values: list[float]) -> list[tuple[str, str, float, float, float]]:
    """The bars of :func:`waterfall_steps` (``component, kind, value, start, end``) from one unit's components."""
    at = dict(zip(components, values))
    rows: list[tuple[str, str, float, float, float]] = []
    level = 0.0

    def add(members: list[str]) -> float:
        nonlocal level
        for c in members:
            v = float(at[c])
            rows.append((c, "component", v, level, level + v))
            level += v
        return level

    groups = (("natural_change", NATURAL_CHANGE), ("net_migration", NET_MIGRATION))
    for name, members in groups:
        present = [c for c in members if c in at]
        if present:
            begin = level
            end = add(present)
            rows.append((name, "subtotal", end - begin, begin, end))
    grouped = {c for _, m in groups for c in m} | {"observed", "discrepancy"}
    add([c for c in components if c not in grouped] + (["discrepancy"] if "discrepancy" in at else []))
    rows.append(("observed", "total", float(at["observed"]), 0.0, float(at["observed"])))
    return rows


def _signed(v: float) -> str:
    """``+1,234.5`` / ``-0.3``; never ``-0.0``."""
    return f"{round(float(v), 1) + 0.0:+,.1f}"


_FILL = {"component": ("#2166ac", "#b2182b"), "subtotal": ("#7f7f7f", "#7f7f7f"), "total": ("#333333", "#333333")}


@fill_doc(unit_frame=_UNIT_FRAME)
def waterfall_svg(decomposition_frame: pd.DataFrame, unit: Any, *, title: str = "", width: int = 640) -> str:
    """A unit's waterfall (:func:`waterfall_steps`) as an inline SVG, one row per bar.

    Rows read from top to bottom: a readable name on the left, a horizontal bar from the
    step's start to its end (blue up, red down; subtotals grey, the observed change
    dark), the value on the right; a dashed line marks zero.  Every bar carries a
    ``<title>`` (its name and value) as a tooltip.

    Parameters
    ----------
    {unit_frame}
    title : str, default ""
        Accessible name of the chart (``aria-label``).
    width : int, default 640
        Width in pixels.

    Returns
    -------
    str
        ``<svg class="chart waterfall" ...>...</svg>``.
    """
    values = component_values(decomposition_frame, unit)
    return _svg(_step_rows(values.index.tolist(), values.to_numpy().tolist()), title=title, width=width)


def waterfall_svgs(decomposition_frame: pd.DataFrame, *, titles: Mapping[Any, str] | None = None,
                   width: int = 640) -> dict[Any, str]:
    """:func:`waterfall_svg` of every unit of the decomposition, in one pass over the table.

    Parameters
    ----------
    decomposition_frame : pandas.DataFrame
        Output of :func:`geoattr.decompose`.
    titles : mapping, optional
        Unit id -> accessible name of its chart (default ``""``).
    width : int, default 640
        Width in pixels.

    Returns
    -------
    dict
        Unit id -> the SVG of ``waterfall_svg(decomposition_frame, unit, title=titles[unit])``,
        in the order of the units' first rows.

    Raises
    ------
    InputError
        As :func:`component_values`: missing columns, a unit with a component twice or
        without ``observed`` (the first such unit named).
    """
    titles = titles if titles is not None else {}
    return {u: _svg(_step_rows(comps, vals), title=titles.get(u, ""), width=width)
            for u, (comps, vals) in unit_components(decomposition_frame).items()}


def unit_components(decomposition_frame: pd.DataFrame) -> dict[Any, tuple[list[str], list[Any]]]:
    """Every unit's components and persons per year, from one pass over the table.

    Parameters
    ----------
    decomposition_frame : pandas.DataFrame
        Output of :func:`geoattr.decompose`.

    Returns
    -------
    dict
        Unit id -> (components as text, their ``persons_per_year`` as Python numbers),
        in the table's order; units in the order of their first rows (a missing unit id
        is left out, as by ``groupby``).

    Raises
    ------
    InputError
        As :func:`component_values`: missing columns, a unit with a component twice or
        without ``observed`` (the first such unit named).
    """
    _check_columns(decomposition_frame)
    codes, units = pd.factorize(decomposition_frame["unit"], sort=False)
    order, starts = group_runs(codes, len(units))
    comps = decomposition_frame["component"].astype(str).to_numpy(dtype=object)[order].tolist()
    vals = decomposition_frame["persons_per_year"].to_numpy()[order].tolist()
    out = {}
    for k, unit in enumerate(units):
        members = comps[starts[k]:starts[k + 1]]
        if len(set(members)) < len(members) or "observed" not in members:
            _check_components(pd.Series(members), unit)
        out[unit] = (members, vals[starts[k]:starts[k + 1]])
    return out


def _svg(steps: list[tuple[str, str, float, float, float]], *, title: str, width: int) -> str:
    """The SVG of :func:`waterfall_svg` from the bars of :func:`_step_rows`."""
    row_h, pad_t, pad_b, label_w, value_w = 22, 8, 8, 230, 70
    height = pad_t + pad_b + row_h * len(steps)
    ends = np.array([r[3] for r in steps] + [r[4] for r in steps] + [0.0], dtype=float)
    ends = ends[np.isfinite(ends)]
    vmin, vmax = float(ends.min()), float(ends.max())
    if vmax - vmin < 1e-12:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    x0, x1 = label_w, width - value_w

    def sx(v: float) -> float:
        return x0 + (v - vmin) / (vmax - vmin) * (x1 - x0)

    out = [f'<svg class="chart waterfall" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape_html(title or "population change by component")}" font-size="11">']
    out.append(f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{pad_t - 4}" y2="{height - pad_b + 4}" stroke="#888" '
               'stroke-dasharray="4 3"/>')
    for i, (component, kind, value, start, end) in enumerate(steps):
        label = _label(component)
        y = pad_t + i * row_h
        a, b = sorted((sx(start), sx(end)))
        fill = _FILL[kind][0 if value >= 0 else 1]
        bold = ' font-weight="bold"' if kind != "component" else ""
        text = escape_html(label)
        out.append(f'<text x="{x0 - 6}" y="{y + 15}" text-anchor="end"{bold}>{text}</text>')
        out.append(f'<rect class="{kind}" data-component="{escape_html(component)}" x="{a:.1f}" y="{y + 3}" '
                   f'width="{max(b - a, 1.0):.1f}" height="{row_h - 6}" fill="{fill}"><title>{text}: '
                   f'{_signed(value)} persons per year</title></rect>')
        out.append(f'<text x="{width - 4}" y="{y + 15}" text-anchor="end"{bold}>{_signed(value)}</text>')
        if i + 1 < len(steps) and kind == "component":
            out.append(f'<line x1="{sx(end):.1f}" x2="{sx(end):.1f}" y1="{y + row_h - 3}" y2="{y + row_h + 3}" '
                       'stroke="#555" stroke-width="0.8"/>')
    out.append("</svg>")
    return "".join(out)
