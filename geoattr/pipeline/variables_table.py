"""``variables.csv``: every model variable per unit and year, at each level a run estimated or applied.

One long-format file with a ``level`` column (rather than one file per level), so
region and municipality rows can be filtered from one table:
``level, unit, year, population, y, <terms>`` where ``y`` is the dependent variable
(net migration in % of the population on 1 January; relative to the national rate of
the year with ``relative_to_national``) and the terms are the regressors of every
specification of the run in their order of first appearance (``vra, vra_l1, vra_l2,
centrality, ds`` for the 2022 specification; the constant and year dummies are left
out).  A model estimated on regions contributes its region design and the municipal
design its coefficients are applied to.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from geoattr._docstrings import OUTPUT_FILES, fill_doc
from geoattr._format import write_csv
from geoattr.models.ols import AttractivenessResults

__all__ = ["model_variables", "write_variables"]


def _is_variable(term: str) -> bool:
    return term != "const" and not term.startswith("year_")


def model_variables(fits: Iterable[AttractivenessResults]) -> pd.DataFrame:
    """The dependent variable and the regressors of ``fits``, by level, unit and year.

    Parameters
    ----------
    fits : iterable of AttractivenessResults
        The run's models (any specifications and levels).

    Returns
    -------
    pandas.DataFrame
        Columns ``level, unit, year, population, y`` and one column per term; rows sorted
        by level (as first met), unit and year.  A term a design does not have is empty
        on that level's rows.
    """
    by_level: dict[str, pd.DataFrame] = {}
    for fit in fits:
        for design in [fit.design] + ([fit.unit_design] if fit.unit_design is not fit.design else []):
            part = pd.concat([design.population.rename("population"), design.y.rename("y"),
                              design.X[[t for t in design.X.columns if _is_variable(t)]]], axis=1)
            old = by_level.get(design.unit_level)
            by_level[design.unit_level] = part if old is None else old.combine_first(part)[
                list(dict.fromkeys([*old.columns, *part.columns]))]
    if not by_level:
        return pd.DataFrame(columns=["level", "unit", "year", "population", "y"])
    frames = [v.sort_index().reset_index().assign(level=k) for k, v in by_level.items()]
    out = pd.concat(frames, ignore_index=True)
    cols = ["level", "unit", "year", "population", "y"]
    return out[cols + [c for c in out.columns if c not in cols]]


@fill_doc(output_files=OUTPUT_FILES)
def write_variables(out: Path, files: dict[str, Path], fits: Iterable[AttractivenessResults]) -> None:
    """Write ``variables.csv`` (:func:`model_variables`) and record it in ``files``.

    Parameters
    ----------
    {output_files}
    fits : iterable of AttractivenessResults
        The run's models.
    """
    files["variables"] = out / "variables.csv"
    write_csv(model_variables(fits), files["variables"], index=False)
