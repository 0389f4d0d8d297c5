"""Approximate log-determinants for the ML engine, for N beyond the memory of a sparse LU.

Two options of :func:`geoattr.models.ml.ml_lag` / :func:`~geoattr.models.ml.ml_error`
(``method=``), both for a row-standardised ``W`` (every eigenvalue in the unit disk) and
both needing only products ``W v``:

``"chebyshev"`` (Pace & LeSage 2004)
    For ``|rho| < 1`` and ``x`` in ``[-1, 1]`` the Chebyshev series of the log is known in
    closed form: with ``a = rho / (1 + sqrt(1 - rho^2))`` (so ``rho = 2a / (1 + a^2)``)::

        log(1 - rho x) = -log(1 + a^2) - 2 sum_{k>=1} a^k T_k(x) / k

    so ``log|I - rho W| = -n log(1 + a^2) - 2 sum_{k<=q} a^k tr(T_k(W)) / k`` truncated at
    degree ``q`` (``CHEB_DEGREE``).  For a real spectrum in ``[-1, 1]`` (``W`` similar to a
    symmetric matrix, e.g. row-standardised contiguity) ``|T_k| <= 1`` bounds the
    truncation error by ``n 2 |a|^(q+1) / ((q + 1)(1 - |a|))``.
``"mc"`` (Barry & Pace 1999)
    ``log|I - rho W| = -sum_{k<=m} rho^k tr(W^k) / k`` (``m = MC_TERMS``); truncation
    error at most ``n |rho|^(m+1) / ((m + 1)(1 - |rho|))`` for any ``W`` with
    ``||W||_inf <= 1``.

The traces of ``T_k(W)`` or ``W^k`` are exact for ``k <= 4`` (sparse products) and above
that Hutchinson estimates from ``LOGDET_PROBES`` Rademacher probes ``z`` (``z'z = n``, so
``z' B z`` is Barry & Pace's ``n z' B z / z'z``), drawn once with the fit's ``seed``.  Each
probe gives a whole log-determinant curve; their spread gives the sampling standard error
at any ``rho`` and the reported interval is ``estimate +- (1.96 se + truncation bound)``
(Barry & Pace's interval).  The derivatives ``tr1 = -d log|A| / d rho`` and
``tr2 = -d^2 log|A| / d rho^2`` of the information matrix are those of the approximation
(analytic in ``rho``).  Solves with ``I - rho W`` (reduced form, probes of ``tr3``) are
Neumann iterations ``x <- b + rho W x`` (rate ``|rho|``).

Everything above is products ``W V``, so their speed is that of memory: on a graph whose
ids carry no geography (a commuting network) the entries of a row point all over ``V``.
From ``REORDER_MIN_N`` units on, unless the caller's order is already local (a lattice
numbered row by row), :func:`bandwidth_order` renumbers the units once by
reverse Cuthill-McKee (scipy) and the products run on ``P W P'``; the probes are drawn in
the caller's order and permuted, and solutions permuted back, so every trace, solve and
estimate is the same up to the rounding of a different summation order.  Measured on the
10^6-unit commuting graph of ``benchmarks/bench_scale.py`` (8.2 entries a row): 0.061 s a
column of ``W V`` (blocks of 5) in the generator's order, 0.0094 s after the ordering,
which itself takes 1.6 s.

The working blocks of probes and right-hand sides (four alive at a time) have
:func:`probe_columns` columns: at most ``BLOCK_BYTES`` each, so that beside the graph and
the data they hold little (8 MB at N = 10^6: one column).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from geoattr.exceptions import InputError
from geoattr.models.ml_jacobian import APPROX_METHODS, Jacobian, is_row_standardised
from geoattr.models.ml_symmetry import (
    bandwidth,
    diagonal_distances,
    is_symmetric,
    pattern_is_symmetric,
    shifted_columns,
    symmetric_scaling,
    transposed_block,
)

__all__ = [
    "APPROX_METHODS", "ApproxJacobian", "ApproxLogdet", "CHEB_DEGREE", "LOGDET_PROBES", "MC_TERMS",
    "BLOCK_BYTES", "LOCAL_FAR_SHARE", "LOCAL_ROWS", "REORDER_MIN_N", "bandwidth_order", "describe_approx", "far_share",
    "low_order_traces", "probe_columns", "reordered",
]

#: Degree of the Chebyshev series.
CHEB_DEGREE = 20
#: Terms of the Barry-Pace power series.
MC_TERMS = 50
#: Rademacher probes for the traces of order above 4.
LOGDET_PROBES = 32
#: Normal quantile of the reported interval (95 %).
Z95 = 1.959963984540054
#: Largest number of Neumann iterations of a solve.
MAX_NEUMANN = 20_000
#: Neumann iterations stop once a step changes no entry by more than this (relative to b).
NEUMANN_RTOL = 1e-13
#: From this many units on, the products ``W V`` run in a bandwidth-reducing order
#: (:func:`bandwidth_order`).  At 10^5 units of the commuting graph of
#: ``benchmarks/bench_scale.py`` a column of ``W V`` costs 0.0041 s in the generator's order
#: and 0.0014 s after the ordering (0.16 s); below, the vectors stay in cache and the
#: ordering is not worth its cost.
REORDER_MIN_N = 50_000
#: An entry is near the diagonal within ``min(LOCAL_ROWS, N // 64)`` rows: 16,384 rows of a
#: block of ``V`` (128 KB a column) stay in the cache while a row of ``W`` reads them.
LOCAL_ROWS = 1 << 14
#: The caller's order is kept when at most this share of the entries lies farther away
#: (:func:`bandwidth_order`).  The N = 10^6 queen lattice numbered row by row (every entry
#: within 1,001 rows) took 0.0106 s a column of ``W V`` in its order and 0.0109 s after
#: the ordering; a commuting graph with unit numbers unrelated to place, 0.061 s and 0.0094 s.
LOCAL_FAR_SHARE = 0.1
#: Largest working block (``n x columns`` floats) of the probes and solves: see :func:`probe_columns`.
BLOCK_BYTES = 1 << 23


def probe_columns(n: int) -> int:
    """Columns of the approximate engine's working blocks of ``n`` rows (probes, right-hand sides).

    At most ``BLOCK_BYTES`` a block and 1 to 16 columns: 16 up to N = 65,536, one from
    N = 524,288 on.  Four blocks are alive at a time (a probe, its products or a Neumann
    solve's right-hand side and iterates), 32 MB at N = 10^6 against 95 MB of the queen
    lattice's W.  A column of ``W V`` costs 0.0071 s alone and 0.0063 s in a block of five
    there (the N = 10^6 lattice), so narrow blocks cost little time.

    Parameters
    ----------
    n : int

    Returns
    -------
    int
    """
    return max(1, min(16, BLOCK_BYTES // (8 * max(n, 1))))


def far_share(W: sp.csr_matrix, window: int, *, rows: int = 1 << 16) -> float:
    """Share of the stored entries of ``W`` more than ``window`` rows from the diagonal (``|i - j| > window``).

    Counted by blocks of rows (no array of the entries' row numbers).

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
    window : int
    rows : int, optional
        Rows per block.

    Returns
    -------
    float
        In [0, 1]; 0 for a matrix without entries.
    """
    far = sum(int(np.count_nonzero(d > window)) for d in diagonal_distances(W, rows=rows))
    return far / W.nnz if W.nnz else 0.0


def bandwidth_order(W: sp.csr_matrix, *, min_n: int | None = None) -> np.ndarray | None:
    """A reverse Cuthill-McKee numbering of the units of ``W``, or None when the caller's order will do.

    The caller's order is kept below ``min_n`` units, and when it is already local: at most
    ``LOCAL_FAR_SHARE`` of the entries lie more than ``min(LOCAL_ROWS, N // 64)`` rows from
    the diagonal (a lattice numbered row by row, units sorted by place).  The products
    ``W V`` then read ``V`` within a window that stays in the cache, as they would after
    the ordering, and the fit holds no reordered copy of ``W``.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
        Square weights.
    min_n : int, optional
        Smallest ``N`` that is reordered; default ``REORDER_MIN_N``.

    Returns
    -------
    numpy.ndarray or None
        ``perm`` (int32, as scipy gives it) such that ``W[perm][:, perm]`` has its entries near the diagonal (the
        ordering of the symmetrised pattern ``W + W'``), so that the rows of ``V`` a row of
        ``W`` reads lie close together in memory; ``v[perm]`` is a vector in that order.
    """
    n = W.shape[0]
    if n < (REORDER_MIN_N if min_n is None else min_n):
        return None
    if far_share(W, min(LOCAL_ROWS, n // 64)) <= LOCAL_FAR_SHARE:
        return None
    # scipy's int32 order, kept as it is: at N = 10^6 it is 4 MB that the fit holds to its end
    if W.has_canonical_format and pattern_is_symmetric(W):  # W's pattern is that of W + W', in the same order
        return reverse_cuthill_mckee(W, symmetric_mode=True)
    P = sp.csr_matrix((np.ones(W.nnz, dtype=np.int8), W.indices, W.indptr), shape=W.shape)  # the pattern, 1 byte
    return reverse_cuthill_mckee((P + P.T).tocsr(), symmetric_mode=True)


def reordered(W: sp.csr_matrix, perm: np.ndarray | None, *, rows: int = 32_768) -> sp.csr_matrix:
    """``P W P'``: the rows and columns of ``W`` in the order ``perm`` (W itself for None).

    Built in one pass by blocks of new rows (each row's entries gathered, renumbered and
    sorted by column), so that only the result and one block are held: the same matrix
    as ``W[perm][:, perm]`` with sorted indices, without its intermediate row-permuted copy.

    Parameters
    ----------
    W : scipy.sparse.csr_matrix
        Canonical (no duplicate entries).
    perm : numpy.ndarray or None
        An order of the units, e.g. from :func:`bandwidth_order`.
    rows : int, optional
        New rows per block.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``W[perm][:, perm]`` with sorted indices.
    """
    if perm is None:
        return W
    n = W.shape[0]
    inv = np.empty(n, dtype=W.indices.dtype)  # new numbers in W's own index type (int32 below 2^31)
    inv[perm] = np.arange(n, dtype=inv.dtype)
    counts = np.diff(W.indptr)[perm]
    indptr = np.zeros(n + 1, dtype=W.indptr.dtype)  # W's nnz fits its index type, so the sums do too
    np.cumsum(counts, out=indptr[1:])
    indices, data = np.empty(W.nnz, dtype=W.indices.dtype), np.empty(W.nnz, dtype=W.data.dtype)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        lo, hi, lens = indptr[start], indptr[stop], counts[start:stop]
        pos = np.repeat(W.indptr[perm[start:stop]] - indptr[start:stop], lens) + np.arange(lo, hi)  # entries in W
        cols = inv[W.indices[pos]]
        order = np.lexsort((cols, np.repeat(np.arange(stop - start), lens)))  # by row, then by new column
        indices[lo:hi] = cols[order]
        data[lo:hi] = W.data[pos[order]]
    Wp = sp.csr_matrix((data, indices, indptr), shape=W.shape)
    Wp.has_sorted_indices = True
    return Wp


def low_order_traces(W: sp.csr_matrix, *, rows: int = 8_192) -> tuple[float, float, float, float]:
    """Exact tr(W), tr(W^2), tr(W^3), tr(W^4) from sparse products, by blocks of rows.

    With ``W2 = W W``: ``tr(W^2) = sum(W .* W')``, ``tr(W^3) = sum(W2 .* W')`` and
    ``tr(W^4) = sum(W2 .* W2')``; a block ``B`` of rows contributes ``sum(W[B] .* W'[B])``,
    ``sum(W[B] W .* W'[B])`` and ``sum(W[B] W .* W2'[B])``, so neither ``W^2`` (30 million
    entries for the 10^6-unit commuting graph) nor ``W'`` is held whole: the rows ``B`` of
    ``W'`` are the columns ``B`` of ``W`` (``W[:, B]'``), and those of ``W2'`` the columns
    ``B`` of ``W2``, ``(W W[:, B])'`` (each entry the same sum, in the same order, as with
    ``W'`` held).  The blocks' sums are added in the order of the blocks, so the traces
    depend on ``rows`` only through rounding.  A block of 8,192 rows of the N = 10^6 queen
    lattice holds about 20 MB at the products' peak (measured with memray).
    """
    n = W.shape[0]
    t1 = float(W.diagonal().sum())
    t2 = t3 = t4 = 0.0
    band = bandwidth(W)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        transposed = transposed_block(W, start, stop, band=band)  # W'[B]
        t2 += float(W[start:stop].multiply(transposed).sum())
        A = W[start:stop] @ W  # rows B of W^2
        t3 += float(A.multiply(transposed).sum())
        # (W^2)'[B] = (W W[:, B])' = (W[R, C] W'[B][:, C]')' with C the rows of W that W'[B] reads
        # and R those within band of C: the only rows of W W[:, B] with entries
        c0, c1 = max(0, start - band), min(n, stop + band)
        r0, r1 = max(0, c0 - band), min(n, c1 + band)
        T = shifted_columns((W[r0:r1, c0:c1] @ transposed[:, c0:c1].T).T.tocsr(), r0, n)
        del transposed
        t4 += float(A.multiply(T).sum())
    return t1, t2, t3, t4


class ApproxLogdet:
    """Approximate ``log|I - rho W|`` with its derivatives and error bound.

    Parameters
    ----------
    weights : scipy.sparse.csr_matrix
        Row-standardised ``W``.
    method : {"chebyshev", "mc"}
        The approximation (module docstring).
    seed : int or None, default 0
        Seed of the Rademacher probes.
    order : int, optional
        Degree ``q`` (Chebyshev) or terms ``m`` (Monte Carlo); default ``CHEB_DEGREE`` or
        ``MC_TERMS``.
    probes : int, default ``LOGDET_PROBES``
        Probes of the Hutchinson traces.

    Attributes
    ----------
    perm : numpy.ndarray or None
        The units' order of the products (:func:`bandwidth_order`); ``W`` is the weights in
        that order.  None: the caller's order.
    low : tuple of float
        Exact ``tr(W^k)``, k = 1..4.
    """

    def __init__(self, weights: sp.csr_matrix, method: str, *, seed: int | None = 0, order: int | None = None,
                 probes: int = LOGDET_PROBES) -> None:
        check_approx_weights(weights, method)
        self.perm = bandwidth_order(weights)
        self.W, self.n, self.method = reordered(weights, self.perm), weights.shape[0], method
        for name, v in (("order", order), ("probes", probes)):
            if v is not None and not (isinstance(v, (int, np.integer)) and not isinstance(v, bool)):
                raise InputError(f"the {method} log-determinant's {name} must be a whole number; {v!r} was given")
        self.order = int(order if order is not None else (CHEB_DEGREE if method == "chebyshev" else MC_TERMS))
        self.probes = int(probes)
        if self.order < 4 or self.probes < 2:
            raise InputError(f"the {method} log-determinant needs order >= 4 and probes >= 2; "
                             f"order={order!r}, probes={probes!r} were given")
        self.samples = self._probe_traces(seed)  # probes x order: z' B_k z
        self.traces = self.samples.mean(axis=0)
        self.traces[:4] = self._exact_low()
        self.samples[:, :4] = self.traces[:4]

    def _exact_low(self) -> np.ndarray:
        self.low = low_order_traces(self.W)
        t1, t2, t3, t4 = self.low
        if self.method == "mc":
            return np.array([t1, t2, t3, t4])
        n = self.n  # tr T_k(W): T_1 = x, T_2 = 2x^2 - 1, T_3 = 4x^3 - 3x, T_4 = 8x^4 - 8x^2 + 1
        return np.array([t1, 2 * t2 - n, 4 * t3 - 3 * t1, 8 * t4 - 8 * t2 + n])

    def _probe_traces(self, seed: int | None) -> np.ndarray:
        """``z_i' B_k(W) z_i`` for each probe i and k = 1..order (recurrence on the probes)."""
        rng = np.random.default_rng(seed)
        out = np.empty((self.probes, self.order))
        block = probe_columns(self.n)
        for start in range(0, self.probes, block):
            b = min(block, self.probes - start)
            Z = _permute_rows(rng.choice(np.array([-1.0, 1.0]), size=(self.n, b)), self.perm)
            prev, cur = Z, np.asarray(self.W @ Z)
            for k in range(self.order):
                out[start:start + b, k] = np.einsum("ij,ij->j", Z, cur)
                nxt = np.asarray(self.W @ cur)
                if self.method == "chebyshev":  # T_{k+1} = 2 x T_k - T_{k-1}, in place (2 x is exact)
                    nxt *= 2.0
                    nxt -= prev
                    prev = cur
                cur = nxt  # Monte Carlo: Z, cur and the product alive; Chebyshev: and prev
            del Z, prev, cur, nxt  # not alive while the next block is drawn
        return out

    def _coefficients(self, rho: float) -> tuple[np.ndarray, np.ndarray]:
        """(c0, c0', c0'') of ``n`` and the k x 3 array of (c_k, c_k', c_k'') in ``rho``."""
        k = np.arange(1, self.order + 1, dtype=float)
        if self.method == "mc":
            return np.zeros(3), np.column_stack([-rho**k / k, -rho ** (k - 1),
                                                 -(k - 1) * rho ** np.maximum(k - 2, 0)])
        a = rho / (1.0 + math.sqrt(1.0 - rho * rho))
        da = (1 + a * a) ** 2 / (2 * (1 - a * a))
        d2a = a * (1 + a * a) * (3 - a * a) / (1 - a * a) ** 2 * da
        c0 = np.array([-math.log1p(a * a), -2 * a / (1 + a * a), -2 * (1 - a * a) / (1 + a * a) ** 2])
        ck = np.column_stack([-2 * a**k / k, -2 * a ** (k - 1), -2 * (k - 1) * a ** np.maximum(k - 2, 0)])
        chain = np.array([[1.0, 0.0, 0.0], [0.0, da, 0.0], [0.0, d2a, da * da]])  # d/drho from d/da
        return chain @ c0, ck @ chain.T

    def _check_rho(self, rho: float) -> None:
        if not abs(rho) < 1.0:
            raise InputError(f"the {self.method} log-determinant needs |rho| < 1; rho = {rho!r}")

    def value(self, rho: float) -> tuple[float, float, float]:
        """``log|I - rho W|`` and its first two derivatives in rho (of the approximation)."""
        self._check_rho(rho)
        c0, ck = self._coefficients(rho)
        return tuple(float(self.n * c0[j] + ck[:, j] @ self.traces) for j in range(3))  # type: ignore[return-value]

    def sampling_se(self, rho: float) -> float:
        """Standard error of the log-determinant from the spread of the probes' curves."""
        self._check_rho(rho)
        vals = self.samples @ self._coefficients(rho)[1][:, 0]
        return float(vals.std(ddof=1) / math.sqrt(self.probes))

    def truncation_bound(self, rho: float) -> float:
        """Largest absolute truncation error of the log-determinant at rho (module docstring)."""
        self._check_rho(rho)
        m = self.order
        if self.method == "mc":
            r = abs(rho)
            return self.n * r ** (m + 1) / ((m + 1) * (1 - r))
        a = abs(rho) / (1.0 + math.sqrt(1.0 - rho * rho))
        return self.n * 2 * a ** (m + 1) / ((m + 1) * (1 - a))

    def interval(self, rho: float) -> tuple[float, float]:
        """Barry-Pace interval: estimate +- (1.96 sampling se + truncation bound)."""
        v = self.value(rho)[0]
        half = Z95 * self.sampling_se(rho) + self.truncation_bound(rho)
        return v - half, v + half

    def describe(self, rho: float, periods: int = 1) -> dict[str, Any]:
        """The approximation, its error bound at rho and a note (``periods`` blocks of W)."""
        trunc, se = periods * self.truncation_bound(rho), periods * self.sampling_se(rho)
        name = ("Chebyshev series (Pace & LeSage 2004), degree" if self.method == "chebyshev"
                else "Barry & Pace (1999) Monte Carlo power series,")
        what = f"{name} {self.order}" + ("" if self.method == "chebyshev" else " terms")
        note = (f"log-determinant by {what}, traces of order > 4 from {self.probes} Rademacher probes: at the "
                f"estimate {rho:.6g} truncation error at most {trunc:.2e}, sampling standard error {se:.2e} "
                f"(95% error bound {Z95 * se + trunc:.2e}); standard errors use the approximation's "
                "analytic derivatives for tr(W_A) and tr(W_A W_A)")
        return {"method": self.method, "order": self.order, "probes": self.probes, "rho": rho,
                "truncation_bound": trunc, "sampling_se": se, "error_bound": Z95 * se + trunc,
                "ordering": "given" if self.perm is None else "reverse Cuthill-McKee", "note": note}


def check_approx_weights(W: sp.csr_matrix, method: str) -> None:
    """The conditions of the approximations' error bounds, as clear errors."""
    if method not in APPROX_METHODS:
        raise InputError(f"approximate log-determinant method must be one of {APPROX_METHODS}; {method!r} was given")
    if not is_row_standardised(W):
        raise InputError(f"method={method!r} needs a row-standardised W (eigenvalues in the unit disk); "
                         "row-standardise the weights or use method='auto'")
    if method == "chebyshev" and not is_symmetric(W) and symmetric_scaling(W) is None:
        raise InputError("method='chebyshev' needs W similar to a symmetric matrix (real eigenvalues in [-1, 1], "
                         "e.g. row-standardised contiguity); this W is not: use method='mc'")


def _permute_rows(V: np.ndarray, perm: np.ndarray | None) -> np.ndarray:
    """``V`` (rows in the caller's order) in the order ``perm``: ``V[perm]``, or V itself."""
    return V if perm is None else V[perm]


def _unpermute_rows(V: np.ndarray, perm: np.ndarray | None) -> np.ndarray:
    """The inverse of :func:`_permute_rows`."""
    if perm is None:
        return V
    out = np.empty_like(V)
    out[perm] = V
    return out


class _Neumann:
    """Solves with ``I - rho W`` (or its transpose) by ``x <- b + rho W x``."""

    def __init__(self, W: sp.csr_matrix, rho: float, WT: sp.csr_matrix | None = None) -> None:
        self.W, self.rho = W, rho
        self.WT = WT  # W' (the transposed view of W when not given)

    def solve(self, b: np.ndarray, trans: str = "N") -> np.ndarray:
        if trans == "T" and self.WT is None:
            self.WT = self.W.T
        M = self.WT if trans == "T" else self.W
        b = np.asarray(b, dtype=float)
        x, scale = b.copy(), float(np.abs(b).max()) or 1.0
        for _ in range(MAX_NEUMANN):  # in place: b, x and one product alive (each n x columns)
            x_new = np.asarray(M @ x)
            x_new *= self.rho
            x_new += b
            x -= x_new
            if float(np.abs(x, out=x).max()) <= NEUMANN_RTOL * scale:
                return x_new
            x = x_new
        raise InputError(f"the Neumann solve with I - rho W did not converge in {MAX_NEUMANN} iterations at "
                         f"rho = {self.rho:.6g} (the approximate log-determinants need |rho| < 1 and a "
                         "row-standardised W); use method='lu' for this fit")


class ApproxJacobian(Jacobian):
    """:class:`~geoattr.models.ml_jacobian.Jacobian` with an approximate log-determinant.

    ``logdet_tr1`` and ``tr2`` come from :class:`ApproxLogdet`; ``tr3`` as in the exact
    engine (``tr2`` for symmetric W, else the Hutchinson correction) with iterative solves.
    ``W`` and :meth:`factor` work in the order of :attr:`ApproxLogdet.perm`; :meth:`solve`
    takes and returns vectors in the caller's order.
    """

    def __init__(self, weights: sp.csr_matrix, method: str, bounds: tuple[float, float], seed: int | None = 0, *,
                 order: int | None = None, probes: int | None = None) -> None:
        if not (-1.0 <= bounds[0] and bounds[1] <= 1.0):
            raise InputError(f"method={method!r} needs bounds within [-1, 1]; {bounds} were given")
        self.n, self.method = weights.shape[0], method
        self.approx = ApproxLogdet(weights, method, seed=seed, order=order,
                                   probes=LOGDET_PROBES if probes is None else probes)
        self.W, self.perm = self.approx.W, self.approx.perm

    def low_order_traces(self) -> tuple[float, float, float, float]:
        """Exact ``tr(W^k)``, k = 1..4, as computed for the log-determinant."""
        return self.approx.low

    def probe_columns(self) -> int:
        """Columns of a block of Hutchinson probes: :func:`probe_columns` (small blocks, little memory)."""
        return probe_columns(self.n)

    def probe_block(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Rademacher probes drawn in the caller's order, returned in the order of :attr:`W`."""
        return _permute_rows(super().probe_block(rng, size), self.perm)

    def logdet(self, rho: float) -> float:
        return self.approx.value(rho)[0]

    def logdet_tr1(self, rho: float) -> tuple[float, float]:
        v, d1, _ = self.approx.value(rho)
        return v, -d1

    def factor(self, rho: float) -> _Neumann:
        return _Neumann(self.W, rho, self.w_transposed())

    def solve(self, rho: float, b: np.ndarray) -> np.ndarray:
        x = _Neumann(self.W, rho).solve(_permute_rows(np.asarray(b, dtype=float), self.perm))
        return _unpermute_rows(x, self.perm)

    def _tr2(self, rho: float, tr1: float, bounds: tuple[float, float]) -> float:
        return -self.approx.value(rho)[2]

    def traces(self, rho, ld, tr1, bounds, how, n_probes, seed, cov_of):  # noqa: ANN001, ANN201
        tr, desc, se, sens = super().traces(rho, ld, tr1, bounds, how, n_probes, seed, cov_of)
        desc = desc.replace("tr1, tr2 exact; ", "")
        return tr, f"tr1, tr2 from the {self.method} log-determinant (analytic derivatives); " + desc, se, sens


def describe_approx(jac: Any, rho: float) -> dict[str, Any]:
    """``{"logdet_approximation": ...}`` for an approximate Jacobian (plain or per period), else {}."""
    inner = getattr(jac, "inner", jac)
    if not isinstance(inner, ApproxJacobian):
        return {}
    return {"logdet_approximation": inner.approx.describe(rho, getattr(jac, "T", 1))}
