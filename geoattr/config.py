"""Configuration files: one TOML reader and a typed schema per configuration.

The run configuration (``geoattr run CONFIG.toml``: ``[data]``, ``[model]``,
``[analyses]``, ``[comparison]``, ``[robustness]``, ``[output]``) and the
migration-choice configuration (``geoattr choice CONFIG.toml``) are described here as
data: a :class:`Table` of :class:`Field` specifications (types, allowed values, range,
default, nested tables).  One validator, :func:`validate`, walks a parsed mapping
against a schema.  Unknown keys at any depth (inline tables included), values of the
wrong type and values outside their set or range raise
:class:`~geoattr.exceptions.InputError`; the message names the key and its section
(e.g. ``[data].polygons.name_colum``), suggests the closest valid key or value and,
when the configuration came from a file, starts with the file's path.

The loaders return the parsed file as a plain dict (no defaults filled in: the code
that reads a key applies the default recorded in the schema) with ``_config_dir`` set
to the file's folder.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from geoattr.exceptions import InputError

__all__ = [
    "Field",
    "COV_TYPES",
    "COMPARISON_MODELS",
    "COMPARISON_WEIGHTS",
    "ROBUSTNESS_FAMILIES",
    "ROBUSTNESS_ESTIMATORS",
    "BOOTSTRAP_METHODS",
    "DECOMPOSITION_CONVENTIONS",
    "Table",
    "RUN_SCHEMA",
    "ROBUSTNESS_SCHEMA",
    "FORECAST_SCHEMA",
    "CHOICE_SCHEMA",
    "read_toml",
    "validate",
    "load_run_config",
    "load_choice_config",
    "check_run_config",
    "check_robustness_config",
    "check_choice_config",
]

_TYPE_NAMES = {"bool": "bool (true or false)", "int": "int", "float": "float", "str": "str", "list": "a list",
               "table": "a table", "null": "none"}


@dataclass(frozen=True)
class Field:
    """The specification of one configuration value.

    Parameters
    ----------
    types : tuple of str
        Accepted kinds among ``"bool"``, ``"int"``, ``"float"`` (an integer is accepted
        too), ``"str"``, ``"list"``, ``"table"`` and ``"null"`` (Python ``None``, for
        configurations given as dicts).
    choices : tuple, default ()
        Allowed values of a string (empty: any string).
    low, high : float, optional
        Range of a number (bounds included unless ``open_low`` / ``open_high``).
    open_low, open_high : bool, default False
        Exclude the bound.
    items : Field, optional
        Specification of every item of a list.
    length : int, optional
        Exact length of a list.
    table : Table, optional
        Schema of a table (nested keys are checked at any depth).
    default : object, optional
        The value the code uses when the key is absent (documentation).
    describe : str, optional
        What the value must be, when the generated text would not say it well.
    help : str, default ""
        Advice appended to the error message.
    """

    types: tuple[str, ...]
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    items: Field | None = None
    length: int | None = None
    table: Table | None = None
    default: Any = None
    describe: str | None = None
    help: str = ""


@dataclass(frozen=True)
class Table:
    """The schema of a table: its keys, or one specification for free-form keys.

    Parameters
    ----------
    fields : mapping of str to Field
        The allowed keys.
    values : Field, optional
        A free-form table (any key) whose values follow this specification.
    required : tuple of str, default ()
        Keys that must be present.
    rules : tuple of callable, default ()
        Checks across keys, called as ``rule(table, where)`` after the keys are checked;
        they raise :class:`InputError`.
    """

    fields: Mapping[str, Field] = field(default_factory=dict)
    values: Field | None = None
    required: tuple[str, ...] = ()
    rules: tuple[Callable[[Mapping[str, Any], str], None], ...] = ()


# --------------------------------------------------------------------------- constructors
def _bool(default: bool) -> Field:
    return Field(("bool",), default=default)


def _int(default: Any = None, *, low: float | None = None) -> Field:
    return Field(("int",), low=low, default=default)


def _str(default: Any = None, choices: tuple[str, ...] = (), **kw: Any) -> Field:
    return Field(("str",), choices=choices, default=default, **kw)


def _str_list(choices: tuple[str, ...] = (), default: Any = None) -> Field:
    return Field(("list",), items=_str(choices=choices), default=default)


def _one_or_list(choices: tuple[str, ...], default: Any) -> Field:
    """A string among ``choices`` or a list of them."""
    return Field(("str", "list"), choices=choices, items=_str(choices=choices), default=default)


def _year_pair(default: Any = None, *, nullable: bool = False) -> Field:
    return Field(("list", "null") if nullable else ("list",), items=_int(), length=2, default=default,
                 describe="[first, last] (integers)")


def _periods(default: str = "halves") -> Field:
    return Field(("str", "list"), choices=("halves",), items=_year_pair(), default=default,
                 describe='"halves" or a list of [first, last] periods')


def _file(*columns: str, **nested: Field) -> Field:
    """An inline table naming a file (``path``) and its columns."""
    fields = {"path": _str(), **{c: _str() for c in columns}, **nested}
    return Field(("table",), table=Table(fields, required=("path",)))


_FREE_STRINGS = Field(("table",), table=Table(values=_str()))

# --------------------------------------------------------------------------- the run configuration
#: Values shared with the code that uses them (tests pin them to the estimators' own lists).
COV_TYPES = ("clustered", "robust", "unadjusted", "driscoll-kraay")
COMPARISON_MODELS = ("vra_ols", "ols", "fe", "re", "slx", "sar", "sem", "sdm", "sdem", "sac", "sar_fe", "sem_fe",
                     "sar_mix", "sem_mix", "sdm_mix", "sdm_fe", "sdem_fe", "sdm_re", "sar_fe_keep", "sem_fe_keep")
COMPARISON_WEIGHTS = ("commuting", "queen", "knn", "distance")
ROBUSTNESS_FAMILIES = ("bootstrap", "loyo", "loro", "weights", "estimators", "placebo")
ROBUSTNESS_ESTIMATORS = ("year_effects", "weighted", "level", "fe", "sar")
BOOTSTRAP_METHODS = ("pairs", "wild")
DECOMPOSITION_CONVENTIONS = ("book", "as_estimated")

_DATA = Table({
    "source": _str("synthetic", ("synthetic", "files", "ssb"),
                   help="'synthetic' is the embedded default, 'files' reads the panel/flows/... tables named in "
                        "[data], 'ssb' a folder of Statistics Norway tables"),
    "seed": _int(2022),
    "dir": _str("."),
    "units": _str("2017", ("2017", "stable", "2024")),
    "years": _year_pair(None, nullable=True),
    "commuting_year": Field(("int", "str"), choices=("same",), default="same",
                            describe='an integer year or "same"'),
    "regions": Field(("str", "table"), choices=("regions85", "ba159"),
                     table=Table({"path": _str(), "unit_column": _str("unit"), "region_column": _str("region"),
                                  "name_column": _str(), "code_year": _int(2017)}, required=("path",)),
                     describe="a built-in name ('regions85', 'ba159') or { path = ..., unit_column = ..., "
                              "region_column = ..., name_column = ... }"),
    "panel": Field(("str", "table"), choices=("2003-2016", "2003-2022"),
                   table=_file("unit_column", "year_column", columns=_FREE_STRINGS, thousands=_str(choices=(".", ",")),
                               whole_counts=Field(("bool",))).table,
                   describe="{ path = ..., unit_column = ..., year_column = ..., columns = {...} } (source = "
                            "'files') or '2003-2016' / '2003-2022' (source = 'ssb')"),
    "flows": _file("origin", "destination", "value", "year", thousands=_str(choices=(".", ",")),
                   whole_counts=Field(("bool",))),
    "centrality": _file("unit_column", "value_column"),
    "polygons": _file("id_column", "name_column", "crs"),
    "population_by_age": _file(),
    "employment_rates": _file(),
    "death_probabilities": _file(),
    "on_mismatch": _str("raise", ("raise", "drop")),
    "crosswalk": _file("year", "source", "target", "weight",
                       units=_str("stable", ("stable", "target"),
                                  help='"stable" merges codes only, "target" uses the crosswalk\'s target codes '
                                       "(split codes shared out by its weights)"),
                       code_year=_int(), id_width=_int(low=1)),
})

_MODEL = Table({
    "spec": _one_or_list(("2018", "2019", "2022"), "2022"),
    "level": _one_or_list(("region", "municipality"), "municipality"),
    "weighted": _bool(False),
    "cov_type": _str("clustered", COV_TYPES),
    "year_effects": _bool(False),
    "relative_to_national": _bool(False),
    "constant": _bool(True),
    "extra": _str_list(default=[]),
    "min_share": Field(("float",), low=0.0, high=1.0, open_high=True, default=0.0),
    "top_k": _int(None, low=1),
    "include_diagonal": _bool(True),
    "on_missing": _str("raise", ("raise", "drop")),
})

_AGE_RANGE = re.compile(r"^\s*\d+\s*(-\s*\d+|\+)?\s*$")


def _age_group_ranges(analyses: Mapping[str, Any], where: str) -> None:
    """``age_groups`` ranges are written "18-29", "60+" or "5"."""
    groups = analyses.get("age_groups")
    if not isinstance(groups, Mapping):
        return
    if not groups:
        raise InputError(f"{where} age_groups is an empty table; write true or name = \"18-29\"")
    for name, value in groups.items():
        items = [value] if isinstance(value, str) else list(value)
        bad = [x for x in items if not _AGE_RANGE.match(x)]
        if bad or not items:
            raise InputError(f"{where} age_groups.{name}: {bad or items!r} is not a list of age ranges; write "
                             "\"18-29\", \"60+\" or \"5\" (e.g. families = [\"0-5\", \"30-39\"])")


_ANALYSES = Table({
    "yearly": _bool(True),
    "subgroups": _bool(False),
    "subgroup_periods": _periods(),
    "decomposition": Field(("bool", "table"), default=False,
                           table=Table({"convention": _str("book", DECOMPOSITION_CONVENTIONS,
                                                           help='"book": net migration relative to the national '
                                                                'rate, no constant; "as_estimated": the model as '
                                                                "estimated, its constant beyond the national rate "
                                                                "in 'other'")}),
                           describe='true/false or { convention = "book" | "as_estimated" }'),
    "decomposition_years": _year_pair(),
    "barometer": _bool(False),
    "barometer_flows": _str_list(),
    "barometer_period_length": _int(3, low=1),
    "drivers": Field(("bool", "str", "list"), choices=("auto",), items=_str(), default=False,
                     describe='true/false, "auto" (the driver__* panel columns) or a list of columns'),
    "driver_periods": _periods(),
    "uncertainty": _bool(False),
    "persistence": _bool(False),
    "regimes": Field(("bool", "str", "table"), choices=("centrality",), table=Table(values=_str()), default=False,
                     describe='false, "centrality" (tertiles) or a table unit = regime'),
    "fertility_rates": Field(("table",), table=Table(values=Field(("float",), low=0.0))),
    "cohort_residual": _bool(False),
    "vra_breakdown": Field(("bool", "table"), default=False, table=Table({
        "units": Field(("str", "list"), choices=("all",), items=_str(), default="all",
                       describe='"all" or a list of unit ids (strings)'),
        "years": Field(("list",), items=_int(), describe="a list of years (default every year of the model)"),
        "lag": Field(("int",), low=0, high=2, default=0)}),
        describe='false, true (every unit and year) or { units = ["..."] or "all", years = [...] }'),
    "age_groups": Field(("bool", "table"), table=Table(values=Field(("str", "list"), items=_str())), default=False,
                        describe='true (young_adults = "18-29", families = ["0-5", "30-39"]) or a table '
                                 'name = "18-29" / ["0-5", "30-39"] / "60+"'),
    "barometer_level": _one_or_list(("municipality", "region"), "municipality"),
}, rules=(_age_group_ranges,))

_COMPARISON = Table({
    "enabled": _bool(False),
    "models": _str_list(COMPARISON_MODELS),
    "weights": _str_list(COMPARISON_WEIGHTS, default=list(COMPARISON_WEIGHTS)),
    "knn": _int(6, low=1),
    "distance_band": Field(("float",), low=0.0, open_low=True, default=60000.0),
    "holdout_years": Field(("list",), items=_int()),
    "weights_year": _int(),
    "years": Field(("str", "list"), choices=("last10",), items=_int(), length=2,
                   describe='"last10" or [first, last] (integers)'),
})

#: Schema of the ``[robustness]`` section (its keys are the keyword arguments of
#: :func:`geoattr.robustness.robustness`, plus ``enabled``, ``figures`` and ``figure_format``).
ROBUSTNESS_SCHEMA = Table({
    "enabled": _bool(False),
    "variants": _str_list(ROBUSTNESS_FAMILIES),
    "bootstrap": _str_list(BOOTSTRAP_METHODS, default=["pairs", "wild"]),
    "n_boot": _int(999, low=0),
    "wild_weights": _str("rademacher", ("rademacher", "webb")),
    "n_placebo": _int(199, low=0),
    "commuting_years": Field(("list",), items=_int()),
    "min_shares": Field(("list",), items=Field(("float",), low=0.0, high=1.0, open_low=True, open_high=True),
                        default=[0.01, 0.05]),
    "top_ks": Field(("list",), items=_int(low=1), default=[5, 10]),
    "diagonal": _bool(True),
    "contiguity": _bool(None),
    "estimators": _str_list(ROBUSTNESS_ESTIMATORS),
    "ci": Field(("float",), low=0.0, high=1.0, open_low=True, open_high=True, default=0.95),
    "top_n": _int(20, low=1),
    "rank_by": _str("residual", ("residual", "residual_persons")),
    "rank_bootstrap": _str(None, BOOTSTRAP_METHODS),
    "resample_years": _bool(False),
    "seed": _int(0, low=0),
    "n_jobs": _int(-1),
    "figures": _bool(True),
    "figure_format": Field(("str", "list"), choices=("png", "svg"), items=_str(choices=("png", "svg")),
                           default=["png", "svg"], describe='"png", "svg" or a list of them'),
})

_OUTPUT = Table({
    "top_n": _int(10, low=1),
    "map": _bool(True),
    "tables": _bool(True),
    "figures": _bool(True),
    "report": _bool(True),
    "profiles": _bool(True),
    "self_contained": _bool(True),
    "tiles": _str("OpenStreetMap"),
    "lisa": _bool(True),
    "lisa_fdr": Field(("float", "str"), choices=("none",), low=0.0, high=1.0, open_low=True, open_high=True,
                      default=0.05, describe='a false-discovery rate between 0 and 1 (default 0.05) or "none" '
                                            '(each two-sided p-value against 0.05)'),
})


#: Schema of the ``[forecast]`` section (``geoattr forecast``, and ``geoattr run`` when present);
#: the keys are the keyword arguments of :func:`geoattr.forecast.forecast`, plus ``enabled``.
FORECAST_SCHEMA = Table({
    "enabled": _bool(True),
    "horizon": _int(10, low=1),
    "draws": _int(1000, low=1),
    "seed": _int(0, low=0),
    "level": Field(("float",), low=0.0, high=1.0, open_low=True, open_high=True, default=0.95),
    "attractiveness": _str("shrunken", ("zero", "mean", "shrunken")),
    "jobs": Field(("str", "list"), choices=("trend", "zero"), items=Field(("float",)), default="trend",
                  describe='"trend", "zero" or a list of yearly national job growth rates in %'),
    "backtest": Field(("table",), table=Table({"fit_until": _int(), "through": _int()},
                                              required=("fit_until", "through"))),
    "scenario": Field(("list",), items=Field(("table",), table=Table(
        {"name": _str(), "unit": _str(describe='a unit id in quotes, e.g. "0301"'), "year": _int(),
         "jobs": Field(("float",))}, required=("name", "unit", "year", "jobs"))),
        describe="an array of tables (write [[forecast.scenario]] before each entry)"),
    "n_jobs": _int(1),
    "fan_units": Field(("list",), items=Field(("str",)),
                       describe='unit ids of the fan charts in quotes, e.g. ["0301", "4601"] (default: the scenario '
                                "units and the most and least attractive unit)"),
})


def _section(table: Table) -> Field:
    return Field(("table",), table=table)


#: Schema of a run configuration (``geoattr run``; README "Run configuration").
RUN_SCHEMA = Table({
    "data": _section(_DATA),
    "model": _section(_MODEL),
    "analyses": _section(_ANALYSES),
    "comparison": _section(_COMPARISON),
    "robustness": _section(ROBUSTNESS_SCHEMA),
    "output": _section(_OUTPUT),
    "forecast": _section(FORECAST_SCHEMA),
})


# --------------------------------------------------------------------------- the choice configuration
def _choice_source_needs_path(data: Mapping[str, Any], where: str) -> None:
    if data.get("source") == "file" and "path" not in data:
        raise InputError(f"{where} source = 'file' needs path = \"persons.parquet\" (or .csv)")


_PROFILE_VALUE = Field(("str", "int", "float", "list"), describe="a value or a list of values")

#: Schema of a migration-choice configuration (``geoattr choice``; ``examples/choice.toml``).
CHOICE_SCHEMA = Table({
    "data": _section(Table({
        "source": _str(None, ("synthetic", "file"), help="the default is 'file' when path is given"),
        "n": _int(200_000, low=1),
        "seed": _int(2024, low=0),
        "path": _str(),
        "format": _str(None, ("parquet", "csv", "txt")),
        "columns": _FREE_STRINGS,
        "recode": Field(("table",), table=Table(values=Field(("table",), table=Table(values=_str())))),
        "on_missing": _str("raise", ("raise", "drop")),
    }, rules=(_choice_source_needs_path,))),
    "model": _section(Table({
        "age": _str("groups", ("groups", "quadratic", "none")),
        "age_groups": Field(("list",), items=_int(low=0)),
        "age_centre": Field(("float",)),
        "age_scale": Field(("float",), low=0.0, open_low=True),
        "interaction": _bool(True),
        "controls": _str_list(),
        "categories": Field(("table",), table=Table(values=_str_list())),
        "reference": _FREE_STRINGS,
        "centrality_classes": _FREE_STRINGS,
        "on_separation": _str("raise", ("raise", "warn")),
        "method": _str("newton"),
        "maxiter": _int(50, low=1),
    })),
    "predictions": _section(Table({
        "method": _str("delta", ("delta", "simulation")),
        "level": Field(("float",), low=0.0, high=1.0, open_low=True, open_high=True, default=0.95),
        "n_draws": _int(2000, low=1),
        "seed": _int(0, low=0),
    })),
    "output": _section(Table({
        "tables": _str_list(("csv", "markdown", "latex"), default=["csv", "markdown", "latex"]),
        "figures": _str_list(("png", "svg"), default=["png", "svg"]),
        "level": Field(("float",), low=0.0, high=1.0, open_low=True, open_high=True, default=0.95),
        "digits": _int(3, low=0),
    })),
    "profiles": Field(("list",), items=Field(("table",), table=Table(values=_PROFILE_VALUE)),
                      describe="an array of tables (write [[profiles]] before each entry)"),
    "hypotheses": Field(("list",), items=Field(("table",), table=Table(
        {"name": _str(), "restriction": _str()}, required=("restriction",))),
        describe="an array of tables (write [[hypotheses]] before each entry)"),
})


# --------------------------------------------------------------------------- the validator
def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _choices_text(choices: tuple[Any, ...]) -> str:
    names = [repr(c) for c in choices]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _expected(spec: Field) -> str:
    """What a value must be, in words."""
    if spec.describe:
        return spec.describe
    if spec.choices and set(spec.types) <= {"str", "list"}:
        text = _choices_text(spec.choices)
        return f"{text} (or a list of them)" if "list" in spec.types else text
    if spec.types == ("list",) and spec.items is not None and spec.items.choices:
        return f"a list of {_choices_text(spec.items.choices)}"
    return " or ".join(_TYPE_NAMES.get(t, t) for t in spec.types)


def _close(word: Any, candidates: Any) -> str | None:
    """The closest candidate: one that starts the word or that it starts (3+ letters), else difflib's."""
    if not isinstance(word, str):
        return None
    prefixes = [c for c in map(str, candidates) if min(len(c), len(word)) >= 3 and
                (word.startswith(c) or c.startswith(word))]
    if prefixes:
        return max(prefixes, key=len)
    found = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.6)
    return found[0] if found else None


def _fail(loc: str, spec: Field, value: Any, *, reason: str | None = None, near: str | None = None) -> None:
    msg = f"{loc} must be {reason or _expected(spec)}, got {value!r}"
    if near is not None:
        msg += f"; did you mean {near!r}?"
    if spec.help:
        msg += f" ({spec.help})"
    raise InputError(msg)


def _check_range(loc: str, spec: Field, value: float) -> None:
    lo_ok = spec.low is None or (value > spec.low if spec.open_low else value >= spec.low)
    hi_ok = spec.high is None or (value < spec.high if spec.open_high else value <= spec.high)
    if lo_ok and hi_ok:
        return
    if spec.high is None:
        reason = f"{'>' if spec.open_low else '>='} {spec.low:g}"
    elif spec.low is None:
        reason = f"{'<' if spec.open_high else '<='} {spec.high:g}"
    else:
        reason = (f"in {'(' if spec.open_low else '['}{spec.low:g}, {spec.high:g}{')' if spec.open_high else ']'}")
    _fail(loc, spec, value, reason=reason)


def _check_value(value: Any, spec: Field, loc: str, path: str) -> None:
    """Check one value against its specification (``loc`` for messages, ``path`` for nesting)."""
    kind = _kind(value)
    if kind == "int" and "int" not in spec.types and "float" in spec.types:
        kind = "float"
    if kind not in spec.types:
        _fail(loc, spec, value)
    if kind == "str" and spec.choices and value not in spec.choices:
        _fail(loc, spec, value, near=_close(value, spec.choices))
    elif kind in ("int", "float"):
        _check_range(loc, spec, value)
    elif kind == "list":
        if spec.length is not None and len(value) != spec.length:
            _fail(loc, spec, value)
        if spec.items is not None:
            for i, item in enumerate(value):
                item_spec = spec.items if spec.describe is None or spec.items.describe else \
                    replace(spec.items, describe=spec.describe)
                _check_value(item, item_spec, loc, f"{path}[{i}]")
    elif kind == "table" and spec.table is not None:
        _check_table(value, spec.table, path)


def _label(where: str, key: str) -> tuple[str, str]:
    """``(loc, path)`` of a key: ``loc`` names it in messages, ``path`` is its dotted section."""
    if not where:
        return f"[{key}]", f"[{key}]"
    return f"{where} {key}", f"{where}.{key}"


def _check_unknown(table: Mapping[str, Any], schema: Table, where: str) -> None:
    allowed = sorted(schema.fields)
    bad = [k for k in table if k not in schema.fields and not (not where and k == "_config_dir")]
    if not bad:
        return
    what = f"configuration section(s) {bad}" if not where else f"key(s) {bad} in {where}"
    hints = []
    for k in bad:
        near = _close(k, allowed)
        full = f"[{k}]" if not where else f"{where}.{k}"
        hints.append(f"{full}: did you mean {f'[{near}]' if not where else repr(near)}?" if near else f"{full}: no "
                     "similar key")
    raise InputError(f"unknown {what}; allowed: {allowed}; " + "; ".join(hints))


def _check_table(table: Mapping[str, Any], schema: Table, where: str) -> None:
    if schema.values is None:
        _check_unknown(table, schema, where)
    missing = [k for k in schema.required if k not in table]
    if missing:
        raise InputError(f"{where} needs {' and '.join(missing)} = ...")
    for key, value in table.items():
        if not where and key == "_config_dir":
            continue
        spec = schema.fields.get(key, schema.values)
        if spec is not None:
            loc, path = _label(where, str(key))
            _check_value(value, spec, loc, path)
    for rule in schema.rules:
        rule(table, where)


def validate(config: Mapping[str, Any], schema: Table, *, section: str = "") -> None:
    """Check a configuration (or one of its sections) against a schema.

    Parameters
    ----------
    config : mapping
        The parsed configuration; a top-level ``_config_dir`` key is ignored.
    schema : Table
        :data:`RUN_SCHEMA`, :data:`CHOICE_SCHEMA`, :data:`ROBUSTNESS_SCHEMA`...
    section : str, default ""
        The name of ``config`` in messages when it is one section (e.g. ``"[robustness]"``).

    Raises
    ------
    InputError
        Naming the first unknown key, wrong type or value out of its set or range, its
        section, and the closest valid key or value.
    """
    if not isinstance(config, Mapping):
        raise InputError(f"{section or 'the configuration'} must be a table, got {config!r}")
    _check_table(config, schema, section)


def check_run_config(config: Mapping[str, Any]) -> None:
    """Check a run configuration against :data:`RUN_SCHEMA` (see :func:`validate`)."""
    validate(config, RUN_SCHEMA)


def check_robustness_config(section: Mapping[str, Any]) -> None:
    """Check the ``[robustness]`` section of a run configuration (see :func:`validate`)."""
    validate(section, ROBUSTNESS_SCHEMA, section="[robustness]")


def check_choice_config(config: Mapping[str, Any]) -> None:
    """Check a migration-choice configuration against :data:`CHOICE_SCHEMA` (see :func:`validate`)."""
    validate(config, CHOICE_SCHEMA)


# --------------------------------------------------------------------------- reading files
def read_toml(path: str | Path, check: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Read a TOML configuration, check it and record the folder it came from.

    Parameters
    ----------
    path : str or Path
        The configuration file.
    check : callable, optional
        Called with the parsed mapping; raises :class:`InputError` on bad content (the
        message is prefixed with the file's path).

    Returns
    -------
    dict
        The configuration with ``_config_dir`` set to the file's folder (relative
        paths in it are resolved against that folder).

    Raises
    ------
    InputError
        When the file does not exist, is not valid TOML or fails ``check``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"configuration file {str(path)!r} does not exist")
    if not path.is_file():
        raise InputError(f"configuration file {str(path)!r} is a folder; give the path of a .toml file")
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}") from err
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not valid TOML: the file is not UTF-8 text ({err.reason} at byte "
                         f"{err.start}); save the configuration as UTF-8") from err
    if check is not None:
        try:
            check(cfg)
        except InputError as err:
            raise InputError(f"{path}: {err}") from err
    cfg["_config_dir"] = str(path.resolve().parent)
    return cfg


def load_run_config(path: str | Path) -> dict[str, Any]:
    """Read and check a TOML run configuration (``geoattr run``).

    Unknown sections or keys (at any depth) and invalid values raise an error naming
    them and the file (typos are not ignored).

    Parameters
    ----------
    path : str or Path
        The run configuration (TOML); see ``examples/*.toml``.

    Returns
    -------
    dict
        The configuration with ``_config_dir`` set to the file's folder (relative data
        paths are resolved against it unless ``--data-dir`` is given).
    """
    return read_toml(path, check_run_config)


def load_choice_config(path: str | Path) -> dict[str, Any]:
    """Read and check a migration-choice TOML configuration (``geoattr choice``).

    Parameters
    ----------
    path : str or Path
        The choice configuration (TOML); see ``examples/choice.toml``.

    Returns
    -------
    dict
        The configuration with ``_config_dir`` (the file's folder, against which a
        relative ``[data] path`` is resolved).
    """
    return read_toml(path, check_choice_config)
