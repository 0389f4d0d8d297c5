"""Impacts (direct, indirect and total) of models with a spatial lag of y.

For ``y = rho W y + X beta + W X theta + e`` the effect of regressor *k* is
``S_k = (I - rho W)^{-1} (beta_k I + theta_k W)``; the average direct impact is
``tr(S_k) / N``, the average total impact ``1' S_k 1 / N`` and the indirect impact
their difference (LeSage and Pace 2009).  With ``A = I - rho W`` they need four
numbers for each value of rho:

    tr(A^-1),  tr(A^-1 W),  1' A^-1 1,  1' A^-1 W 1.

Two methods, chosen with ``method=`` (``"auto"``: eigen up to ``EIGEN_MAX_N`` units):

``"eigen"`` (exact up to rounding)
    From the eigenvalues ``lam_i`` of the dense W: ``tr(A^-1) = sum 1/(1 - rho lam_i)``
    and ``tr(A^-1 W) = sum lam_i/(1 - rho lam_i)``; the totals are ``N/(1 - rho)`` for a
    row-stochastic W and otherwise ``sum c_i/(1 - rho lam_i)`` with the residues
    ``c_i`` of the eigenvectors, checked against a sparse LU solve at the estimate (if the
    check fails, every total is a sparse solve).  Every simulation draw costs O(N).
``"series"`` (stated, controlled error; large N)
    The power series ``tr(A^-1) = sum_j rho^j tr(W^j)`` is summed to an order chosen so
    that its tail, bounded by ``max(1, r) q^(K+1) / (1 - q)`` per unit of coefficient
    with ``q = |rho| r`` and ``r`` the spectral radius of W, is below ``tol``; the
    traces of ``W^j`` are exact for N <= ``exact_max_n`` and otherwise Hutchinson
    estimates whose Monte Carlo standard error is reported.  Totals are exact:
    ``N/(1 - rho)`` for a row-stochastic W, sparse LU solves otherwise.

Draws of rho outside the admissible interval (where ``I - rho W`` is singular or the
series does not converge) are dropped and counted.  The returned frame's ``attrs`` say
which method was used, its error bound and a note for the results.  Inference simulates
the parameters from their estimated asymptotic normal distribution (spatialreg's
``impacts(R=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.linalg import eigs, splu

from geoattr.exceptions import InputError
from geoattr.models.ml_approx import bandwidth_order, reordered
from geoattr.models.ml_symmetry import is_symmetric, symmetric_scaling

__all__ = ["Traces", "traces", "impacts", "impact_sums", "IMPACT_METHODS", "EIGEN_MAX_N", "MAX_ORDER"]

#: Methods of :func:`impacts`.
IMPACT_METHODS = ("auto", "eigen", "series")
#: Largest N for the dense eigenvalues (``method="eigen"`` and exact traces of ``W^j``).
EIGEN_MAX_N = 2500
#: Highest power of the series method.
MAX_ORDER = 20_000


@dataclass(frozen=True)
class Traces:
    """Spectral summary of W for the impacts.

    Attributes
    ----------
    t, s : numpy.ndarray
        ``t[j] = tr(W^j)`` and ``s[j] = 1' W^j 1`` for j = 0..order + 1.
    n : int
    method : str
        ``"exact"`` (``t`` from the eigenvalues) or ``"hutchinson"``.
    t_se : numpy.ndarray or None
        Monte Carlo standard errors of ``t`` (Hutchinson only).
    eigenvalues : numpy.ndarray or None
        Eigenvalues of W (exact only).
    residues : numpy.ndarray or None
        ``c_i`` with ``1' (I - rho W)^-1 1 = sum_i c_i / (1 - rho lam_i)`` (exact only).
    row_stochastic : bool
        Every row of W is non-negative and sums to 1 (so ``W 1 = 1``).
    radius : float
        Spectral radius of W (NaN until needed for the series).
    probe_values : numpy.ndarray or None
        Hutchinson: ``z_p' W^j z_p`` for every power j (rows) and probe p (columns).
    """

    t: np.ndarray
    s: np.ndarray
    n: int
    method: str
    t_se: np.ndarray | None = None
    eigenvalues: np.ndarray | None = None
    residues: np.ndarray | None = None
    row_stochastic: bool = False
    radius: float = float("nan")
    probe_values: np.ndarray | None = None


def _row_stochastic(W: sparse.csr_matrix) -> bool:
    if W.nnz and W.data.min() < 0:
        return False
    return bool(np.all(np.abs(np.asarray(W.sum(axis=1)).ravel() - 1.0) < 1e-12))


def _spectrum(W: sparse.csr_matrix, residues: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Eigenvalues of the dense W and the residues ``c_i`` of ``1'(I - rho W)^-1 1`` (None unless asked)."""
    n = W.shape[0]
    Wd = W.toarray()  # dense N x N, only for N <= EIGEN_MAX_N
    if not residues:
        return (np.linalg.eigvalsh(0.5 * (Wd + Wd.T)) if is_symmetric(W) else np.linalg.eigvals(Wd)), None
    ones = np.ones(n)
    if is_symmetric(W):
        lam, V = np.linalg.eigh(0.5 * (Wd + Wd.T))
        u = V.T @ ones
        return lam, u * u
    r = symmetric_scaling(W)
    if r is not None:  # W = R^1/2 S R^-1/2 with S = R^1/2 C R^1/2 symmetric
        h = np.sqrt(r)
        S = Wd / h[:, None] * h[None, :]
        lam, V = np.linalg.eigh(0.5 * (S + S.T))
        return lam, (V.T @ h) * (V.T @ (1.0 / h))
    lam, V = np.linalg.eig(Wd)
    try:
        b = np.linalg.solve(V, ones.astype(complex))
    except np.linalg.LinAlgError:
        b = np.full(n, np.nan, dtype=complex)
    return lam, (ones @ V) * b


def _power_moments(W: sparse.csr_matrix, order: int, start: np.ndarray) -> np.ndarray:
    """``z' W^j v`` for j = 0..order + 1, with v = ``start`` (N,) or (N, p) and z = start."""
    out = np.empty((order + 2,) + start.shape[1:])
    V = start.copy()
    for j in range(order + 2):
        out[j] = np.einsum("i...,i...->...", start, V)
        V = W @ V
    return out


def traces(
    weights: sparse.spmatrix, *, order: int = 150, exact_max_n: int = EIGEN_MAX_N, probes: int = 50, seed: int = 0,
    residues: bool = True,
) -> Traces:
    """Compute the spectral summary of the weights matrix ``W`` used by :func:`impacts`.

    Parameters
    ----------
    weights : scipy.sparse matrix (N x N)
        The spatial weights ``W``.
    order : int, default 150
        Highest power of the moments ``t`` and ``s`` (the series method asks for more
        when rho needs it).
    exact_max_n : int, default 2500
        Up to this N the eigenvalues of the dense W are computed (exact traces and
        the eigen method); above it the traces are Hutchinson estimates.
    probes : int, default 50
        Rademacher probes of Hutchinson's estimator for larger N.
    seed : int, default 0
    residues : bool, default True
        Also compute the eigenvector residues of the totals (exact branch); without
        them (eigenvalues only, cheaper) the totals of a W that is not row-stochastic
        come from sparse solves.

    Returns
    -------
    Traces
    """
    W = sparse.csr_matrix(weights)
    n = W.shape[0]
    if W.shape != (n, n):
        raise InputError(f"W must be square, got shape {W.shape}")
    # above exact_max_n only products W V remain: in a bandwidth-reducing order (ml_approx)
    perm = None if n <= exact_max_n else bandwidth_order(W)
    Wp = reordered(W, perm)
    s = np.empty(order + 2)
    v = np.ones(n)
    for j in range(order + 2):  # 1' W^j 1 does not depend on the order of the units
        s[j] = v.sum()
        v = Wp @ v
    stochastic = _row_stochastic(W)
    if n <= exact_max_n:
        lam, c = _spectrum(W, residues)
        powers = np.ones_like(lam)
        t = np.empty(order + 2)
        for j in range(order + 2):
            t[j] = float(np.real(powers.sum()))
            powers = powers * lam
        return Traces(t=t, s=s, n=n, method="exact", eigenvalues=lam, residues=c, row_stochastic=stochastic,
                      radius=float(np.abs(lam).max(initial=0.0)))
    rng = np.random.default_rng(seed)
    Z = rng.choice([-1.0, 1.0], size=(n, probes))  # drawn in the caller's order
    vals = _power_moments(Wp, order, Z if perm is None else Z[perm])
    t = vals.mean(axis=1)
    se = vals.std(axis=1, ddof=1) / np.sqrt(probes)
    t[0], se[0] = n, 0.0
    t[1], se[1] = W.diagonal().sum(), 0.0
    return Traces(t=t, s=s, n=n, method="hutchinson", t_se=se, row_stochastic=stochastic,
                  radius=_radius(W, stochastic), probe_values=vals)


def _radius(W: sparse.csr_matrix, stochastic: bool) -> float:
    """Spectral radius of W: 1 for a row-stochastic W, else from ARPACK (with a safety margin)."""
    if stochastic:
        return 1.0
    try:
        r = float(np.abs(eigs(W.astype(float), k=1, which="LM", return_eigenvectors=False)[0]))
    except Exception as exc:  # ARPACK non-convergence
        bound = float(abs(W).sum(axis=1).max())
        if not np.isfinite(bound):
            raise InputError(f"could not bound the spectral radius of W ({exc})") from exc
        return bound
    return r * (1 + 1e-8)


def _admissible(rho: np.ndarray, tr: Traces) -> np.ndarray:
    """rho inside the interval around 0 where ``I - rho W`` is non-singular (eigenvalues known)."""
    lam = tr.eigenvalues
    real = np.real(lam[np.abs(np.imag(lam)) <= 1e-10 * np.maximum(1.0, np.abs(lam))])
    pos, neg = real[real > 1e-14], real[real < -1e-14]
    ok = np.ones(len(rho), dtype=bool)
    if pos.size:
        ok &= rho < 1.0 / pos.max()
    if neg.size:
        ok &= rho > 1.0 / neg.min()
    return ok


def _series_order(rho: np.ndarray, radius: float, tol: float) -> np.ndarray:
    """Smallest K with ``max(1, r) q^(K+1) / (1 - q) <= tol``, q = |rho| r (MAX_ORDER + 1: unreachable)."""
    q = np.abs(rho) * radius
    K = np.full(len(rho), MAX_ORDER + 1)
    inside = q < 1
    with np.errstate(divide="ignore"):
        need = np.log(tol * (1 - q[inside]) / max(1.0, radius)) / np.log(q[inside]) - 1
    K[inside] = np.ceil(np.clip(np.nan_to_num(need, nan=0.0, neginf=0.0), 0, MAX_ORDER + 1)).astype(int)
    return K


def _tail_bound(rho: np.ndarray, radius: float, order: int) -> float:
    q = float(np.max(np.abs(rho))) * radius
    return max(1.0, radius) * q ** (order + 1) / (1 - q)


def _trace_sums(rho: np.ndarray, plan: "_Plan") -> tuple[np.ndarray, np.ndarray]:
    """``tr(A^-1)`` and ``tr(A^-1 W)`` for every rho: eigenvalues (order None) or the power series
    of ``W / scale`` (its moments stay bounded; ``rho W = (rho scale) (W / scale)``)."""
    tr = plan.tr
    if plan.order is None:
        lam = tr.eigenvalues
        D = 1.0 / (1.0 - np.outer(rho, lam))
        return np.real(D.sum(axis=1)), np.real(D @ lam)
    P = np.power.outer(rho * plan.scale, np.arange(plan.order + 1))
    return P @ tr.t[: plan.order + 1], plan.scale * (P @ tr.t[1 : plan.order + 2])


def _solve_totals(rho: np.ndarray, W: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``1' A^-1 1`` and ``1' A^-1 W 1`` by one sparse LU of ``A = I - rho W`` per value of rho."""
    n = W.shape[0]
    rhs = np.column_stack([np.ones(n), W @ np.ones(n)])
    ident = sparse.identity(n, format="csc")
    out = np.empty((len(rho), 2))
    for i, r in enumerate(rho):
        out[i] = splu((ident - r * W).tocsc()).solve(rhs).sum(axis=0)
    return out[:, 0], out[:, 1]


def _total_sums(rho: np.ndarray, tr: Traces, W: sparse.csr_matrix, residues: bool) -> tuple[np.ndarray, np.ndarray]:
    """``1' A^-1 1`` and ``1' A^-1 W 1``: closed form (row-stochastic), residues, or sparse solves."""
    if tr.row_stochastic:
        v = tr.n / (1.0 - rho)
        return v, v
    if residues:
        lam, c = tr.eigenvalues, tr.residues
        D = 1.0 / (1.0 - np.outer(rho, lam))
        return np.real(D @ c), np.real(D @ (c * lam))
    return _solve_totals(rho, W)


def _residues_check(rho0: float, tr: Traces, W: sparse.csr_matrix) -> bool:
    """Whether the eigenvector residues reproduce a sparse solve at the estimate (rel. 1e-9)."""
    if tr.row_stochastic or tr.residues is None or not np.all(np.isfinite(tr.residues)):
        return False
    got = np.r_[_total_sums(np.array([rho0]), tr, W, True)]
    ref = np.r_[_solve_totals(np.array([rho0]), W)]
    return bool(np.all(np.abs(got - ref) <= 1e-9 * np.maximum(np.abs(ref), 1.0)))


@dataclass(frozen=True)
class _Plan:
    """How the sums are computed: the traces, the series order (None: eigenvalues), the checks."""

    tr: Traces
    order: int | None
    residues: bool
    attrs: dict
    scale: float = 1.0


def _plan(rho: np.ndarray, W: sparse.csr_matrix, trace: Traces | None, method: str, tol: float) -> tuple[_Plan, np.ndarray]:
    """Choose and prepare the method for the rho values (estimate first); returns the plan and
    the mask of admissible values (the estimate must be admissible)."""
    n = W.shape[0]
    if method not in IMPACT_METHODS:
        raise InputError(f"method must be one of {IMPACT_METHODS}; {method!r} was given")
    if method == "auto":
        method = "eigen" if (trace is not None and trace.eigenvalues is not None) or n <= EIGEN_MAX_N else "series"
    if method == "eigen":
        tr = trace if trace is not None and trace.eigenvalues is not None else None
        if tr is None and n > EIGEN_MAX_N:
            raise InputError(f"method='eigen' needs the dense eigenvalues of W, allowed up to N = {EIGEN_MAX_N}; "
                             f"N = {n}: use method='series'")
        tr = tr or traces(W, order=1)
        ok = _admissible(rho, tr)
        residues = bool(ok[0]) and _residues_check(float(rho[0]), tr, W)
        attrs = {"impacts_method": "eigen", "error_bound": 0.0, "series_order": None,
                 "note": "impacts exact (eigenvalues of W; totals "
                         + ("N/(1 - rho), W row-stochastic" if tr.row_stochastic else
                            "from eigenvector residues checked against a sparse solve" if residues else
                            "from sparse LU solves") + ")"}
        return _Plan(tr, None, residues, attrs), ok
    tr = trace if trace is not None else traces(W, order=1)
    radius = tr.radius if np.isfinite(tr.radius) else _radius(W, tr.row_stochastic)
    K = _series_order(rho, radius, tol)
    ok = K <= MAX_ORDER
    if tr.eigenvalues is not None:
        ok &= _admissible(rho, tr)
    order = int(K[ok].max()) if ok.any() else 0
    scale = radius if radius > 0 else 1.0
    if len(tr.t) < order + 2 or abs(scale - 1.0) > 1e-12:
        tr = _extended(tr, W, order, scale)
    bound = _tail_bound(rho[ok], radius, order) if ok.any() else float("nan")
    attrs = {"impacts_method": "series", "error_bound": bound, "series_order": order,
             "note": f"impacts from the power series of (I - rho W)^-1 to order {order} (tail bound {bound:.1e} "
                     f"per unit of coefficient; traces {tr.method}); totals "
                     + ("N/(1 - rho), W row-stochastic" if tr.row_stochastic else "from sparse LU solves")}
    return _Plan(tr, order, False, attrs, scale), ok


def _extended(tr: Traces, W: sparse.csr_matrix, order: int, scale: float) -> Traces:
    """Moments of ``W / scale`` up to ``order`` (from the eigenvalues, or new Hutchinson probes)."""
    if tr.eigenvalues is None:
        probes = tr.probe_values.shape[1] if tr.probe_values is not None else 50
        return traces(W / scale, order=order, exact_max_n=0, probes=probes)
    lam = tr.eigenvalues / scale
    t = np.real(np.power.outer(lam, np.arange(order + 2)).sum(axis=0))
    s = _power_moments(W / scale, order, np.ones(tr.n))
    return Traces(t=t, s=s, n=tr.n, method=tr.method, eigenvalues=lam, residues=tr.residues,
                  row_stochastic=tr.row_stochastic, radius=tr.radius / scale)


def _sums(rho: np.ndarray, plan: _Plan, W: sparse.csr_matrix) -> np.ndarray:
    """(m, 4): tr(A^-1), tr(A^-1 W), 1'A^-1 1, 1'A^-1 W 1 for each rho."""
    a0, a1 = _trace_sums(rho, plan)
    b0, b1 = _total_sums(rho, plan.tr, W, plan.residues)
    return np.column_stack([a0, a1, b0, b1])


def impact_sums(rho: np.ndarray, weights: sparse.spmatrix, *, trace: Traces | None = None, method: str = "auto",
                tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The four averages behind the impacts for every value of rho.

    Parameters
    ----------
    rho : array_like, shape (m,)
        Values of rho; the first must be admissible.
    weights : scipy.sparse matrix (N x N)
    trace : Traces, optional
        Precomputed :func:`traces` of ``weights``.
    method : {"auto", "eigen", "series"}, default "auto"
    tol : float, default 1e-10

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(m_ok, 4)``: ``tr(A^-1)/N, tr(A^-1 W)/N, 1'A^-1 1/N, 1'A^-1 W 1/N`` for the
        admissible values, and the boolean mask of admissible values (length m).  The
        direct impact of a regressor is ``S0 b + S1 theta``, its total ``S2 b + S3 theta``.
    """
    W = sparse.csr_matrix(weights)
    rho = np.atleast_1d(np.asarray(rho, dtype=float))
    plan, ok = _plan(rho, W, trace, method, tol)
    if not ok[0]:
        raise InputError(f"rho = {rho[0]:.6g} is outside the interval where (I - rho W) is invertible")
    return _sums(rho[ok], plan, W) / plan.tr.n, ok


def _mc_error(rho0: float, plan: _Plan) -> float | None:
    """Monte Carlo standard error of tr(A^-1)/N at the estimate (Hutchinson traces only)."""
    vals = plan.tr.probe_values
    if plan.order is None or vals is None:
        return None
    per_probe = np.power(rho0 * plan.scale, np.arange(plan.order + 1)) @ vals[: plan.order + 1]
    return float(per_probe.std(ddof=1) / np.sqrt(vals.shape[1]) / plan.tr.n)


def impacts(
    params: pd.Series,
    cov: pd.DataFrame,
    weights: sparse.spmatrix,
    *,
    variables: list[str] | None = None,
    rho: str = "rho",
    lag_prefix: str = "W_",
    draws: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    trace: Traces | None = None,
    method: str = "auto",
    tol: float = 1e-10,
) -> pd.DataFrame:
    """Direct, indirect and total impacts with simulation inference.

    Parameters
    ----------
    params, cov : Series, DataFrame
        Estimates (with ``rho`` and, for SDM, ``W_<x>`` terms) and their covariance.
    weights : scipy.sparse matrix
        The weights of the spatial lag, exactly as used in estimation.
    variables : list of str, optional
        Regressors to report (default: every non-constant, non-spatial term).
    rho : str, default "rho"
    lag_prefix : str, default ``"W_"``
        Prefix of the spatially lagged regressors (theta).
    draws : int, default 1000
        Parameter draws from N(params, cov) for the standard errors and intervals
        (0: point estimates only).  Draws of rho outside the admissible interval are
        dropped (``attrs["draws_dropped"]``).
    level : float, default 0.95
    seed : int, default 0
    trace : Traces, optional
        Precomputed :func:`traces` of ``weights``.
    method : {"auto", "eigen", "series"}, default "auto"
        ``"eigen"``: exact from the eigenvalues of W (N <= ``EIGEN_MAX_N``);
        ``"series"``: power series with a tail below ``tol`` (any N); ``"auto"``: eigen
        when N allows it.  See the module docstring.
    tol : float, default 1e-10
        Series method: bound on the truncation error per unit of coefficient.

    Returns
    -------
    pandas.DataFrame
        Index (variable, effect) with effect in direct / indirect / total; columns
        ``estimate``, ``std_error``, ``lower``, ``upper``, ``z``, ``p``.  ``attrs`` hold
        ``impacts_method``, ``trace_method``, ``error_bound`` (truncation, per unit of
        coefficient; 0 for eigen), ``series_order``, ``mc_std_error`` (Hutchinson),
        ``draws_dropped`` and ``notes`` (one sentence on the method, for the results).
    """
    if rho not in params.index:
        raise InputError(f"params have no {rho!r}: impacts need a model with a spatial lag of y")
    if variables is None:
        variables = [v for v in params.index if v not in (rho, "const", "lambda") and not v.startswith(lag_prefix)
                     and not v.startswith("year_")]
    missing = [v for v in variables if v not in params.index]
    if missing:
        raise InputError(f"variable(s) {missing} are not among the estimates {list(params.index)}")
    W = sparse.csr_matrix(weights)
    names = [rho] + variables + [lag_prefix + v for v in variables if lag_prefix + v in params.index]
    th_idx = [names.index(lag_prefix + v) if lag_prefix + v in names else None for v in variables]

    def split(p: np.ndarray):
        beta = p[:, 1 : 1 + len(variables)]
        theta = np.column_stack([p[:, i] if i is not None else np.zeros(len(p)) for i in th_idx])
        return p[:, 0], beta, theta

    p0 = params[names].to_numpy(dtype=float)[None, :]
    sim = np.empty((0, len(names)))
    if draws:
        rng = np.random.default_rng(seed)
        C = cov.loc[names, names].to_numpy()
        sim = rng.multivariate_normal(p0[0], C, size=draws,
                                      method="cholesky" if np.all(np.linalg.eigvalsh(C) > 0) else "svd")
    plan, ok = _plan(np.r_[p0[:, 0], sim[:, 0]], W, trace, method, tol)
    if not ok[0]:
        raise InputError(f"{rho} = {p0[0, 0]:.6g} is outside the interval where (I - rho W) is invertible "
                         f"(or the series converges within order {MAX_ORDER}): no impacts")
    sim = sim[ok[1:]]
    rs, bs, ts = split(np.vstack([p0, sim]))
    S = _sums(rs, plan, W) / plan.tr.n
    direct = S[:, [0]] * bs + S[:, [1]] * ts
    total = S[:, [2]] * bs + S[:, [3]] * ts
    effects = {"direct": direct, "indirect": total - direct, "total": total}
    frame = _table(variables, effects, bool(draws) and len(sim) > 1, level)
    frame.attrs.update(plan.attrs, trace_method=plan.tr.method, mc_std_error=_mc_error(float(p0[0, 0]), plan),
                       draws_dropped=int(draws - len(sim)) if draws else 0)
    note = plan.attrs["note"]
    if frame.attrs["mc_std_error"] is not None:
        note += (f"; Hutchinson Monte Carlo standard error of the average direct impact "
                 f"{frame.attrs['mc_std_error']:.1e} per unit of coefficient")
    if frame.attrs["draws_dropped"]:
        note += f"; {frame.attrs['draws_dropped']} of {draws} draws of {rho} outside the admissible interval dropped"
    frame.attrs["notes"] = [note]
    del frame.attrs["note"]
    return frame


def _table(variables: list[str], effects: dict[str, np.ndarray], inference: bool, level: float) -> pd.DataFrame:
    """Rows (variable, effect): the estimate (row 0 of each array) and the simulated inference."""
    q = (1 - level) / 2
    out = []
    for k, v in enumerate(variables):
        for eff, arr in effects.items():
            row = {"variable": v, "effect": eff, "estimate": arr[0, k]}
            if inference:
                d = arr[1:, k]
                sd = d.std(ddof=1)
                row.update(std_error=sd, lower=np.quantile(d, q), upper=np.quantile(d, 1 - q))
                row["z"] = row["estimate"] / sd if sd > 0 else np.nan
                row["p"] = 2 * stats.norm.sf(abs(row["z"])) if sd > 0 else np.nan
            out.append(row)
    return pd.DataFrame(out).set_index(["variable", "effect"])
