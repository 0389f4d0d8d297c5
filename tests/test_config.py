"""Configuration files: the schemas of geoattr.config and the one validator that walks them."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path

import pytest

from geoattr import cli, config, pipeline
from geoattr.compare import GRID_MODELS
from geoattr.exceptions import InputError
from geoattr.models.ols import CovType
from geoattr.robustness import BOOTSTRAP_METHODS, CONFIG_KEYS, ESTIMATORS, FAMILIES
from tests import test_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- what must keep loading
@pytest.mark.parametrize("name", ["synthetic.toml", "norway.toml", "norway_2003_2022.toml", "norway_forecast.toml"])
def test_example_run_configs_load_unchanged(name):
    path = EXAMPLES / name
    expected = {**tomllib.loads(path.read_text(encoding="utf-8")), "_config_dir": str(EXAMPLES.resolve())}
    assert config.load_run_config(path) == expected


def test_example_choice_config_loads_unchanged():
    path = EXAMPLES / "choice.toml"
    expected = {**tomllib.loads(path.read_text(encoding="utf-8")), "_config_dir": str(EXAMPLES.resolve())}
    assert config.load_choice_config(path) == expected


def test_configs_the_tests_write_still_validate(tmp_path):
    config.check_run_config(pipeline.DEFAULT_CONFIG)
    config.load_run_config(_write(tmp_path, test_cli.CONFIG))
    config.load_run_config(_write(tmp_path, test_cli.CONFIG + "\n[output]\ntables = false\nfigures = false\n"
                                              "profiles = false\nreport = false\n"))
    config.load_run_config(_write(tmp_path, test_cli.CONFIG.replace(
        "[model]", 'crosswalk = { path = "cw.csv", year = "aar", source = "gammel", target = "ny", '
                   'weight = "vekt" }\n\n[model]')))
    config.check_run_config({  # tests/test_report_browser.py
        "data": {"source": "synthetic", "seed": 2022, "years": [2014, 2023]},
        "model": {"spec": ["2022"], "level": ["region"]},
        "analyses": {"yearly": True, "decomposition": True, "decomposition_years": [2014, 2022], "uncertainty": True},
        "comparison": {"enabled": True, "models": ["vra_ols", "sar"], "weights": ["commuting", "queen"]},
        "output": {"top_n": 5},
    })
    config.check_robustness_config({"enabled": True, "variants": ["bootstrap", "placebo", "loyo"], "n_boot": 49,
                                    "n_placebo": 19, "n_jobs": 1, "seed": 2, "figure_format": "svg", "ci": 0.9})
    config.load_choice_config(_write(tmp_path, (  # tests/test_choice.py
        "[data]\npath = 'persons.csv'\n[data.columns]\noutcome = 'flytting'\nbackground = 'bakgrunn'\n"
        "[data.recode.outcome]\n0 = 'stay'\n1 = 'domestic'\n2 = 'emigration'\n"
        "[model]\ninteraction = false\nage = 'none'\ncontrols = ['sex', 'education']\n"
        "[output]\ntables = ['csv']\nfigures = ['png']\n"
        "[[hypotheses]]\nname = 'women emigrate less'\nrestriction = 'emigration: sex_female = 0'\n")))


def test_schema_lists_match_the_code():
    """The allowed values written in the schema are those the estimators accept."""
    assert set(config.COV_TYPES) == set(typing.get_args(CovType))
    assert set(config.COMPARISON_MODELS) == set(GRID_MODELS)
    assert config.ROBUSTNESS_FAMILIES == FAMILIES
    assert config.ROBUSTNESS_ESTIMATORS == ESTIMATORS
    assert config.BOOTSTRAP_METHODS == BOOTSTRAP_METHODS
    assert set(config.ROBUSTNESS_SCHEMA.fields) == set(CONFIG_KEYS)


# --------------------------------------------------------------------------- one test per error kind
def _fails(tmp_path: Path, text: str, pattern: str, loader=config.load_run_config) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=pattern) as err:
        loader(path)
    assert str(err.value).startswith(f"{path}: "), "the message names the file"
    return str(err.value)


@pytest.mark.parametrize("text, pattern", [
    ("[model]\nweighted = 'no'\n", r"\[model\] weighted must be bool \(true or false\), got 'no'"),
    ("[output]\nmap = 'false'\n", r"\[output\] map must be bool \(true or false\), got 'false'"),
    ("[output]\ntop_n = 'five'\n", r"\[output\] top_n must be int, got 'five'"),
    ("[model]\nmin_share = true\n", r"\[model\] min_share must be float, got True"),
    ("[data]\npolygons = { path = 1 }\n", r"\[data\]\.polygons path must be str, got 1"),
])
def test_wrong_type(tmp_path, text, pattern):
    _fails(tmp_path, text, pattern)


def test_value_outside_its_set_suggests_the_closest(tmp_path):
    msg = _fails(tmp_path, "[model]\ncov_type = 'robustt'\n",
                 r"\[model\] cov_type must be 'clustered', 'robust', 'unadjusted' or 'driscoll-kraay', "
                 r"got 'robustt'; did you mean 'robust'\?")
    assert "\n" not in msg
    _fails(tmp_path, "[comparison]\nweights = ['queen', 'knnn']\n",
           r"\[comparison\] weights must be .*'knn'.*, got 'knnn'; did you mean 'knn'\?")


@pytest.mark.parametrize("text, pattern", [
    ("[model]\ntop_k = 0\n", r"\[model\] top_k must be >= 1, got 0"),
    ("[model]\nmin_share = 1.5\n", r"\[model\] min_share must be in \[0, 1\), got 1.5"),
    ("[robustness]\nci = 1\n", r"\[robustness\] ci must be in \(0, 1\), got 1"),
    ("[robustness]\nmin_shares = [0.01, 0]\n", r"\[robustness\] min_shares must be in \(0, 1\), got 0"),
])
def test_value_out_of_range(tmp_path, text, pattern):
    _fails(tmp_path, text, pattern)


def test_unknown_key_in_an_inline_table(tmp_path):
    _fails(tmp_path, "[data]\nsource = 'files'\npolygons = { path = 'm.gpkg', name_colum = 'navn' }\n",
           r"unknown key\(s\) \['name_colum'\] in \[data\]\.polygons; allowed: \['crs', 'id_column', "
           r"'name_column', 'path'\]; \[data\]\.polygons\.name_colum: did you mean 'name_column'\?")
    _fails(tmp_path, "[data]\npanel = { path = 'p.csv', columns = { a = 1 } }\n",
           r"\[data\]\.panel\.columns a must be str, got 1")


def test_misspelled_key_and_section(tmp_path):
    _fails(tmp_path, "[robustness]\nn_bootstrap = 99\n",
           r"unknown key\(s\) \['n_bootstrap'\] in \[robustness\]; allowed: .*\[robustness\]\.n_bootstrap: "
           r"did you mean 'n_boot'\?")
    _fails(tmp_path, "[model]\nspecification = '2022'\n", r"\[model\]\.specification: did you mean 'spec'\?")
    _fails(tmp_path, "[modle]\nspec = '2022'\n",
           r"unknown configuration section\(s\) \['modle'\]; allowed: .*\[modle\]: did you mean \[model\]\?")


def test_missing_required_key(tmp_path):
    _fails(tmp_path, "[data]\ncentrality = { value_column = 'index' }\n", r"\[data\]\.centrality needs path")


def test_choice_config_errors(tmp_path):
    """The messages tests/test_choice.py expects from choice.load_choice_config, plus the schema's."""
    load = config.load_choice_config
    _fails(tmp_path, "[data]\nsource = 'synthetic'\nsize = 3\n", r"unknown key\(s\) \['size'\] in \[data\]", load)
    _fails(tmp_path, "[modle]\n", r"unknown configuration section\(s\) \['modle'\]", load)
    _fails(tmp_path, "[data]\nsource = 'file'\n", "needs path", load)
    _fails(tmp_path, "[predictions]\nmethod = 'bootstrap'\n",
           r"\[predictions\] method must be 'delta' or 'simulation'", load)
    _fails(tmp_path, "[output]\ntables = ['csv', 'html']\n", r"\[output\] tables must be .*, got 'html'", load)
    _fails(tmp_path, "[model]\nmaxiter = 'many'\n", r"\[model\] maxiter must be int, got 'many'", load)
    _fails(tmp_path, "[[hypotheses]]\nname = 'x'\nrestrction = 'a = 0'\n",
           r"unknown key\(s\) \['restrction'\] in \[hypotheses\]\[0\].*did you mean 'restriction'\?", load)
    _fails(tmp_path, "profiles = 3\n", r"\[profiles\] must be an array of tables", load)


def test_robustness_section_messages():
    """The messages tests/test_robustness.py expects from the [robustness] check."""
    with pytest.raises(InputError, match=r"unknown key\(s\) \['n_bootstrap'\] in \[robustness\]; allowed: "):
        config.check_robustness_config({"n_bootstrap": 99})
    with pytest.raises(InputError, match=r"\[robustness\] n_boot must be int, got '99'"):
        config.check_robustness_config({"n_boot": "99"})
    with pytest.raises(InputError, match=r"figure_format must be \"png\", \"svg\" or a list of them, got 'pdf'"):
        config.check_robustness_config({"figure_format": "pdf"})


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        config.load_run_config(tmp_path / "missing.toml")
    _fails(tmp_path, "[model\nspec = '2022'\n", "not valid TOML")


# --------------------------------------------------------------------------- the command line
@pytest.mark.parametrize("command, text, words", [
    ("run", "[data]\nsource = 'files'\npolygons = { path = 'm.gpkg', name_colum = 'navn' }\n",
     ["[data].polygons.name_colum", "did you mean 'name_column'?"]),
    ("run", "[model]\nweighted = 'no'\n", ["[model] weighted must be bool"]),
    ("run", "[model]\ncov_type = 'robustt'\n", ["[model] cov_type", "did you mean 'robust'?"]),
    ("choice", "[predictions]\nmethod = 'bootstrap'\n", ["[predictions] method must be 'delta' or 'simulation'"]),
])
def test_cli_prints_one_error_line(tmp_path, capsys, command, text, words):
    path = _write(tmp_path, text)
    assert cli.main([command, str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"geoattr: error: {path}: ")
    assert all(w in err for w in words), err
    assert not (tmp_path / "out").exists()


def test_every_schema_field_has_a_known_type():
    kinds = {"bool", "int", "float", "str", "list", "table", "null"}

    def walk(table: config.Table, where: str) -> None:
        specs = list(table.fields.items()) + ([("*", table.values)] if table.values else [])
        for key, spec in specs:
            assert set(spec.types) <= kinds, f"{where}.{key}"
            assert not spec.choices or "str" in spec.types, f"{where}.{key}"
            for sub in (spec.items, spec.items.items if spec.items else None):
                if sub is not None and sub.table is not None:
                    walk(sub.table, f"{where}.{key}[]")
            if spec.table is not None:
                walk(spec.table, f"{where}.{key}")

    for schema in (config.RUN_SCHEMA, config.CHOICE_SCHEMA):
        walk(schema, "")
    assert re.fullmatch(r"[a-z_]+", "".join(config.RUN_SCHEMA.fields))


def test_run_checks_a_dict_config_before_anything(tmp_path):
    with pytest.raises(InputError, match=r"\[model\] must be a table, got 3"):
        pipeline.run({"model": 3}, out=tmp_path / "out", progress=False)
    with pytest.raises(InputError, match=r"\[output\] top_n must be int, got 'five'"):
        pipeline.run({"output": {"top_n": "five"}}, out=tmp_path / "out", progress=False)


def test_lisa_fdr_takes_a_rate_or_none():
    config.check_run_config({"data": {"source": "synthetic"}, "output": {"lisa_fdr": "none"}})
    config.check_run_config({"data": {"source": "synthetic"}, "output": {"lisa_fdr": 0.1}})
    with pytest.raises(InputError, match=r"\[output\] lisa_fdr must be a false-discovery rate between 0 and 1 "
                                         r"\(default 0\.05\) or \"none\" .*got 'no'; did you mean 'none'\?"):
        config.check_run_config({"data": {"source": "synthetic"}, "output": {"lisa_fdr": "no"}})
