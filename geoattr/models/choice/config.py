"""The migration-choice configuration (``geoattr choice CONFIG.toml``): reading and checking."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from geoattr.exceptions import InputError
from geoattr.io.readers import read_toml

__all__ = ["CHOICE_SECTIONS", "DEFAULT_PROFILES", "load_choice_config", "check_choice_config"]

#: Section -> allowed keys (``profiles`` and ``hypotheses`` are arrays of tables).
CHOICE_SECTIONS: Mapping[str, frozenset[str]] = {
    "data": frozenset({"source", "n", "seed", "path", "format", "columns", "recode", "on_missing"}),
    "model": frozenset({"age", "age_groups", "age_centre", "age_scale", "interaction", "controls", "categories",
                        "reference", "centrality_classes", "on_separation", "method", "maxiter"}),
    "predictions": frozenset({"method", "level", "n_draws", "seed"}),
    "output": frozenset({"tables", "figures", "level", "digits"}),
    "profiles": frozenset(),
    "hypotheses": frozenset(),
}

#: Profiles used when the configuration has no ``[[profiles]]`` (restricted to the model's variables).
DEFAULT_PROFILES: tuple[dict[str, Any], ...] = (
    {"name": "woman_35_higher_short", "age": 35, "sex": "female", "education": "higher_short",
     "labour": "employed", "family": "couple_children"},
)


def load_choice_config(path: str | Path) -> dict[str, Any]:
    """Read and check a migration-choice TOML configuration.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        The configuration with ``_config_dir`` (the file's folder, against which a
        relative ``[data] path`` is resolved).
    """
    return read_toml(path, check_choice_config)


def check_choice_config(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`~geoattr.exceptions.InputError` naming unknown sections or keys and invalid values.

    Parameters
    ----------
    cfg : mapping
        A parsed configuration (see ``examples/choice.toml``).
    """
    unknown = set(cfg) - set(CHOICE_SECTIONS) - {"_config_dir"}
    if unknown:
        raise InputError(f"unknown configuration section(s) {sorted(unknown)}; allowed: {sorted(CHOICE_SECTIONS)}")
    for sec, keys in CHOICE_SECTIONS.items():
        val = cfg.get(sec)
        if val is None:
            continue
        if sec in ("profiles", "hypotheses"):
            if not isinstance(val, list) or not all(isinstance(x, Mapping) for x in val):
                raise InputError(f"[[{sec}]] must be an array of tables (write [[{sec}]] before each entry)")
            continue
        if not isinstance(val, Mapping):
            raise InputError(f"[{sec}] must be a table")
        bad = set(val) - keys
        if bad:
            raise InputError(f"unknown key(s) {sorted(bad)} in [{sec}]; allowed: {sorted(keys)}")
    data = cfg.get("data", {})
    src = data.get("source", "file" if "path" in data else "synthetic")
    if src not in ("synthetic", "file"):
        raise InputError(f"[data] source = {src!r} is not supported; use 'synthetic' or 'file' (with path = ...)")
    if src == "file" and "path" not in data:
        raise InputError("[data] source = 'file' needs path = \"persons.parquet\" (or .csv)")
    if data.get("on_missing", "raise") not in ("raise", "drop"):
        raise InputError(f"[data] on_missing must be 'raise' or 'drop', got {data['on_missing']!r}")
    pred = cfg.get("predictions", {})
    if pred.get("method", "delta") not in ("delta", "simulation"):
        raise InputError(f"[predictions] method must be 'delta' or 'simulation', got {pred['method']!r}")
    out = cfg.get("output", {})
    bad_t = set(out.get("tables", [])) - {"csv", "markdown", "latex"}
    if bad_t:
        raise InputError(f"[output] tables {sorted(bad_t)} unknown; use csv, markdown, latex")
    bad_f = set(out.get("figures", [])) - {"png", "svg"}
    if bad_f:
        raise InputError(f"[output] figures {sorted(bad_f)} unknown; use png, svg")
