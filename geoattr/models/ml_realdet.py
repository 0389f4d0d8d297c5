"""Exact log-determinants from real sparse LU factorisations, for large N.

Above :data:`REAL_LU_MIN_N` observations the ML engine (:mod:`geoattr.models.ml`) no
longer takes the complex-step factorisation of ``I - rho W`` (four times the cost and twice
the memory of a real one at N = 10^6).  It evaluates the exact ``log|I - rho W|`` from real
LU factorisations only, at a handful of points, and models the function between them::

    log|I - rho W| = T4(rho) + R(rho),   T4(rho) = -sum_{k<=4} rho^k tr(W^k) / k

``T4`` (exact traces of ``W^k`` from sparse products) carries most of the shape; the smooth
remainder ``R`` is interpolated by a polynomial through the exact values.  The
concentrated likelihood is then maximised on that model and exact values are added
(:func:`search_values`): two round the surrogate's estimate; then one point ``STENCIL`` below
and one above the model's estimate (the first step adds to the two-point model a curvature of
``R`` guessed from a power law, so that this estimate is usually within 1e-5 of the root);
then at the estimate itself (or, after a far step, first there), until the estimate moves by
less than ``tol``; points ``2 STENCIL`` away are added while the interpolant's estimated
errors stay above ten times ``TR_RTOL`` (high rho on small graphs).  The estimate returned
is then that evaluated point (within ``tol`` of the model's root), so its factorisation also
serves the solves (reduced form, Hutchinson probes): a fit typically costs five
factorisations in all at N = 10^5 (six or seven before, when the stencil came after the
estimate and the solves needed one more).  The last
iterates cluster round the estimate, so the interpolant's derivatives there
(``tr1 = tr(W A^-1) = -d log|A| / d rho`` and ``tr2 = tr(W_A W_A) = -d^2 log|A| / d rho^2``)
are accurate to well below 1e-7 relative.  Their error is estimated by the change when
the farthest point is left out of the interpolant, and reported.

The fill-reducing ordering (minimum degree on ``A + A'``) is computed once, with the first
factorisation; ``W`` is then permuted once and every later factorisation keeps that
order (SuperLU's ``NATURAL`` option).  Solves at the estimate reuse the last factorisation
with iterative refinement when the estimate is not exactly one of the evaluated points.
Factorisations and solves run with subnormal numbers flushed to zero
(:mod:`geoattr.models.fpu`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.polynomial import polynomial as P
from scipy.optimize import brentq
from scipy.sparse.linalg import splu

from geoattr.models.fpu import flush_denormals
from geoattr.models.ml_jacobian import Jacobian, SingularError

__all__ = ["REAL_LU_MIN_N", "RealLUJacobian", "search_values"]

#: Smallest N for which ``method="auto"`` uses real LU factorisations with an interpolated
#: log-determinant (below it: complex-step factorisations, exact to rounding).
REAL_LU_MIN_N = 30_000
#: Spacing of the first two exact evaluations around the surrogate's estimate.
FIRST_STEP = 2e-3
#: Smallest distance (relative to the interval) between two evaluated points.
MIN_SEP = 1e-4
#: Distance (relative to the interval) of the points added round the estimate for tr1 and tr2.
STENCIL = 2.5e-4
#: Relative accuracy sought for tr1 and tr2 (estimated by leaving the farthest point out).
TR_RTOL = (1e-9, 1e-7)
#: Most points in the interpolant (the nearest to the current estimate).
MAX_POINTS = 5
#: When both points ``STENCIL`` away are taken and the estimated errors of tr1 or tr2 are
#: still above ``WIDEN`` times ``TR_RTOL``, points ``2 STENCIL`` away are added (the
#: leave-one-out estimate is pessimistic: at N = 10^5 it says 2e-7 for tr2 where a nine-point
#: reference shows 1e-9, so a stricter rule would only add factorisations there).
WIDEN = 10.0
#: Largest distance (relative to the interval) between the estimate and the last factorisation
#: that still serves the solves there: with iterative refinement for the reduced form, as it
#: stands for the Hutchinson probes of the stochastic tr3 (the operator then differs by about
#: 1e-8 relative, five orders below the probes' own relative error).
NEAR = 1e-8


class _Refined:
    """Solves with ``I - rho W`` from the LU of ``I - rho0 W`` by iterative refinement."""

    def __init__(self, lu: Any, perm: np.ndarray | None, W: sp.csr_matrix, rho0: float, rho: float) -> None:
        self.lu, self.perm, self.W, self.d = lu, perm, W, rho - rho0
        self.rho = rho

    def _base(self, b: np.ndarray, trans: str) -> np.ndarray:
        # the LU is of P A P' (P: row i of the permuted matrix is row perm[i] of A), or of A
        with flush_denormals():
            if self.perm is None:
                return self.lu.solve(np.ascontiguousarray(b), trans=trans)
            x = np.empty_like(b, dtype=float)
            x[self.perm] = self.lu.solve(np.ascontiguousarray(b[self.perm]), trans=trans)
        return x

    @property
    def direct(self) -> Any:
        """The base factorisation when it solves with ``A`` itself (no refinement, no permutation), else None."""
        return self.lu if self.d == 0.0 and self.perm is None else None

    def solve_pair(self, B: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A^-1 B, A^-T C)``: one call of the base factorisation's ``solve_pair`` when it has
        one and no refinement is needed, else two solves."""
        pair = getattr(self.direct, "solve_pair", None)
        if pair is not None:
            return pair(np.asarray(B, dtype=float), np.asarray(C, dtype=float))
        return self.solve(B), self.solve(C, "T")

    def solve(self, b: np.ndarray, trans: str = "N") -> np.ndarray:
        b = np.asarray(b, dtype=float)
        x = self._base(b, trans)
        if self.d == 0.0:
            return x
        M = self.W.T if trans == "T" else self.W  # the transposed view: no copy of W'
        scale = float(np.abs(b).max()) or 1.0
        for _ in range(60):
            r = b - (x - self.rho * (M @ x))
            if float(np.abs(r).max()) <= 1e-15 * scale:
                break
            x = x + self._base(r, trans)
        return x


class RealLUJacobian(Jacobian):
    """:class:`~geoattr.models.ml_jacobian.Jacobian` with real factorisations only.

    ``logdet`` is exact (real sparse LU, the ordering of the first factorisation reused);
    ``tr2`` comes from the interpolated log-determinant of :func:`search_values` (set with
    :meth:`set_tr2`); solves reuse the last factorisation.
    """

    #: How the exact values are obtained (in the trace description of the results).
    factorisation = "real sparse LU"

    def __init__(self, weights: sp.csr_matrix, method: str, bounds: tuple[float, float]) -> None:
        super().__init__(weights, method, bounds)
        self._perm: np.ndarray | None = None
        self._kept: tuple[float, Any] | None = None
        self._tr2_at: dict[float, tuple[float, float]] = {}
        self._near = NEAR * (bounds[1] - bounds[0])
        self.evaluations = 0

    def _ordered(self, rho: float) -> Any:
        """Real LU of ``I - rho W``; after the first, of ``P (I - rho W) P'`` in a fixed order."""
        with flush_denormals():  # subnormal fill: 24.5 s against 16.7 s for one LU at N = 10^6
            return self._ordered_lu(rho)

    def _ordered_lu(self, rho: float) -> Any:
        self._kept = None  # at most one factorisation alive
        if self._perm is None:  # minimum-degree ordering, then kept: P from this factorisation
            A = self._a(rho)
            lu = self._splu(A)
            perm = np.empty_like(lu.perm_c)
            perm[lu.perm_c] = np.arange(self.n)
            # positions of the values of A in the permuted structure
            where = sp.csc_matrix((np.arange(1.0, A.nnz + 1), A.indices, A.indptr), shape=A.shape)
            Ap = where[perm][:, perm].tocsc()
            pos = Ap.data.astype(np.int64) - 1
            self._pindices, self._pindptr = Ap.indices, Ap.indptr
            _, _, wdata, diag = self._csc
            self._pw = wdata[pos]
            self._pdiag = np.flatnonzero(np.isin(pos, diag))
            self._perm = perm
            self._kept = (rho, lu, None)
        else:
            data = (-rho) * self._pw
            data[self._pdiag] += 1.0
            M = sp.csc_matrix((data, self._pindices.copy(), self._pindptr.copy()), shape=(self.n, self.n))
            lu = self._splu_natural(M)
            self._kept = (rho, lu, self._perm)
        self.evaluations += 1
        return lu

    def _splu_natural(self, M: sp.csc_matrix) -> Any:
        try:
            return splu(M, **{**self._lu_kw, "permc_spec": "NATURAL"})
        except RuntimeError as exc:  # exactly singular
            raise SingularError(str(exc)) from exc

    def logdet(self, rho: float) -> float:
        d = self._ordered(rho).U.diagonal()
        if np.any(d == 0.0):
            raise SingularError("zero pivot")
        return float(np.log(np.abs(d)).sum())

    def factor(self, rho: float) -> _Refined:
        # a factorisation at rho itself unless the last one is within NEAR: many solves may
        # follow, and refinement from a farther point would cost several solves each
        if self._kept is None or abs(self._kept[0] - rho) > self._near:
            self._ordered(rho)
        rho0, lu, perm = self._kept  # type: ignore[misc]
        return _Refined(lu, perm, self.W, rho0, rho)

    def probe_factor(self, rho: float) -> _Refined:
        """The last factorisation as it stands (no refinement) when within ``NEAR`` of ``rho``."""
        f = self.factor(rho)
        return _Refined(f.lu, f.perm, self.W, f.rho - f.d, f.rho - f.d)

    def solve(self, rho: float, b: np.ndarray) -> np.ndarray:
        return self.factor(rho).solve(b)

    def set_tr2(self, rho: float, tr2: float, err: float) -> None:
        """Record ``tr2`` at ``rho`` (and its error estimate) from the interpolated log-determinant."""
        self._tr2_at[rho] = (tr2, err)

    def _tr2(self, rho: float, tr1: float, bounds: tuple[float, float]) -> float:  # type: ignore[override]
        return self._tr2_at[rho][0]

    def trace_error_note(self, rho: float) -> str:
        return f"tr1, tr2 from exact log-determinants at {self.evaluations} points, interpolated"


def _interpolant(points: dict[float, float], at: float, drop_farthest: bool = False) -> tuple[np.ndarray, float, float]:
    """Polynomial coefficients (in ``(r - at) / s``), the centre and the scale ``s``."""
    xs = sorted(points, key=lambda r: abs(r - at))[:MAX_POINTS]
    if drop_farthest and len(xs) > 1:
        xs = xs[:-1]
    x = np.array(xs)
    s = max(float(np.abs(x - at).max()), 1e-12)
    c = P.polyfit((x - at) / s, np.array([points[r] for r in xs]), len(xs) - 1)
    return c, at, s


def _derivs(c: np.ndarray, at: float, s: float, r: float) -> tuple[float, float, float]:
    t = (r - at) / s
    return (float(P.polyval(t, c)), float(P.polyval(t, P.polyder(c))) / s,
            float(P.polyval(t, P.polyder(c, 2))) / s**2)


def search_values(
    score_part: Callable[[float], float],
    jac: Any,
    taylor: tuple[float, float, float, float],
    x0: float,
    bounds: tuple[float, float],
    tol: float,
    maxiter: int = 30,
) -> tuple[float, float, float, bool, str, int, dict[str, float]]:
    """Root of ``f'(r) = score_part(r) + tr1(r)`` with ``log|I - rW|`` from exact values only.

    ``jac.logdet(r)`` gives exact values; ``taylor`` = (tr W, tr W^2, tr W^3, tr W^4).
    Returns (r, logdet, tr1, converged, message, evaluations, info) where ``info`` has
    ``tr2`` and the error estimates ``tr1_error``, ``tr2_error`` and ``logdet_error``.
    """
    t = taylor
    lo, hi = bounds
    span = hi - lo

    def t4(r: float) -> tuple[float, float, float]:  # T4 and its first two derivatives
        return (-(r * t[0] + r**2 * t[1] / 2 + r**3 * t[2] / 3 + r**4 * t[3] / 4),
                -(t[0] + r * t[1] + r**2 * t[2] + r**3 * t[3]),
                -(t[1] + 2 * r * t[2] + 3 * r**2 * t[3]))

    rem: dict[float, float] = {}
    lds: dict[float, float] = {}

    def evaluate(r: float) -> None:
        try:
            ld = jac.logdet(r)
        except SingularError:
            ld = -math.inf
        lds[r] = ld
        rem[r] = ld - t4(r)[0]

    def inner(r: float) -> float:
        return min(max(r, lo + 1e-9 * span), hi - 1e-9 * span)

    h = FIRST_STEP * span / 2
    evaluate(inner(x0 - h))
    evaluate(inner(x0 + h))
    x, msg, ok = x0, "", False
    for _ in range(maxiter):
        if not all(np.isfinite(list(rem.values()))):
            return x, math.nan, math.nan, False, "singular I - rho W at an evaluated point", len(lds), {}
        c, at, s = _interpolant(rem, x)
        kappa = _power_curvature(rem) if len(rem) == 2 else 0.0  # R'' guessed, about x0

        def fprime(r: float) -> float:
            return score_part(r) - (t4(r)[1] + _derivs(c, at, s, r)[1] + kappa * (r - at))

        x_new = _root(fprime, x, lo + 1e-9 * span, hi - 1e-9 * span, tol)
        moved, x = abs(x_new - x), x_new
        nxt = _next_point(rem, x, moved, tol, t4, (lo, hi), h)
        if nxt is None:
            ok = True
            break
        if not math.isnan(nxt):
            evaluate(nxt)
    else:
        msg = f"no convergence after {len(lds)} log-determinant evaluations"
    near = min(lds, key=lambda r: abs(r - x))
    if ok and abs(near - x) <= tol:  # the estimate: the evaluated point within tol of the root
        x = near
    c, at, s = _interpolant(rem, x)
    c2, at2, s2 = _interpolant(rem, x, drop_farthest=True)
    v, d1, d2 = _derivs(c, at, s, x)
    w, e1, e2 = _derivs(c2, at2, s2, x)
    tv, t1, t2 = t4(x)
    ld = lds[x] if x in lds else tv + v
    info = {"tr2": -(t2 + d2), "tr1_error": abs(d1 - e1), "tr2_error": abs(d2 - e2),
            "logdet_error": 0.0 if x in lds else abs(v - w)}
    return x, ld, -(t1 + d1), ok, msg, len(lds), info


def _power_curvature(rem: dict[float, float]) -> float:
    """A guess of ``R''`` from the first two exact values, for the first step only.

    For a non-negative ``W`` and ``rho > 0``, ``R(rho) = -sum_{k>=5} rho^k tr(W^k) / k`` is
    a sum of powers of one sign; fitting one power ``a rho^m`` to the secant's value and slope
    gives ``R'' ~ R' (m - 1) / rho`` (a sum of higher powers curves more: the guess errs
    low).  0 when the values do not look like such a sum (``m < 5``, ``rho <= 0``).
    """
    (a, ra), (b, rb) = sorted(rem.items())
    mid, value, slope = 0.5 * (a + b), 0.5 * (ra + rb), (rb - ra) / (b - a)
    if mid <= 0.0 or value >= 0.0 or slope >= 0.0:
        return 0.0
    m = mid * slope / value
    return slope * (m - 1.0) / mid if 5.0 <= m < 1e6 else 0.0


def _next_point(rem: dict[float, float], x: float, moved: float, tol: float, t4: Callable,
                bounds: tuple[float, float], far: float) -> float | None:
    """The next exact evaluation of :func:`search_values`, ``x`` being the model's root.

    A root farther than ``far`` from every evaluated point is evaluated (a Newton-like step),
    except the first one (from the two starting points and the curvature guess of
    :func:`_power_curvature`); otherwise it is first bracketed by a point ``STENCIL`` below
    and one above (each only when no evaluated point lies within 1.5 ``STENCIL`` on that
    side), then the root itself is evaluated (its factorisation serves the solves at the
    estimate).  Returns NaN when no point can be added yet (the root moved by more than
    ``tol`` but stays within ``MIN_SEP`` of an evaluated point) and None when the search has
    converged: the root moved by at most ``tol`` and tr1, tr2 are accurate
    (:func:`_stencil_point`).
    """
    lo, hi = bounds
    sep, d = MIN_SEP * (hi - lo), STENCIL * (hi - lo)
    gap = min(abs(x - r) for r in rem)
    if gap > far and len(rem) > 2:
        return x
    for sgn in (-1.0, 1.0):
        cand = x + sgn * d
        covered = any(0 < sgn * (r - x) <= 1.5 * d for r in rem)
        if not covered and lo < cand < hi and min(abs(cand - r) for r in rem) > sep:
            return cand
    if gap > sep:
        return x
    if moved <= tol:
        return _stencil_point(rem, x, t4, bounds)
    return math.nan


def _errors(rem: dict[float, float], x: float) -> tuple[float, float]:
    """Estimated absolute errors of the interpolant's first and second derivatives at x."""
    c, at, s = _interpolant(rem, x)
    c2, at2, s2 = _interpolant(rem, x, drop_farthest=True)
    _, d1, d2 = _derivs(c, at, s, x)
    _, e1, e2 = _derivs(c2, at2, s2, x)
    return abs(d1 - e1), abs(d2 - e2)


def _stencil_point(rem: dict[float, float], x: float, t4: Callable, bounds: tuple[float, float]) -> float | None:
    """A further point near x while tr1 or tr2 are not yet accurate (None when they are)."""
    if len(rem) >= MAX_POINTS + 2:
        return None
    e1, e2 = _errors(rem, x)
    _, t1, t2 = t4(x)
    c, at, s = _interpolant(rem, x)
    _, d1, d2 = _derivs(c, at, s, x)
    if len(rem) >= 4 and e1 <= TR_RTOL[0] * abs(t1 + d1) and e2 <= TR_RTOL[1] * abs(t2 + d2):
        return None
    lo, hi = bounds
    d = STENCIL * (hi - lo)
    below = sum(r < x for r in rem)
    side = -1.0 if below <= len(rem) - below else 1.0
    cands = [x + side * d, x - side * d]
    if e1 > WIDEN * TR_RTOL[0] * abs(t1 + d1) or e2 > WIDEN * TR_RTOL[1] * abs(t2 + d2):
        cands += [x + side * 2 * d, x - side * 2 * d]  # far from the target: look farther out
    for cand in cands:
        if lo < cand < hi and min(abs(cand - r) for r in rem) > MIN_SEP * (hi - lo):
            return cand
    return None


def _root(fprime: Callable[[float], float], x: float, lo: float, hi: float, tol: float) -> float:
    """A root of ``fprime`` near ``x``: bracket by growing steps, then Brent."""
    fx = fprime(x)
    if fx == 0.0:
        return x
    direction = -1.0 if fx > 0 else 1.0
    step = 1e-4 * (hi - lo)
    a, fa = x, fx
    while True:
        b = min(max(a + direction * step, lo), hi)
        fb = fprime(b)
        if (fb > 0) != (fa > 0) or fb == 0.0:
            break
        if b in (lo, hi):
            return b
        a, fa, step = b, fb, 4 * step
    lo_b, hi_b = sorted((a, b))
    return float(brentq(fprime, lo_b, hi_b, xtol=min(tol, 1e-13), rtol=4 * np.finfo(float).eps))
