"""The main job: `geoattr demo` and `geoattr run CONFIG.toml` write every output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from geoattr import cli, pipeline
from geoattr.exceptions import InputError
from tests.conftest import toy_flows, toy_panel

TERMS = {"const", "vra", "vra_l1", "vra_l2", "centrality", "ds", "ra", "ra_l1", "ra_l2", "nv", "nv_l1", "nv_l2",
         "log_pop", "ami"}


@pytest.mark.slow
def test_demo_writes_all_outputs(demo_output):
    tmp_path, printed = demo_output
    assert str(tmp_path.resolve()) in printed
    coef = pd.read_csv(tmp_path / "coefficients.csv")
    assert list(coef.columns) == ["spec", "level", "term", "estimate", "std_error", "t", "p"]
    assert set(coef.term) == TERMS
    assert set(coef.spec.astype(str)) == {"2018", "2019", "2022"}
    fit = pd.read_csv(tmp_path / "fit.csv")
    assert list(fit.columns) == ["spec", "level", "nobs", "r2", "adj_r2", "loglik", "aic", "bic"]
    assert len(fit) == 6
    att = pd.read_csv(tmp_path / "attractiveness.csv", dtype={"unit": str})
    # the unit's name appended last (issue 17: names in every per-unit output)
    assert list(att.columns) == ["unit", "year", "actual", "expected", "residual", "residual_persons", "name"]
    assert att["name"].notna().all() and (att["name"] != att["unit"]).any()
    assert (att.actual - att.expected - att.residual).abs().max() < 1e-9
    rk = pd.read_csv(tmp_path / "rankings.csv", dtype={"unit": str})
    assert set(rk.level) == {"municipality", "region"} and set(rk.list) == {"top", "bottom"}
    html = (tmp_path / "map.html").read_text()
    assert "folium" in html and "residual" in html
    for name in ("subgroups", "decomposition", "barometer", "drivers", "prediction_intervals", "shrunken_attractiveness",
                 "regimes", "cohort_residual"):
        assert (tmp_path / f"{name}.csv").exists(), name
    dec = pd.read_csv(tmp_path / "decomposition.csv", dtype={"unit": str}).pivot(
        index="unit", columns="component", values="persons_per_year")
    assert (dec.drop(columns="observed").sum(axis=1) - dec["observed"]).abs().max() < 1e-6
    run = json.loads((tmp_path / "run.json").read_text())
    assert {"config", "versions", "timings_seconds", "row_accounting", "notes"} <= set(run)
    assert run["versions"]["libpysal"] != "not installed"
    assert isinstance(run["warnings"], list)
    # the generator's deaths are rounded cell by cell: the estimate tracks the truth closely
    assert run["analyses"]["cohort_residual_agreement"]["correlation"] > 0.99
    acc = {a["table"]: a for a in run["row_accounting"]}
    assert acc["design"]["used"] == len(att)
    # publication outputs: tables, figures, profile pages and the report
    for stem in ("model", "rankings", "rankings_region"):
        assert "\\toprule" in (tmp_path / "tables" / f"{stem}.tex").read_text()
        assert (tmp_path / "tables" / f"{stem}.md").read_text().startswith("|")
    for fig in ("observed_vs_expected", "coefficients_over_time", "ranking_bars", "decomposition_waterfall",
                "forest_plot"):
        assert (tmp_path / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (tmp_path / "figures" / f"{fig}.svg").read_bytes()[:2000]
    assert len(list((tmp_path / "profiles").glob("*.html"))) == att.unit.nunique() + 1  # + index.html
    report = (tmp_path / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 7  # 5 figures + 2 of the robustness battery
    assert "id=\"robustness-table\"" in report and (tmp_path / "robustness.csv").exists()
    assert 'src="map.html"' in report and 'href="profiles/index.html"' in report
    assert 'id="row-accounting"' in report and "2022 (region)" in report
    assert run["outputs"]["report"] == "report.html"
    assert "report.html" in printed


def _write_files(tmp_path):
    p = toy_panel().reset_index().rename(columns={"unit": "kommune", "population": "folketall"})
    p.to_csv(tmp_path / "panel.csv", index=False)
    toy_flows().rename(columns={"origin": "bosted", "destination": "arbeidssted", "count": "n"}).to_csv(
        tmp_path / "flows.csv", index=False)
    pd.DataFrame({"kommune": ["0101", "0102", "0103"], "index": [800, 500, 200]}).to_csv(
        tmp_path / "cent.csv", index=False)
    pd.DataFrame({"kommune": ["0101", "0102", "0103"], "reg": ["R1", "R1", "R2"]}).to_csv(
        tmp_path / "reg.csv", index=False)


CONFIG = """
[data]
source = "files"
years = [2003, 2005]
commuting_year = "same"
panel = { path = "panel.csv", unit_column = "kommune", year_column = "year", columns = { folketall = "population", jobs = "jobs", net_migration = "net_migration" } }
flows = { path = "flows.csv", origin = "bosted", destination = "arbeidssted", value = "n" }
centrality = { path = "cent.csv", unit_column = "kommune", value_column = "index" }
regions = { path = "reg.csv", unit_column = "kommune", region_column = "reg" }

[model]
spec = "2019"
level = "municipality"
cov_type = "robust"
"""


def test_run_config_from_files(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_files(data_dir)
    (tmp_path / "run.toml").write_text(CONFIG)
    out = tmp_path / "out"
    rc = cli.main(["run", str(tmp_path / "run.toml"), "--out", str(out), "--data-dir", str(data_dir), "--no-progress"])
    assert rc == 0
    coef = pd.read_csv(out / "coefficients.csv")
    assert list(coef.term) == ["const", "vra", "vra_l1", "vra_l2", "centrality"]
    att = pd.read_csv(out / "attractiveness.csv", dtype={"unit": str})
    assert sorted(att.unit.unique()) == ["0101", "0102", "0103"]
    assert sorted(att.year.unique()) == [2003, 2004, 2005]
    assert not (out / "map.html").exists()  # no polygons given
    report = (out / "report.html").read_text()  # written without a map: no iframe
    assert "<iframe" not in report and (out / "profiles" / "0103.html").exists()
    (tmp_path / "off.toml").write_text(CONFIG + "\n[output]\ntables = false\nfigures = false\nprofiles = false\n"
                                       "report = false\n")
    off = tmp_path / "off"
    assert cli.main(["run", str(tmp_path / "off.toml"), "--out", str(off), "--data-dir", str(data_dir),
                     "--no-progress"]) == 0
    assert not any((off / name).exists() for name in ("report.html", "profiles", "tables", "figures"))


def test_run_with_crosswalk_merges_old_codes(tmp_path):
    """Unit 0103 delivered as two old codes 0104 + 0105 (halves): the crosswalk merges them
    back, so the run must reproduce the run on the merged data (tolerance 1e-9) and
    harmonisation.csv must list both merges, in the panel and at both ends of the flows."""
    base = tmp_path / "ref"
    base.mkdir()
    _write_files(base)
    (tmp_path / "run.toml").write_text(CONFIG)
    cli.main(["run", str(tmp_path / "run.toml"), "--out", str(tmp_path / "o1"), "--data-dir", str(base),
              "--no-progress"])

    split = tmp_path / "split"
    split.mkdir()
    _write_files(split)
    p = pd.read_csv(split / "panel.csv", dtype={"kommune": str})
    half = p[p.kommune == "0103"].copy()
    half[["folketall", "jobs", "net_migration"]] /= 2
    p = pd.concat([p[p.kommune != "0103"], half.assign(kommune="0104"), half.assign(kommune="0105")])
    p.to_csv(split / "panel.csv", index=False)
    f = pd.read_csv(split / "flows.csv", dtype={"bosted": str, "arbeidssted": str})
    rows = []
    for r in f.itertuples(index=False):
        o = ["0104", "0105"] if r.bosted == "0103" else [r.bosted]
        d = ["0104", "0105"] if r.arbeidssted == "0103" else [r.arbeidssted]
        rows += [(r.year, a, b, r.n / (len(o) * len(d))) for a in o for b in d]
    pd.DataFrame(rows, columns=["year", "bosted", "arbeidssted", "n"]).to_csv(split / "flows.csv", index=False)
    pd.DataFrame([(y, c, {"0104": "0103", "0105": "0103"}.get(c, c), 1.0)
                  for y in range(2000, 2009) for c in ["0101", "0102", "0104", "0105"]],
                 columns=["aar", "gammel", "ny", "vekt"]).to_csv(split / "cw.csv", index=False)
    cfg = CONFIG.replace("[model]", 'crosswalk = { path = "cw.csv", year = "aar", source = "gammel", target = "ny", '
                                    'weight = "vekt" }\n\n[model]')
    (tmp_path / "run2.toml").write_text(cfg)
    out = tmp_path / "o2"
    assert cli.main(["run", str(tmp_path / "run2.toml"), "--out", str(out), "--data-dir", str(split),
                     "--no-progress"]) == 0
    a = pd.read_csv(tmp_path / "o1" / "coefficients.csv")
    b = pd.read_csv(out / "coefficients.csv")
    assert (a.estimate - b.estimate).abs().max() < 1e-9
    rep = pd.read_csv(out / "harmonisation.csv", dtype={"source": str, "target": str})
    merged = rep[rep.kind == "merge"]
    assert set(merged.source) == {"0104", "0105"} and set(merged.target) == {"0103"}
    assert set(merged.table) == {"panel", "flows"}


def test_crosswalk_config_errors(tmp_path):
    _write_files(tmp_path)
    for extra, msg in [('crosswalk = { path = "cw.csv", units = "2024" }',
                        r"\[data\]\.crosswalk units must be 'stable' or 'target', got '2024'"),
                       ('crosswalk = { path = "cw.csv", sheet = 1 }',
                        r"unknown key\(s\) \['sheet'\] in \[data\]\.crosswalk")]:
        (tmp_path / "c.toml").write_text(CONFIG.replace("[model]", extra + "\n\n[model]"))
        with pytest.raises(InputError, match=msg):
            pipeline.run(pipeline.load_config(tmp_path / "c.toml"), out=tmp_path / "o", progress=False)


def test_unknown_config_key(tmp_path):
    (tmp_path / "bad.toml").write_text("[model]\nspecification = '2022'\n")
    with pytest.raises(InputError, match=r"unknown key\(s\) \['specification'\] in \[model\]"):
        pipeline.load_config(tmp_path / "bad.toml")
    assert cli.main(["run", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "o")]) == 2


def test_bad_config_values(tmp_path):
    for text, msg in [
        ("[data]\nsource = 'ssb2'\n", r"\[data\] source must be 'synthetic', 'files' or 'ssb', got 'ssb2'"),
        ("[data]\ncommuting_year = 'first'\n", r"commuting_year must be an integer year or \"same\""),
        ("[data]\nyears = [2003]\n", r"years must be \[first, last\]"),
        ("[model]\nspec = '2020'\n", r"\[model\] spec must be '2018', '2019' or '2022' \(or a list of them\), "
                                    r"got '2020'"),
        ("[model]\nlevel = 'county'\n", r"\[model\] level must be 'region' or 'municipality' \(or a list of "
                                       r"them\), got 'county'"),
        ("[plots]\nx = 1\n", r"unknown configuration section\(s\) \['plots'\]"),
    ]:
        (tmp_path / "c.toml").write_text(text)
        with pytest.raises(InputError, match=msg):
            pipeline.load_config(tmp_path / "c.toml")
    with pytest.raises(InputError, match="does not exist"):
        pipeline.load_config(tmp_path / "missing.toml")


@pytest.mark.slow
def test_synthetic_example_writes_the_comparison(tmp_path):
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[1] / "examples" / "synthetic.toml"
    assert cli.main(["run", str(cfg), "--out", str(tmp_path), "--no-progress"]) == 0
    comp = pd.read_csv(tmp_path / "comparison.csv", index_col=0)
    assert "vra_ols" in comp.columns and "sar_fe|queen" in comp.columns and "rmse_holdout" in comp.index
    assert "\\toprule" in (tmp_path / "comparison.tex").read_text()
    run = json.loads((tmp_path / "run.json").read_text())
    assert any(w.startswith("IsolatesWarning") for w in run["warnings"])  # the islands, in contiguity weights
    report = (tmp_path / "report.html").read_text()
    assert 'id="comparison-table"' in report and "sar_fe|queen" in report
    assert "IsolatesWarning" in report  # the run's warnings are shown in the report
    assert "\\toprule" in (tmp_path / "tables" / "comparison.tex").read_text()


@pytest.mark.slow
def test_choice_command(tmp_path, capsys):
    """`geoattr choice CONFIG --out DIR` writes the tables and the figure; bad input -> exit 2 with the message."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "choice.toml"
    assert cli.main(["choice", str(example), "--out", str(tmp_path / "out")]) == 0
    for name in ("coefficients.csv", "coefficients.tex", "predictions.csv", "hypotheses.csv", "run.json"):
        assert (tmp_path / "out" / name).exists(), name
    assert list((tmp_path / "out").glob("choice_*.png")) and list((tmp_path / "out").glob("choice_*.svg"))
    coef = pd.read_csv(tmp_path / "out" / "coefficients.csv")
    assert set(coef["equation"]) == {"domestic", "emigration"}
    # 20,000 person-years: some background x centrality cells have no emigrant (perfect separation)
    cfg = tmp_path / "small.toml"
    cfg.write_text('[data]\nsource = "synthetic"\nn = 20000\nseed = 3\n')
    assert cli.main(["choice", str(cfg), "--out", str(tmp_path / "small")]) == 2
    assert "perfect separation: no 'emigration' among the" in capsys.readouterr().err


def _console(tmp_path, *args: str, before: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``geoattr.cli.console()`` in a fresh interpreter with ``args``; ``before`` runs first."""
    script = ("import sys\n" + before + "\nfrom geoattr.cli import console\n"
              "sys.argv = ['geoattr', *sys.argv[1:]]\nconsole()\n")
    return subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_console_exits_with_main_status_after_the_exit_handlers(tmp_path):
    # console() skips the interpreter's teardown (os._exit) but still runs what a normal exit runs first:
    # the atexit handlers (a TemporaryDirectory's cleanup, a handler registered before the import, one that
    # prints), the join of a thread that is not a daemon, and the flush of a buffered stdout.
    before = ("import atexit, tempfile, threading, time\n"
              "tmp = tempfile.TemporaryDirectory(dir='.'); open(tmp.name + '/x', 'w').close()\n"
              "atexit.register(lambda: print('handler ran', flush=True))\n"
              "threading.Thread(target=lambda: (time.sleep(0.5), print('thread done'))).start()\n")
    proc = _console(tmp_path, "versions", before=before)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert any(line.startswith("geoattr ") for line in out) and "numpy" in proc.stdout  # main's output, flushed
    assert "thread done" in out and out[-1] == "handler ran"
    assert not any(p.is_dir() for p in tmp_path.iterdir()), "the TemporaryDirectory was not cleaned up"


def test_console_ends_with_an_idle_thread_pool_alive(tmp_path):
    # a ThreadPoolExecutor that was never shut down keeps a worker thread (not a daemon) waiting for work: the
    # interpreter's exit tells it to stop before joining it, and so must console(), or the process never ends
    before = ("from concurrent.futures import ThreadPoolExecutor\n"
              "pool = ThreadPoolExecutor(1); pool.submit(print, 'pool ran').result()\n")
    proc = _console(tmp_path, "versions", before=before)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "pool ran" and "numpy" in proc.stdout


def test_console_bad_input_exits_2_with_one_error_line(tmp_path):
    proc = _console(tmp_path, "run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("geoattr: error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "missing.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_console_keeps_the_traceback_of_a_bug(tmp_path):
    # an exception that is not bad input propagates: the usual exit with its traceback, status 1
    before = "import geoattr.cli\ngeoattr.cli._dispatch = lambda args: 1 / 0\n"
    proc = _console(tmp_path, "versions", before=before)
    assert proc.returncode == 1
    assert "ZeroDivisionError" in proc.stderr and "Traceback" in proc.stderr


def test_console_output_to_a_closed_pipe_exits_120_without_a_traceback(tmp_path):
    # stdout is a pipe whose reader has gone before console() flushes its buffered output: the interpreter's own
    # exit would end with status 120 (and print "Exception ignored"); console() ends with 120 too, and no traceback
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered until the flush
    script = "import sys\nfrom geoattr.cli import console\nsys.argv = ['geoattr', 'versions']\nconsole()\n"
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # long before the child has imported geoattr and printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 120
    assert "Traceback" not in err
