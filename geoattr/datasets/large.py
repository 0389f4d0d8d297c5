"""Synthetic large origin-destination tables for the scale benchmarks (no download).

:func:`write_gravity_od` writes a commuting table between *fine* zones (think census
blocks) to Parquet, chunk by chunk, so 10^8 rows never sit in memory at once, and
returns the lookup table that maps each fine zone to its analysis unit.
:func:`gravity_jobs` gives jobs by workplace for the same units (for VRA benchmarks).

The geography
-------------
* ``n_units`` analysis units: centres uniform on a square of side ``sqrt(n_units)``
  (one unit per unit of area, so distances are in "typical unit spacings"), with
  log-normal masses (jobs).
* ``n_fine`` fine zones: the first ``n_units`` belong to unit 0, 1, ..., so that every
  unit has at least one; the others are assigned to units with probability
  proportional to the unit's mass.  Fine ids are ``10**10 + a random permutation of
  0 .. n_fine - 1`` (int64, not contiguous from 0, as real block codes are not).

The flows
---------
Each row is a (origin fine zone, destination fine zone, count).  Origins are drawn
uniformly among the fine zones; the destination *unit* among the ``neighbours``
nearest units of the origin's unit (itself included) with gravity probabilities
``mass_j * exp(-d_ij / decay)``, the home unit's weight multiplied by ``home_boost``
(so a good share of residents works at home, as in real data); the destination fine
zone uniformly among that unit's fine zones; the count ``1 + Geometric(0.35)``.
(origin, destination) pairs are unique within a year: each chunk covers its own
range of origins and duplicates inside a chunk are drawn again.

Files: ``<path>/od/od_<year>_<chunk>.parquet`` with columns ``year`` (int16),
``origin``, ``destination`` (int64), ``count`` (int32) -- the ``od`` directory holds
nothing else, so it can be passed as it is to
:func:`geoattr.weights.large.commuting_from_files`; ``<path>/lookup.parquet``
(``fine``, ``unit``), ``<path>/units.parquet`` (``unit``, ``x``, ``y``, ``mass``) and a
manifest ``<path>/manifest.json`` with the parameters.  Calling again with the same
parameters reuses the files (a cache for benchmarks); ``overwrite=True`` rewrites.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

__all__ = ["write_gravity_od", "gravity_units", "gravity_jobs", "od_files"]

_MANIFEST = "manifest.json"
_VERSION = 1


def gravity_units(n_units: int, *, seed: int = 0) -> pd.DataFrame:
    """Unit centres and masses of the synthetic plane.

    Parameters
    ----------
    n_units : int
        Number of analysis units.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        Columns ``unit`` (int64, 0 .. n_units - 1), ``x``, ``y`` (float) and ``mass``
        (log-normal, median 1).
    """
    if n_units < 1:
        raise ValueError(f"n_units must be >= 1, got {n_units}")
    rng = np.random.default_rng([seed, 1])
    side = math.sqrt(n_units)
    xy = rng.random((n_units, 2)) * side
    mass = rng.lognormal(0.0, 1.0, n_units)
    return pd.DataFrame({"unit": np.arange(n_units, dtype=np.int64), "x": xy[:, 0], "y": xy[:, 1], "mass": mass})


def gravity_jobs(n_units: int, years: Sequence[int], *, seed: int = 0) -> np.ndarray:
    """Jobs by workplace for the units of :func:`gravity_units`, ``n_units x len(years)``.

    ``E[i,t] = 1000 * mass_i * exp(cumulated shocks)``, the shocks a national cycle plus a
    smooth regional component and idiosyncratic noise (sd 3 %), so relative job growth
    is spatially correlated as in real data.

    Parameters
    ----------
    n_units : int
    years : sequence of int
        Consecutive years (only their number matters).
    seed : int, default 0

    Returns
    -------
    numpy.ndarray
        float64, shape ``(n_units, len(years))``, strictly positive.
    """
    units = gravity_units(n_units, seed=seed)
    T = len(years)
    rng = np.random.default_rng([seed, 2])
    national = rng.normal(0.01, 0.02, T)
    # a regional component: a few random waves over the plane
    x, y = units["x"].to_numpy(), units["y"].to_numpy()
    side = math.sqrt(n_units)
    regional = np.zeros((n_units, T))
    for _ in range(4):
        kx, ky = rng.normal(0, 2 * np.pi / side, 2)
        phase = rng.uniform(0, 2 * np.pi)
        amp = rng.normal(0, 0.01, T)
        regional += np.sin(kx * x + ky * y + phase)[:, None] * amp[None, :]
    shocks = national[None, :] + regional + rng.normal(0, 0.03, (n_units, T))
    shocks[:, 0] = 0.0
    return 1000.0 * units["mass"].to_numpy()[:, None] * np.exp(np.cumsum(shocks, axis=1))


def od_files(path: str | Path, *, year: int | None = None) -> list[str]:
    """The OD Parquet files written by :func:`write_gravity_od` under ``path`` (sorted)."""
    pattern = "od_*.parquet" if year is None else f"od_{int(year)}_*.parquet"
    return sorted(str(p) for p in (Path(path) / "od").glob(pattern))


def _params(**kw) -> dict:
    return {"version": _VERSION, **kw}


def _cached_lookup(out: Path, params: dict, *, overwrite: bool) -> pd.DataFrame | None:
    """The lookup of files already written with ``params``; else clear ``out`` for a new set and None."""
    manifest = out / _MANIFEST
    if not overwrite and manifest.exists() and (out / "lookup.parquet").exists():
        try:
            old = json.loads(manifest.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("params") == params and all(Path(f).exists() for f in old.get("files", [])):
            return pd.read_parquet(out / "lookup.parquet")
    (out / "od").mkdir(exist_ok=True)
    for f in (out / "od").glob("od_*.parquet"):
        f.unlink()
    manifest.unlink(missing_ok=True)
    return None


@dataclass(frozen=True)
class _FineZones:
    """Fine zones: their unit, their id, and the zones of each unit (grouped)."""

    unit_of: np.ndarray
    fine_ids: np.ndarray
    by_unit: np.ndarray  # fine zone indices grouped by unit
    count: np.ndarray  # zones per unit
    start: np.ndarray  # first position of each unit in by_unit

    @classmethod
    def draw(cls, mass: np.ndarray, n_fine: int, *, seed: int) -> _FineZones:
        n_units = len(mass)
        rng = np.random.default_rng([seed, 3])
        unit_of = np.empty(n_fine, dtype=np.int64)
        unit_of[:n_units] = np.arange(n_units)
        if n_fine > n_units:
            unit_of[n_units:] = rng.choice(n_units, size=n_fine - n_units, p=mass / mass.sum())
        fine_ids = 10**10 + rng.permutation(n_fine).astype(np.int64)
        count = np.bincount(unit_of, minlength=n_units)
        return cls(unit_of=unit_of, fine_ids=fine_ids, by_unit=np.argsort(unit_of, kind="stable"), count=count,
                   start=np.r_[0, np.cumsum(count)[:-1]])


@dataclass(frozen=True)
class _Gravity:
    """Cumulative gravity probabilities over each unit's K nearest units."""

    nbr: np.ndarray
    cum: np.ndarray
    capacity: int  # distinct (origin, destination) fine pairs

    @classmethod
    def of(cls, units: pd.DataFrame, zones: _FineZones, *, neighbours: int, decay: float,
           home_boost: float) -> _Gravity:
        n_units = len(units)
        mass = units["mass"].to_numpy()
        K = int(min(neighbours, n_units))
        xy = units[["x", "y"]].to_numpy()
        dist, nbr = cKDTree(xy).query(xy, k=K)
        dist, nbr = dist.reshape(n_units, K), nbr.reshape(n_units, K)
        g = mass[nbr] * np.exp(-dist / decay)
        g[nbr == np.arange(n_units)[:, None]] *= home_boost
        cum = np.cumsum(g / g.sum(axis=1, keepdims=True), axis=1)
        cum[:, -1] = 1.0
        return cls(nbr=nbr, cum=cum, capacity=int((zones.count * zones.count[nbr].sum(axis=1)).sum()))


def _draw_pairs(yrng: np.random.Generator, zones: _FineZones, gravity: _Gravity, *, lo: int, hi: int,
                want: int) -> np.ndarray:
    """``want`` distinct (origin, destination) keys ``o * n_fine + d`` with origins in ``[lo, hi)``."""
    n_fine, K = len(zones.unit_of), gravity.nbr.shape[1]
    keys = np.empty(0, dtype=np.int64)
    for _attempt in range(20):
        need = want - len(keys)
        if need <= 0:
            break
        m = int(need * 1.05) + 16
        o = yrng.integers(lo, max(hi, lo + 1), m)
        ou = zones.unit_of[o]
        u = yrng.random(m)
        k = np.minimum((gravity.cum[ou] < u[:, None]).sum(axis=1), K - 1)
        du = gravity.nbr[ou, k]
        d = zones.by_unit[zones.start[du] + (yrng.random(m) * zones.count[du]).astype(np.int64)]
        keys = np.unique(np.concatenate([keys, o * n_fine + d]))
    if len(keys) > want:
        keys = np.sort(yrng.choice(keys, size=want, replace=False))
    return keys


def _write_chunk(f: Path, keys: np.ndarray, year: int, zones: _FineZones, yrng: np.random.Generator) -> None:
    o, d = np.divmod(keys, len(zones.unit_of))
    counts = yrng.geometric(0.35, len(keys)).astype(np.int32)
    table = pa.table({
        "year": pa.array(np.full(len(keys), year, dtype=np.int16)),
        "origin": pa.array(zones.fine_ids[o]),
        "destination": pa.array(zones.fine_ids[d]),
        "count": pa.array(counts),
    })
    pq.write_table(table, f, row_group_size=1 << 20)


def write_gravity_od(
    path: str | Path,
    *,
    n_fine: int,
    n_units: int,
    rows: int,
    seed: int = 0,
    chunk_rows: int = 2_000_000,
    years: Sequence[int] = (2020,),
    neighbours: int = 16,
    decay: float = 1.5,
    home_boost: float = 20.0,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Write a gravity origin-destination table between fine zones to Parquet, in chunks.

    Parameters
    ----------
    path : str or path-like
        Directory (created).  Existing ``od/od_*.parquet`` files there are replaced
        unless the manifest shows the same parameters (then nothing is written).
    n_fine : int
        Number of fine zones (>= ``n_units``).
    n_units : int
        Number of analysis units.
    rows : int
        Rows per year (unique (origin, destination) pairs); at most ``n_fine *
        neighbours`` times the fine zones per unit.
    seed : int, default 0
    chunk_rows : int, default 2,000,000
        Rows generated and written per file (memory ~100 bytes per row).
    years : sequence of int, default (2020,)
        One set of files per year, drawn independently.
    neighbours : int, default 16
        Destination units considered per origin unit (the nearest, itself included).
    decay : float, default 1.5
        Distance decay of the gravity model, in typical unit spacings.
    home_boost : float, default 20
        Extra weight of the home unit.
    overwrite : bool, default False
        Rewrite even when the manifest matches.

    Returns
    -------
    pandas.DataFrame
        The lookup table: ``fine`` (int64 fine id) and ``unit`` (int64 unit id), one
        row per fine zone, sorted by ``fine``.
    """
    if n_fine < n_units:
        raise ValueError(f"n_fine ({n_fine}) must be >= n_units ({n_units}): every unit needs a fine zone")
    if rows < 1 or chunk_rows < 1:
        raise ValueError("rows and chunk_rows must be >= 1")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    years = [int(y) for y in years]
    params = _params(n_fine=int(n_fine), n_units=int(n_units), rows=int(rows), seed=int(seed),
                     chunk_rows=int(chunk_rows), years=years, neighbours=int(neighbours), decay=float(decay),
                     home_boost=float(home_boost))
    cached = _cached_lookup(out, params, overwrite=overwrite)
    if cached is not None:
        return cached
    units = gravity_units(n_units, seed=seed)
    zones = _FineZones.draw(units["mass"].to_numpy(), n_fine, seed=seed)
    gravity = _Gravity.of(units, zones, neighbours=neighbours, decay=decay, home_boost=home_boost)
    if rows > gravity.capacity // 2:
        raise ValueError(f"rows ({rows}) must be at most half the {gravity.capacity} possible pairs: "
                         "raise n_fine or neighbours")
    files: list[str] = []
    written: dict[int, int] = {}
    n_chunks = max(1, math.ceil(rows / chunk_rows))
    o_edges = np.linspace(0, n_fine, n_chunks + 1).astype(np.int64)
    r_edges = np.linspace(0, rows, n_chunks + 1).astype(np.int64)
    for year in years:
        yrng = np.random.default_rng([seed, 4, year])
        for c in range(n_chunks):
            keys = _draw_pairs(yrng, zones, gravity, lo=int(o_edges[c]), hi=int(o_edges[c + 1]),
                               want=int(r_edges[c + 1] - r_edges[c]))
            f = out / "od" / f"od_{year}_{c:05d}.parquet"
            _write_chunk(f, keys, year, zones, yrng)
            files.append(str(f))
            written[year] = written.get(year, 0) + len(keys)
    lookup = pd.DataFrame({"fine": zones.fine_ids, "unit": zones.unit_of}).sort_values("fine", ignore_index=True)
    lookup.to_parquet(out / "lookup.parquet", index=False)
    units.to_parquet(out / "units.parquet", index=False)
    (out / _MANIFEST).write_text(json.dumps({"params": params, "files": files, "rows": written}, indent=1))
    return lookup
