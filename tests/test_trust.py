"""What geoattr refuses, repairs or reports, and why: the catalogue of bad and awkward inputs (issue 16).

Read it as the specification of geoattr's input checks. Each test is one case: an input a
user may plausibly give, and what the user gets: an error whose message names the
offending ids, rows, columns or keys and says how to fix it, a warning, a note in the
results, or a count in the row accounting. One section per category of the issue:

* Numbers wrong without a word (impacts, sem_re, gmm constant, Moran's I)
* Output folders and every CLI failure
* Non-finite and zero values; number formats
* Geometry and CRS; ids and years; weights against data
* Escaping and row accounting
"""

from __future__ import annotations


# ==== Numbers wrong without a word ====
# Impacts are exact at any admissible rho and say how they were computed; sem_re runs on
# binary W; gmm models honour "- 1"; Moran's I of the residuals is exposed as numbers.
# References are dense (numpy inverse / eigenvalues / explicit M) on small N.
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from libpysal.graph import Graph  # noqa: E402
from scipy import sparse  # noqa: E402

import geoattr  # noqa: E402
from geoattr.exceptions import InputError  # noqa: E402
from geoattr.models.diagnostics import moran_residuals  # noqa: E402
from geoattr.models.impacts import impacts, traces  # noqa: E402
from geoattr.models.spatial_panel import sem_re_bounds  # noqa: E402
from tests.conftest import square_grid  # noqa: E402


def _t16_w(side: int = 10, binary: bool = False, rook: bool = True) -> sparse.csr_matrix:
    g = Graph.build_contiguity(square_grid(side), rook=rook)
    return sparse.csr_matrix(g.sparse if binary else g.transform("r").sparse, dtype=float)


def _t16_dense_impacts(W: sparse.csr_matrix, rho: float, beta: float = 1.0, theta: float = 0.0):
    n = W.shape[0]
    S = np.linalg.inv(np.eye(n) - rho * W.toarray()) @ (beta * np.eye(n) + theta * W.toarray())  # N = 100
    return np.trace(S) / n, S.sum() / n


def _t16_params(rho: float, theta: float = 0.0):
    p = pd.Series({"const": 1.0, "x": 1.0, "W_x": theta, "rho": rho})
    return p, pd.DataFrame(np.eye(4) * 1e-6, index=p.index, columns=p.index)


def test_impacts_total_at_rho_095_is_20_not_19991():
    out = impacts(*_t16_params(0.95), _t16_w(), draws=0)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(20.0, abs=1e-9)
    assert out.attrs["impacts_method"] == "eigen" and "exact" in out.attrs["notes"][0]


@pytest.mark.parametrize("method", ["eigen", "series"])
def test_impacts_at_rho_098_equal_the_dense_inverse(method):
    W = _t16_w()
    out = impacts(*_t16_params(0.98, theta=0.3), W, draws=0, method=method)
    direct, total = _t16_dense_impacts(W, 0.98, theta=0.3)
    assert out.loc[("x", "direct"), "estimate"] == pytest.approx(direct, abs=1e-6)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)


def test_impacts_binary_w_near_one_over_lambda_max():
    W = _t16_w(binary=True)
    rho = 0.97 / np.linalg.eigvalsh(W.toarray()).max()
    out = impacts(*_t16_params(rho), W, draws=0)
    direct, total = _t16_dense_impacts(W, rho)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(total, abs=1e-6)  # was off by 1e-2
    assert out.loc[("x", "direct"), "estimate"] == pytest.approx(direct, abs=1e-6)


def test_impacts_series_method_states_order_and_error_bound():
    W = _t16_w(binary=True)
    rho = 0.95 / np.linalg.eigvalsh(W.toarray()).max()
    out = impacts(*_t16_params(rho), W, draws=0, method="series", tol=1e-10)
    assert out.loc[("x", "total"), "estimate"] == pytest.approx(_t16_dense_impacts(W, rho)[1], abs=1e-6)
    assert out.attrs["impacts_method"] == "series" and out.attrs["series_order"] > 150
    assert out.attrs["error_bound"] <= 1e-10
    assert f"to order {out.attrs['series_order']}" in out.attrs["notes"][0]


def test_impacts_hutchinson_traces_report_their_monte_carlo_error():
    W = _t16_w()
    out = impacts(*_t16_params(0.9), W, draws=0, method="series", trace=traces(W, exact_max_n=10, probes=100))
    assert out.attrs["trace_method"] == "hutchinson" and out.attrs["mc_std_error"] > 0
    assert "traces hutchinson" in out.attrs["notes"][0] and "Monte Carlo standard error" in out.attrs["notes"][0]


def test_impacts_draws_outside_the_interval_are_dropped_and_counted():
    p, _ = _t16_params(0.99)
    cov = pd.DataFrame(np.eye(4) * 1e-4, index=p.index, columns=p.index)
    out = impacts(p, cov, _t16_w(), draws=400, seed=1)
    assert out.attrs["draws_dropped"] > 0
    assert f"{out.attrs['draws_dropped']} of 400 draws of rho outside the admissible interval" in out.attrs["notes"][0]


def test_impacts_refuse_a_rho_outside_the_interval():
    with pytest.raises(InputError, match=r"rho = 1.05 is outside the interval where \(I - rho W\) is invertible"):
        impacts(*_t16_params(1.05), _t16_w(), draws=0)


def test_impacts_unknown_method():
    with pytest.raises(InputError, match=r"method must be one of \('auto', 'eigen', 'series'\); 'power' was given"):
        impacts(*_t16_params(0.5), _t16_w(), method="power")


def _t16_binary_panel(side: int = 8, T: int = 10, seed: int = 4):
    """8 x 8 binary queen lattice: W has the eigenvalue -1, so I + W is singular."""
    g = Graph.build_contiguity(square_grid(side), rook=False)
    Wd = g.sparse.toarray()
    lam = 0.6 / np.linalg.eigvalsh(Wd).max()
    rng = np.random.default_rng(seed)
    n = len(g.unique_ids)
    B_inv = np.linalg.inv(np.eye(n) - lam * Wd)
    mu = rng.normal(size=n) * 0.8
    frames = [pd.DataFrame({"unit": list(g.unique_ids), "year": 2000 + t, "x": (x := rng.normal(size=n)),
                            "y": 1 + 0.7 * x + mu + B_inv @ rng.normal(size=n)}) for t in range(T)]
    return pd.concat(frames).set_index(["unit", "year"]).sort_index(), g, lam


def test_sem_re_runs_on_a_binary_lattice_with_singular_i_plus_w():
    df, g, lam = _t16_binary_panel()
    r = geoattr.fit("y ~ x", df, model="sem_re", weights=g)  # was "Factor is exactly singular"
    assert abs(r.params["lambda"] - lam) < 3 * r.std_errors["lambda"]


def test_sem_re_default_interval_uses_the_eigenvalues_of_a_binary_w():
    W = _t16_w(side=8, binary=True, rook=False)
    ev = np.linalg.eigvalsh(W.toarray())
    assert sem_re_bounds(W) == pytest.approx((0.99 / ev.min(), 0.99 / ev.max()), rel=1e-8)  # not (-0.99, 0.99)
    assert sem_re_bounds(_t16_w()) == (-0.99, 0.99)


def _t16_cross_section(seed: int = 3):
    g = Graph.build_contiguity(square_grid(8), rook=False).transform("r")
    rng = np.random.default_rng(seed)
    n = len(g.unique_ids)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = np.linalg.solve(np.eye(n) - 0.4 * g.sparse.toarray(), 5 + x1 - 0.5 * x2 + rng.normal(size=n))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2}, index=pd.Index(list(g.unique_ids), name="unit")), g


@pytest.mark.parametrize("model,param", [("gmm_lag", "rho"), ("gmm_error", "lambda")])
def test_gmm_models_honour_minus_one(model, param):
    df, g = _t16_cross_section()
    r = geoattr.fit("y ~ x1 + x2 - 1", df, model=model, weights=g)
    assert list(r.params.index) == ["x1", "x2", param]  # spreg used to add a constant silently
    assert any("without a constant" in note for note in r.notes)


def test_moran_of_residuals_is_exposed_as_unrounded_numbers():
    W = _t16_w()
    rng = np.random.default_rng(0)
    n = W.shape[0]
    X = pd.DataFrame({"const": 1.0, "x": rng.normal(size=n)})
    e = pd.Series(np.linalg.solve(np.eye(n) - 0.4 * W.toarray(), rng.normal(size=n)))
    e = e - X @ np.linalg.lstsq(X.to_numpy(), e.to_numpy(), rcond=None)[0]  # OLS residuals on X
    m = moran_residuals(e, X, W)
    M = np.eye(n) - X.to_numpy() @ np.linalg.pinv(X.to_numpy())
    MW = M @ W.toarray()
    S0 = W.sum()
    EI = n / S0 * np.trace(MW) / (n - 2)
    VI = (n / S0) ** 2 * (np.trace(MW @ M @ W.toarray().T) + np.trace(MW @ MW) + np.trace(MW) ** 2) / (
        (n - 2) * n) - EI**2
    assert m.moran_i == pytest.approx(n / S0 * (e @ (W @ e)) / (e @ e), rel=1e-10)
    assert (m.expected, m.variance) == pytest.approx((EI, VI), rel=1e-10)
    assert m.to_series()[["moran_i", "expected", "variance"]].tolist() == [m.moran_i, m.expected, m.variance]


# ==== Output folders and every CLI failure ====
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from geoattr import cli, pipeline
from geoattr.exceptions import GeoattrWarning, InputError
from geoattr.models.choice import run_choice
from tests.conftest import toy_flows, toy_panel

_ROOT = Path(__file__).resolve().parents[1]
_TOY_CONFIG = """
[data]
source = "files"
years = [2003, 2005]
panel = { path = "panel.csv", unit_column = "kommune", year_column = "year", columns = { folketall = "population", jobs = "jobs", net_migration = "net_migration" } }
flows = { path = "flows.csv", origin = "bosted", destination = "arbeidssted", value = "n" }
centrality = { path = "cent.csv", unit_column = "kommune", value_column = "index" }

[model]
spec = "2019"
level = "municipality"
cov_type = "robust"
"""
_LIGHT = "\n[output]\ntables = false\nfigures = false\nprofiles = false\nreport = false\n"


def _toy_project(tmp_path: Path, config: str = _TOY_CONFIG + _LIGHT) -> Path:
    """Write the toy panel, flows, centrality and a run configuration; return the configuration's path."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    toy_panel().reset_index().rename(columns={"unit": "kommune", "population": "folketall"}).to_csv(
        data / "panel.csv", index=False)
    toy_flows().rename(columns={"origin": "bosted", "destination": "arbeidssted", "count": "n"}).to_csv(
        data / "flows.csv", index=False)
    pd.DataFrame({"kommune": ["0101", "0102", "0103"], "index": [800, 500, 200]}).to_csv(
        data / "cent.csv", index=False)
    cfg = tmp_path / "run.toml"
    cfg.write_text(config.replace('path = "', 'path = "data/'))
    return cfg


def _run(cfg: Path, out: Path) -> int:
    return cli.main(["run", str(cfg), "--out", str(out), "--no-progress"])


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def _cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI on bad input: exit status 2 and exactly one ``geoattr: error:`` line, no traceback."""
    if argv[0] in ("run", "demo") and "--no-progress" not in argv:
        argv = [*argv, "--no-progress"]  # progress bars also go to stderr
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("geoattr: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def toy_run(tmp_path):
    """A finished toy run in ``tmp_path/out``: (configuration, output folder)."""
    cfg = _toy_project(tmp_path)
    out = tmp_path / "out"
    assert _run(cfg, out) == 0
    return cfg, out


def _no_work(monkeypatch):
    """Make reading the data fail loudly: a check that must come before any work."""
    def fail(*args, **kwargs):
        raise AssertionError("the data were read before the output folder was checked")
    monkeypatch.setattr("geoattr.pipeline.job.read_run_data", fail)


# ---- output folders: a run leaves the previous complete output or its own, never a mixture
def test_rerun_replaces_the_previous_run_without_stale_files(tmp_path, toy_run):
    cfg, out = toy_run
    (out / "stale_from_an_old_version.csv").write_text("x\n1\n")
    (out / "tables").mkdir()
    (out / "tables" / "model.md").write_text("old")
    assert _run(cfg, out) == 0
    assert not (out / "stale_from_an_old_version.csv").exists() and not (out / "tables").exists()
    assert set(json.loads((out / "run.json").read_text())["outputs"].values()) | {"run.json"} == {p.name for p in out.iterdir()}
    assert _leftovers(out) == []


def test_a_step_that_fails_mid_run_leaves_the_previous_output_untouched(tmp_path, toy_run, monkeypatch):
    cfg, out = toy_run
    before = _listing(out)

    def boom(*args, **kwargs):
        raise RuntimeError("boom in the middle of the run")
    monkeypatch.setattr("geoattr.pipeline.job.write_publication", boom)  # after the CSVs are written
    with pytest.raises(RuntimeError, match="boom"):
        _run(cfg, out)
    assert _listing(out) == before
    assert _leftovers(out) == []  # the partial folder is removed


def test_an_interrupted_run_leaves_the_previous_output_untouched(tmp_path, toy_run, monkeypatch):
    cfg, out = toy_run
    before = _listing(out)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("geoattr.pipeline.job.write_publication", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(cfg, out)
    assert _listing(out) == before and _leftovers(out) == []


def test_a_killed_run_is_recognisable_as_incomplete(tmp_path, toy_run):
    cfg, out = toy_run
    before = _listing(out)
    script = ("import os, sys\nimport geoattr.pipeline.job as job\n"
              "job.write_publication = lambda *a, **k: os._exit(9)\n"  # killed after the CSVs
              "from geoattr import cli\nsys.exit(cli.main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", script, "run", str(cfg), "--out", str(out), "--no-progress"],
                          cwd=_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9
    assert _listing(out) == before  # run.json and the CSVs still describe the previous run
    partial = [name for name in _leftovers(out) if name.startswith(".out.partial-")]
    assert len(partial) == 1 and partial[0].rsplit("-", 1)[1].isdigit()  # .out.partial-<pid>
    assert (out.parent / partial[0] / "coefficients.csv").exists()  # the new CSVs, in the partial folder
    # the next run removes the dead run's partial folder and says so
    with pytest.warns(GeoattrWarning, match=r"removed 1 incomplete output folder\(s\) of interrupted runs: "
                                            + re.escape(partial[0])):
        _run(cfg, out)
    assert _leftovers(out) == []


def test_the_api_returns_paths_in_the_output_folder(tmp_path):
    cfg = _toy_project(tmp_path)
    res = pipeline.run(pipeline.load_config(cfg), out=tmp_path / "api", progress=False)
    assert res.out == tmp_path / "api"
    assert all(p.exists() and (tmp_path / "api") in p.parents for p in res.files.values())
    assert _leftovers(tmp_path / "api") == []


def test_out_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    cfg = _toy_project(tmp_path)
    (tmp_path / "results.csv").write_text("keep me")
    _no_work(monkeypatch)
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "results.csv")], capsys)
    assert "output folder" in err and "results.csv' is a file, not a folder; choose another --out" in err
    assert (tmp_path / "results.csv").read_text() == "keep me"


def test_out_with_other_files_is_refused_and_left_alone(tmp_path, monkeypatch):
    cfg = _toy_project(tmp_path)
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("precious")
    _no_work(monkeypatch)
    with pytest.raises(InputError, match=r"output folder '.*thesis' is not empty and holds no previous geoattr run "
                                         r"\(no run.json with 'geoattr_run'\).*choose another --out"):
        pipeline.run(pipeline.load_config(cfg), out=tmp_path / "thesis", progress=False)
    assert (tmp_path / "thesis" / "chapter1.tex").read_text() == "precious"


def test_out_holding_a_report_html_folder_but_no_run_is_refused(tmp_path, capsys, monkeypatch):
    cfg = _toy_project(tmp_path)
    (tmp_path / "out" / "report.html").mkdir(parents=True)
    _no_work(monkeypatch)
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "is not empty and holds no previous geoattr run" in err


def test_a_previous_run_whose_report_html_is_a_folder_is_replaced(tmp_path):
    cfg = _toy_project(tmp_path, _TOY_CONFIG)
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)
    (out / "run.json").write_text(json.dumps({"geoattr_run": 1}))
    assert _run(cfg, out) == 0
    assert (out / "report.html").is_file() and "<html" in (out / "report.html").read_text().lower()


def test_an_empty_existing_folder_is_used(tmp_path):
    cfg = _toy_project(tmp_path)
    (tmp_path / "empty").mkdir()
    assert _run(cfg, tmp_path / "empty") == 0 and (tmp_path / "empty" / "run.json").exists()


def test_out_containing_the_configuration_is_refused(tmp_path):
    cfg = _toy_project(tmp_path)
    with pytest.raises(InputError, match=r"output folder '.*' contains the input .*choose another --out"):
        pipeline.run(pipeline.load_config(cfg), out=tmp_path, progress=False)
    assert cfg.exists()


def test_out_that_is_the_working_folder_is_refused(tmp_path, monkeypatch):
    cfg = _toy_project(tmp_path)
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    with pytest.raises(InputError, match=r"output folder '\.' is the working folder or contains it"):
        pipeline.run(pipeline.load_config(cfg), out=".", progress=False)


def test_a_choice_run_that_fails_leaves_its_output_untouched(tmp_path, monkeypatch):
    out = tmp_path / "choice"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"geoattr_run": 1, "previous": True}))

    def boom(*args, **kwargs):
        raise RuntimeError("boom while building the design")
    monkeypatch.setattr("geoattr.models.choice.run.build_design", boom)
    with pytest.raises(RuntimeError, match="boom"):
        run_choice({"data": {"source": "synthetic", "n": 2000}}, out=out)
    assert json.loads((out / "run.json").read_text())["previous"] is True and _leftovers(out) == []


# ---- every CLI failure: one `geoattr: error:` line, exit status 2, no traceback
@pytest.mark.parametrize("extra, message", [
    ('cov_type = "robustt"', r"\[model\] cov_type must be .*got 'robustt'; did you mean 'robust'\?"),
    ("top_k = 0", r"\[model\] top_k must be >= 1, got 0"),
    ("min_share = 1.5", r"\[model\] min_share must be in \[0, 1\), got 1.5"),
    ('[output]\ntop_n = "five"', r"\[output\] top_n must be int, got 'five'"),
])
def test_cli_bad_option_values(tmp_path, capsys, extra, message):
    cfg = _toy_project(tmp_path, _TOY_CONFIG.replace('cov_type = "robust"\n', "") + extra + "\n")
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()


def test_cli_empty_file(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "panel.csv").write_text("")
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "panel: file 'panel.csv' is empty (no header line, no rows)" in err
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path / "out") == []


def test_cli_header_only_panel(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "panel.csv").write_text("kommune,year,folketall,jobs,net_migration\n")
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "panel: file 'panel.csv' has a header line but no data rows (columns 'kommune', 'year'" in err


def test_cli_header_only_flows(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "flows.csv").write_text("year;bosted;arbeidssted;n\n")
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "flows: file 'flows.csv' has a header line but no data rows" in err


def test_cli_data_file_that_does_not_exist(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "flows.csv").unlink()
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "flows: file" in err and "flows.csv' does not exist" in err


def test_cli_data_path_that_is_a_folder(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "cent.csv").unlink()
    (tmp_path / "data" / "cent.csv").mkdir()
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "centrality: '" in err and "cent.csv' is a folder; give the path of the centrality file" in err


def test_cli_ragged_csv(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "cent.csv").write_text("kommune,index\n0101,800\n0102,500,7,8\n0103,200\n")
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "centrality: cannot read 'cent.csv' as a delimited text file" in err and "line 3" in err


def test_cli_corrupt_geopackage(tmp_path, capsys):
    cfg = _toy_project(tmp_path, _TOY_CONFIG.replace(
        "[model]", 'polygons = { path = "units.gpkg", id_column = "kommune" }\n\n[model]'))
    (tmp_path / "data" / "units.gpkg").write_bytes(b"SQLite format 3\x00" + b"\x00garbage" * 100)
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "polygons: cannot read 'units.gpkg'" in err and "check that the file is complete" in err


def test_cli_corrupt_parquet(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "data" / "panel.parquet").write_bytes(b"PAR1 not really parquet")
    cfg.write_text(cfg.read_text().replace("data/panel.csv", "data/panel.parquet"))
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "panel: cannot read 'panel.parquet' as Parquet" in err


def test_cli_ssb_symbols_in_the_panel(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    p = pd.read_csv(tmp_path / "data" / "panel.csv", dtype=str)
    p.loc[3, "jobs"], p.loc[7, "jobs"], p.loc[5, "folketall"] = "..", "..", ":"
    p.to_csv(tmp_path / "data" / "panel.csv", index=False)
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert ("table 'panel' has SSB symbols instead of numbers: column 'population': 1 cell(s) ':' in row(s) 5; "
            "column 'jobs': 2 cell(s) '..', '..' in row(s) 3, 7 (rows are data rows from 0: file line = row + 2)"
            ) in err
    assert "missing or confidential" in err and "on_missing = 'drop'" in err


def test_cli_ssb_symbols_in_the_flows(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    f = pd.read_csv(tmp_path / "data" / "flows.csv", dtype=str)
    f.loc[2, "n"] = ":"
    f.to_csv(tmp_path / "data" / "flows.csv", index=False)
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "table 'flows' has SSB symbols instead of numbers: column 'n': 1 cell(s) ':' in row(s) 2" in err
    assert "':' = confidential" in err and "remove those rows (an absent flow counts as zero)" in err


def test_cli_unwritable_output_folder(tmp_path, capsys, monkeypatch):
    cfg = _toy_project(tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path else real_access(p, mode))
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert f"cannot create the output folder '{tmp_path / 'out'}': no permission to write in" in err


def test_cli_output_folder_inside_a_file(tmp_path, capsys):
    cfg = _toy_project(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "notes.txt" / "out")], capsys)
    assert "notes.txt' is a file; choose another --out" in err


def test_cli_write_error_in_the_output_folder(tmp_path, capsys, monkeypatch):
    cfg = _toy_project(tmp_path)

    def disk_full(out, files, **kwargs):
        raise OSError(28, "No space left on device", str(out / "coefficients.csv"))
    monkeypatch.setattr("geoattr.pipeline.job.write_estimates", disk_full)
    err = _cli_error(["run", str(cfg), "--out", str(tmp_path / "out")], capsys)
    assert "cannot write 'coefficients.csv' in the output folder" in err and "No space left on device" in err
    assert not (tmp_path / "out").exists() and _leftovers(tmp_path / "out") == []


def test_cli_demo_into_a_file(tmp_path, capsys):
    (tmp_path / "demo").write_text("x")
    err = _cli_error(["demo", "--out", str(tmp_path / "demo")], capsys)
    assert "is a file, not a folder" in err


def test_cli_choice_into_a_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('[data]\nsource = "synthetic"\nn = 2000\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("x")
    err = _cli_error(["choice", str(tmp_path / "c.toml"), "--out", str(tmp_path / "out")], capsys)
    assert "is not empty and holds no previous geoattr run" in err


@pytest.mark.parametrize("command", ["run", "choice"])
def test_cli_configuration_that_does_not_exist(tmp_path, capsys, command):
    err = _cli_error([command, str(tmp_path / "missing.toml"), "--out", str(tmp_path / "out")], capsys)
    assert f"configuration file '{tmp_path / 'missing.toml'}' does not exist" in err


def test_cli_configuration_that_is_not_toml(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[data\nsource = 'files'\n")
    err = _cli_error(["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "out")], capsys)
    assert "c.toml: not valid TOML: Expected ']'" in err and "line 1" in err


def test_cli_configuration_that_is_not_text(tmp_path, capsys):
    (tmp_path / "c.toml").write_bytes(b"\xff\xfe[\x00d\x00a\x00t\x00a\x00]\x00")  # UTF-16, e.g. from Notepad
    err = _cli_error(["run", str(tmp_path / "c.toml"), "--out", str(tmp_path / "out")], capsys)
    assert "not valid TOML: the file is not UTF-8 text" in err and "save the configuration as UTF-8" in err


def test_cli_configuration_that_is_a_folder(tmp_path, capsys):
    err = _cli_error(["run", str(tmp_path), "--out", str(tmp_path / "out")], capsys)
    assert "is a folder; give the path of a .toml file" in err


def test_cli_usage_errors_end_in_one_error_line(capsys):
    """argparse's usage errors: the usage line, then one ``geoattr: error:`` line, exit status 2."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: geoattr run") and err[-1].startswith("geoattr: error: the following arguments")


def test_cli_unexpected_errors_keep_their_traceback(tmp_path, monkeypatch):
    """A bug is not bad input: it propagates (Python prints the traceback), including OSError with no file."""
    cfg = _toy_project(tmp_path)

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")
    monkeypatch.setattr("geoattr.pipeline.job.estimate", bug)
    with pytest.raises(ZeroDivisionError):
        _run(cfg, tmp_path / "out")

    def os_bug(*args, **kwargs):
        raise OSError("an internal failure that names no file")
    monkeypatch.setattr("geoattr.pipeline.job.estimate", os_bug)
    with pytest.raises(OSError, match="names no file"):
        _run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ==== Non-finite and zero values; Number formats ====
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import geoattr  # noqa: E402
from geoattr import cli  # noqa: E402
from geoattr.data import PanelData  # noqa: E402
from geoattr.exceptions import DroppedRowsWarning, InputError  # noqa: E402
from geoattr.io import read_flows, read_panel  # noqa: E402
from geoattr.models.ols import LeastSquares  # noqa: E402
from geoattr.variables import build_design  # noqa: E402
from tests.conftest import toy_flows, toy_panel  # noqa: E402

_CENTRALITY = pd.Series({"0101": 800.0, "0102": 500.0, "0103": 200.0})


def _values_data(panel: pd.DataFrame | None = None, flows: pd.DataFrame | None = None, **kw) -> PanelData:
    """The three-municipality toy data, with a panel or flows changed by the case."""
    return PanelData(toy_panel() if panel is None else panel, flows=toy_flows() if flows is None else flows,
                     centrality=_CENTRALITY, **kw)


def _with(column: str, cell: tuple[str, int], value: float) -> pd.DataFrame:
    p = toy_panel()
    p.loc[cell, column] = value
    return p


# ---------------------------------------------------------------- non-finite values
@pytest.mark.parametrize("column", ["population", "jobs", "net_migration"])
def test_inf_in_a_panel_count_is_refused_naming_column_and_unit_year(column):
    # before: inf population gave residual_persons = -inf; inf jobs "missing values in vra"
    with pytest.raises(InputError, match=rf"table 'panel' has infinite values: column '{column}': 1 value\(s\) "
                                         r"inf in row\(s\) \('0102', 2004\)\. Fix these values in the source; "
                                         r"if they are unknown, make them NaN"):
        _values_data(_with(column, ("0102", 2004), np.inf))


def test_minus_inf_population_is_called_infinite_not_negative():
    with pytest.raises(InputError, match=r"infinite values: column 'population': 1 value\(s\) -inf in row\(s\) "
                                         r"\('0101', 2003\)"):
        _values_data(_with("population", ("0101", 2003), -np.inf))


def test_inf_in_a_user_regressor_is_refused_before_estimation():
    p = toy_panel().assign(wage=1.0)
    p.loc[("0103", 2005), "wage"] = np.inf
    with pytest.raises(InputError, match=r"column 'wage': 1 value\(s\) inf in row\(s\) \('0103', 2005\)"):
        _values_data(p)


def test_inf_in_a_flow_count_is_refused_naming_the_row():
    f = toy_flows().astype({"count": float})
    f.loc[4, "count"] = np.inf
    with pytest.raises(InputError, match=r"table 'flows' has infinite values: column 'count': 1 value\(s\) inf "
                                         r"in row\(s\) 4\. Fix these counts"):
        _values_data(flows=f)


def test_inf_in_centrality_is_refused_naming_the_unit():
    with pytest.raises(InputError, match=r"table 'centrality' has infinite values: column 'centrality': "
                                         r"1 value\(s\) inf in row\(s\) '0102'"):
        PanelData(toy_panel(), centrality=_CENTRALITY.replace(500.0, np.inf))


def test_inf_in_a_design_given_to_least_squares_names_the_term():
    # a Design built by hand (or by fit()) is checked by the estimator itself
    d = build_design(_values_data(), "2019")
    X = d.X.copy()
    X.loc[("0101", 2004), "vra"] = np.inf
    with pytest.raises(InputError, match=r"table 'design \(2019\)' has infinite values: column 'vra': "
                                         r"1 value\(s\) inf in row\(s\) \('0101', 2004\)"):
        LeastSquares(replace(d, X=X))


def test_values_that_would_overflow_are_refused_naming_column_and_rows():
    # x 1e200: finite, but sums of squares overflow (before: a libpysal error or NaN results)
    p = toy_panel()
    p["jobs"] = p["jobs"] * 1e200
    with pytest.raises(InputError, match=r"table 'panel' has values too large to compute with \(magnitude above "
                                         r"1e\+150, where sums of squares overflow\): column 'jobs': 18 value\(s\) "
                                         r".* in row\(s\) \('0101', 2000\), .* and 8 more\. Check the values"):
        _values_data(p)


def test_huge_flow_counts_are_refused():
    f = toy_flows().astype({"count": float})
    f.loc[0, "count"] = 9e307
    with pytest.raises(InputError, match=r"table 'flows' has values too large .* column 'count': 1 value\(s\) "
                                         r"9e\+307 in row\(s\) 0"):
        _values_data(flows=f)


# ------------------------------------------------------------------- zero values
def test_zero_jobs_in_one_unit_year_names_unit_year_and_column():
    # before: "the regressors are collinear (rank 0 of 5 columns)"
    with pytest.raises(InputError, match=r"relative job growth \(ra, and the vra, vra_l1, vra_l2 built from it\) "
                                         r"divides jobs in year t by jobs in t-1, so it needs jobs > 0 in every year "
                                         r"2000-2005; the panel column 'jobs' is 0\.0 in 1 \(unit, year\) cell\(s\): "
                                         r"\('0102', 2003\)\. Fix the jobs .* on_mismatch='drop' .* crosswalk"):
        geoattr.estimate(_values_data(_with("jobs", ("0102", 2003), 0.0)), spec="2019")


def test_zero_jobs_in_every_year_names_the_unit_not_missing_vra():
    # before: "9 (unit, year) row(s) have missing values in ['vra', 'vra_l1', 'vra_l2']"
    p = toy_panel()
    p.loc["0103", "jobs"] = 0.0
    with pytest.raises(InputError, match=r"'jobs' is 0\.0 in 6 \(unit, year\) cell\(s\): \('0103', 2000\), "
                                         r"\('0103', 2001\), .*\('0103', 2005\)\."):
        geoattr.estimate(_values_data(p), spec="2019")


def test_a_unit_without_jobs_can_be_left_out_with_on_mismatch_drop():
    # what the message proposes: remove the unit's rows; on_mismatch='drop' drops its flows and centrality too
    p = toy_panel().drop(index="0102", level="unit")
    with pytest.warns(DroppedRowsWarning, match=r"on_mismatch='drop': 1 unit\(s\) not in the panel dropped from "
                                                 r"flows: '0102'"):
        data = _values_data(p, on_mismatch="drop")
    assert list(data.units) == list(data.centrality.index) == ["0101", "0103"]
    assert set(data.flows.origin) | set(data.flows.destination) == {"0101", "0103"}
    assert data.accounting["flows"].dropped == {"origin or destination not a panel unit": 17}


def test_zero_jobs_outside_the_years_used_do_not_matter():
    # years 2004-2005 with lags up to 2 need jobs from 2001: a zero in 2000 is not used
    res = geoattr.estimate(_values_data(_with("jobs", ("0101", 2000), 0.0)), spec="2019", years=(2004, 2005),
                           cov_type="robust")
    assert res.results.nobs == 6 and np.isfinite(res.results.params).all()


def test_constant_dependent_variable_is_refused_naming_it():
    # before: R2 = NaN without a word (API), ZeroDivisionError (CLI)
    p = toy_panel()
    p["net_migration"] = p["population"] * 0.01  # y = 1 % everywhere
    with pytest.raises(InputError, match=r"the dependent variable y of '2019' has the same value 1\.0 in all 9 "
                                         r"row\(s\): there is nothing to explain and R² is undefined"):
        geoattr.estimate(_values_data(p), spec="2019")


def test_constant_dependent_variable_in_one_year_skips_that_year_with_the_reason():
    p = toy_panel()
    years = p.index.get_level_values("year")
    p.loc[years == 2004, "net_migration"] = p.loc[years == 2004, "population"] * 0.02
    design = build_design(_values_data(p), "2019")
    by_year = geoattr.estimate_by_year(replace(design, X=design.X[["const", "vra"]]))
    assert sorted(by_year.results) == [2003, 2005]
    assert "has the same value 2.0 in all 3 row(s)" in by_year.skipped[2004]


def test_fit_refuses_an_infinite_regressor_and_a_constant_y_on_a_plain_frame():
    p = toy_panel().assign(y=lambda d: 100 * d.net_migration / d.population)
    p.loc[("0101", 2003), "jobs"] = np.inf
    with pytest.raises(InputError, match=r"table 'design \(y ~ jobs\)' has infinite values: column 'jobs': "
                                         r"1 value\(s\) inf in row\(s\) \('0101', 2003\)"):
        geoattr.fit("y ~ jobs", p)
    cross_section = p.xs(2004, level="year").assign(y=2.0)
    with pytest.raises(InputError, match=r"the dependent variable y of 'y ~ jobs' has the same value 2\.0 in all "
                                         r"3 row\(s\)"):
        geoattr.fit("y ~ jobs", cross_section)


@pytest.mark.parametrize("model", ["sar", "sem", "sdm", "gmm_lag"])
def test_spatial_models_refuse_a_constant_y(model):
    # before: only the least-squares paths checked; ML and GMM fits ran on a y with nothing to explain
    g = Graph.build_contiguity(square_grid(5), rook=True).transform("r")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"y": 3.0, "x": rng.normal(size=25)}, index=pd.Index(list(g.unique_ids), name="unit"))
    with pytest.raises(InputError, match=r"the dependent variable y of 'y ~ x' has the same value 3\.0 in all "
                                         r"25 row\(s\): there is nothing to explain"):
        geoattr.fit("y ~ x", df, model=model, weights=g)


# ------------------------------------------------------------------ number formats
def _panel_text(values: list[str], *, sep: str = ";", column: str = "population") -> str:
    rows = [sep.join(["unit", "year", column])]
    rows += [sep.join([f"030{i + 1}", "2005", v]) for i, v in enumerate(values)]
    return "\n".join(rows) + "\n"


def test_dot_thousands_in_a_semicolon_file_are_refused_not_read_as_decimals(tmp_path):
    # before: 560.000 was read as 560 and the constant became 1,294
    (tmp_path / "p.csv").write_text(_panel_text(["560.000", "1.234", "999"]))
    with pytest.raises(InputError, match=r"table 'panel' column 'population' has 2 count\(s\) written with '\.' "
                                         r"between groups of three digits: '560\.000', '1\.234' in row\(s\) 0, 1\. "
                                         r"Counts are whole numbers, so in a ';'-separated file the '\.' is most "
                                         r"likely a thousands separator \('560\.000' would be read as 560\)\. "
                                         r"Pass thousands='\.'"):
        read_panel(tmp_path / "p.csv")


def test_thousands_dot_reads_the_counts_and_keeps_decimal_commas(tmp_path):
    (tmp_path / "p.csv").write_text("unit;year;population;rate\n0301;2005;560.000;0,5\n0302;2005;1.234.567;1,25\n")
    p = read_panel(tmp_path / "p.csv", thousands=".")
    assert p["population"].tolist() == [560000, 1234567] and p["rate"].tolist() == [0.5, 1.25]


def test_two_dot_groups_are_refused_in_a_comma_file_too(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["1.234.567", "12"], sep=","))
    with pytest.raises(InputError, match=r"'1\.234\.567' in row\(s\) 0\. .*\('1\.234\.567' is no number "
                                         r"otherwise\)\. Pass thousands='\.'"):
        read_panel(tmp_path / "p.csv")
    assert read_panel(tmp_path / "p.csv", thousands=".")["population"].tolist() == [1234567, 12]


def test_comma_thousands_with_thousands_comma(tmp_path):
    (tmp_path / "p.csv").write_text('unit,year,population\n0301,2005,"1,234,567"\n0302,2005,12\n')
    assert read_panel(tmp_path / "p.csv", thousands=",")["population"].tolist() == [1234567, 12]


def test_a_decimal_count_of_people_is_refused(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["12.5", "40"], sep=","))
    with pytest.raises(InputError, match=r"table 'panel' has counts that are not whole numbers: column "
                                         r"'population': 1 value\(s\) 12\.5 in row\(s\) 0\. Counts of persons are "
                                         r"whole numbers: if '\.' or ',' separates thousands .* pass "
                                         r"whole_counts=False if they are estimates"):
        read_panel(tmp_path / "p.csv")
    assert read_panel(tmp_path / "p.csv", whole_counts=False)["population"].tolist() == [12.5, 40.0]


def test_a_decimal_count_of_commuters_is_refused(tmp_path):
    (tmp_path / "f.csv").write_text("year;origin;destination;count\n2017;0301;0301;10,5\n2017;0301;1103;2\n")
    with pytest.raises(InputError, match=r"table 'flows' has counts that are not whole numbers: column 'count': "
                                         r"1 value\(s\) 10\.5 in row\(s\) 0\. Commuters are persons: .* pass "
                                         r"whole_counts=False if the flows are estimates"):
        read_flows(tmp_path / "f.csv")
    assert read_flows(tmp_path / "f.csv", whole_counts=False)["count"].tolist() == [10.5, 2.0]


def test_a_decimal_comma_count_in_a_semicolon_file_is_refused(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["7", "-3,5"], column="net_migration"))
    with pytest.raises(InputError, match=r"column 'net_migration': 1 value\(s\) -3\.5 in row\(s\) 1"):
        read_panel(tmp_path / "p.csv")


def test_negative_counts_are_refused_naming_the_file_row(tmp_path):
    (tmp_path / "p.csv").write_text(_panel_text(["100", "-5"], sep=","))
    with pytest.raises(InputError, match=r"table 'panel' has negative values: column 'population': "
                                         r"1 negative value\(s\) -5 in row\(s\) 1"):
        read_panel(tmp_path / "p.csv")


def test_missing_count_in_flows_is_refused_and_in_the_panel_named_at_estimation(tmp_path):
    (tmp_path / "f.csv").write_text("year;origin;destination;count\n2005;0301;0301;\n2005;0301;0302;20\n")
    with pytest.raises(InputError, match=r"table 'flows' has missing values: column 'count': 1 missing value\(s\) "
                                         r"in row\(s\) 0"):
        read_flows(tmp_path / "f.csv")
    data = _values_data(_with("population", ("0103", 2004), np.nan))
    with pytest.raises(InputError, match=r"population is missing for 1 \(unit, year\) cell\(s\): \('0103', 2004\)"):
        geoattr.estimate(data, spec="2019")


def test_dot_thousands_in_flow_counts_are_refused(tmp_path):
    (tmp_path / "f.csv").write_text("year;origin;destination;count\n2005;0301;0301;1.000\n2005;0301;0302;20\n")
    with pytest.raises(InputError, match=r"table 'flows' column 'count' has 1 count\(s\) written with '\.' .* "
                                         r"'1\.000' in row\(s\) 0"):
        read_flows(tmp_path / "f.csv")
    assert read_flows(tmp_path / "f.csv", thousands=".")["count"].tolist() == [1000, 20]


def test_bom_latin1_and_decimal_commas_still_read(tmp_path):
    text = "år;kommune;folketall;andel\n2005;0301;560;0,5\n2005;1103;1200;1,25\n"
    (tmp_path / "p.csv").write_bytes(text.encode("latin-1"))
    p = read_panel(tmp_path / "p.csv", unit="kommune", year="år", columns={"folketall": "population",
                                                                          "andel": "share"})
    assert p["population"].tolist() == [560, 1200] and p["share"].tolist() == [0.5, 1.25]
    (tmp_path / "b.csv").write_bytes(("\ufeff" + _panel_text(["560", "1200"])).encode("utf-8"))
    assert read_panel(tmp_path / "b.csv")["population"].tolist() == [560, 1200]


# ------------------------------------------------------------------------ the CLI
_VALUES_CONFIG = """
[data]
source = "files"
years = [2003, 2005]
panel = {{ path = "panel.csv", unit_column = "kommune", year_column = "year"{panel_extra} }}
flows = {{ path = "flows.csv"{flows_extra} }}
centrality = {{ path = "cent.csv", unit_column = "kommune", value_column = "index" }}

[model]
spec = "2019"
level = "municipality"
cov_type = "robust"

[output]
tables = false
figures = false
profiles = false
report = false
"""


def _values_cli(tmp_path: Path, capsys, panel: pd.DataFrame | None = None, *, sep: str = ",",
                panel_text: str | None = None, flows: pd.DataFrame | None = None, panel_extra: str = "",
                flows_extra: str = "") -> tuple[int, str]:
    """Write the toy files and a run configuration, run `geoattr run`; return the exit status and stderr."""
    p = (toy_panel() if panel is None else panel).reset_index().rename(columns={"unit": "kommune"})
    p = p.astype({c: "int64" for c in ("population", "jobs", "net_migration") if np.isfinite(p[c]).all()
                  and (p[c] % 1 == 0).all()})
    if panel_text is not None:
        (tmp_path / "panel.csv").write_text(panel_text)
    else:
        p.to_csv(tmp_path / "panel.csv", index=False, sep=sep)
    (toy_flows() if flows is None else flows).to_csv(tmp_path / "flows.csv", index=False)
    pd.DataFrame({"kommune": ["0101", "0102", "0103"], "index": [800, 500, 200]}).to_csv(tmp_path / "cent.csv",
                                                                                        index=False)
    (tmp_path / "run.toml").write_text(_VALUES_CONFIG.format(panel_extra=panel_extra, flows_extra=flows_extra))
    capsys.readouterr()
    rc = cli.main(["run", str(tmp_path / "run.toml"), "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path),
                   "--no-progress"])
    err = capsys.readouterr().err
    return rc, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("geoattr: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _thousands_text() -> str:
    p = toy_panel().reset_index()
    rows = ["kommune;year;population;jobs;net_migration"]
    for r in p.itertuples():
        pop = f"{int(r.population) // 1000}.{int(r.population) % 1000:03d}"  # 1010 -> "1.010"
        rows.append(f"{r.unit};{r.year};{pop};{int(r.jobs)};{int(r.net_migration)}")
    return "\n".join(rows) + "\n"


def test_cli_dot_thousands_panel_exits_2_and_runs_with_thousands_dot(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, panel_text=_thousands_text())
    assert rc == 2
    assert "column 'population' has 18 count(s) written with '.' between groups of three digits: '1.000', " \
           "'1.010'" in _one_error_line(err)
    assert "Pass thousands='.' (in a run configuration: thousands = \".\"" in err
    rc, err = _values_cli(tmp_path, capsys, panel_text=_thousands_text(), panel_extra=', thousands = "."')
    assert rc == 0, err
    reference = tmp_path / "ref"
    reference.mkdir()
    assert _values_cli(reference, capsys)[0] == 0  # the same numbers written without separators
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "coefficients.csv"),
                                  pd.read_csv(reference / "out" / "coefficients.csv"))


def test_cli_inf_jobs_exits_2_naming_the_cell(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, _with("jobs", ("0102", 2004), np.inf))
    assert rc == 2
    assert "table 'panel' has infinite values: column 'jobs': 1 value(s) inf in row(s) 10." in _one_error_line(err)


def test_cli_zero_jobs_exits_2_naming_unit_and_year(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, _with("jobs", ("0101", 2002), 0.0))
    assert rc == 2
    line = _one_error_line(err)
    assert "the panel column 'jobs' is 0 in 1 (unit, year) cell(s): ('0101', 2002)" in line
    assert '[data] on_mismatch = "drop"' in line


def test_cli_constant_dependent_variable_exits_2(tmp_path, capsys):
    p = toy_panel()
    p["net_migration"] = 0.0
    rc, err = _values_cli(tmp_path, capsys, p)
    assert rc == 2
    assert "the dependent variable y of '2019' has the same value 0.0 in all 9 row(s)" in _one_error_line(err)


def test_cli_decimal_people_and_huge_flows_exit_2(tmp_path, capsys):
    rc, err = _values_cli(tmp_path, capsys, _with("population", ("0103", 2001), 5050.5))
    assert rc == 2
    assert "column 'population': 1 value(s) 5050.5 in row(s) 13" in _one_error_line(err)
    rc, err = _values_cli(tmp_path, capsys, _with("population", ("0103", 2001), 5050.5),
                          panel_extra=", whole_counts = false")  # estimated counts, said so
    assert rc == 0, err
    f = toy_flows().astype({"count": float})
    f.loc[2, "count"] = 1e300
    rc, err = _values_cli(tmp_path, capsys, flows=f)
    assert rc == 2 and "values too large to compute with" in _one_error_line(err)


# ==== Geometry and CRS / Ids and years / Weights against data ====
import re
import warnings
from pathlib import Path
from urllib.parse import unquote

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from shapely.geometry import box

import geoattr
import geoattr.weights as gw
from geoattr._format import escape_html
from geoattr.config import load_run_config
from geoattr.data import PanelData
from geoattr.exceptions import InputError, IsolatesWarning, WeightsSubsetWarning
from geoattr.io import read_polygons
from geoattr.models.spatial import fit_spatial
from geoattr.pipeline.sources import read_run_data
from geoattr.report import profile_file_name, write_profiles
from geoattr.report.maps import residual_map
from geoattr.variables import build_design
from tests.conftest import toy_flows, toy_panel

TOY_UNITS = ["0101", "0102", "0103"]


def _utm_boxes(ids, crs="EPSG:25833") -> gpd.GeoDataFrame:
    """Adjacent 10 km squares in UTM 33 (southern Norway), one per id."""
    x0, y0 = 250_000.0, 6_650_000.0
    return gpd.GeoDataFrame({"unit": list(ids), "name": [f"Unit {i}" for i in ids]},
                            geometry=[box(x0 + 1e4 * k, y0, x0 + 1e4 * (k + 1), y0 + 1e4) for k in range(len(ids))],
                            crs=crs)


def _degree_boxes(ids) -> gpd.GeoDataFrame:
    """Longitude/latitude squares around Oslo, wrongly declared as EPSG:25833 (metres)."""
    return gpd.GeoDataFrame({"unit": list(ids)},
                            geometry=[box(10 + 0.1 * k, 59.9, 10.1 + 0.1 * k, 60.0) for k in range(len(ids))],
                            crs="EPSG:25833")


# ---------------------------------------------------------------- Geometry and CRS
def test_degrees_declared_as_utm_are_refused_by_the_reader():
    with pytest.raises(InputError, match=r"declared in the projected CRS EPSG:25833 \(metres\) but their "
                                         r"coordinates span x 10 to 10\.3, y 59\.9 to 60.*look like longitude/"
                                         r"latitude.*set_crs\('EPSG:4326', allow_override=True\).*"
                                         r"to_crs\('EPSG:25833'\)"):
        read_polygons(_degree_boxes(TOY_UNITS), id_column="unit")


def test_degrees_declared_as_utm_are_refused_by_the_weights_builders():
    gdf = _degree_boxes(TOY_UNITS).set_index("unit")
    for build in (gw.contiguity, lambda g: gw.knn(g, 1), lambda g: gw.distance_band(g, 5_000)):
        with pytest.raises(InputError, match=r"EPSG:25833 \(metres\) but their coordinates span"):
            build(gdf)


def test_metres_declared_as_degrees_are_refused():
    gdf = _utm_boxes(TOY_UNITS).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(InputError, match=r"geographic CRS EPSG:4326 \(degrees\) but their coordinates span "
                                         r"x 250000 to 280000.*look like projected metres.*set_crs"):
        read_polygons(gdf, id_column="unit")


def test_utm_coordinates_in_their_crs_pass():
    out = read_polygons(_utm_boxes(TOY_UNITS), id_column="unit")
    assert list(out.index) == TOY_UNITS and out.crs == "EPSG:25833"


def test_distance_band_on_degrees_is_refused_unless_asked_for():
    geo = _utm_boxes(TOY_UNITS).set_index("unit").to_crs("EPSG:4326")
    with pytest.raises(InputError, match=r"distance band needs distances in metres, but the CRS EPSG:4326 is "
                                         r"geographic.*to_crs\('EPSG:25833'\).*allow_geographic=True"):
        gw.distance_band(geo, 15_000)
    g = gw.distance_band(geo, 0.4, allow_geographic=True)  # the threshold is then in degrees
    assert set(g.neighbors["0101"]) == {"0102", "0103"}


def _files_config(tmp_path: Path, polygons_line: str) -> Path:
    toy_panel().reset_index().to_csv(tmp_path / "panel.csv", index=False)
    toy_flows().to_csv(tmp_path / "flows.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio: "'crs' was not provided": the point here
        _utm_boxes(TOY_UNITS).set_crs(None, allow_override=True).to_file(tmp_path / "m.shp")  # no .prj
    cfg = tmp_path / "run.toml"
    cfg.write_text("[data]\nsource = 'files'\npanel = { path = 'panel.csv' }\nflows = { path = 'flows.csv' }\n"
                   + polygons_line + "\n")
    return cfg


def test_run_configuration_sets_the_crs_of_a_file_without_one(tmp_path):
    cfg = load_run_config(_files_config(tmp_path, "polygons = { path = 'm.shp', id_column = 'unit', "
                                                  "crs = 'EPSG:25833' }"))
    data = read_run_data(cfg["data"], tmp_path)
    assert data.polygons.crs == "EPSG:25833" and list(data.polygons.index) == TOY_UNITS


def test_run_configuration_without_crs_for_a_file_without_one_says_which_key(tmp_path):
    cfg = load_run_config(_files_config(tmp_path, "polygons = { path = 'm.shp', id_column = 'unit' }"))
    with pytest.raises(InputError, match=r"the polygons have no CRS; pass crs=.*\[data\] polygons = "
                                         r"\{ path = \.\.\., crs = \"EPSG:25833\" \}"):
        read_run_data(cfg["data"], tmp_path)


def test_unknown_crs_is_an_input_error():
    with pytest.raises(InputError, match=r"crs='EPSG:999999' is not a CRS pyproj knows"):
        read_polygons(_utm_boxes(TOY_UNITS).set_crs(None, allow_override=True), id_column="unit",
                      crs="EPSG:999999")


# ---------------------------------------------------------------- Ids and years
def _line_graph(ids) -> Graph:
    ids = list(ids)
    return Graph.from_arrays(ids[:-1] + ids[1:], ids[1:] + ids[:-1], np.ones(2 * len(ids) - 2)).transform("r")


def test_integer_ids_against_string_weights_say_both_forms():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"y": rng.normal(size=6), "x": rng.normal(size=6)},
                        index=pd.Index([301, 302, 303, 304, 305, 306], name="unit"))
    g = _line_graph(["0301", "0302", "0303", "0304", "0305", "0306"])
    with pytest.raises(InputError, match=r"the data's ids are integers \(301, 302, \.\.\.\) and the weights' are "
                                         r"strings \('0301', '0302', \.\.\.\).*zfill\(4\)"):
        geoattr.fit("y ~ x", data, model="sar", weights=g)


def test_integer_panel_ids_against_string_weights_in_a_spatial_term():
    panel = toy_panel().rename(index=lambda u: int(u) if isinstance(u, str) else u, level="unit")
    with pytest.raises(InputError, match=r"the data's ids are integers \(101, 102, \.\.\.\) and the weights' "
                                         r"are strings \('0101', '0102', \.\.\.\)"):
        geoattr.fit("net_migration ~ W(jobs)", panel, weights=_line_graph(TOY_UNITS))


def test_ids_that_differ_by_leading_zeros_are_named():
    g = _line_graph(TOY_UNITS)
    with pytest.raises(InputError, match=r"ids \('101', '102', \.\.\.\) and the weights' \('0101', '0102', "
                                         r"\.\.\.\) differ by leading zeros"):
        gw.as_sparse(g, ["101", "102", "103"])


def test_ids_sharing_a_file_name_get_their_own_profile_pages_and_every_link_resolves(tmp_path):
    ids = ["K 1", "K/1", "K_1", "k_1", "index", "0301"]
    idx = pd.MultiIndex.from_product([ids, [2020, 2021]], names=["unit", "year"])
    att = pd.DataFrame({"actual": 1.0, "expected": 0.5, "residual": np.arange(len(idx), dtype=float)}, index=idx)
    pages = write_profiles(tmp_path / "profiles", att=att, report=None)
    files = {u: pages[u] for u in ids if u != "index"}
    assert len({p.name.lower() for p in files.values()}) == len(files)  # distinct, even case-insensitively
    assert pages["0301"].name == "0301.html" and profile_file_name("index") != "index.html"
    for u, p in files.items():
        assert p.exists() and f"<h1>{escape_html(u)}</h1>" in p.read_text()  # each page is its own unit's
    index_html = pages["index"].read_text()
    targets = re.findall(r'(?:href|value)="([^"#]+\.html)"', index_html)
    assert len(set(targets)) == len(ids)
    assert all((tmp_path / "profiles" / unquote(t)).exists() for t in targets)
    # the map's popups link to the same pages
    polys = _utm_boxes(ids).set_index("unit")
    cum = att["residual"].groupby(level="unit").sum().to_frame()
    residual_map(polys, cum, lisa=False, path=tmp_path / "map.html")
    data = re.search(r"geoattr\.decode\((.*)\);$", (tmp_path / "map.html").read_text(), re.M).group(1)
    links = pd.read_json(pd.io.common.StringIO(data), typ="series")["links"]
    assert len(links) == len(ids)
    assert all((tmp_path / unquote(link)).is_file() for link in links)


def test_profile_file_names_are_deterministic_and_lowercase():
    assert profile_file_name("K 1") == profile_file_name("K 1")
    assert profile_file_name("K 1") != profile_file_name("K/1") != profile_file_name("K_1")
    assert profile_file_name("Oslo") == profile_file_name("Oslo").lower() != profile_file_name("oslo")


def test_non_integer_year_in_a_panel_is_refused_naming_the_row():
    p = toy_panel().reset_index()
    p["year"] = p["year"].astype(float)
    p.loc[1, "year"] = 2000.5
    with pytest.raises(InputError, match=r"data years must be whole years such as 2017; got values like "
                                         r"\[2000\.5\] in 1 row\(s\): \('0101', 2000\.5\).*never rounded"):
        geoattr.fit("net_migration ~ jobs", p.set_index(["unit", "year"]))
    with pytest.raises(InputError, match=r"\('0101', 2000\.5\)"):
        PanelData(p.set_index(["unit", "year"]), flows=toy_flows())


def test_non_integer_year_in_the_flows_is_refused():
    f = toy_flows().astype({"year": float})
    f.loc[3, "year"] = 2000.5
    with pytest.raises(InputError, match=r"the flows' 'year' column must be whole years such as 2017; got values "
                                         r"like \[2000\.5\] in 1 row\(s\): 3\."):
        gw.commuting_by_year(f, [2000])
    with pytest.raises(InputError, match=r"years must be whole years such as 2017; got values like \[2000\.5\]"):
        gw.commuting_by_year(toy_flows(), [2000.5])


def test_panel_too_short_for_the_lags_says_what_the_lags_need():
    p = toy_panel()
    short = PanelData(p[p.index.get_level_values("year") >= 2003], flows=toy_flows())
    with pytest.raises(InputError, match=r"too short for the lags: it has years 2003-2005.*\(vra_l2\) need jobs "
                                         r"from 3 year\(s\) before the first year of the dependent variable.*2006"):
        build_design(short, ["vra", "vra_l1", "vra_l2"])


def test_time_lag_longer_than_the_panel_names_the_lag_and_the_years():
    with pytest.raises(InputError, match=r"lag\(jobs, 9\) needs the value 9 year\(s\) earlier, but the data have "
                                         r"6 year\(s\) \(2000-2005\).*at most 5"):
        geoattr.fit("net_migration ~ lag(jobs, 9)", toy_panel())


# ---------------------------------------------------------------- Weights against data
def _panel_on(units, years=range(2000, 2006), seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product([list(units), list(years)], names=["unit", "year"])
    x = rng.normal(size=len(idx))
    return pd.DataFrame({"y": 1 + 0.5 * x + rng.normal(size=len(idx)), "x": x}, index=idx)


def test_weights_with_more_units_than_the_data_are_subset_and_renormalised_with_a_note():
    units = [f"{k:04d}" for k in range(12)]
    g = _line_graph(units)  # row-standardised; the data lack the first and the last unit
    df = _panel_on(units[1:-1])
    with pytest.warns(WeightsSubsetWarning, match=r"2 of its 12 units are not in the data \('0000', '0011'\); "
                                                  r"12 observation\(s\) lost neighbours, their rows were "
                                                  r"renormalised to sum to 1"):
        res = geoattr.fit("y ~ x", df, model="sar", weights=g)
    assert any("rows were renormalised" in n for n in res.notes)
    np.testing.assert_allclose(np.asarray(res.weights.sum(axis=1)).ravel(), 1.0, rtol=0, atol=1e-12)


def test_binary_weights_subset_to_the_data_keep_their_values_and_say_so():
    units = [f"{k:04d}" for k in range(12)]
    ids = units[:-1] + units[1:]
    g = Graph.from_arrays(ids, units[1:] + units[:-1], np.ones(len(ids)))  # binary
    df = _panel_on(units[:-1])
    with pytest.warns(WeightsSubsetWarning, match=r"kept as they are \(not row-standardised\)"):
        res = fit_spatial(df["y"], df[["x"]].assign(const=1.0), g, model="sem")
    assert res.weights.sum() == pytest.approx(2 * 10 * 6)  # the 10 links among the 11 units, both ways, 6 years


def test_align_keeps_row_standardised_weights_row_standardised():
    g = _line_graph(["a", "b", "c", "d"])
    sub = gw.align(g, ["a", "b", "c"])
    assert sub.transformation == "R"
    np.testing.assert_allclose(np.asarray(gw.as_sparse(sub, ["a", "b", "c"]).sum(axis=1)).ravel(), 1.0)
    raw = gw.align(g, ["a", "b", "c"], renormalise=False)
    assert raw.transformation == "O"  # rows no longer sum to 1: not labelled row-standardised
    assert gw.as_sparse(raw, ["a", "b", "c"]).sum(axis=1)[2, 0] == pytest.approx(0.5)


def test_align_on_sparse_weights_renormalises_too():
    sw = gw.SparseWeights.from_graph(_line_graph(["a", "b", "c", "d"]))
    sub = gw.align(sw, ["c", "b"])
    np.testing.assert_allclose(sub.matrix.toarray(), [[0, 1], [1, 0]])
    assert list(sub.ids) == ["c", "b"]


def test_a_year_without_flows_is_named_in_the_warning():
    f = toy_flows()
    f.loc[f["year"] == 2002, "count"] = 0
    with pytest.warns(IsolatesWarning, match=r"3 unit\(s\) have no commuting flows and are kept as isolates in "
                                             r"2002 \(no unit has any"):
        gw.commuting_by_year(f, [2001, 2002])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gw.commuting_by_year(toy_flows(), [2001, 2002])  # a year with flows: no warning
# ==== end of Geometry and CRS / Ids and years / Weights against data ====


# ==== Escaping and row accounting ====
# Every text output is escaped for the format it is read in (Markdown, LaTeX, HTML, SVG,
# a spreadsheet reading a CSV), and run.json's row accounting adds up from the rows read
# to the observations of the model, with a specific reason for every dropped row.
import ast  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from geoattr import cli  # noqa: E402
from geoattr._format import (  # noqa: E402
    csv_safe,
    escape_csv,
    escape_html,
    escape_latex,
    escape_markdown,
    escape_mathtext,
    write_csv,
)
from geoattr.accounting import Accounting  # noqa: E402
from geoattr.data import PanelData  # noqa: E402
from geoattr.report.figures import ranking_bars  # noqa: E402
from geoattr.report.tables import ranking_table, regression_table  # noqa: E402
from geoattr.variables import build_design  # noqa: E402
from tests.conftest import make_result, toy_flows, toy_panel  # noqa: E402

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","x")'
EVIL = {"0101": SCRIPT, "0102": IMG, "0103": FORMULA}
GENERIC_REASONS = {"dropped", "missing", "other", "invalid", "removed", "filtered", "excluded", "unknown", "nan"}

ESCAPE_CONFIG = """
[data]
source = "files"
years = [2003, 2005]
commuting_year = "same"
panel = { path = "panel.csv", unit_column = "kommune", columns = { folketall = "population", jobs = "jobs", net_migration = "net_migration" } }
flows = { path = "flows.csv", origin = "bosted", destination = "arbeidssted", value = "n" }
centrality = { path = "cent.csv", unit_column = "kommune", value_column = "index" }
regions = { path = "reg.csv", unit_column = "kommune", region_column = "reg" }
{crosswalk}
[model]
spec = "2019"
level = "{level}"
cov_type = "robust"
"""


def _files_run(folder: Path, *, ids: dict[str, str] | None = None, level: str = "municipality",
               split_0103: bool = False) -> Path:
    """A ``source = "files"`` run on the toy panel (ids renamed, or 0103 delivered as two old codes)."""
    data = folder / "data"
    data.mkdir(parents=True)
    ids = ids or {}
    panel = toy_panel().reset_index().rename(columns={"unit": "kommune", "population": "folketall"})
    flows = toy_flows().rename(columns={"origin": "bosted", "destination": "arbeidssted", "count": "n"})
    crosswalk = ""
    if split_0103:  # 0103 as 0104 + 0105 (halves): the crosswalk merges them back
        half = panel[panel.kommune == "0103"].assign(folketall=lambda d: d.folketall / 2, jobs=lambda d: d.jobs / 2,
                                                     net_migration=lambda d: d.net_migration / 2)
        panel = pd.concat([panel[panel.kommune != "0103"], half.assign(kommune="0104"), half.assign(kommune="0105")])
        rows = []
        for r in flows.itertuples(index=False):
            o = ["0104", "0105"] if r.bosted == "0103" else [r.bosted]
            d = ["0104", "0105"] if r.arbeidssted == "0103" else [r.arbeidssted]
            rows += [(r.year, a, b, r.n / (len(o) * len(d))) for a in o for b in d]
        flows = pd.DataFrame(rows, columns=["year", "bosted", "arbeidssted", "n"])
        pd.DataFrame([(y, c, {"0104": "0103", "0105": "0103"}.get(c, c), 1.0)
                      for y in range(2000, 2006) for c in ["0101", "0102", "0104", "0105"]],
                     columns=["year", "source", "target", "weight"]).to_csv(data / "cw.csv", index=False)
        crosswalk = 'crosswalk = { path = "cw.csv" }'
    rename = lambda s: s.map(lambda v: ids.get(v, v))  # noqa: E731
    panel.assign(kommune=rename(panel.kommune)).to_csv(data / "panel.csv", index=False)
    flows.assign(bosted=rename(flows.bosted), arbeidssted=rename(flows.arbeidssted)).to_csv(
        data / "flows.csv", index=False)
    units = pd.Series(["0101", "0102", "0103"])
    pd.DataFrame({"kommune": rename(units), "index": [800, 500, 200]}).to_csv(data / "cent.csv", index=False)
    pd.DataFrame({"kommune": rename(units), "reg": ["R1", "R1", "R2"]}).to_csv(data / "reg.csv", index=False)
    (folder / "run.toml").write_text(ESCAPE_CONFIG.replace("{crosswalk}", crosswalk).replace("{level}", level))
    out = folder / "out"
    assert cli.main(["run", str(folder / "run.toml"), "--out", str(out), "--data-dir", str(data),
                     "--no-progress"]) == 0
    return out


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    """A files-source run whose three unit ids are a script, an HTML attribute break and a formula."""
    return _files_run(tmp_path_factory.mktemp("evil"), ids=EVIL)


def _check_accounting(rows: list[dict], nobs: int) -> None:
    """read + added = used + dropped everywhere, each step reads what its source used, the last step is the model."""
    by_table = {r["table"]: r for r in rows}
    for r in rows:
        assert r["read"] + sum(r.get("added", {}).values()) == r["used"] + sum(r["dropped"].values()), r
        if r.get("from") is not None:
            assert r["read"] == by_table[r["from"]]["used"], (r["table"], r["from"])
        for reason, n in {**r["dropped"], **r.get("added", {})}.items():
            assert n > 0 and reason.lower() not in GENERIC_REASONS and len(reason.split()) >= 2, reason
    last = rows[-1]
    assert last["table"].startswith("design") and last["used"] == nobs
    step, seen = last, set()
    while step.get("from") is not None and step["table"] not in seen:  # back to a table read from a file
        seen.add(step["table"])
        step = by_table[step["from"]]
    assert step["table"] == "panel" and "from" not in step


def _main_nobs(out: Path) -> int:
    run = json.loads((out / "run.json").read_text())
    fit = pd.read_csv(out / "fit.csv")
    row = fit[(fit.spec.astype(str) == str(run["main"]["spec"])) & (fit.level == run["main"]["level"])]
    return int(row["nobs"].iloc[0])


def test_escape_markdown_shows_html_links_math_and_cell_breaks_as_text():
    """A Markdown renderer must show a name as written: no tag, link, emphasis, math or new cell."""
    assert escape_markdown(SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escape_markdown("[x](javascript:y)") == "\\[x\\](javascript:y)"
    assert escape_markdown("a|b *c* $x$ ~~d~~ `e`") == "a\\|b \\*c\\* \\$x\\$ \\~\\~d\\~\\~ \\`e\\`"
    assert escape_markdown("two\nlines\r\nhere") == "two lines here"  # a line break would end the table row
    # one implementation for tables too: an underscore inside a word stays, one at its edge is escaped
    assert escape_markdown("vra_l1") == "vra_l1" and escape_markdown("_x_ a__b") == "\\_x\\_ a\\_\\_b"


def test_markdown_tables_escape_unit_and_model_names():
    models = {SCRIPT: _toy_fit(), "vra_l1|x": _toy_fit()}
    md = regression_table(models, fmt="markdown")
    assert "<script>" not in md and "&lt;script&gt;" in md and "vra_l1\\|x" in md
    rankings = _rankings({"unit": [SCRIPT, IMG], "name": ["_a_\nb", "$\\alpha$"]})
    rt = ranking_table(rankings, fmt="markdown", top_n=2, show_names=True)
    assert "<img" not in rt and "&lt;img src=x onerror=alert(1)&gt;" in rt
    assert "\\_a\\_ b" in rt and "\\$\\\\alpha\\$" in rt
    assert len(rt.splitlines()) == 2 + 2 * 3  # header, rule, two panels of a title and two units


def test_latex_tables_escape_names_and_keep_cells_on_one_line():
    rankings = _rankings({"unit": ["\\input{/etc/passwd}", "a_b"], "name": ["x%\n\ny", "#&$"]})
    tex = ranking_table(rankings, fmt="latex", top_n=2, show_names=True)
    assert "\\input" not in tex and "\\textbackslash{}input\\{/etc/passwd\\}" in tex
    assert "x\\% y" in tex and "\\#\\&\\$" in tex and "a\\_b" in tex
    assert "\n\n" not in tex  # a blank line inside a tabular is a LaTeX error
    assert escape_latex("<b>") == "\\textless{}b\\textgreater{}"


def test_html_tables_escape_attribute_breaks():
    html = regression_table({IMG: _toy_fit()}, fmt="html")
    assert "<img" not in html and escape_html(IMG) in html and "&quot;&gt;&lt;img" in html


def test_figure_labels_are_drawn_as_written_not_as_mathtext(tmp_path):
    """A name with $...$ would be drawn as math, a malformed one made savefig fail; SVG text is escaped."""
    att = _attractiveness(["u1", "u2", "u3"])
    names = {"u1": "$\\frac{", "u2": "$\\alpha$ & co", "u3": SCRIPT}
    assert escape_mathtext("$\\alpha$") == "\\$\\alpha\\$"
    path = tmp_path / "bars.svg"
    fig = ranking_bars(att, names=names, n=3, path=path)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "\\$\\frac{" in labels and "\\$\\alpha\\$ & co" in labels
    svg = path.read_text()
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_run_tables_and_pages_escape_hostile_unit_ids(evil_run):
    """The ids reach tables/*.md, tables/*.tex, report.html and the profile pages only escaped."""
    out = evil_run
    md = "".join(p.read_text() for p in (out / "tables").glob("*.md"))
    assert "<script>" not in md and "<img" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    tex = "".join(p.read_text() for p in (out / "tables").glob("*.tex"))
    assert "<script>" not in tex and "\\textless{}script\\textgreater{}" in tex
    pages = [out / "report.html", *sorted((out / "profiles").glob("*.html"))]
    assert len(pages) > 3
    for page in pages:
        text = page.read_text()
        assert "<script>alert(1)" not in text and "<img src=x" not in text, page.name


def test_run_csvs_guard_formulas_and_keep_numbers(evil_run):
    """A spreadsheet opening rankings.csv must not run a unit id as a formula; numbers stay numbers."""
    for name in ("rankings.csv", "attractiveness.csv"):
        frame = pd.read_csv(evil_run / name)
        assert "'" + FORMULA in set(frame["unit"]) and FORMULA not in set(frame["unit"]), name
        assert SCRIPT in set(frame["unit"])  # not a formula: written as it is
        assert frame["residual"].dtype == float and (frame["residual"] < 0).any()


def test_escape_csv_quotes_formula_cells_only():
    for cell in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-cmd|' /C calc'!A0"):
        assert escape_csv(cell) == "'" + cell
    # numbers, text ids that are plain numbers ("-1": a judgement call, kept so that ids read back), other text
    for cell in (-1.5, 3, "-1", "+47", "-0.5e3", "Oslo", "0301", "", None):
        assert escape_csv(cell) == cell


def test_csv_safe_leaves_numeric_columns_and_dtypes_alone(tmp_path):
    frame = pd.DataFrame({"unit": ["=x", "-1"], "value": [-1.0, -2.5], "n": [-3, 4], "flag": [True, False],
                          "cat": pd.Categorical(["@a", "b"])}, index=pd.Index(["+i", "j"], name="row"))
    safe = csv_safe(frame)
    assert list(safe["unit"]) == ["'=x", "-1"] and list(safe["cat"]) == ["'@a", "b"]
    assert list(safe.index) == ["'+i", "j"]
    pd.testing.assert_frame_equal(safe[["value", "n", "flag"]].reset_index(drop=True),
                                  frame[["value", "n", "flag"]].reset_index(drop=True))
    assert frame["unit"].iloc[0] == "=x"  # the input is not changed
    back = pd.read_csv(write_csv(frame, tmp_path / "x.csv"), index_col="row")
    assert back["value"].tolist() == [-1.0, -2.5] and back["n"].tolist() == [-3, 4]


@pytest.mark.parametrize("where", ["column", "str column", "categorical", "index", "multiindex level", "columns"])
def test_write_csv_guards_a_formula_wherever_it_is_and_skips_the_copy_otherwise(tmp_path, where):
    """write_csv skips csv_safe's copy when no text cell or label starts like a formula; one such
    cell anywhere (a column of either text dtype, categories, the index, a level, a header) is guarded."""
    frame = pd.DataFrame({"unit": ["0301", "Oslo"], "name": pd.Series(["a", "b"], dtype="str"),
                          "cat": pd.Categorical(["x", "y"]), "value": [-1.0, 2.5]},
                         index=pd.Index(["i", "j"], name="row"))
    plain = tmp_path / "plain.csv"
    write_csv(frame, plain)
    frame.to_csv(tmp_path / "ref.csv")
    assert plain.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    evil = frame.copy()
    if where == "column":
        evil["unit"] = ["0301", "=cmd"]
    elif where == "str column":
        evil["name"] = pd.Series(["a", "+cmd"], dtype="str", index=evil.index)
    elif where == "categorical":
        evil["cat"] = pd.Categorical(["x", "@cmd"])
    elif where == "index":
        evil.index = pd.Index(["i", "-cmd"], name="row")
    elif where == "multiindex level":
        evil.index = pd.MultiIndex.from_arrays([["i", "=cmd"], [1, 2]], names=["row", "k"])
    else:
        evil = evil.rename(columns={"value": "=value"})
    text = write_csv(evil, tmp_path / "evil.csv").read_text()
    assert "'" + {"column": "=cmd", "str column": "+cmd", "categorical": "@cmd", "index": "-cmd",
                  "multiindex level": "=cmd", "columns": "=value"}[where] in text
    assert text == csv_safe(evil).to_csv()


def test_write_csv_reads_unhashable_cells(tmp_path):
    """Object columns may hold lists (notes): they are looked at cell by cell, and a text cell beside them
    is still guarded."""
    frame = pd.DataFrame({"notes": [["a", "b"], ["c"]], "unit": ["0301", "=cmd"]})
    text = write_csv(frame, tmp_path / "x.csv", index=False).read_text()
    assert "'=cmd" in text and text == csv_safe(frame, index=False).to_csv(index=False)
    mixed = pd.DataFrame({"notes": [["a"], "@cmd"]})
    assert "'@cmd" in write_csv(mixed, tmp_path / "y.csv", index=False).read_text()


def test_every_csv_of_a_run_goes_through_write_csv():
    """No DataFrame.to_csv outside geoattr._format: the pipeline, robustness and choice runners use write_csv."""
    root = Path(__file__).resolve().parents[1] / "geoattr"
    calls = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "to_csv":
                calls.append((path.relative_to(root).as_posix(), ast.unparse(node.func.value)))
    # the writer itself, and the to_csv methods of Comparison and RobustnessResults (which use write_csv)
    assert sorted(calls) == [("_format.py", "safe"), ("pipeline/steps.py", "comp"), ("robustness/config.py", "res")]


def test_demo_row_accounting_adds_up_to_the_region_model(demo_output):
    """panel -> design and panel -> panel (region) -> design (region): the last step's rows are the nobs."""
    out, _ = demo_output
    rows = json.loads((out / "run.json").read_text())["row_accounting"]
    _check_accounting(rows, _main_nobs(out))
    tables = [r["table"] for r in rows]
    assert tables[-3:] == ["panel (region)", "flows (region)", "design (region)"]
    design = {r["table"]: r for r in rows}["design"]
    assert any("read only for job growth and its lags" in k for k in design["dropped"])
    assert design["used"] == len(pd.read_csv(out / "attractiveness.csv"))


@pytest.mark.parametrize("level", ["municipality", "region"])
def test_files_run_row_accounting_adds_up(tmp_path, level):
    out = _files_run(tmp_path, level=level)
    rows = json.loads((out / "run.json").read_text())["row_accounting"]
    _check_accounting(rows, _main_nobs(out))
    design = {r["table"]: r for r in rows}["design"]
    # 18 panel rows: 2000-2002 only for the lags of job growth (vra_l2 needs jobs of 2000), 2003-2005 used
    assert design == {"table": "design", "read": 18, "used": 9, "from": "panel", "notes": [], "dropped": {
        "years 2000-2002: read only for job growth and its lags (the estimation years 2003-2005)": 9}}


def test_files_run_with_crosswalk_accounts_for_merged_codes(tmp_path):
    """Harmonised counts: the rows of merged codes are summed, and the accounting says so."""
    out = _files_run(tmp_path, split_0103=True)
    rows = json.loads((out / "run.json").read_text())["row_accounting"]
    _check_accounting(rows, _main_nobs(out))
    by_table = {r["table"]: r for r in rows}
    assert by_table["harmonise_panel"]["from"] == "panel" and by_table["design"]["from"] == "harmonise_panel"
    assert by_table["harmonise_panel"]["dropped"] == {"codes merged by the crosswalk: rows summed into stable units": 6}


def test_design_drops_are_counted_by_the_columns_missing(toy_data):
    p = toy_panel().assign(students=1.0, rent=2.0)
    p.loc[("0103", 2004), "students"] = np.nan
    p.loc[[("0101", 2003), ("0102", 2005)], "rent"] = np.nan
    data = PanelData(p, flows=toy_flows(), centrality=toy_data.centrality)
    d = build_design(data, "2019", years=(2003, 2005), extra=["students", "rent"], on_missing="drop")
    acc = d.accounting["design"]
    assert acc.dropped["missing values in students"] == 1 and acc.dropped["missing values in rent"] == 2
    assert acc.read == len(p) and acc.used == len(d.y) == 6 and acc.source == "panel"


def test_mismatch_drop_labels_tell_absent_units_from_dropped_ones():
    """A polygon of a unit never in the panel and one of a unit dropped for a missing input get different labels."""
    import geopandas as gpd
    from shapely.geometry import box

    polys = gpd.GeoDataFrame({"geometry": [box(i, 0, i + 1, 1) for i in range(3)]},
                             index=pd.Index(["0101", "0102", "0104"], name="unit"), crs=25833)
    flows = pd.concat([toy_flows(), pd.DataFrame([(2001, "0101", "9999", 5)], columns=toy_flows().columns)])
    with pytest.warns(Warning, match=r"1 unit\(s\) dropped \(6 panel rows\): '0103'"):
        d = PanelData(toy_panel(), polygons=polys, flows=flows, centrality=pd.Series(
            {"0101": 1.0, "0102": 2.0, "0103": 3.0}), on_mismatch="drop")
    acc = d.accounting
    assert acc["polygons"].dropped == {"unit not in panel": 1}
    assert acc["centrality"].dropped == {"unit dropped from the panel (missing from another input)": 1}
    assert acc["flows"].dropped == {"origin or destination not a panel unit": 1, "origin or destination dropped": 12}
    assert acc["panel"].used == len(d.panel) and acc["flows"].used == len(d.flows)


def test_accounting_records_add_up_and_chain():
    acc = Accounting()
    acc.record("panel", read=10)
    acc.record("harmonise_panel", read=10, source="panel", dropped={"codes merged": 3})
    acc.record("panel (spliced)", read=7, source="harmonise_panel", added={"later years from another table": 4})
    acc.record("flows", read=5, dropped={"zero count": 1})
    assert [a.table for a in acc.chain("panel")] == ["panel", "harmonise_panel", "panel (spliced)"]
    assert acc.last_step("panel") == "panel (spliced)" and acc["panel (spliced)"].used == 11
    d = acc.to_dict()[2]
    assert d["from"] == "harmonise_panel" and d["added"] == {"later years from another table": 4}
    merged = acc.merge(acc, new_only=True)
    assert merged.to_dict() == acc.to_dict()  # no double counting of a copy's tables


# helpers of the section -------------------------------------------------------------------
def _toy_fit():
    return make_result({"const": 0.3, "vra_l1": 0.5}, {"const": 0.2, "vra_l1": 0.2})


def _rankings(cols: dict[str, list[str]]) -> pd.DataFrame:
    n = len(cols["unit"])
    top = pd.DataFrame({"level": "municipality", "list": "top", "rank": range(1, n + 1), **cols,
                        "residual": np.linspace(1, -1, n), "residual_persons": np.linspace(10, -10, n)})
    return pd.concat([top, top.assign(list="bottom")], ignore_index=True)


def _attractiveness(units: list[str]) -> pd.DataFrame:
    idx = pd.MultiIndex.from_product([units, [2003, 2004]], names=["unit", "year"])
    res = np.linspace(-1, 1, len(idx))
    return pd.DataFrame({"actual": res, "expected": 0.0, "residual": res, "residual_persons": 10 * res}, index=idx)
