"""The exact within transformation of an unbalanced panel with sparse effect dummies.

``D`` holds the unit dummies (and, for two-way effects, the year dummies but the first
year's) of the observed unit-years as a sparse ``n x (N + T - 1)`` matrix with one (two)
non-zeros per row.  The projection on the effects, ``P v = D (D'D)^-1 D' v``, and the
within transformation ``M v = v - P v`` come from one sparse LU factorisation of
``D'D`` (``(N + T - 1)`` square: the unit counts on the diagonal, the unit-by-year
incidence off it), reused for every vector, so the memory is ``O(n + N T)`` instead of
the ``n x (N + T)`` of dense dummy columns.  :meth:`EffectProjector.filtered_coefficients`
does the same for the filtered dummies ``(I - lambda W) D`` of the spatial error model
(one sparse LU of ``D' B' B D`` per lambda).  Both are exact (direct solves, no
iteration): the tests pin them to the dense dummy regressions to 1e-10.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import splu

__all__ = ["EffectProjector"]


class EffectProjector:
    """Projections on the unit (and year) effects of the observations of ``index``.

    Parameters
    ----------
    index : pandas.MultiIndex
        The (unit, year) observations, any pattern (unbalanced allowed).
    effects : {"unit", "twoway"}
    """

    def __init__(self, index: pd.MultiIndex, effects: Literal["unit", "twoway"]) -> None:
        units = pd.factorize(index.get_level_values(0))[0]
        years, uniq = pd.factorize(index.get_level_values(1), sort=True)
        n, N, T = len(index), int(units.max()) + 1, len(uniq)
        cols = [sparse.csr_matrix((np.ones(n), (np.arange(n), units)), shape=(n, N))]
        if effects == "twoway" and T > 1:
            later = years > 0
            cols.append(sparse.csr_matrix((np.ones(int(later.sum())), (np.flatnonzero(later), years[later] - 1)),
                                          shape=(n, T - 1)))
        self.D = sparse.hstack(cols, format="csr")
        self._lu = splu((self.D.T @ self.D).tocsc())

    @property
    def n_effects(self) -> int:
        """Number of effect parameters (columns of D)."""
        return self.D.shape[1]

    def coefficients(self, V: np.ndarray) -> np.ndarray:
        """The effects' least-squares coefficients ``(D'D)^-1 D' V`` (V of shape (n,) or (n, m))."""
        return self._lu.solve(np.asarray(self.D.T @ V))

    def fitted(self, V: np.ndarray) -> np.ndarray:
        """``P V``: the part of V explained by the effects."""
        return np.asarray(self.D @ self.coefficients(V))

    def within(self, V: np.ndarray) -> np.ndarray:
        """``M V = V - P V``: V with the effects removed."""
        return np.asarray(V) - self.fitted(V)

    def filtered_coefficients(self, B: sparse.spmatrix, V: np.ndarray) -> tuple[np.ndarray, sparse.csr_matrix]:
        """``(F'F)^-1 F' V`` with ``F = B D`` (the filtered dummies) and F itself."""
        F = (sparse.csr_matrix(B) @ self.D).tocsr()
        return splu((F.T @ F).tocsc()).solve(np.asarray(F.T @ V)), F
