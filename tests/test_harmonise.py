"""Code harmonisation with a crosswalk: merges, splits, stable units, flows, errors.

Expected values are hand calculations on a small crosswalk (see ``_cw``), and, for the
real Norwegian crosswalk, figures stated in ``shared/data/norway/README.md`` (353 stable
units for 2017-2024) and national totals of the input file itself.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from geoattr.exceptions import InputError
from geoattr.data.harmonise import (
    REPORT_COLUMNS,
    Crosswalk,
    harmonise_flows,
    harmonise_panel,
)
from tests.conftest import REAL_DATA

# Hand-made crosswalk to "2020" units:
#   2019: 0101 + 0102 -> 0103 (merge); 0201 -> 0202, 0203 (split 0.5/0.5);
#         0301 -> 0301 (identity); 0401 -> 0402 (recode)
#   2020: every code is its own target.
CW_ROWS = [
    (2019, "0101", "0103", 1.0),
    (2019, "0102", "0103", 1.0),
    (2019, "0201", "0202", 0.5),
    (2019, "0201", "0203", 0.5),
    (2019, "0301", "0301", 1.0),
    (2019, "0401", "0402", 1.0),
    (2020, "0103", "0103", 1.0),
    (2020, "0202", "0202", 1.0),
    (2020, "0203", "0203", 1.0),
    (2020, "0301", "0301", 1.0),
    (2020, "0402", "0402", 1.0),
]


def _cw_frame(rows=CW_ROWS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["year", "kommunenummer", "kommunenummer_2024", "weighting"])


def _cw(rows=CW_ROWS) -> Crosswalk:
    return Crosswalk.from_frame(_cw_frame(rows))


def _panel() -> pd.DataFrame:
    rows = [
        # unit, year, population, jobs, net_migration, rate
        ("0101", 2019, 100, 40, 5, 2.0),
        ("0102", 2019, 300, 60, -1, 4.0),
        ("0201", 2019, 1000, 500, 10, 1.0),
        ("0301", 2019, 50, 10, 0, 3.0),
        ("0401", 2019, 70, 7, 2, 5.0),
        ("0103", 2020, 410, 101, 3, 1.5),
        ("0202", 2020, 600, 300, 4, 2.0),
        ("0203", 2020, 420, 210, 6, 1.0),
        ("0301", 2020, 55, 11, 1, 2.5),
        ("0402", 2020, 72, 8, 0, 0.5),
    ]
    df = pd.DataFrame(rows, columns=["unit", "year", "population", "jobs", "net_migration", "rate"])
    return df.set_index(["unit", "year"])


def _flows() -> pd.DataFrame:
    rows = [
        (2019, "0101", "0101", 30),
        (2019, "0101", "0102", 10),
        (2019, "0101", "0201", 4),
        (2019, "0102", "0101", 6),
        (2019, "0201", "0201", 100),
        (2019, "0301", "0401", 3),
        (2019, "0401", "0401", 8),
    ]
    return pd.DataFrame(rows, columns=["year", "origin", "destination", "count"])


# ------------------------------------------------------------------ crosswalk
def test_from_frame_pads_codes_and_validates():
    cw = Crosswalk.from_frame(
        pd.DataFrame({"year": [2020, 2020], "k": [301, 1103], "k24": [301, 1103], "w": [1, 1]}),
        source="k",
        target="k24",
        weight="w",
    )
    assert cw.table.values.tolist() == [[2020, "0301", "0301", 1.0], [2020, "1103", "1103", 1.0]]
    assert cw.years == [2020]
    with pytest.raises(InputError, match=r"table 'crosswalk' lacks column\(s\) 'weighting'"):
        Crosswalk.from_frame(_cw_frame().drop(columns="weighting"))


def test_weights_not_summing_to_one_name_codes_and_years():
    rows = [r if r[1] != "0201" or r[2] != "0203" else (2019, "0201", "0203", 0.4) for r in CW_ROWS]
    rows.append((2020, "0999", "0301", 0.7))
    with pytest.raises(
        InputError,
        match=r"weights must sum to 1 for each \(year, source code\); 2 do not: "
        r"'0201' in 2019 sums to 0\.9; '0999' in 2020 sums to 0\.7",
    ):
        _cw(rows)


def test_negative_zero_and_duplicate_weights():
    neg = CW_ROWS + [(2020, "0500", "0501", 1.5), (2020, "0500", "0502", -0.5)]
    with pytest.raises(
        InputError,
        match=r"1 negative weight\(s\): \(year, source, target, weight\) "
        r"\(2020, '0500', '0502', -0\.5\)",
    ):
        _cw(neg)
    zero = CW_ROWS + [(2020, "0500", "0501", 1.0), (2020, "0500", "0502", 0.0)]
    with pytest.raises(
        InputError, match=r"1 zero weight\(s\).*\(2020, '0500', '0502'\).*remove these rows"
    ):
        _cw(zero)
    dup = CW_ROWS + [CW_ROWS[0]]
    with pytest.raises(
        InputError,
        match=r"1 duplicate \(year, source, target\) row\(s\) over 2 rows: "
        r"\(2019, '0101', '0103'\)",
    ):
        _cw(dup)


def test_crosswalk_refuses_integer_ids_and_missing_weights():
    t = pd.DataFrame({"year": [2020], "source": [301], "target": ["0301"], "weight": [1.0]})
    with pytest.raises(
        InputError, match=r"crosswalk column 'source' must be strings with their leading zeros"
    ):
        Crosswalk(t)
    t = pd.DataFrame({"year": [2020], "source": ["0301"], "target": ["0301"], "weight": [np.nan]})
    with pytest.raises(InputError, match=r"table 'crosswalk' has missing values: column 'weight'"):
        Crosswalk(t)


def test_crosswalk_input_not_mutated():
    df = _cw_frame().astype({"kommunenummer": object})
    df0 = copy.deepcopy(df)
    cw = Crosswalk.from_frame(df.sample(frac=1.0, random_state=0))
    pd.testing.assert_frame_equal(df, df0)
    # the table is sorted, so row order of the input does not matter
    pd.testing.assert_frame_equal(cw.table, _cw().table)
    assert "Crosswalk(years 2019-2020, 11 rows, 5 targets, 1 split (year, code) pairs)" == repr(cw)


def test_for_year():
    fy = _cw().for_year(2019)
    assert list(fy.columns) == ["source", "target", "weight"]
    assert fy.loc[fy.source == "0201", "weight"].tolist() == [0.5, 0.5]
    assert len(fy) == 6
    with pytest.raises(InputError, match=r"no codes for year\(s\) 2017 \(it covers 2019-2020\)"):
        _cw().for_year(2017)


def test_stable_units_by_hand():
    # hand: components {0101, 0102, 0103}, {0201, 0202, 0203}, {0301}, {0401, 0402}
    s = _cw().stable_units([2019, 2020])
    assert s.to_dict() == {
        "0101": "0103",
        "0102": "0103",
        "0103": "0103",
        "0201": "0202+0203",
        "0202": "0202+0203",
        "0203": "0202+0203",
        "0301": "0301",
        "0401": "0402",
        "0402": "0402",
    }
    assert s.index.name == "code" and s.name == "stable_unit"
    # 2020 alone: no split, every code its own unit
    assert _cw().stable_units([2020]).to_dict() == {
        c: c for c in ["0103", "0202", "0203", "0301", "0402"]
    }
    assert _cw().stable_targets(range(2019, 2021)).to_dict() == {
        "0103": "0103",
        "0202": "0202+0203",
        "0203": "0202+0203",
        "0301": "0301",
        "0402": "0402",
    }
    by_year = _cw().stable_units([2019, 2020], by_year=True)
    assert by_year[(2019, "0201")] == "0202+0203" and len(by_year) == 10  # 5 codes in each year


def test_stable_units_chain_and_determinism():
    # a chain of splits links three targets through two codes: X->{T1,T2}, Y->{T2,T3}
    rows = [
        (2019, "X", "T1", 0.5),
        (2019, "X", "T2", 0.5),
        (2020, "Y", "T2", 0.5),
        (2020, "Y", "T3", 0.5),
        (2020, "Z", "T4", 1.0),
    ]
    t = pd.DataFrame(rows, columns=["year", "source", "target", "weight"])
    s = Crosswalk(t).stable_units([2019, 2020])
    assert s.to_dict() == {"X": "T1+T2+T3", "Y": "T1+T2+T3", "Z": "T4"}
    # the years matter: 2019 alone does not link T3
    assert Crosswalk(t).stable_units([2019]).to_dict() == {"X": "T1+T2"}
    shuffled = Crosswalk(t.sample(frac=1.0, random_state=3)).stable_units([2019, 2020])
    pd.testing.assert_series_equal(s, shuffled)


def test_stable_units_code_reused_for_another_territory():
    rows = [(2019, "A", "T1", 1.0), (2020, "A", "T2", 1.0), (2020, "B", "T1", 1.0)]
    cw = Crosswalk(pd.DataFrame(rows, columns=["year", "source", "target", "weight"]))
    with pytest.raises(
        InputError,
        match=r"1 code\(s\) belong to different stable units in different years: "
        r"'A'.*by_year=True",
    ):
        cw.stable_units([2019, 2020])
    assert cw.stable_units([2019, 2020], by_year=True).to_dict() == {
        (2019, "A"): "T1",
        (2020, "A"): "T2",
        (2020, "B"): "T1",
    }
    with pytest.raises(InputError, match=r"no years given"):
        cw.stable_units([])


# ------------------------------------------------------------------ panel
def test_panel_stable_sums_and_weighted_mean_by_hand():
    p = _panel()
    p0 = copy.deepcopy(p)
    res = harmonise_panel(p, _cw(), mean_columns=["rate"])
    pd.testing.assert_frame_equal(p, p0)  # input not mutated
    out = res.panel
    assert list(out.columns) == ["population", "jobs", "net_migration", "rate"]
    assert out.index.names == ["unit", "year"]
    # hand: 0101 + 0102 in 2019
    assert out.loc[("0103", 2019), ["population", "jobs", "net_migration"]].tolist() == [
        400,
        100,
        4,
    ]
    # population-weighted mean: (100*2 + 300*4) / 400 = 3.5 (exact in binary, tolerance 1e-12)
    assert out.loc[("0103", 2019), "rate"] == pytest.approx(3.5, abs=1e-12)
    # hand: 0202 + 0203 in 2020; rate (600*2 + 420*1) / 1020
    assert out.loc[("0202+0203", 2020), "population"] == 1020
    assert out.loc[("0202+0203", 2020), "rate"] == pytest.approx(1620 / 1020, rel=1e-12)
    assert out.loc[("0202+0203", 2019), "population"] == 1000  # the split code, whole
    assert out.loc[("0402", 2019), "population"] == 70  # recoded
    assert out.loc[("0301", 2020), "rate"] == 2.5
    assert len(out) == 8 and res.rows_in == 10 and res.rows_out == 8
    # counts stay integers under merges; totals per year unchanged
    assert out["population"].dtype == np.int64
    assert (
        out.groupby("year")["population"].sum().tolist()
        == p.groupby("year")["population"].sum().tolist()
    )
    assert not res.split_weighted.any() and res.split_weighted.index.equals(out.index)


def test_panel_stable_report():
    rep = harmonise_panel(_panel(), _cw(), mean_columns=["rate"]).report
    assert list(rep.columns) == REPORT_COLUMNS
    got = [tuple(r) for r in rep[["year", "source", "target", "kind"]].itertuples(index=False)]
    assert got == [
        (2019, "0101", "0103", "merge"),
        (2019, "0102", "0103", "merge"),
        (2019, "0201", "0202+0203", "recode"),
        (2019, "0401", "0402", "recode"),
        (2020, "0202", "0202+0203", "merge"),
        (2020, "0203", "0202+0203", "merge"),
    ]
    assert (rep["weight"] == 1.0).all()


def test_panel_target_splits_by_hand():
    res = harmonise_panel(_panel(), _cw(), target="target", mean_columns=["rate"])
    out = res.panel
    # hand: 0201 (pop 1000, jobs 500, nm 10) shared 0.5 / 0.5
    for t in ("0202", "0203"):
        assert out.loc[(t, 2019), ["population", "jobs", "net_migration"]].tolist() == [
            500.0,
            250.0,
            5.0,
        ]
        assert out.loc[(t, 2019), "rate"] == pytest.approx(1.0, abs=1e-12)
        assert res.split_weighted[(t, 2019)]
    assert not res.split_weighted[("0202", 2020)] and res.split_weighted.sum() == 2
    assert out.loc[("0103", 2019), "population"] == 400
    assert out.loc[("0202", 2020), "population"] == 600  # not merged with 0203 in target mode
    assert len(out) == 10
    rep = res.report
    assert rep.loc[rep.kind == "split", ["source", "target", "weight"]].values.tolist() == [
        ["0201", "0202", 0.5],
        ["0201", "0203", 0.5],
    ]
    assert sorted(rep.loc[rep.kind == "merge", "source"]) == ["0101", "0102"]
    assert rep.loc[rep.kind == "recode", "source"].tolist() == ["0401"]
    assert "accounting" not in out.columns
    assert (
        "10 rows on codes aggregated to 10 rows on target units"
        in res.accounting["harmonise_panel"].notes[0]
    )


def test_panel_mean_without_weight_column_and_missing_values():
    p = _panel()
    p.loc[("0102", 2019), "jobs"] = np.nan
    res = harmonise_panel(p, _cw(), mean_columns=["rate"], weight_column=None)
    out = res.panel
    assert out.loc[("0103", 2019), "rate"] == pytest.approx(3.0, abs=1e-12)  # (2 + 4) / 2
    # a missing piece makes the merged count missing, nothing else
    assert np.isnan(out.loc[("0103", 2019), "jobs"])
    assert out.loc[("0103", 2019), "population"] == 400
    assert out["jobs"].isna().sum() == 1


def test_years_of_codes_fixed_year_and_mapping():
    p = _panel().xs(2019, level="year", drop_level=False)
    old = pd.concat(
        [p.rename(index={2019: 2015}, level="year"), p.rename(index={2019: 2016}, level="year")]
    )
    res = harmonise_panel(old, _cw(), years_of_codes=2019, mean_columns=["rate"])
    assert sorted(res.panel.index.get_level_values("year").unique()) == [2015, 2016]
    assert res.panel.loc[("0103", 2016), "population"] == 400
    assert set(res.report["code_year"]) == {2019} and set(res.report["year"]) == {2015, 2016}
    both = pd.concat([old, _panel().xs(2020, level="year", drop_level=False)])
    res2 = harmonise_panel(
        both, _cw(), years_of_codes={2015: 2019, 2016: 2019}, mean_columns=["rate"]
    )
    assert res2.panel.loc[("0202+0203", 2020), "population"] == 1020
    assert res2.panel.loc[("0202+0203", 2015), "population"] == 1000
    with pytest.raises(
        InputError, match=r"no codes for code year\(s\) 2017 \(it covers 2019-2020\)"
    ):
        harmonise_panel(old, _cw(), years_of_codes=2017, mean_columns=["rate"])
    with pytest.raises(InputError, match=r"years_of_codes must be None.*'2019' was given instead"):
        harmonise_panel(old, _cw(), years_of_codes="2019", mean_columns=["rate"])


def test_stable_years_shape_the_units():
    # in 2020 code 0301 straddles 0301 and 0402 of the target vintage
    rows = [r for r in CW_ROWS if not (r[0] == 2020 and r[1] == "0301")]
    rows += [(2020, "0301", "0301", 0.5), (2020, "0301", "0402", 0.5)]
    p = _panel().xs(2019, level="year", drop_level=False)
    alone = harmonise_panel(p, _cw(rows), mean_columns=["rate"]).panel
    assert {"0301", "0402"} <= set(alone.index.get_level_values("unit"))
    joint = harmonise_panel(p, _cw(rows), mean_columns=["rate"], stable_years=[2019, 2020]).panel
    assert joint.loc[("0301+0402", 2019), "population"] == 50 + 70


def test_unknown_codes_raise_or_keep():
    extra = pd.DataFrame(
        {"population": range(12), "jobs": 1, "net_migration": 0, "rate": 1.0},
        index=pd.MultiIndex.from_tuples(
            [(f"99{i:02d}", 2019) for i in range(12)], names=["unit", "year"]
        ),
    )
    p = pd.concat([_panel(), extra])
    with pytest.raises(
        InputError,
        match=r"12 code\(s\) of the panel are not in the crosswalk for their code year: "
        r"\(code, year\) \('9900', 2019\), .*\('9909', 2019\) and 2 more\. "
        r".*on_unknown='keep'",
    ):
        harmonise_panel(p, _cw(), mean_columns=["rate"])
    res = harmonise_panel(p, _cw(), mean_columns=["rate"], on_unknown="keep")
    assert res.panel.loc[("9905", 2019), "population"] == 5
    assert res.panel.loc[("0103", 2019), "population"] == 400
    rep = res.report[res.report.kind == "unknown"]
    assert len(rep) == 12 and (rep.source == rep.target).all()
    # an unknown code equal to a harmonised unit id cannot be kept apart from it
    clash = pd.concat([_panel(), extra.iloc[[0]].rename(index={"9900": "0103"}, level="unit")])
    with pytest.raises(
        InputError,
        match=r"cannot keep the unknown code\(s\) '0103' of the panel as their own units",
    ):
        harmonise_panel(clash, _cw(), mean_columns=["rate"], on_unknown="keep")


def test_incomplete_units_raise_or_keep():
    p = _panel().drop(index=("0102", 2019))
    with pytest.raises(
        InputError,
        match=r"1 harmonised \(unit, year\) of the panel would be incomplete.*"
        r"'0103' in 2019 lacks 0102.*on_incomplete='keep'",
    ):
        harmonise_panel(p, _cw(), mean_columns=["rate"])
    res = harmonise_panel(p, _cw(), mean_columns=["rate"], on_incomplete="keep")
    assert res.panel.loc[("0103", 2019), "population"] == 100
    miss = res.report[res.report.kind == "missing"]
    assert miss[["year", "source", "target"]].values.tolist() == [[2019, "0102", "0103"]]
    # a whole unit absent is not incomplete: the unit is simply absent
    whole = _panel().drop(index=[("0101", 2019), ("0102", 2019)])
    assert ("0103", 2019) not in harmonise_panel(whole, _cw(), mean_columns=["rate"]).panel.index


def test_panel_bad_input_messages():
    p = _panel()
    with pytest.raises(
        InputError, match=r"panel column\(s\) 'rate' are neither summed nor averaged"
    ):
        harmonise_panel(p, _cw())
    with pytest.raises(InputError, match=r"column\(s\) 'jobs' cannot be both summed and averaged"):
        harmonise_panel(p, _cw(), mean_columns=["rate", "jobs"])
    with pytest.raises(
        InputError, match=r"table 'panel' lacks column\(s\) 'pop'.*weight_column='pop'"
    ):
        harmonise_panel(p, _cw(), mean_columns=["rate"], weight_column="pop")
    with pytest.raises(InputError, match=r"table 'panel' lacks column\(s\) 'births'"):
        harmonise_panel(p, _cw(), mean_columns=["rate"], sum_columns=["births"])
    with pytest.raises(
        InputError, match=r"panel unit ids must be strings.*got integer values like \[101"
    ):
        harmonise_panel(
            p.rename(index=lambda u: int(u), level="unit"), _cw(), mean_columns=["rate"]
        )
    with pytest.raises(InputError, match=r"duplicate key.*\('0101', 2019\)"):
        harmonise_panel(pd.concat([p, p.iloc[[0]]]), _cw(), mean_columns=["rate"])
    with pytest.raises(InputError, match=r"panel must be indexed by \(unit, year\)"):
        harmonise_panel(p.reset_index(), _cw(), mean_columns=["rate"])
    with pytest.raises(
        InputError, match=r"target must be one of \['stable', 'target'\]; '2024' was given"
    ):
        harmonise_panel(p, _cw(), mean_columns=["rate"], target="2024")
    with pytest.raises(
        InputError, match=r"on_unknown must be one of \['raise', 'keep'\]; 'drop' was given"
    ):
        harmonise_panel(p, _cw(), mean_columns=["rate"], on_unknown="drop")
    with pytest.raises(TypeError, match=r"crosswalk must be a geoattr Crosswalk"):
        harmonise_panel(p, _cw_frame(), mean_columns=["rate"])
    with pytest.raises(InputError, match=r"table 'panel' has non-numeric values: column 'jobs'"):
        harmonise_panel(p.assign(jobs="x"), _cw(), mean_columns=["rate"])
    with pytest.raises(InputError, match=r"panel has no rows"):
        harmonise_panel(p.iloc[:0], _cw(), mean_columns=["rate"])


def test_panel_row_order_does_not_matter():
    a = harmonise_panel(_panel(), _cw(), mean_columns=["rate"])
    b = harmonise_panel(_panel().sample(frac=1.0, random_state=1), _cw(), mean_columns=["rate"])
    pd.testing.assert_frame_equal(a.panel, b.panel)
    pd.testing.assert_frame_equal(a.report, b.report)


# ------------------------------------------------------------------ flows
def test_flows_stable_both_ends_by_hand():
    f = _flows()
    f0 = copy.deepcopy(f)
    res = harmonise_flows(f, _cw())
    pd.testing.assert_frame_equal(f, f0)
    got = {
        (o, d): c
        for o, d, c in res.flows[["origin", "destination", "count"]].itertuples(index=False)
    }
    # hand: 0101/0102 -> 0103 on both ends: 30 + 10 + 6 = 46 internal
    assert got == {
        ("0103", "0103"): 46,
        ("0103", "0202+0203"): 4,
        ("0202+0203", "0202+0203"): 100,
        ("0301", "0402"): 3,
        ("0402", "0402"): 8,
    }
    assert list(res.flows.columns) == ["year", "origin", "destination", "count"]
    assert res.rows_in == 7 and res.rows_out == 5 and not res.split_weighted.any()
    assert res.flows["count"].dtype == np.int64
    kinds = res.report.groupby("kind")["source"].apply(sorted).to_dict()
    assert kinds == {"merge": ["0101", "0102"], "recode": ["0201", "0401"]}


def test_flows_target_splits_multiply_on_both_ends():
    res = harmonise_flows(_flows(), _cw(), target="target")
    got = {
        (o, d): c
        for o, d, c in res.flows[["origin", "destination", "count"]].itertuples(index=False)
    }
    # hand: 0201 -> 0201 (100) shared 0.5 x 0.5 over four pairs;
    # 0101 -> 0201 (4) shared 0.5 by destination
    assert got == {
        ("0103", "0103"): 46.0,
        ("0103", "0202"): 2.0,
        ("0103", "0203"): 2.0,
        ("0202", "0202"): 25.0,
        ("0202", "0203"): 25.0,
        ("0203", "0202"): 25.0,
        ("0203", "0203"): 25.0,
        ("0301", "0402"): 3.0,
        ("0402", "0402"): 8.0,
    }
    flagged = res.flows.loc[res.split_weighted, ["origin", "destination"]]
    assert (
        len(flagged) == 6
        and not res.split_weighted[
            (res.flows.origin == "0103") & (res.flows.destination == "0103")
        ].any()
    )
    assert res.flows["count"].sum() == pytest.approx(_flows()["count"].sum(), rel=1e-12)


def test_flows_bad_input_messages():
    f = _flows()
    with pytest.raises(InputError, match=r"flows column\(s\) 'note' are not summed"):
        harmonise_flows(f.assign(note="x"), _cw())
    assert harmonise_flows(f.assign(n2=1), _cw(), sum_columns=["n2"]).flows["n2"].sum() == 7
    with pytest.raises(
        InputError, match=r"table 'flows' has 1 duplicate key\(s\) \(year, origin, destination\)"
    ):
        harmonise_flows(pd.concat([f, f.iloc[[0]]]), _cw())
    with pytest.raises(
        InputError,
        match=r"1 code\(s\) of the flows are not in the crosswalk for their code year: "
        r"\(code, year\) \('9999', 2019\)",
    ):
        harmonise_flows(
            pd.concat(
                [
                    f,
                    pd.DataFrame(
                        {"year": [2019], "origin": ["0101"], "destination": ["9999"], "count": [1]}
                    ),
                ]
            ),
            _cw(),
        )
    with pytest.raises(InputError, match=r"flows column 'origin' must be strings"):
        harmonise_flows(f.assign(origin=f.origin.astype(int)), _cw())
    with pytest.raises(InputError, match=r"table 'flows' lacks column\(s\) 'count'"):
        harmonise_flows(f.rename(columns={"count": "n"}), _cw())
    # 0102 absent from both ends in 2019: unit 0103 incomplete
    part = f[(f.origin != "0102") & (f.destination != "0102")]
    with pytest.raises(InputError, match=r"'0103' in 2019 lacks 0102"):
        harmonise_flows(part, _cw())


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def real_cw():
    if not REAL_DATA.exists():
        pytest.skip(f"real Norway data not found at {REAL_DATA}")
    df = pd.read_csv(
        REAL_DATA / "crosswalk" / "kommune_to_2024_by_year.csv",
        dtype={"kommunenummer": str, "kommunenummer_2024": str},
    )
    return Crosswalk.from_frame(df)


@pytest.mark.realdata
def test_real_353_stable_units_2017_2024(real_cw):
    s = real_cw.stable_units(range(2017, 2025))
    assert s.nunique() == 353  # README: linking every code of 2017-2024 gives 353 stable units
    joined = sorted(u for u in s.unique() if "+" in u)
    assert joined == [
        "1508+1580",
        "1806+1875",
        "5055+5056+5059",
    ]  # Ålesund/Haram, Narvik/Hamarøy, Snillfjord
    assert s["0301"] == "0301" and s["1567"] == s["5061"] == "5061"  # Rindal changed code in 2019
    assert real_cw.stable_targets(range(2017, 2025)).nunique() == 353
    assert real_cw.for_year(2024)["source"].nunique() == 357


@pytest.mark.realdata
def test_real_panel_2003_2016_keeps_national_totals(real_cw):
    raw = pd.read_csv(
        REAL_DATA / "jobs" / "kommune_panel_2003_2016.csv", dtype={"kommunenummer": str}
    )
    assert {"kommunenummer", "year", "folketall", "arbeidsplasser"} <= set(raw.columns)
    p = raw.drop(columns="kommunenavn").set_index(["kommunenummer", "year"])
    res = harmonise_panel(
        p,
        real_cw,
        years_of_codes=2017,
        sum_columns=["folketall", "arbeidsplasser"],
        mean_columns=["befolkningsvekst_pct", "fodselsoverskudd_pct"],
        weight_column="folketall",
        stable_years=range(2017, 2025),
    )
    out = res.panel
    # exact (integer) national totals per year, from the input file itself
    for col in ("folketall", "arbeidsplasser"):
        assert out[col].dtype == np.int64
        pd.testing.assert_series_equal(
            out.groupby("year")[col].sum(), p.groupby("year")[col].sum(), check_names=False
        )
    assert (out.groupby("year").size() == 353).all() and res.rows_in == 426 * 14
    # population-weighted national growth is unchanged (sum of rate x population kept), rtol 1e-12
    nat_in = (p["befolkningsvekst_pct"] * p["folketall"]).groupby("year").sum()
    nat_out = (out["befolkningsvekst_pct"] * out["folketall"]).groupby("year").sum()
    np.testing.assert_allclose(nat_out.to_numpy(), nat_in.to_numpy(), rtol=1e-12)
    assert (res.report["kind"].isin(["merge", "recode"])).all() and not res.split_weighted.any()


@pytest.mark.realdata
def test_real_flows_share_the_panel_units(real_cw):
    f = pd.read_csv(
        REAL_DATA / "commuting" / "pendling_03321_2017_2022.csv.gz",
        dtype={"bosted": str, "arbeidssted": str},
    )
    f = f.rename(columns={"bosted": "origin", "arbeidssted": "destination", "sysselsatte": "count"})
    res = harmonise_flows(f, real_cw, stable_years=range(2017, 2025))
    pd.testing.assert_series_equal(
        res.flows.groupby("year")["count"].sum(), f.groupby("year")["count"].sum()
    )
    units = set(real_cw.stable_units(range(2017, 2025)))
    assert set(res.flows["origin"]) | set(res.flows["destination"]) <= units
    # README: 2019 has no rows for Rindal, so 352 of 353 units are origins that year
    assert res.flows.groupby("year")["origin"].nunique().to_dict() == {
        2017: 353,
        2018: 353,
        2019: 352,
        2020: 353,
        2021: 353,
        2022: 353,
    }
    tgt = harmonise_flows(f, real_cw, target="target")
    np.testing.assert_allclose(
        tgt.flows.groupby("year")["count"].sum().to_numpy(),
        f.groupby("year")["count"].sum().to_numpy(),
        rtol=1e-12,
    )
    assert tgt.split_weighted.any() and (tgt.report["kind"] == "split").any()
