"""The geography of the synthetic Norway: a curved coast, Voronoi municipalities, islands, names.

Used by :func:`geoattr.datasets.synthetic.generate`; every function that draws takes the
generator's ``rng`` (the order of the draws is part of the dataset).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Point, Polygon

__all__ = ["N_MAINLAND", "N_ISLANDS", "coast", "inland_normal", "land_width", "geography", "unit_names"]

#: Mainland municipalities (Voronoi cells) and island municipalities offshore.
N_MAINLAND = 348
N_ISLANDS = 8


def coast(s: np.ndarray) -> np.ndarray:
    """A curved coastline from the south-west to the north-east (UTM 33, metres)."""
    s = np.clip(s, 0.0, 1.0)
    x = -40_000 + 1_150_000 * s ** 1.35 + 90_000 * np.sin(3.1 * np.pi * s)
    y = 6_460_000 + 1_420_000 * s + 60_000 * np.sin(1.7 * np.pi * s)
    return np.column_stack([x, y])


def inland_normal(s: np.ndarray) -> np.ndarray:
    """Unit normal of the coast at ``s``, pointing inland."""
    d = coast(s + 1e-4) - coast(s - 1e-4)
    t = d / np.linalg.norm(d, axis=1, keepdims=True)
    return np.column_stack([t[:, 1], -t[:, 0]])  # right-hand normal: inland (south-east of the coast)


def land_width(s: np.ndarray) -> np.ndarray:
    """Width of the land band at ``s`` (metres): wide in the south, narrow in the north."""
    return 70_000 + 150_000 * np.exp(-((s - 0.12) / 0.18) ** 2) + 25_000 * np.sin(9 * s) ** 2


def geography(rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Mainland Voronoi cells along the coast and offshore islands.

    Returns
    -------
    gdf : geopandas.GeoDataFrame
        Columns ``s`` (position along the coast, 0-1) and ``is_island``; EPSG:25833.
    points : numpy.ndarray
        The seeds (mainland) and centres (islands), in the rows' order.
    """
    sgrid = np.linspace(0, 1, 600)
    shore = coast(sgrid)
    inland = shore + inland_normal(sgrid) * land_width(sgrid)[:, None]
    land = Polygon(np.vstack([shore, inland[::-1]])).buffer(0)
    # mainland seeds: denser in the south (where people live), jittered
    s = np.sort(rng.beta(1.2, 1.9, N_MAINLAND))
    d = rng.uniform(0.03, 0.97, N_MAINLAND) * land_width(s)
    seeds = coast(s) + inland_normal(s) * d[:, None]
    inside = shapely.contains_xy(land, seeds[:, 0], seeds[:, 1])
    seeds = seeds[inside]
    s = s[inside]
    while len(seeds) < N_MAINLAND:  # replace the few seeds that fell outside
        s1 = rng.beta(1.2, 1.9)
        p = coast(np.array([s1]))[0] + inland_normal(np.array([s1]))[0] * rng.uniform(0.05, 0.95) * land_width(np.array([s1]))[0]
        if land.contains(Point(p)):
            seeds = np.vstack([seeds, p])
            s = np.append(s, s1)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=land.buffer(200_000))
    cell_list = list(shapely.get_parts(cells))
    geoms = []
    for p in seeds:
        cell = next(c for c in cell_list if c.contains(Point(p)))
        g = cell.intersection(land)
        if g.geom_type != "Polygon":
            g = max(shapely.get_parts(g), key=lambda x: x.area)
        geoms.append(g)
    # islands offshore: irregular blobs 15-40 km off the coast, far from each other
    isl_s = np.sort(rng.uniform(0.05, 0.95, N_ISLANDS))
    isl_c = coast(isl_s) - inland_normal(isl_s) * rng.uniform(22_000, 40_000, N_ISLANDS)[:, None]
    islands = []
    for c in isl_c:
        ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        r = rng.uniform(4_000, 9_000) * (1 + 0.25 * rng.uniform(-1, 1, 24))
        islands.append(Polygon(np.column_stack([c[0] + r * np.cos(ang), c[1] + r * np.sin(ang)])).difference(
            land.buffer(3_000)))
    geoms = [shapely.make_valid(g) for g in geoms] + islands
    pos = np.r_[s, isl_s]
    gdf = gpd.GeoDataFrame({"s": pos}, geometry=geoms, crs="EPSG:25833")
    gdf["is_island"] = [False] * len(seeds) + [True] * N_ISLANDS
    return gdf, np.vstack([seeds, isl_c])


_SYL1 = ["Nord", "Sør", "Øst", "Vest", "Stor", "Lille", "Ny", "Gamle", "Høy", "Lang", "Bjørn", "Ulv", "Ask", "Bjerk",
         "Eik", "Furu", "Gran", "Sol", "Ros", "Snø", "Stein", "Berg", "Sand", "Fager", "Kvit", "Svart", "Rød", "Grøn",
         "Hav", "Fjell", "Mo", "Lund", "Strand", "Ås", "Hol", "Vik", "Dal", "Nes", "Øy", "Sund"]
_SYL2 = ["vik", "dal", "nes", "øy", "fjord", "berg", "vang", "stad", "heim", "land", "sund", "bu", "rud", "set",
         "åker", "haug", "voll", "mark", "strand", "ås", "eid", "hamn", "sjø", "lid"]


def unit_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct Norwegian-sounding place names."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = rng.choice(_SYL1) + rng.choice(_SYL2)
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out
