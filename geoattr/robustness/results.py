"""Results of the robustness battery: one fit object per variant, labelled tables overall.

Every re-estimated variant is a :class:`VariantFit` (a frozen
:class:`geoattr.models.results.Results` that also carries the units' cumulative
attractiveness); :class:`RobustnessResults` gathers them with the long coefficient
table, the rank stability, the bootstrap rank intervals and the placebo table.  Nothing
is changed after construction: the tables are returned as copies.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geoattr._docstrings import fill_doc
from geoattr._format import write_csv
from geoattr.models.ols import AttractivenessResults
from geoattr.models.results import Results, copied
from geoattr.robustness.plots import KIND_ORDER, plot_coefficients, plot_rank_intervals
from geoattr.robustness.ranks import ranks, stability

__all__ = [
    "RobustnessResults",
    "VariantFit",
    "VariantFailure",
    "VRA_SUM",
    "with_sum",
    "sum_draws",
    "ci_rows",
    "variant_rows",
    "COEFFICIENT_COLUMNS",
    "STABILITY_COLUMNS",
]

#: The three VRA terms whose sum is reported as ``vra_sum``.
VRA_SUM: tuple[str, ...] = ("vra", "vra_l1", "vra_l2")
#: Columns of :attr:`RobustnessResults.coefficients`.
COEFFICIENT_COLUMNS: list[str] = ["kind", "variant", "term", "estimate", "std_error", "lower", "upper", "n"]
#: Columns of :attr:`RobustnessResults.rank_stability`.
STABILITY_COLUMNS: list[str] = ["kind", "variant", "nobs", "r2", "loglik", "spearman", "top_kept", "bottom_kept",
                                "n"]


def _delegated_sections(func: str, names: str) -> str:
    """Parameters and Returns of a plotting method that calls ``func`` of :mod:`geoattr.robustness.plots`."""
    return f"""Parameters
----------
{names}
    As in :func:`~geoattr.robustness.plots.{func}`.

Returns
-------
matplotlib.figure.Figure"""


class VariantFit(Results):
    """The fit of one re-estimated robustness variant.

    Takes every :class:`geoattr.models.results.Results` argument, and:

    Parameters
    ----------
    kind : str
        Family (``loyo``, ``loro``, ``weights``, ``estimators``).
    variant : str
        Name of the variant (``loyo:2010``, ``min_share=0.05``, ``wls``...).
    cumulative : pandas.Series, optional
        Cumulative attractiveness of each unit implied by the variant (index ``unit``),
        in the unit order of the baseline.
    **kwargs
        The arguments of :class:`Results`.
    """

    def __init__(self, *, kind: str, variant: str, cumulative: pd.Series | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.variant = variant
        self._cumulative = cumulative

    @property
    def cumulative(self) -> pd.Series | None:
        """Cumulative attractiveness of each unit (None when the variant gives none)."""
        return None if self._cumulative is None else self._cumulative.copy()


@dataclass(frozen=True)
class VariantFailure:
    """A variant that could not be estimated, and why."""

    message: str


def with_sum(params: pd.Series, cov: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Estimates and standard errors, with ``vra_sum`` (b1+b2+b3) when the three VRA terms are present.

    Parameters
    ----------
    params : pandas.Series
    cov : pandas.DataFrame or None

    Returns
    -------
    params, std_errors : pandas.Series
    """
    names = list(params.index)
    C = None
    if cov is not None:
        same = cov.index.equals(params.index) and cov.columns.equals(params.index)
        C = (cov if same else cov.reindex(index=params.index, columns=params.index)).to_numpy()
    se = np.sqrt(np.clip(np.diag(C), 0, None)) if C is not None else np.full(len(names), np.nan)
    values = params.to_numpy()
    if all(t in params.index for t in VRA_SUM):
        at = [names.index(t) for t in VRA_SUM]
        total = values[at].sum()
        v = float(C[np.ix_(at, at)].sum()) if C is not None else np.nan
        names.append("vra_sum")
        values = np.append(values, total)
        se = np.append(se, math.sqrt(v) if v >= 0 else np.nan)
    index = params.index if len(names) == len(params) else pd.Index(names)
    return pd.Series(values, index=index, name=params.name), pd.Series(se, index=index)


def sum_draws(B: pd.DataFrame) -> pd.DataFrame:
    """Add the column ``vra_sum`` to replications x coefficients when the VRA terms are there."""
    if all(t in B.columns for t in VRA_SUM):
        B = B.assign(vra_sum=B[list(VRA_SUM)].sum(axis=1))
    return B


def ci_rows(kind: str, variant: str, params: pd.Series, se: pd.Series, q: float, n: int) -> pd.DataFrame:
    """Rows of the coefficient table: estimate +- ``q`` standard errors."""
    if se.index.equals(params.index):  # the usual case: plain arrays, no alignment
        b, s = params.to_numpy(), se.to_numpy()
        lower, upper = b - q * s, b + q * s
    else:
        lower, upper = (params - q * se).to_numpy(), (params + q * se).to_numpy()
    return pd.DataFrame({"kind": kind, "variant": variant, "term": params.index, "estimate": params.to_numpy(),
                         "std_error": se.to_numpy(), "lower": lower, "upper": upper, "n": n})


@functools.lru_cache(maxsize=256)
def _critical_value(level: float, df_resid: float | None) -> float:
    """The two-sided ``level`` quantile: normal (``df_resid`` None) or t (variants share a few df)."""
    return float(stats.norm.ppf(0.5 + level / 2)) if df_resid is None else float(stats.t.ppf(0.5 + level / 2, df_resid))


def variant_rows(fit: VariantFit, *, level: float, base_rank: np.ndarray,
                 n_top: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Coefficient rows and the rank-stability row of one re-estimated variant.

    Parameters
    ----------
    fit : VariantFit
    level : float
        Confidence level of the intervals (t with the fit's ``df_resid``, or normal).
    base_rank : ndarray
        Baseline ranks of the units.
    n_top : int
        Size of the top and bottom lists.

    Returns
    -------
    coefficients : pandas.DataFrame
    stability : dict
    """
    p, se = with_sum(fit.params, fit.cov)
    q = _critical_value(level, None if fit.dist == "normal" else fit.df_resid)
    row = {"kind": fit.kind, "variant": fit.variant, "nobs": fit.nobs, "r2": fit.rsquared, "loglik": fit.loglik,
           "spearman": np.nan, "top_kept": np.nan, "bottom_kept": np.nan, "n": 1}
    cum = fit.cumulative
    if cum is not None and np.isfinite(cum.to_numpy()).all():
        rho, top, bot = stability(base_rank, ranks(cum.to_numpy()), n_top)
        row.update(spearman=float(rho[0]), top_kept=float(top[0]), bottom_kept=float(bot[0]))
    return ci_rows(fit.kind, fit.variant, p, se, q, fit.nobs), row


class RobustnessResults:
    """Results of :func:`geoattr.robustness.robustness`.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Long table, one row per (variant, term): ``kind`` (baseline, bootstrap, loyo,
        loro, weights, estimators, placebo), ``variant``, ``term`` (``vra_sum`` =
        ``vra + vra_l1 + vra_l2``), ``estimate``, ``std_error``, ``lower``, ``upper``,
        ``n`` (observations of the fit, or replications).  Bootstrap rows: the baseline
        estimate, the bootstrap standard deviation and the percentile interval; placebo
        rows: the mean, standard deviation and percentile interval of the placebo
        estimates; other rows: the variant's estimate and ``level`` confidence interval.
    rank_stability : pandas.DataFrame
        One row per variant: ``kind``, ``variant``, ``nobs``, ``r2``, ``loglik``,
        ``spearman`` (rank correlation of the units' cumulative attractiveness with the
        baseline), ``top_kept`` / ``bottom_kept`` (share of the baseline's top / bottom
        ``top_n`` units that stay there) and ``n`` (replications summarised: bootstrap
        rows give the median Spearman and the mean shares over the replications).
    rank_intervals : pandas.DataFrame
        Index unit: ``name``, ``residual`` (baseline cumulative attractiveness), ``rank``
        (baseline, 1 = most attractive), ``lower``, ``median``, ``upper`` (bootstrap
        percentile interval of the rank), ``p_top`` / ``p_bottom`` (share of replications
        in the top / bottom ``top_n``).
    placebo : pandas.DataFrame
        Index statistic (``r2``, ``loglik`` and each coefficient, ``vra_sum``): ``observed``,
        ``placebo_mean``, ``placebo_sd``, ``lower``, ``upper`` (placebo percentile
        interval), ``percentile`` (% of placebo values below the observed one),
        ``p_value`` (one-sided upper for ``r2``/``loglik``, two-sided for coefficients,
        ``(1 + count) / (1 + R)``), ``n``.
    bootstrap_draws : dict[str, pandas.DataFrame]
        Method -> replications x coefficients.
    placebo_draws : pandas.DataFrame
        Replications x (coefficients, ``r2``, ``loglik``).
    fits : dict[str, VariantFit]
        Variant name -> its fit (leave-one-out, weights and estimator variants).
    baseline : AttractivenessResults
    settings : dict
        The options used (seed, replications, variants...).
    skipped : dict[str, str]
        Variants that were not run or failed, and why.
    notes : tuple of str
    timings : dict[str, float]
        Seconds per step.

    Parameters
    ----------
    coefficients, rank_stability, rank_intervals, placebo, bootstrap_draws, placebo_draws, baseline, settings
        As the attributes.
    fits, skipped, notes, timings : optional
        As the attributes (default empty).
    """

    def __init__(self, *, coefficients: pd.DataFrame, rank_stability: pd.DataFrame, rank_intervals: pd.DataFrame,
                 placebo: pd.DataFrame, bootstrap_draws: Mapping[str, pd.DataFrame], placebo_draws: pd.DataFrame,
                 baseline: AttractivenessResults, settings: Mapping[str, Any],
                 fits: Mapping[str, VariantFit] | None = None, skipped: Mapping[str, str] | None = None,
                 notes: Sequence[str] = (), timings: Mapping[str, float] | None = None) -> None:
        values = {"coefficients": coefficients, "rank_stability": rank_stability, "rank_intervals": rank_intervals,
                  "placebo": placebo, "bootstrap_draws": dict(bootstrap_draws), "placebo_draws": placebo_draws,
                  "baseline": baseline, "settings": copy.deepcopy(dict(settings)), "fits": dict(fits or {}),
                  "skipped": dict(skipped or {}), "notes": tuple(notes), "timings": dict(timings or {})}
        for k, v in values.items():
            object.__setattr__(self, f"_{k}", v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RobustnessResults is immutable: {name!r} cannot be set")

    # ------------------------------------------------------------------ labelled outputs
    coefficients = copied("_coefficients", "Long table of estimates and intervals per (variant, term).")
    rank_stability = copied("_rank_stability", "Rank stability per variant.")
    rank_intervals = copied("_rank_intervals", "Bootstrap rank interval of each unit.")
    placebo = copied("_placebo", "Where the true fit falls in the placebo distribution.")
    placebo_draws = copied("_placebo_draws", "Placebo replications x (coefficients, ``r2``, ``loglik``).")
    fits = copied("_fits", "Variant name -> its fit.")
    skipped = copied("_skipped", "Variants that were not run or failed, and why.")
    timings = copied("_timings", "Seconds per step.")

    @property
    def bootstrap_draws(self) -> dict[str, pd.DataFrame]:
        """Method -> replications x coefficients."""
        return {k: v.copy() for k, v in self._bootstrap_draws.items()}

    @property
    def settings(self) -> dict[str, Any]:
        """The options used."""
        return copy.deepcopy(self._settings)

    @property
    def baseline(self) -> AttractivenessResults:
        """The baseline fit."""
        return self._baseline

    @property
    def notes(self) -> tuple[str, ...]:
        """Substitutions and caveats."""
        return self._notes

    # ------------------------------------------------------------------ text
    def _coefficient_ranges(self) -> pd.DataFrame:
        c = self._coefficients
        rows = {}
        for t in dict.fromkeys(c.loc[c["kind"] == "baseline", "term"]):
            ct = c[c["term"] == t]
            row = {}
            for kind in KIND_ORDER:
                ck = ct[ct["kind"] == kind]
                if ck.empty:
                    continue
                if kind in ("baseline", "bootstrap", "placebo"):
                    for _, r in ck.iterrows():
                        label = kind if kind != "bootstrap" else r["variant"]
                        row[label] = f"{r['estimate']:.3f} [{r['lower']:.3f}, {r['upper']:.3f}]"
                else:
                    row[kind] = f"{ck['estimate'].min():.3f} .. {ck['estimate'].max():.3f}"
            rows[t] = row
        return pd.DataFrame(rows).T

    def summary(self) -> str:
        """Return a plain-text report: coefficient ranges by family, rank stability, placebo."""
        s = self._settings
        lines = [f"Robustness of the attractiveness model: spec {s['spec']}, {s['unit_level']} level, "
                 f"years {s['years'][0]}-{s['years'][1]}",
                 f"seed {s['seed']}; bootstrap {', '.join(s['bootstrap']) or 'none'} ({s['reps']} replications, "
                 f"clustered by {s['unit_level']}; wild weights {s['wild_weights']}); placebo {s['placebo_reps']} "
                 f"permutations; {int(round(100 * s['level']))}% intervals", ""]
        lines += ["Coefficients: baseline and bootstrap [interval]; variant families: range of estimates",
                  self._coefficient_ranges().to_string(), ""]
        rs = self._rank_stability
        if not rs.empty:
            g = rs.groupby("kind", sort=False).agg(variants=("variant", "size"), spearman_min=("spearman", "min"),
                                                  spearman_median=("spearman", "median"),
                                                  top_kept_min=("top_kept", "min"),
                                                  bottom_kept_min=("bottom_kept", "min"))
            lines += [f"Rank stability of cumulative attractiveness (top/bottom {s['top_n']}):",
                      g.to_string(float_format=lambda v: f"{v:.3f}"), ""]
        if not self._rank_intervals.empty:
            ri = self._rank_intervals
            width = (ri["upper"] - ri["lower"]).median()
            lines.append(f"Bootstrap rank intervals ({s['rank_bootstrap']}): median width {width:.0f} ranks "
                         f"of {len(ri)} units")
        if not self._placebo.empty:
            p = self._placebo
            lines.append("Placebo (commuting rows permuted across units):")
            for stat in [x for x in ("r2", "loglik", "vra_sum", "vra") if x in p.index]:
                r = p.loc[stat]
                lines.append(f"  {stat:<8} observed {r['observed']:.4f}; placebo mean {r['placebo_mean']:.4f} "
                             f"[{r['lower']:.4f}, {r['upper']:.4f}]; percentile {r['percentile']:.1f}; "
                             f"p = {r['p_value']:.4f}")
        if self._skipped:
            lines.append("Skipped: " + "; ".join(f"{k}: {v}" for k, v in self._skipped.items()))
        if self._notes:
            lines += ["Notes:"] + [f"  {n}" for n in self._notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"<RobustnessResults variants={len(self._rank_stability)} "
                f"skipped={sorted(self._skipped)}>")

    def to_dict(self) -> dict[str, Any]:
        """Facts for ``run.json``: settings, skipped variants, placebo p-values, rank stability."""
        info: dict[str, Any] = {"settings": self.settings, "skipped": self.skipped,
                                "timings_seconds": self.timings}
        rs = self._rank_stability
        if not rs.empty:
            info["variants"] = rs.groupby("kind", sort=False).size().astype(int).to_dict()
            single = rs[rs["n"] == 1]
            if not single.empty:
                worst = single.loc[single["spearman"].idxmin()]
                info["spearman_min"] = {"variant": str(worst["variant"]), "spearman": float(worst["spearman"])}
                info["spearman_median"] = float(single["spearman"].median())
        if not self._placebo.empty:
            info["placebo"] = {k: {"observed": float(r["observed"]), "placebo_mean": float(r["placebo_mean"]),
                                   "p_value": float(r["p_value"])}
                               for k, r in self._placebo.iterrows() if k in ("r2", "loglik", "vra_sum", "vra")}
        if not self._rank_intervals.empty:
            ri = self._rank_intervals
            info["rank_interval_median_width"] = float((ri["upper"] - ri["lower"]).median())
        return info

    # ------------------------------------------------------------------ files
    def to_csv(self, directory: str | Path) -> dict[str, Path]:
        """Write ``robustness.csv``, ``rank_stability.csv``, ``rank_intervals.csv`` and ``placebo.csv``.

        Parameters
        ----------
        directory : str or Path
            Created if needed.

        Returns
        -------
        dict[str, Path]
            Name -> path of the files written (empty tables are not written).
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        files = {"robustness": d / "robustness.csv"}
        write_csv(self._coefficients, files["robustness"], index=False)
        files["rank_stability"] = d / "rank_stability.csv"
        write_csv(self._rank_stability, files["rank_stability"], index=False)
        if not self._rank_intervals.empty:
            files["rank_intervals"] = d / "rank_intervals.csv"
            write_csv(self._rank_intervals.reset_index(), files["rank_intervals"], index=False)
        if not self._placebo.empty:
            files["placebo"] = d / "placebo.csv"
            write_csv(self._placebo.rename_axis("statistic").reset_index(), files["placebo"], index=False)
        return files

    # ------------------------------------------------------------------ figures
    @fill_doc(sections=_delegated_sections("plot_coefficients", "path, terms"))
    def plot_coefficients(self, path: str | Path | None = None, *, terms: Sequence[str] | None = None) -> Any:
        """Coefficient ranges across variants: :func:`~geoattr.robustness.plots.plot_coefficients` of these results.

        {sections}
        """
        return plot_coefficients(self._coefficients, path, terms=terms)

    @fill_doc(sections=_delegated_sections("plot_rank_intervals", "path, label"))
    def plot_rank_intervals(self, path: str | Path | None = None, *, label: int = 5) -> Any:
        """Bootstrap rank intervals: :func:`~geoattr.robustness.plots.plot_rank_intervals` of these results.

        {sections}
        """
        s = self._settings
        return plot_rank_intervals(self._rank_intervals, path, level=s["level"], top_n=s["top_n"],
                                   method=s["rank_bootstrap"], label=label)
