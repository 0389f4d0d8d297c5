"""Predicted outcome probabilities for profiles, with delta-method or simulated intervals."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geoattr.exceptions import InputError
from geoattr.models.choice.design import build_design
from geoattr.models.choice.spec import ChoiceSpec

__all__ = ["softmax", "normal_quantile", "profile_frame", "probability_intervals", "add_profile_labels"]


def normal_quantile(level: float) -> float:
    """``z`` of a two-sided interval at confidence ``level`` (validated: strictly between 0 and 1)."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < float(level) < 1:
        raise InputError(f"level must lie strictly between 0 and 1, got {level!r}")
    return float(stats.norm.ppf(0.5 + float(level) / 2))


def softmax(eta: np.ndarray) -> np.ndarray:
    """Probabilities from linear predictors of the non-base equations (base column prepended)."""
    full = np.concatenate([np.zeros((*eta.shape[:-1], 1)), eta], axis=-1)
    full -= full.max(axis=-1, keepdims=True)
    np.exp(full, out=full)
    full /= full.sum(axis=-1, keepdims=True)
    return full


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _delta_intervals(P: np.ndarray, X: np.ndarray, V: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Delta method on the logit of each probability, mapped back to (0, 1)."""
    m, K = X.shape
    E = P.shape[1] - 1
    lower = np.empty_like(P)
    upper = np.empty_like(P)
    for j in range(P.shape[1]):
        # d logit(p_j) / d beta_k = (1{j=k} - p_k) x / (1 - p_j), k = 1..E (equation-major)
        c = -P[:, 1:].copy()
        if j > 0:
            c[:, j - 1] += 1.0
        c /= (1.0 - P[:, [j]])
        G = (c[:, :, None] * X[:, None, :]).reshape(m, E * K)
        se = np.sqrt(np.einsum("ij,jk,ik->i", G, V, G))
        lg = np.log(P[:, j]) - np.log1p(-P[:, j])
        lower[:, j] = _expit(lg - z * se)
        upper[:, j] = _expit(lg + z * se)
    return lower, upper


def _simulation_intervals(X: np.ndarray, params: np.ndarray, V: np.ndarray, *, level: float, n_draws: int,
                          seed: int | None, n_equations: int) -> tuple[np.ndarray, np.ndarray]:
    """Percentiles of the probabilities at coefficient vectors drawn from ``N(params, V)``."""
    if n_draws < 100:
        raise InputError(f"n_draws must be at least 100, got {n_draws}")
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(params, V, size=n_draws, method="eigh")
    Bs = draws.reshape(n_draws, n_equations, X.shape[1])
    Ps = softmax(np.einsum("mt,set->sme", X, Bs))
    a = (1 - level) / 2
    return np.quantile(Ps, a, axis=0), np.quantile(Ps, 1 - a, axis=0)


def probability_intervals(P: np.ndarray, X: np.ndarray, params: np.ndarray, V: np.ndarray, *, method: str,
                          level: float, n_draws: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the probabilities ``P`` (rows of ``X``) by ``method``.

    ``"delta"``: delta method on the logit of each probability; ``"simulation"``:
    ``n_draws`` coefficient vectors from ``N(params, V)`` with a generator seeded by
    ``seed``, percentiles at ``(1 -+ level) / 2``.
    """
    if method == "delta":
        return _delta_intervals(P, X, V, normal_quantile(level))
    return _simulation_intervals(X, params, V, level=level, n_draws=int(n_draws), seed=seed,
                                 n_equations=P.shape[1] - 1)


def _centrality_codes(frame: pd.DataFrame, spec: ChoiceSpec) -> list[int]:
    cats = spec.centrality.categories
    out = []
    for v in frame["centrality"]:
        if v in cats or str(v) in cats:
            out.append(cats.index(str(v)))
        else:
            lab = spec.centrality_classes.get(v, spec.centrality_classes.get(str(v)))
            if lab is None and isinstance(v, str) and v.isdigit():
                lab = spec.centrality_classes.get(int(v))
            out.append(cats.index(lab))  # type: ignore[arg-type]
    return out


def add_profile_labels(frame: pd.DataFrame, spec: ChoiceSpec) -> pd.DataFrame:
    """A copy of a profile table with ``centrality`` as its category and, with age groups, ``age_group``."""
    out = frame.copy()
    out["centrality"] = [spec.centrality.categories[k] for k in _centrality_codes(frame, spec)]
    if spec.age == "groups":
        labels = np.asarray(spec.age_factor.categories)  # type: ignore[union-attr]
        grp = np.searchsorted(np.asarray(spec.age_breaks, float), frame["age"].astype(float), "right") - 1
        out.insert(out.columns.get_loc("age") + 1, "age_group", labels[grp])
    return out


def _profile_items(profiles: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(profiles, Mapping):
        items = [(str(k), dict(v)) for k, v in profiles.items()]
    else:
        items = []
        for k, p in enumerate(profiles):
            if not isinstance(p, Mapping):
                raise InputError(f"a profile must be a mapping of variable -> value, got {type(p).__name__}")
            p = dict(p)
            items.append((str(p.pop("name", f"profile_{k + 1}")), p))
    if not items:
        raise InputError("no profiles given")
    return items


def profile_frame(profiles: Any, spec: ChoiceSpec) -> pd.DataFrame:
    """Expand profile definitions into one row per combination, validating the values.

    Parameters
    ----------
    profiles : mapping, sequence of mappings, or DataFrame
        See :meth:`~geoattr.models.choice.ChoiceResults.predict`.
    spec : ChoiceSpec

    Returns
    -------
    pandas.DataFrame
        Columns ``profile`` and the model variables.
    """
    needed = list(spec.variables)
    if isinstance(profiles, pd.DataFrame):
        frame = profiles.copy()
        if "profile" not in frame.columns:
            frame.insert(0, "profile", [f"row_{i}" for i in range(len(frame))])
        lacking = [v for v in needed if v not in frame.columns]
        if lacking:
            raise InputError(f"the profile table lacks the column(s) {lacking}")
        frame = frame[["profile", *needed]]
    else:
        rows = []
        for name, p in _profile_items(profiles):
            unknown = sorted(set(p) - set(needed))
            if unknown:
                raise InputError(f"profile {name!r}: unknown variable(s) {unknown}; the model has {needed}")
            p.setdefault(spec.background.name, list(spec.background.categories))
            p.setdefault(spec.centrality.name, list(spec.centrality.categories))
            lacking = [v for v in needed if v not in p]
            if lacking:
                raise InputError(
                    f"profile {name!r} does not set {lacking}; give a value (or a list of values) for each"
                )
            values = [p[v] if isinstance(p[v], (list, tuple)) else [p[v]] for v in needed]
            for combo in itertools.product(*values):
                rows.append({"profile": name, **dict(zip(needed, combo, strict=True))})
        frame = pd.DataFrame(rows, columns=["profile", *needed])
    # validate the values with the design builder's messages, naming the profile
    try:
        build_design(frame[needed], spec=spec, outcome=False)
    except InputError as err:
        raise InputError(f"invalid profile value: {err}") from None
    return frame
