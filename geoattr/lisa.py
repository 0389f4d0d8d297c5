"""Local indicators of spatial association (LISA) of a per-unit value, e.g. the attractiveness.

:func:`lisa_table` computes the local Moran's I of a Series (:class:`esda.Moran_Local`),
its conditional-permutation pseudo p-values, the quadrant of every unit (HH, LH, LL,
HL) and the cluster label used by the map's LISA layer
(:func:`geoattr.report.maps.residual_map`).  By default the p-values are two-sided
(esda's ``alternative="two-sided"`` on the conditional permutations; esda warns that
its folded ``p_sim`` overstates significance) and significance uses the
Benjamini-Hochberg threshold of a 5 % false-discovery rate (:func:`bh_threshold`, as
:func:`esda.fdr` computes it); ``fdr=None`` compares each p-value with ``alpha``.

This is an analysis: it returns a table and draws nothing.
"""

from __future__ import annotations

import warnings
from typing import Any

import esda
import numpy as np
from esda.significance import calculate_significance
import pandas as pd
from libpysal.graph import Graph

from geoattr._format import format_ids
from geoattr.exceptions import InputError
import geoattr._validation as val
from geoattr.typing import WeightsLike
from geoattr.weights import SparseWeights, align

try:  # libpysal's legacy weights; optional in future libpysal versions
    from libpysal.weights import W as _LegacyW
except ImportError:  # pragma: no cover
    _LegacyW = ()

__all__ = ["lisa_table", "bh_threshold", "check_lisa_options", "QUADRANTS", "CLUSTER_LABELS", "ALTERNATIVES"]

#: The p-values :func:`lisa_table` offers: two-sided (default) or esda's folded ``p_sim``.
ALTERNATIVES: tuple[str, ...] = ("two-sided", "directed")

#: Moran scatterplot quadrant codes of :attr:`esda.Moran_Local.q`.
QUADRANTS: dict[int, str] = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
#: Every value of the ``cluster`` column of :func:`lisa_table`, in legend order.
CLUSTER_LABELS: tuple[str, ...] = ("HH", "LH", "LL", "HL", "not significant", "no neighbours")


def bh_threshold(p: np.ndarray, q: float) -> float:
    """Benjamini-Hochberg threshold of the p-values ``p`` at false-discovery rate ``q``.

    Computed exactly as :func:`esda.fdr` does (the fallback when esda lacks it).

    Parameters
    ----------
    p : numpy.ndarray
        p-values.
    q : float
        False-discovery rate, e.g. 0.05.

    Returns
    -------
    float
        The largest ``k q / n`` above which the ``k``-th smallest p-value lies no
        longer; ``q / n`` when no p-value passes.
    """
    n = len(p)
    p_sort = np.sort(p)[::-1]
    p_fdr = np.arange(n, 0, -1) * q / n
    hits = np.where(p_sort < p_fdr)[0]
    return float(q / n) if len(hits) == 0 else float(p_fdr[hits[0]])


def _fdr_threshold(p: np.ndarray, q: float) -> float:
    esda_fdr = getattr(esda, "fdr", None)
    if esda_fdr is None:  # pragma: no cover - older esda versions lack fdr
        return bh_threshold(p, q)
    return float(esda_fdr(p, q))


def check_lisa_options(*, fdr: float | None, alpha: float, permutations: int) -> None:
    """Validate the significance options of :func:`lisa_table`.

    Parameters
    ----------
    fdr : float or None
        False-discovery rate strictly between 0 and 1, or None.
    alpha : float
        Significance level strictly between 0 and 1.
    permutations : int
        A whole number of at least 99.

    Raises
    ------
    InputError
        Naming the option and the value given.
    """
    if fdr is not None and not 0 < fdr < 1:
        raise InputError(
            f"fdr must be a false-discovery rate between 0 and 1 (e.g. 0.05) or None, got {fdr}"
        )
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    if int(permutations) != permutations or permutations < 99:
        raise InputError(
            f"permutations must be a whole number of at least 99 (LISA pseudo p-values "
            f"need them), got {permutations}"
        )


def _as_graph(weights: WeightsLike) -> Graph:
    if isinstance(weights, Graph):
        return weights
    if isinstance(weights, SparseWeights):
        return weights.to_graph()
    if isinstance(weights, _LegacyW):
        return Graph.from_W(weights)
    raise InputError(f"weights must be a libpysal Graph or W, or SparseWeights; {type(weights).__name__} was given")


def _with_string_ids(graph: Graph) -> Graph:
    """The graph with its ids normalised like the data's (integers -> strings)."""
    raw = pd.Index(graph.unique_ids)
    norm = pd.Index(val.normalise_ids(raw, name="weights ids").to_numpy(), dtype=object)
    if norm.equals(raw):
        return graph
    lookup = pd.Series(norm.to_numpy(), index=raw)
    adj = graph.adjacency
    focal = lookup.reindex(adj.index.get_level_values(0)).to_numpy()
    neighbor = lookup.reindex(adj.index.get_level_values(1)).to_numpy()
    return Graph.from_arrays(focal, neighbor, adj.to_numpy(), transformation=graph.transformation)


def _aligned(weights: WeightsLike, ids: pd.Index) -> Graph:
    """The weights restricted to and ordered like ``ids``; units left without links are isolates."""
    graph = _with_string_ids(_as_graph(weights))
    missing = ids.difference(pd.Index(graph.unique_ids))
    if len(missing):
        raise InputError(
            f"{len(missing)} unit(s) are not in the LISA weights: {format_ids(missing)}; "
            "rebuild the weights for the map's units"
        )
    if pd.Index(graph.unique_ids).equals(ids):
        return graph
    return align(graph, ids)


def _check_values(values: Any) -> tuple[pd.Index, np.ndarray]:
    if not isinstance(values, pd.Series):
        raise InputError(
            f"values must be a pandas Series indexed by unit, {type(values).__name__} was given"
        )
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise InputError(
            f"values are not numeric (dtype {values.dtype}); convert them with pd.to_numeric"
        )
    ids = pd.Index(
        val.normalise_ids(values.index, name="values index").to_numpy(), dtype=object, name="unit"
    )
    val.require_unique(ids, None, table="values")
    y = values.to_numpy(dtype=float)
    nan = ids[~np.isfinite(y)]
    if len(nan):
        raise InputError(
            f"{len(nan)} unit(s) have no value for the LISA: {format_ids(nan)}; "
            "fill them or drop them from values"
        )
    return ids, y


def _moran_local(y: np.ndarray, g: Graph, permutations: int, seed: int | None) -> Any:
    """esda's Moran_Local with numpy's global generator restored and its notices silenced."""
    rng_state = np.random.get_state()  # esda seeds numpy's global generator: restore it after
    with warnings.catch_warnings():
        # esda announces a future change of the default alternative; isolates have zero
        # variance in their permutation distribution (handled by the caller)
        warnings.filterwarnings("ignore", message=".*alternative.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*alternative.*", category=FutureWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        try:
            return esda.Moran_Local(
                y, g, transformation="r", permutations=int(permutations), seed=seed, n_jobs=1
            )
        finally:
            np.random.set_state(rng_state)


def lisa_table(
    values: pd.Series,
    weights: WeightsLike,
    *,
    permutations: int = 999,
    fdr: float | None = 0.05,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    seed: int | None = 12345,
) -> pd.DataFrame:
    """Local Moran's I of ``values`` with pseudo p-values and cluster labels.

    Parameters
    ----------
    values : pandas.Series
        Numeric, indexed by unit id, no missing values (e.g. the cumulative residual).
    weights : libpysal.graph.Graph or SparseWeights
        Spatial weights over (at least) the units of ``values``; row-standardised here
        (a legacy ``libpysal.weights.W`` is converted too).
        Units without neighbours get the cluster ``"no neighbours"`` and no p-value.
    permutations : int, default 999
        Conditional permutations for the pseudo p-values (at least 99).
    fdr : float or None, default 0.05
        False-discovery rate: significance uses the Benjamini-Hochberg threshold of
        :func:`esda.fdr` over the units with neighbours; None compares each p-value
        with ``alpha`` (no correction for testing every unit).
    alpha : float, default 0.05
        Significance level when ``fdr`` is None.
    alternative : {"two-sided", "directed"}, default "two-sided"
        The p-value used: two-sided (:func:`esda.significance.calculate_significance`
        on the permutations) or esda's folded ``p_sim`` (one-sided in the tail the
        statistic lies in; overstates significance).
    seed : int, optional
        Seed of the permutations (reproducible p-values).

    Returns
    -------
    pandas.DataFrame
        Indexed by unit: ``value``, ``Is`` (local Moran's I), ``p_sim`` (esda's
        conditional-permutation pseudo p-value: the share of the ``permutations + 1``
        statistics, the observed one included, at least as extreme as the observed one in
        its own tail; a one-sided, "folded" test), ``p_value`` (the p-value of
        ``alternative``, the one significance uses), ``n_neighbours``, ``quadrant`` (HH,
        LH, LL or HL by the sign of the standardised value and of its spatial lag),
        ``significant`` (``p_value <= threshold``), ``cluster`` (the quadrant when
        significant, else ``"not significant"``, or ``"no neighbours"``) and ``test``
        (the rule, e.g. ``"two-sided permutation p, BH FDR 0.05 (p <= 0.0123)"``).
        ``attrs`` holds ``threshold``, ``alpha``, ``fdr``, ``alternative``,
        ``permutations``, ``seed`` and ``test``.

    Raises
    ------
    InputError
        Non-numeric or missing values, units missing from the weights, bad options.
    """
    ids, y = _check_values(values)
    check_lisa_options(fdr=fdr, alpha=alpha, permutations=permutations)
    graph = _as_graph(weights)
    if len(ids) < 3:
        raise InputError(f"a LISA needs at least 3 units, got {len(ids)}")
    g = _aligned(graph, ids)  # raises naming units missing from the weights
    card = g.cardinalities.reindex(ids).fillna(0).to_numpy()
    iso = card == 0
    if iso.all():
        raise InputError("no unit has a neighbour in the weights; a LISA needs some links")
    if alternative not in ALTERNATIVES:
        raise InputError(f"alternative must be one of {ALTERNATIVES}; {alternative!r} was given")
    ml = _moran_local(y, g.transform("r"), permutations, seed)
    p_sim = np.asarray(ml.p_sim, dtype=float).copy()
    p_sim[iso] = np.nan
    if alternative == "two-sided":
        p = np.asarray(calculate_significance(ml.Is, ml.rlisas, alternative="two-sided"), dtype=float)
        p[iso] = np.nan
    else:
        p = p_sim
    threshold = _fdr_threshold(p[~iso], fdr) if fdr is not None else float(alpha)
    sig = ~iso & (p <= threshold)
    test = (f"{alternative} permutation p, " + (f"BH FDR {fdr:g} (p <= {threshold:.3g})" if fdr is not None
                                                  else f"p <= {alpha:g} unit by unit (no FDR correction)"))
    quad = pd.Series(np.asarray(ml.q)).map(QUADRANTS).to_numpy(dtype=object)
    quad[iso] = None
    cluster = np.where(sig, quad, "not significant").astype(object)
    cluster[iso] = "no neighbours"
    local_i = np.asarray(ml.Is, dtype=float).copy()
    local_i[iso] = np.nan
    out = pd.DataFrame(
        {
            "value": y,
            "Is": local_i,
            "p_sim": p_sim,
            "n_neighbours": card.astype(int),
            "quadrant": quad,
            "significant": sig,
            "cluster": cluster,
            "p_value": p,
            "test": test,
        },
        index=pd.Index(ids, name="unit"),
    )
    out.attrs.update(
        {
            "threshold": threshold,
            "alpha": alpha,
            "fdr": fdr,
            "alternative": alternative,
            "test": test,
            "permutations": int(permutations),
            "seed": seed,
        }
    )
    return out
