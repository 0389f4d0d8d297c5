"""Write the fictional "Sweden-style" input files of docs/howto_own_data.md.

Twenty invented kommuner (four-digit codes with a leading zero, two-digit län) in four
län, 2008-2020, in a file layout that is not Statistics Norway's: semicolon-separated
CSV with Swedish column names and a decimal comma. Net migration is generated from the
model itself with known coefficients (TRUTH), so a run on these files can be checked
against them. Deterministic: ``python examples/own_data/make_data.py`` rewrites the same
files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
YEARS = range(2008, 2021)
COMMUTING_YEAR = 2015
# the generator's coefficients of the 2019 specification (net migration in % of population)
TRUTH = {"const": 0.2, "vra": 0.30, "vra_l1": 0.20, "vra_l2": 0.10, "centrality": 0.50}
NAMES = ["Åby", "Björkvik", "Dalsjö", "Ekeberga", "Fjällnäs", "Granby", "Hagfors Östra",
         "Ingesund", "Järnvik", "Kvarnby", "Lindås", "Mossberg", "Norrvik", "Oxelby",
         "Prästholm", "Rävsta", "Sjöhamn", "Tallåsen", "Ulvsby", "Västerås Nya"]
LAN = {"01": "Östra län", "03": "Mellersta län", "05": "Västra län", "07": "Norra län"}


def kommuner() -> pd.DataFrame:
    lan = [code for code in LAN for _ in range(5)]
    codes = [f"{l}{k:02d}" for l, k in zip(lan, [80, 14, 15, 17, 20] * 4)]
    return pd.DataFrame({"kommunkod": codes, "namn": NAMES, "lan": lan,
                         "lansnamn": [LAN[l] for l in lan]})


def commuting_shares(units: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Residents work at home (60-90 %), in their län's centre (the *80 code) or nearby."""
    n = len(units)
    w = np.zeros((n, n))
    for i, (code, lan) in enumerate(zip(units["kommunkod"], units["lan"])):
        same = np.flatnonzero(units["lan"].to_numpy() == lan)
        w[i, same] = rng.uniform(0.0, 0.05, same.size)
        centre = same[0]
        w[i, centre] += 0.0 if centre == i else rng.uniform(0.1, 0.3)
        w[i, i] = rng.uniform(0.6, 0.9)
        w[i] /= w[i].sum()
    return w


def main(out: Path = HERE) -> None:
    """Write the four files into ``out``."""
    rng = np.random.default_rng(46)
    units = kommuner()
    n = len(units)
    w = commuting_shares(units, rng)
    pop0 = np.where(units["kommunkod"].str.endswith("80"), 60_000, rng.integers(4_000, 20_000, n))
    jobs = np.empty((n, len(YEARS)))
    jobs[:, 0] = pop0 * rng.uniform(0.35, 0.5, n)
    for t in range(1, len(YEARS)):
        jobs[:, t] = np.round(jobs[:, t - 1] * (1 + rng.normal(0.005, 0.03, n)))
    growth = 100 * (jobs[:, 1:] / jobs[:, :-1] - 1)
    ra = growth - 100 * (jobs.sum(0)[1:] / jobs.sum(0)[:-1] - 1)  # relative to the nation
    vra = np.column_stack([np.full(n, np.nan), w @ ra])  # column t: year YEARS[t]
    index = rng.uniform(300, 1000, n).round()
    cent = index / 1000 - (index / 1000).mean()
    rows, pop = [], pop0.astype(float)
    for t, year in enumerate(YEARS):
        y = np.full(n, np.nan)
        if t >= 3:
            y = (TRUTH["const"] + TRUTH["vra"] * vra[:, t] + TRUTH["vra_l1"] * vra[:, t - 1]
                 + TRUTH["vra_l2"] * vra[:, t - 2] + TRUTH["centrality"] * cent + rng.normal(0, 0.3, n))
        net = np.round(np.nan_to_num(y, nan=rng.normal(0, 0.3, n)) * pop / 100)
        for i in range(n):
            rows.append((units["kommunkod"][i], year, int(pop[i]), int(jobs[i, t]), int(net[i])))
        pop = pop + net + np.round(pop * 0.001)
    befolkning = pd.DataFrame(rows, columns=["kommunkod", "år", "folkmängd", "dagbefolkning", "flyttnetto"])
    befolkning.to_csv(out / "befolkning.csv", sep=";", index=False)
    count = np.round(w * pop0[:, None] * 0.45).astype(int)
    o, d = np.nonzero(count)
    pd.DataFrame({"bostadskommun": units["kommunkod"].to_numpy()[o],
                  "arbetsställekommun": units["kommunkod"].to_numpy()[d],
                  "antal": count[o, d], "år": COMMUTING_YEAR}).to_csv(out / "pendling.csv", sep=";", index=False)
    cent_table = pd.DataFrame({"kommunkod": units["kommunkod"], "centralitetsindex": index})
    cent_table.to_csv(out / "centralitet.csv", sep=";", index=False, decimal=",",
                      float_format="%.1f")
    units[["kommunkod", "namn", "lan", "lansnamn"]].to_csv(out / "lan.csv", sep=";", index=False)


if __name__ == "__main__":
    main()
