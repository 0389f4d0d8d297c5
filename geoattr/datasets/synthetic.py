"""The embedded default: a deterministic synthetic Norway-like panel with known truth.

``synthetic_norway()`` loads the stored package data (generated once by
:func:`generate` with the default seed); ``synthetic_norway(seed)`` with another seed,
or ``regenerate=True``, generates afresh (a few seconds).  Maintainers rewrite the
package data and ``shapefiles/`` with ``python -m geoattr.datasets.synthetic``.

What is generated
-----------------
* 356 municipalities: Voronoi cells of seeds in a narrow band along a curved,
  ~1,600 km coastline (EPSG:25833, metres), plus island municipalities offshore that
  touch no other polygon; 73 compact regions (k-means on the seeds).
* Population on 1 January 2000-2024 by single age (0-90, 90 = 90+) and sex from an
  integer cohort-component simulation: national death probabilities (Gompertz),
  fertility rates, and net migrants allocated to ages with a young-adult profile, so
  that ``P[t+1] = P[t] + births - deaths + net_migration`` holds exactly.
  Heavy-tailed sizes (a few hundred to ~700,000 in the capital).
* Jobs by workplace 2000-2023: a national cycle plus regional and local shocks.
* Commuting 2000-2023: a doubly constrained gravity model (row sums = employed
  residents, column sums ~ jobs), integer counts, at most 30 destinations per origin.
* Centrality 0-1000 from job accessibility.
* Net migration from the 2022 specification with the coefficients in
  ``truth.coefficients``, a small year component, and attractiveness = a spatially
  autocorrelated persistent field (Gaussian-kernel smoothing of iid normals, 30 km,
  with its in-sample projection on centrality removed) plus transitory noise
  shrinking with population, drawn independently of the regressors.  ``truth.attractiveness`` is exactly
  ``100 * NM / P`` minus the systematic part (it includes the rounding of NM to
  persons).
* Net migration by sex and age group (``net_migration__female``, ...,
  ``net_migration__age_18_29``), by flow type (``flow__immigration``,
  ``flow__domestic_immigrants``, ``flow__domestic_rest``) and candidate drivers
  (``driver__*``), with their true relations in ``truth``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from geoattr.datasets.synthetic_geography import coast, geography, inland_normal, unit_names

__all__ = ["SyntheticNorway", "SyntheticTruth", "synthetic_norway", "generate", "DEFAULT_SEED"]

#: Seed of the embedded synthetic Norway.
DEFAULT_SEED = 2022
N_REGIONS = 73
YEARS_POP = range(2000, 2025)  # 1 January
YEARS = range(2000, 2024)
AGES = np.arange(91)
AGE_GROUPS = {"0_5": (0, 5), "6_17": (6, 17), "18_29": (18, 29), "30_39": (30, 39), "40_49": (40, 49),
              "50_59": (50, 59), "60_plus": (60, 90)}
TRUE_COEFFICIENTS = {"const": 0.30, "vra": 0.25, "vra_l1": 0.15, "vra_l2": 0.10, "centrality": 1.50, "ds": -0.40}
_DATA = "data/synthetic_norway"


@dataclass(frozen=True)
class SyntheticTruth:
    """The parameters the synthetic data were generated with.

    Attributes
    ----------
    coefficients : pandas.Series
        2022 specification: ``const, vra, vra_l1, vra_l2, centrality, ds``.
    year_effects : pandas.Series
        Year component added to the constant (mean zero, sd 0.03).
    attractiveness : pandas.Series
        True attractiveness per (unit, year), in % of population.
    persistent : pandas.Series
        Its persistent, spatially autocorrelated part per unit.
    noise_sd : str
        The transitory noise's standard deviation as a formula of population.
    drivers : dict
        For each ``driver__*`` column: loading on the standardised persistent
        attractiveness (``gamma``; 0 for the pure-noise driver).
    """

    coefficients: pd.Series
    year_effects: pd.Series
    attractiveness: pd.Series
    persistent: pd.Series
    noise_sd: str = "0.3 + 8 / sqrt(population)"
    drivers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticNorway:
    """The synthetic dataset (see the module docstring); every table is a fresh copy."""

    polygons: gpd.GeoDataFrame
    regions: pd.Series
    panel: pd.DataFrame
    flows: pd.DataFrame
    centrality: pd.Series
    population_by_age: pd.DataFrame
    employment_rates: pd.DataFrame
    death_probabilities: pd.DataFrame
    fertility_rates: pd.Series
    truth: SyntheticTruth
    years: tuple[int, int] = (2003, 2023)
    seed: int = DEFAULT_SEED


# --------------------------------------------------------------------------- rates
def _rates() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    a = AGES.astype(float)
    rise = 1 / (1 + np.exp(-(a - 19.5) / 1.8))
    fall = 1 / (1 + np.exp((a - 63.0) / 2.5))
    emp = pd.DataFrame({"female": 0.80 * rise * fall, "male": 0.85 * rise * fall}, index=pd.Index(AGES, name="age"))
    emp.loc[(emp.index < 15) | (emp.index > 74)] = 0.0
    q = pd.DataFrame({"female": 1 - np.exp(-np.exp(-10.6 + 0.093 * a)), "male": 1 - np.exp(-np.exp(-10.1 + 0.092 * a))},
                     index=pd.Index(AGES, name="age"))
    q.loc[0] = [0.0022, 0.0026]
    q.loc[90] = [0.20, 0.24]
    f = pd.Series(0.0, index=pd.Index(AGES, name="age"), name="fertility")
    fa = np.arange(15, 50)
    f.loc[fa] = 1.72 * np.exp(-0.5 * ((fa - 30.5) / 5.2) ** 2) / (5.2 * np.sqrt(2 * np.pi))
    return emp, q.clip(0, 1), f


# --------------------------------------------------------------------------- simulation helpers
def _largest_remainder(total: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Integer allocation of ``total[i]`` (may be negative) over columns proportionally to weights[i]."""
    w = weights / weights.sum(axis=1, keepdims=True)
    raw = total[:, None] * w
    base = np.floor(raw)
    short = (total - base.sum(axis=1)).astype(int)
    frac = raw - base
    order = np.argsort(-frac, axis=1)
    add = np.zeros_like(base)
    rows = np.repeat(np.arange(len(total)), np.maximum(short, 0))
    cols = np.concatenate([order[i, :k] for i, k in enumerate(np.maximum(short, 0))]) if rows.size else np.array([], int)
    add[rows, cols] = 1
    return (base + add).astype(np.int64)


def _gravity_shares(jobs: np.ndarray, resid: np.ndarray, D: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Doubly constrained gravity shares (dense N x N; N = 356 only inside the generator)."""
    K = np.exp(-D / 9_000.0)
    np.fill_diagonal(K, local)
    K[K < 1e-6] = 0.0
    b = np.ones(len(jobs))
    target = jobs / jobs.sum() * resid.sum()
    for _ in range(40):
        A = 1.0 / (K @ (b * 1.0))
        b = target / (K.T @ (A * resid))
    T = (A * resid)[:, None] * K * b[None, :]
    return T / T.sum(axis=1, keepdims=True)


def _truncate(shares: np.ndarray, k: int = 30, floor: float = 0.002) -> np.ndarray:
    s = shares.copy()
    s[s < floor] = 0.0
    kth = -np.sort(-s, axis=1)[:, k - 1 : k]
    s[s < kth] = 0.0
    return s / s.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- generate
def generate(seed: int = DEFAULT_SEED) -> SyntheticNorway:
    """Generate the synthetic dataset (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    emp, q, fert = _rates()
    gdf, pts = geography(rng)
    n = len(gdf)
    D = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))  # dense 356 x 356: small N, generator only
    is_island = gdf["is_island"].to_numpy()
    reg_of = _regions(rng, pts, is_island)
    score, rank, pop0 = _sizes(rng, pts, is_island)
    codes, names = _codes_and_names(rng, gdf["s"].to_numpy(), rank)
    P = _initial_population(pop0)
    rates = _Rates(
        e=np.stack([emp["female"].to_numpy(), emp["male"].to_numpy()]),
        q=np.stack([q["female"].to_numpy(), q["male"].to_numpy()]),
        f=fert.to_numpy(),
    )
    resid0, jobs = _jobs(rng, P, rates.e, score, reg_of)
    centrality, cent_c = _centrality(D, jobs)
    persistent = _persistent(rng, D, centrality)
    year_eff = rng.normal(0, 0.03, len(YEARS))
    year_eff -= year_eff.mean()
    sim = _simulate(rng, P, rates, jobs=jobs, resid0=resid0, D=D, centrality=centrality, cent_c=cent_c,
                    persistent=persistent, year_eff=year_eff, codes=codes)
    panel, drivers = _panel(rng, sim, codes, persistent)
    idx_units = pd.Index(codes, name="unit")
    polygons = gpd.GeoDataFrame({"name": names, "region": [f"R{r + 1:02d}" for r in reg_of],
                                 "is_island": is_island}, geometry=gdf.geometry.to_numpy(),
                                index=idx_units, crs="EPSG:25833").sort_index()
    att = pd.DataFrame(sim.att_truth, index=idx_units).stack()
    att.index = att.index.set_names(["unit", "year"])
    truth = SyntheticTruth(
        coefficients=pd.Series(TRUE_COEFFICIENTS, name="truth"),
        year_effects=pd.Series(year_eff, index=pd.Index(list(YEARS), name="year"), name="year_effect"),
        attractiveness=att.sort_index().rename("attractiveness"),
        persistent=pd.Series(persistent, index=idx_units, name="persistent").sort_index(),
        drivers=drivers,
    )
    return SyntheticNorway(
        polygons=polygons,
        regions=polygons["region"].rename("region"),
        panel=panel,
        flows=pd.concat(sim.flows_rows, ignore_index=True).sort_values(["year", "origin", "destination"]).reset_index(drop=True),
        centrality=pd.Series(centrality, index=idx_units, name="centrality").sort_index(),
        population_by_age=_age_table(sim.age_records),
        employment_rates=emp,
        death_probabilities=q,
        fertility_rates=fert,
        truth=truth,
        seed=seed,
    )


@dataclass(frozen=True)
class _Rates:
    """National rates as arrays: employment and death probabilities (sex x age), fertility (age)."""

    e: np.ndarray
    q: np.ndarray
    f: np.ndarray


@dataclass
class _Simulation:
    """What the yearly simulation produces."""

    rows_panel: list[pd.DataFrame]
    age_records: list[pd.DataFrame]
    flows_rows: list[pd.DataFrame]
    att_truth: dict[int, np.ndarray]
    P: np.ndarray  # population by (unit, sex, age) on 1 January after the last year


def _regions(rng: np.random.Generator, pts: np.ndarray, is_island: np.ndarray) -> np.ndarray:
    """Region of each unit: k-means on the mainland seeds, islands to the nearest centre."""
    cent, _ = kmeans2(pts[~is_island] / 1000.0, N_REGIONS, seed=rng, minit="++")
    reg_of = np.argmin(((pts[:, None, :] / 1000.0 - cent[None]) ** 2).sum(-1), axis=1)
    used = np.unique(reg_of)
    return np.searchsorted(used, reg_of)


def _sizes(rng: np.random.Generator, pts: np.ndarray, is_island: np.ndarray) -> tuple[np.ndarray, ...]:
    """A few urban centres; populations Zipf-like by closeness to a centre."""
    n = len(pts)
    centre_s = np.array([0.16, 0.30, 0.07, 0.42, 0.55, 0.23, 0.70, 0.85, 0.36, 0.62])
    centre_xy = coast(centre_s) + inland_normal(centre_s) * 15_000
    dist_c = np.sqrt(((pts[:, None, :] - centre_xy[None]) ** 2).sum(-1))
    weight_c = np.array([1.0, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.3, 0.25, 0.2])
    score = (weight_c[None] * np.exp(-dist_c / 35_000)).max(axis=1) + 0.08 * rng.normal(size=n)
    score[is_island] -= 0.15
    rank = np.empty(n, int)
    rank[np.argsort(-score)] = np.arange(1, n + 1)
    pop0 = np.maximum(560_000 * rank ** -1.08 * np.exp(rng.normal(0, 0.25, n)), 230.0)
    pop0[rank == 1] = 560_000.0
    return score, rank, pop0


def _codes_and_names(rng: np.random.Generator, coast_pos: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """County prefix by position along the coast; the capital is 0301 (Hovedstad)."""
    n = len(rank)
    order = np.argsort(coast_pos)
    prefixes = ["11", "15", "18", "30", "32", "33", "34", "38", "42", "46", "50", "54", "55", "56"]
    codes = np.empty(n, dtype=object)
    capital = int(np.argmin(rank))
    counters: dict[str, int] = {}
    for j, i in enumerate(order):
        if i == capital:
            codes[i] = "0301"
            continue
        pre = prefixes[min(j * len(prefixes) // n, len(prefixes) - 1)]
        counters[pre] = counters.get(pre, 0) + 1
        codes[i] = f"{pre}{counters[pre]:02d}"
    names = unit_names(rng, n)
    names[capital] = "Hovedstad"
    return codes, names


def _initial_population(pop0: np.ndarray) -> np.ndarray:
    """Age structure in 2000: national profile tilted young in big places; (unit, sex, age)."""
    base = np.exp(-((AGES - 38) / 30.0) ** 2) * (1 - 0.85 * (AGES >= 80) * (AGES - 79) / 11)
    base = np.clip(base, 0.02, None)
    tilt = (np.log(pop0) - np.log(pop0).mean()) / np.log(pop0).std()
    young = np.exp(-((AGES - 30) / 12.0) ** 2)
    prof = base[None, :] * (1 + 0.25 * tilt[:, None] * (young[None, :] - young.mean()))
    prof /= prof.sum(axis=1, keepdims=True)
    return np.stack([_largest_remainder(np.round(pop0 * 0.495), prof), _largest_remainder(np.round(pop0 * 0.505), prof)],
                    axis=1).astype(np.int64)  # (unit, sex [female, male], age)


def _jobs(
    rng: np.random.Generator, P: np.ndarray, e_arr: np.ndarray, score: np.ndarray, reg_of: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Jobs by unit and year: employed residents of 2000 pulled toward centres, then growth."""
    n = len(score)
    resid0 = (P * e_arr[None]).sum(axis=(1, 2))
    attract = np.exp(0.9 * (score - score.mean()))
    jobs = np.zeros((n, len(YEARS)))
    jobs[:, 0] = resid0 * attract / (resid0 * attract).sum() * resid0.sum()
    nat_cycle = 0.01 + 0.015 * np.sin(np.arange(len(YEARS)) / 2.3) + rng.normal(0, 0.006, len(YEARS))
    reg_shock = rng.normal(0, 0.015, (reg_of.max() + 1, len(YEARS)))
    loc_sd = 0.02 + 0.25 / np.sqrt(np.maximum(jobs[:, 0], 50) / 100)
    for t in range(1, len(YEARS)):
        g = nat_cycle[t] + reg_shock[reg_of, t] + rng.normal(0, 1, n) * np.minimum(loc_sd, 0.08)
        jobs[:, t] = np.maximum(jobs[:, t - 1] * (1 + g), 20.0)
    return resid0, np.round(jobs)


def _centrality(D: np.ndarray, jobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centrality (0-1000): job accessibility within ~45 km; and its centred value / 1000."""
    acc = np.log((np.exp(-D / 45_000.0) * jobs[:, 0][None, :]).sum(axis=1))
    centrality = np.round(1000 * (acc - acc.min()) / (acc.max() - acc.min()), 1)
    return centrality, centrality / 1000 - (centrality / 1000).mean()


def _persistent(rng: np.random.Generator, D: np.ndarray, centrality: np.ndarray) -> np.ndarray:
    """Persistent attractiveness: smoothed iid normals over the centroids (spatially autocorrelated)."""
    n = len(centrality)
    z = rng.normal(size=n)
    Ks = np.exp(-(D / 30_000.0) ** 2)
    field_ = Ks @ z / np.sqrt((Ks**2).sum(axis=1))
    # A smooth field along a coast has few effective degrees of freedom, so a draw can
    # correlate with centrality by chance; unit-clustered errors cannot see that.  Remove
    # the in-sample projection on (1, centrality) so the regressors are independent of it.
    Z = np.column_stack([np.ones(n), centrality])
    field_ = field_ - Z @ np.linalg.lstsq(Z, field_, rcond=None)[0]
    return 0.3 * field_ / field_.std()


def _simulate(
    rng: np.random.Generator,
    P: np.ndarray,
    rates: _Rates,
    *,
    jobs: np.ndarray,
    resid0: np.ndarray,
    D: np.ndarray,
    centrality: np.ndarray,
    cent_c: np.ndarray,
    persistent: np.ndarray,
    year_eff: np.ndarray,
    codes: np.ndarray,
) -> _Simulation:
    """Run the years: commuting, the attractiveness model, births, deaths, migration, ageing."""
    n = len(codes)
    coef = TRUE_COEFFICIENTS
    local_pref = 12.0 + 60.0 * (1 - centrality / 1000)
    sim = _Simulation(rows_panel=[], age_records=[], flows_rows=[], att_truth={}, P=P)
    W_by_year: list[np.ndarray] = []
    ra = np.full((n, len(YEARS)), np.nan)
    nat = jobs.sum(axis=0)
    ra[:, 1:] = 100 * (jobs[:, 1:] / jobs[:, :-1] - 1) - 100 * (nat[1:] / nat[:-1] - 1)[None, :]
    for ti, t in enumerate(YEARS):
        resid = (P * rates.e[None]).sum(axis=(1, 2))
        C = _commuting(jobs[:, ti], resid, resid0, D, local_pref)
        W_by_year.append(C / C.sum(axis=1, keepdims=True))
        oi, di = np.nonzero(C)
        sim.flows_rows.append(pd.DataFrame({"year": t, "origin": codes[oi], "destination": codes[di],
                                            "count": C[oi, di].astype(np.int64)}))
        # population of 1 January t by age and sex
        pop_t = P.sum(axis=(1, 2)).astype(float)
        for si, sex in enumerate(("female", "male")):
            sim.age_records.append(pd.DataFrame(P[:, si, :], index=pd.Index(codes, name="unit"),
                                                columns=AGES).assign(year=t, sex=sex))
        ds = _demographic_supply(P, rates, jobs[:, ti])
        births = np.round((P[:, 0, :] * rates.f[None]).sum(axis=1)).astype(np.int64)
        if ti >= 3:
            vra = [W_by_year[ti - k] @ ra[:, ti - k] for k in (0, 1, 2)]
            systematic = (coef["const"] + year_eff[ti] + coef["vra"] * vra[0] + coef["vra_l1"] * vra[1]
                          + coef["vra_l2"] * vra[2] + coef["centrality"] * cent_c + coef["ds"] * ds)
        else:
            systematic = coef["const"] + coef["centrality"] * cent_c
        noise = rng.normal(0, 1, n) * (0.3 + 8 / np.sqrt(pop_t))
        y = systematic + persistent + noise
        nm = np.round(y * pop_t / 100).astype(np.int64)
        sim.att_truth[t] = 100 * nm / pop_t - systematic
        deaths_cell = np.round(P * rates.q[None]).astype(np.int64)
        mig, survivors = _migrate(P, nm, deaths_cell)
        newP, inf_deaths = _age_one_year(survivors, births, rates.q)
        deaths = deaths_cell.sum(axis=(1, 2)) + inf_deaths.sum(axis=1)
        by_sex = mig.sum(axis=2)
        grp = {k: mig[:, :, lo:hi + 1].sum(axis=(1, 2)) for k, (lo, hi) in AGE_GROUPS.items()}
        imm = np.round(pop_t * np.clip(0.008 + 0.004 * cent_c + rng.normal(0, 0.002, n), 0, None)).astype(np.int64)
        dom_imm = np.round(0.15 * (nm - imm) + rng.normal(0, 1, n)).astype(np.int64)
        sim.rows_panel.append(pd.DataFrame({
            "unit": codes, "year": t, "population": pop_t.astype(np.int64), "jobs": jobs[:, ti].astype(np.int64),
            "net_migration": nm, "births": births, "deaths": deaths, "employed_residents": np.round(resid).astype(np.int64),
            "net_migration__female": by_sex[:, 0], "net_migration__male": by_sex[:, 1],
            **{f"net_migration__age_{k}": v for k, v in grp.items()},
            "flow__immigration": imm, "flow__domestic_immigrants": dom_imm, "flow__domestic_rest": nm - imm - dom_imm,
        }))
        P = newP
    # the population of 1 January 2024 closes the last year's accounting
    for si, sex in enumerate(("female", "male")):
        sim.age_records.append(pd.DataFrame(P[:, si, :], index=pd.Index(codes, name="unit"), columns=AGES).assign(
            year=YEARS_POP[-1], sex=sex))
    sim.P = P
    return sim


def _commuting(
    jobs_t: np.ndarray, resid: np.ndarray, resid0: np.ndarray, D: np.ndarray, local_pref: np.ndarray
) -> np.ndarray:
    """Commuters (origin x destination) of one year."""
    # shares from the gravity model on the 2000 residential structure (scaled), so the
    # commuting weights do not respond to past attractiveness (regressors stay exogenous)
    shares = _truncate(_gravity_shares(jobs_t, resid0 * resid.sum() / resid0.sum(), D, local_pref))
    C = _largest_remainder(np.round(resid), np.where(shares > 0, shares, 0) + 1e-12 * (shares > 0))
    return np.where(shares > 0, C, 0)


def _demographic_supply(P: np.ndarray, rates: _Rates, jobs_t: np.ndarray) -> np.ndarray:
    """DS (MODEL.md conventions)."""
    e_arr, q_arr = rates.e, rates.q
    factor = np.zeros((2, len(AGES)))
    ages_ds = np.arange(14, 75)
    factor[:, ages_ds] = e_arr[:, ages_ds + 1] - e_arr[:, ages_ds] - q_arr[:, ages_ds] * e_arr[:, ages_ds]
    num = (P * factor[None]).sum(axis=(1, 2))
    return 100 * num / jobs_t - 100 * num.sum() / jobs_t.sum()


_MIG_AGE_PROFILE = np.exp(-((AGES - 24) / 7.5) ** 2) + 0.25 * np.exp(-((AGES - 2) / 3.0) ** 2) + 0.03


def _migrate(P: np.ndarray, nm: np.ndarray, deaths_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Net migrants by (unit, sex, age) cell, and the survivors after deaths and migration."""
    n = len(P)
    mig_age_prof = _MIG_AGE_PROFILE
    # migrants by age: half the young-adult profile, half the unit's own age structure
    # (a purely young profile would let attractiveness reshape the age structure and so DS)
    shape = P.reshape(n, -1) / np.maximum(P.reshape(n, -1).sum(axis=1, keepdims=True), 1)
    prof2 = np.tile(mig_age_prof, 2)[None, :] / mig_age_prof.sum() / 2
    w_mig = 0.5 * prof2 + 0.5 * shape
    w_mig = np.where(nm[:, None] >= 0, w_mig, w_mig * (P.reshape(n, -1) > 0) + 1e-12)
    mig = _largest_remainder(nm.astype(float), w_mig).reshape(P.shape)
    survivors = P - deaths_cell + mig
    neg = np.minimum(survivors, 0)
    if neg.any():  # a cell cannot be negative: move the shortfall to the unit's largest cell
        survivors = survivors - neg
        flat = survivors.reshape(n, -1)
        big = flat.argmax(axis=1)
        flat[np.arange(n), big] += neg.reshape(n, -1).sum(axis=1)
        mig = mig - neg  # the shortfall is moved, so migration by cell follows it
        mig.reshape(n, -1)[np.arange(n), big] += neg.reshape(n, -1).sum(axis=1)
    return mig, survivors


def _age_one_year(survivors: np.ndarray, births: np.ndarray, q_arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The population of the next 1 January (births enter at age 0); and the infant deaths."""
    newP = np.zeros_like(survivors)
    newP[:, :, 1:] = survivors[:, :, :-1]
    newP[:, :, 90] += survivors[:, :, 90]
    b_f = np.round(births * 0.487).astype(np.int64)
    b_sex = np.stack([b_f, births - b_f], axis=1)
    inf_deaths = np.round(b_sex * q_arr[None, :, 0] * 0.5).astype(np.int64)
    newP[:, :, 0] = b_sex - inf_deaths
    return newP, inf_deaths


def _panel(
    rng: np.random.Generator, sim: _Simulation, codes: np.ndarray, persistent: np.ndarray
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The long panel with the population of 1 January 2024 and the candidate drivers."""
    panel = pd.concat(sim.rows_panel, ignore_index=True)
    last = pd.DataFrame({"unit": codes, "year": YEARS_POP[-1], "population": sim.P.sum(axis=(1, 2))})
    panel = pd.concat([panel, last], ignore_index=True).set_index(["unit", "year"]).sort_index()
    # candidate drivers: loadings on the standardised persistent attractiveness (truth) plus noise
    drivers = {"driver__housing_per_1000": 0.8, "driver__cafe_jobs_per_capita": 0.4,
               "driver__students_per_capita": 0.0}
    zpers = pd.Series((persistent - persistent.mean()) / persistent.std(), index=codes)
    u = panel.index.get_level_values("unit")
    for col, gamma in drivers.items():
        panel[col] = np.round(gamma * zpers.reindex(u).to_numpy() + rng.normal(0, 1, len(panel)), 4)
    panel.loc[panel.index.get_level_values("year") == YEARS_POP[-1], list(drivers)] = np.nan
    return panel, drivers


def _age_table(age_records: list[pd.DataFrame]) -> pd.DataFrame:
    age = pd.concat(age_records)
    age_long = age.reset_index().melt(id_vars=["unit", "year", "sex"], var_name="age", value_name="population")
    age_long["age"] = age_long["age"].astype(int)
    return age_long.sort_values(["unit", "year", "sex", "age"]).reset_index(drop=True)


# --------------------------------------------------------------------------- storage
def _data_dir() -> Path:
    return Path(str(resources.files("geoattr.datasets"))) / _DATA


def _write(ds: SyntheticNorway, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ds.polygons.to_parquet(folder / "polygons.parquet")
    ds.panel.to_parquet(folder / "panel.parquet")
    f = ds.flows.copy()
    f["year"] = f["year"].astype("int16")
    f["count"] = f["count"].astype("int32")
    f.to_parquet(folder / "flows.parquet", compression="zstd")
    wide = ds.population_by_age.pivot_table(index=["unit", "year", "sex"], columns="age", values="population")
    wide.columns = [str(c) for c in wide.columns]
    wide.astype("int32").to_parquet(folder / "population_by_age.parquet", compression="zstd")
    rates = pd.concat({"employment": ds.employment_rates, "death": ds.death_probabilities}, axis=1)
    rates.columns = [f"{a}_{b}" for a, b in rates.columns]
    rates["fertility"] = ds.fertility_rates
    rates.to_parquet(folder / "rates.parquet")
    pd.DataFrame({"centrality": ds.centrality, "persistent": ds.truth.persistent}).to_parquet(folder / "units.parquet")
    ds.truth.attractiveness.to_frame().to_parquet(folder / "attractiveness.parquet")
    meta = {"seed": ds.seed, "years": list(ds.years), "coefficients": ds.truth.coefficients.to_dict(),
            "year_effects": {str(k): v for k, v in ds.truth.year_effects.items()}, "drivers": ds.truth.drivers,
            "noise_sd": ds.truth.noise_sd}
    (folder / "truth.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def _long_age_table(wide: pd.DataFrame) -> pd.DataFrame:
    """The stored wide age table (rows ``unit, year, sex``; one column per age) in long form.

    Rows sorted by ``unit, year, sex, age``. The stored rows are already sorted, so the long
    table is the wide one read row by row (a melt and a sort of 1.6 M string keys took 1 s).
    """
    ages = np.array([int(c) for c in wide.columns], dtype=np.int64)
    order = np.argsort(ages, kind="stable")
    if not wide.index.is_monotonic_increasing:
        wide = wide.sort_index()
    rows = np.repeat(np.arange(len(wide)), len(ages))
    idx = wide.index
    return pd.DataFrame({
        "unit": idx.get_level_values("unit").take(rows),
        "year": idx.get_level_values("year").to_numpy().astype(np.int64)[rows],
        "sex": idx.get_level_values("sex").take(rows),
        "age": np.tile(ages[order], len(wide)),
        "population": wide.to_numpy()[:, order].ravel().astype(np.int64),
    })


def _read(folder: Path) -> SyntheticNorway:
    polygons = gpd.read_parquet(folder / "polygons.parquet")
    panel = pd.read_parquet(folder / "panel.parquet")
    flows = pd.read_parquet(folder / "flows.parquet")
    flows["year"] = flows["year"].astype(np.int64)
    flows["count"] = flows["count"].astype(np.int64)
    age = _long_age_table(pd.read_parquet(folder / "population_by_age.parquet"))
    rates = pd.read_parquet(folder / "rates.parquet")
    emp = rates[["employment_female", "employment_male"]].set_axis(["female", "male"], axis=1)
    q = rates[["death_female", "death_male"]].set_axis(["female", "male"], axis=1)
    units = pd.read_parquet(folder / "units.parquet")
    att = pd.read_parquet(folder / "attractiveness.parquet")["attractiveness"]
    meta = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    truth = SyntheticTruth(
        coefficients=pd.Series(meta["coefficients"], name="truth"),
        year_effects=pd.Series({int(k): v for k, v in meta["year_effects"].items()}, name="year_effect").rename_axis("year"),
        attractiveness=att, persistent=units["persistent"], noise_sd=meta["noise_sd"], drivers=meta["drivers"],
    )
    return SyntheticNorway(polygons=polygons, regions=polygons["region"].rename("region"), panel=panel, flows=flows,
                           centrality=units["centrality"], population_by_age=age, employment_rates=emp,
                           death_probabilities=q, fertility_rates=rates["fertility"], truth=truth,
                           years=tuple(meta["years"]), seed=int(meta["seed"]))


def synthetic_norway(seed: int = DEFAULT_SEED, *, regenerate: bool = False) -> SyntheticNorway:
    """The embedded synthetic Norway.

    Parameters
    ----------
    seed : int, default 2022
        The stored data use the default seed; another seed generates new data.
    regenerate : bool, default False
        Generate even for the default seed (the stored data equal this output).

    Returns
    -------
    SyntheticNorway
        Fresh copies: callers may modify them freely.
    """
    folder = _data_dir()
    if seed == DEFAULT_SEED and not regenerate and (folder / "truth.json").exists():
        return _read(folder)
    return generate(seed)


def write_package_data(root: str | Path | None = None) -> dict[str, Any]:
    """Regenerate the stored package data and the ``shapefiles/`` copies (maintainers)."""
    ds = generate(DEFAULT_SEED)
    _write(ds, _data_dir())
    root = Path(root) if root else Path(__file__).resolve().parents[2]
    shp = root / "shapefiles"
    shp.mkdir(exist_ok=True)
    g = ds.polygons.reset_index()
    g.to_file(shp / "synthetic_norway.gpkg", driver="GPKG", layer="municipalities")
    g.to_file(shp / "synthetic_norway.shp", engine="pyogrio", encoding="utf-8")
    return {"units": len(ds.polygons), "flows": len(ds.flows)}


if __name__ == "__main__":  # pragma: no cover
    print(write_package_data())
