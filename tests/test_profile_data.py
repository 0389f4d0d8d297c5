"""The profile pages' numbers computed once for all units (issue 20) equal the per-unit computation.

Every all-units function is pinned to the per-unit path it replaces, exactly (the pages
must stay byte-identical): ``waterfall_svgs`` to ``waterfall_svg`` of each unit,
``breakdown_sections`` to ``breakdown_section`` of each unit's rows and to the tables
the pages had before (a copy of that code below), ``unit_years`` to ``att.xs(unit)``
with the unit's intervals reindexed to its years, ``commuting_destinations`` to the
per-origin grouping the pages used before (a copy below), ``format_cells`` to
``format_cell`` and ``html_table_rows`` to ``html_table``.  Inputs are shuffled, with
ties, missing values, zero totals and units missing from one table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoattr._format import escape_html
from geoattr.exceptions import InputError
from geoattr.report.breakdown import breakdown_section, breakdown_sections
from geoattr.report.page import format_cell, format_cells, html_table, html_table_rows
from geoattr.report.profile_data import commuting_destinations, unit_years
from geoattr.report.waterfall import unit_components, waterfall_steps, waterfall_svg, waterfall_svgs

RNG = np.random.default_rng(20)
UNITS = ["0301", "K 1", "1101", "x/y", "5001"]


def _shuffled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[RNG.permutation(len(frame))].reset_index(drop=True)


# --------------------------------------------------------------------------- formatting
def test_format_cells_equals_format_cell():
    values = np.array([0.0, -0.0, -0.004, 0.004, -0.005, 1234567.891, -1234.5, np.nan, np.inf, -np.inf, 1e-300,
                       -2.5e10, 0.125, -0.125])
    values = np.concatenate([values, [999.994, 999.995, 999.9951, -999.96, 999.4, 999.5, -0.5, -0.49, -0.05, 0.05],
                             RNG.choice([-1, 1], 3000) * 10 ** RNG.uniform(-5, 8, 3000)])
    for digits in (0, 1, 2, 3):
        assert format_cells(values, digits) == [format_cell(v, digits) for v in values]
    assert format_cells(values.astype(np.float32), 2) == [format_cell(v, 2) for v in values.astype(np.float32)]
    ints = np.array([3, -4, 1234567])
    assert format_cells(ints, 2) == [format_cell(v, 2) for v in ints] == ["3", "-4", "1,234,567"]
    assert format_cells(np.array(["a<b", 1.5], dtype=object), 1) == ["a&lt;b", "1.5"]
    assert format_cells(np.array([-0.0001]), 2) == ["0.00"]  # never "-0.00" (hand check)


def test_html_table_rows_equals_html_table():
    frame = pd.DataFrame({"destination": ["0301", "other"], "name": ["Oslo <by>", "2 units"],
                          "commuters": [1200, 3], "share (%)": [99.75, 0.25]})
    assert html_table_rows(list(frame.columns), frame.itertuples(index=False), digits=1, cls="plain x") \
        == html_table(frame, digits=1, cls="plain x")
    rows = [("0301", "Oslo <by>", 1200, 99.75), ("other", "2 units", np.int64(3), np.float64(0.25))]
    assert html_table_rows(list(frame.columns), rows, digits=1, cls="plain x") == html_table(frame, digits=1,
                                                                                             cls="plain x")


# --------------------------------------------------------------------------- waterfalls
@pytest.fixture
def decomposition() -> pd.DataFrame:
    comps = ["observed", "expected_births", "fertility_deviation", "expected_deaths", "mortality_deviation",
             "national_immigration", "centrality", "own_job_growth", "attractiveness", "students", "discrepancy"]
    rows = []
    for i, u in enumerate(UNITS[:4]):
        members = comps if i != 2 else ["observed", "centrality", "discrepancy"]  # no natural change group
        rows += [(u, c, float(RNG.normal(0, 50))) for c in members]
    frame = _shuffled(pd.DataFrame(rows, columns=["unit", "component", "persons_per_year"]))
    frame.loc[len(frame)] = [None, "observed", 1.0]  # a row without a unit: left out, as by groupby
    return frame


def test_waterfall_svgs_equal_waterfall_svg_per_unit(decomposition):
    titles = {u: f"change of {u} <b>" for u in UNITS}
    svgs = waterfall_svgs(decomposition, titles=titles)
    assert list(svgs) == list(dict.fromkeys(decomposition["unit"].dropna()))
    for u, svg in svgs.items():
        assert svg == waterfall_svg(decomposition, u, title=titles[u])
    comps = unit_components(decomposition)
    for u, (names, values) in comps.items():
        rows = decomposition[decomposition["unit"] == u]
        assert names == rows["component"].tolist() and values == rows["persons_per_year"].tolist()
    # the steps behind the chart, by hand for the unit with three components: centrality, then discrepancy
    steps = waterfall_steps(decomposition, UNITS[2])
    v = dict(zip(*comps[UNITS[2]]))
    assert steps["component"].tolist() == ["centrality", "net_migration", "discrepancy", "observed"]
    assert steps["end"].tolist() == pytest.approx([v["centrality"], v["centrality"],
                                                   v["centrality"] + v["discrepancy"], v["observed"]], abs=0)


def test_waterfall_svgs_name_the_bad_unit(decomposition):
    twice = pd.concat([decomposition, decomposition.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match=rf"appear twice for unit {decomposition['unit'].iloc[0]!r}"):
        waterfall_svgs(twice)
    no_obs = decomposition[~((decomposition["unit"] == "1101") & (decomposition["component"] == "observed"))]
    with pytest.raises(InputError, match="unit '1101' has no 'observed' component"):
        waterfall_svgs(no_obs)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['persons_per_year'\]"):
        unit_components(decomposition.drop(columns="persons_per_year"))


# --------------------------------------------------------------------------- VRA breakdown
def _old_year_tables(rows: pd.DataFrame) -> str:
    """The breakdown tables as the profile pages wrote them before issue 20 (reference copy)."""
    order = np.argsort(rows["year"].to_numpy(), kind="stable")
    years = rows["year"].to_numpy()[order]
    names = rows["workplace_name"].to_numpy(dtype=object)[order].tolist()
    ids = rows["workplace"].to_numpy(dtype=object)[order].tolist()
    labels = [f"{escape_html(n)} ({escape_html(i)})" for n, i in zip(names, ids)]
    share, contrib = rows["share"].to_numpy(dtype=float)[order], rows["contribution"].to_numpy(dtype=float)[order]
    growth = rows["relative_growth"].to_numpy(dtype=float)[order].tolist()
    cuts = np.flatnonzero(years[1:] != years[:-1]) + 1
    out = []
    for lo, hi in zip(np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [len(years)]]).tolist()):
        body = "".join(f"<tr><td>{labels[i]}</td><td>{format_cell(100 * float(share[i]), 1)}</td>"
                       f"<td>{format_cell(float(growth[i]), 2)}</td><td>{format_cell(float(contrib[i]), 3)}</td></tr>"
                       for i in range(lo, hi))
        total = (f"<tr><th>total (VRA)</th><th>{format_cell(100 * float(np.nansum(share[lo:hi])), 1)}</th><th></th>"
                 f"<th>{format_cell(float(np.nansum(contrib[lo:hi])), 3)}</th></tr>")
        y = int(years[lo])
        out.append(f'<table class="plain vra-breakdown" data-year="{y}" id="vra-{y}">'
                   "<thead><tr><th>workplace</th><th>share of employed residents (%)</th>"
                   "<th>relative job growth (%)</th><th>contribution (pp)</th></tr></thead>"
                   f"<tbody>{body}</tbody><tfoot>{total}</tfoot></table>")
    return "".join(out)


@pytest.fixture
def breakdown() -> pd.DataFrame:
    rows = []
    for u in UNITS[:4]:
        for y in (2005, 2003, 2004):  # 1 to 300 workplaces a year: sums of every length numpy sums differently
            for w in [f"W{i}" for i in RNG.choice(400, size=int(RNG.choice([1, 2, 7, 8, 9, 17, 128, 129, 300])),
                                                   replace=False)]:
                share, growth = float(RNG.uniform(0, 0.6)), float(RNG.normal(0, 3))
                rows.append((u, f"name {u}", y, w, f"<{w}>", share, growth, share * growth, 0 if u != "1101" else 1))
    frame = _shuffled(pd.DataFrame(rows, columns=["unit", "unit_name", "year", "workplace", "workplace_name", "share",
                                                  "relative_growth", "contribution", "lag"]))
    frame.loc[3, "share"] = np.nan  # a missing share: blank cell, left out of the total
    frame.loc[5, "contribution"] = -0.0004  # rounds to "0.000", never "-0.000"
    return frame


def test_breakdown_sections_equal_breakdown_section_per_unit(breakdown):
    names = {u: f"Town {u} & co" for u in UNITS}
    got = breakdown_sections(breakdown, names=names)
    assert list(got) == list(dict.fromkeys(breakdown["unit"]))
    for u, html in got.items():
        rows = breakdown[breakdown["unit"] == u]
        assert html == breakdown_section(rows, name=names[u])
        assert _old_year_tables(rows) in html  # the tables the pages had before, byte for byte
        assert ("VRA lagged 1 year(s)" in html) == (u == "1101")
    assert breakdown_sections(breakdown.iloc[:0]) == {}
    assert breakdown_sections(breakdown)["0301"] == breakdown_section(breakdown[breakdown["unit"] == "0301"],
                                                                      name="0301")
    # a total by hand: the 2003 contributions of 0301, missing values left out
    r = breakdown[(breakdown["unit"] == "0301") & (breakdown["year"] == 2003)]
    assert f"<th>{format_cell(float(np.nansum(r['contribution'].to_numpy())), 3)}</th></tr></tfoot>" in \
        got["0301"].split('id="vra-2003"')[1]
    with pytest.raises(InputError, match=r"lacks column\(s\) \['share'\]"):
        breakdown_sections(breakdown.drop(columns="share"))


# --------------------------------------------------------------------------- attractiveness by unit
def test_unit_years_equal_the_per_unit_selection():
    idx = pd.MultiIndex.from_tuples([(u, y) for u in UNITS[:3] for y in (2004, 2002, 2003)], names=["unit", "year"])
    att = pd.DataFrame({"actual": RNG.normal(size=9), "expected": RNG.normal(size=9)}, index=idx)
    att["residual"] = att["actual"] - att["expected"]
    att = att.iloc[RNG.permutation(9)]
    iv = pd.DataFrame({"se": RNG.uniform(0.1, 1, 9), "lower": RNG.normal(size=9) - 2, "upper": RNG.normal(size=9) + 2},
                      index=idx).drop(index=[("K 1", 2003)])  # a year without an interval
    got = unit_years(att, iv)
    assert list(got) == list(dict.fromkeys(att.index.get_level_values("unit")))
    for u, g in got.items():
        a = att.xs(u, level="unit").sort_index()
        ref = iv.xs(u, level=0).reindex([int(y) for y in a.index])
        assert g.years == [2002, 2003, 2004]
        np.testing.assert_array_equal(g.residual, a["residual"].to_numpy())
        np.testing.assert_array_equal(g.lower, a["actual"].to_numpy() - ref["upper"].to_numpy())
        np.testing.assert_array_equal(g.upper, a["actual"].to_numpy() - ref["lower"].to_numpy())
        np.testing.assert_array_equal(g.se, ref["se"].to_numpy())
        assert np.isnan(g.persons).all()
        assert g.table_rows[0] == (f'<tr id="y2002"><td>2002</td><td>{format_cell(a["actual"].iloc[0])}</td>'
                                   f'<td>{format_cell(a["expected"].iloc[0])}</td>'
                                   f'<td>{format_cell(a["residual"].iloc[0])}</td>'
                                   f'<td>{format_cell(g.lower[0])}</td><td>{format_cell(g.upper[0])}</td></tr>')
    assert np.isnan(got["K 1"].lower[1]) and got["K 1"].table_rows[1].endswith("<td></td><td></td></tr>")
    no_iv = unit_years(att)["0301"]
    assert no_iv.lower is None and no_iv.se is None and no_iv.table_rows[0].endswith("<td></td><td></td></tr>")


# --------------------------------------------------------------------------- commuting destinations
def _old_destinations(flows, year, names, top):
    """The per-origin grouping the profile pages used before issue 20 (reference copy)."""
    fl = flows[flows["year"] == year]
    out = {}
    for u, g in fl.groupby("origin", sort=False):
        g = g.groupby("destination")["count"].sum().sort_values(ascending=False)
        total = g.sum()
        if total <= 0:
            continue
        head = g.head(top)
        rows = pd.DataFrame({"destination": head.index.astype(str), "name": [names.get(d, d) for d in head.index],
                             "commuters": head.to_numpy(), "share (%)": 100 * head.to_numpy() / total})
        rest = g.iloc[top:].sum()
        if rest > 0:
            rows.loc[len(rows)] = ["other", f"{len(g) - len(head)} units", rest, 100 * rest / total]
        out[u] = rows
    return out


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_commuting_destinations_equal_the_per_origin_grouping(dtype):
    dests = [f"D{i:02d}" for i in range(40)]
    rows = [(y, o, d, int(RNG.integers(0, 5)) * 10)  # many ties: the order of equal counts must not change
            for y in (2010, 2011) for o in UNITS for d in RNG.choice(dests, size=30)]
    rows += [(2011, "zero", "D01", 0), (2011, "zero", "D02", 0)]  # nobody commutes: left out
    flows = _shuffled(pd.DataFrame(rows, columns=["year", "origin", "destination", "count"]).astype({"count": dtype}))
    names = pd.Series({"D01": "First <one>", "D03": "Third"}, dtype=object)
    for top in (1, 5, 40):
        got, year = commuting_destinations(flows, names=names, top=top)
        ref = _old_destinations(flows, 2011, names, top)
        assert year == 2011 and set(got) == set(ref) and "zero" not in got
        for u, frame in ref.items():
            assert html_table_rows(got[u].columns, got[u].rows, digits=1) == html_table(frame, digits=1), (u, top)
    assert commuting_destinations(None) == ({}, None)
    with pytest.raises(InputError, match="flows has no rows for year 1999; its years are \\[2010, 2011\\]"):
        commuting_destinations(flows, year=1999)


def test_segment_sums_are_the_sums_of_the_slices_bit_for_bit():
    # the yearly totals of the breakdown are np.nansum of each year's rows; summed in bulk they must not
    # move in the last bit (np.add.reduceat does: another order of summation)
    from geoattr.report.breakdown import _segment_sums

    x = RNG.normal(size=20_000) * 10 ** RNG.uniform(-4, 4, 20_000)
    cuts = np.unique(np.concatenate([[0], RNG.integers(0, len(x), 700), np.arange(0, 2000, 9)]))
    lo, hi = cuts, np.append(cuts[1:], len(x))
    got = _segment_sums(x, lo, hi)
    ref = np.array([np.nansum(x[a:b]) for a, b in zip(lo, hi)])
    assert len(set((hi - lo).tolist())) > 20 and np.array_equal(got, ref)  # exact, no tolerance
    assert not np.array_equal(np.add.reduceat(x, lo), ref)  # the test can tell the orders apart
