"""``PanelData``: the one container every model in geoattr reads.

It holds the long panel on the (unit, year) index, the commuting flows, centrality,
the unit -> region mapping, polygons and the age-sex population, checks that all of
them refer to the same units, and keeps the row accounting (read / used / dropped and
why).  It also aggregates itself to regions following the conventions of MODEL.md.
A PanelData is frozen: :meth:`PanelData.replace` returns a copy with other inputs.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import geopandas as gpd
import pandas as pd

import geoattr._validation as val
from geoattr._format import format_ids
from geoattr.accounting import Accounting, step_name
from geoattr.data.checks import (
    COUNT_COLUMNS,
    check_fertility_rates,
    check_flows,
    check_panel,
    check_polygons,
    check_population_by_age,
    check_rates,
    check_rates_by_year,
    check_regions,
    check_unit_series,
)
from geoattr.data.grouping import sum_by
from geoattr.exceptions import DroppedRowsWarning, InputError

__all__ = ["PanelData", "COUNT_COLUMNS"]

#: Columns that are counts but may be negative (summed when aggregating).
SIGNED_COUNT_COLUMNS: tuple[str, ...] = val.SIGNED_COUNT_COLUMNS

#: The inputs of a PanelData that :meth:`PanelData.replace` can change.
INPUTS: tuple[str, ...] = (
    "panel",
    "flows",
    "centrality",
    "regions",
    "polygons",
    "population_by_age",
    "employment_rates",
    "death_probabilities",
    "fertility_rates",
    "centrality_mean",
    "unit_level",
    "harmonisation_report",
    "flags",
    "info",
    "unit_names",
    "region_names",
    "death_probabilities_by_year",
)
# Cached objects (keyed by a tuple whose first item is the kind) and the inputs they are
# built from; a kind not listed depends on everything.
_CACHE_INPUTS: dict[str, frozenset[str]] = {
    "weights": frozenset({"flows", "panel"}),
    "ds": frozenset({"population_by_age", "panel", "employment_rates", "death_probabilities"}),
    "job growth": frozenset({"panel"}),  # relative job growth (variables.design)
    "checked": frozenset({"panel"}),  # panel checks of the designs that passed
}

T = TypeVar("T")


def _check_names(s: Any, what: str) -> pd.Series:
    """Id -> name as strings on a string index (names may be given for more ids than needed)."""
    if not isinstance(s, pd.Series):
        raise InputError(f"{what} must be a pandas Series id -> name, {type(s).__name__} was given")
    out = s[s.notna()]
    idx = pd.Index(val.normalise_ids(out.index, name=f"{what} index").to_numpy(), dtype=object, name="unit")
    out = pd.Series(out.astype(str).to_numpy(), index=idx, name="name", dtype=object)
    return out[~out.index.duplicated()]


class PanelData:
    """Aligned inputs of the attractiveness model.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel indexed by (unit, year) with at least ``population`` (1 January of the
        year); usually also ``jobs`` (by workplace) and ``net_migration`` (persons
        during the year), optionally ``births``, ``deaths`` and user regressors.
    flows : pandas.DataFrame, optional
        Commuting table with columns ``year, origin, destination, count``.
    centrality : pandas.Series, optional
        Centrality index (0-1000) per unit.
    regions : pandas.Series, optional
        Unit -> region id.
    polygons : geopandas.GeoDataFrame, optional
        Unit polygons indexed by unit id (column ``name`` optional).
    population_by_age : pandas.DataFrame, optional
        Columns ``unit, year, sex, age, population`` (for the demographic supply term).
    employment_rates, death_probabilities : pandas.DataFrame, optional
        National rates by age (index) and sex (columns ``female``, ``male``).
    fertility_rates : pandas.Series, optional
        National births per woman by age of the mother (index age), for the expected
        births of the decomposition.
    death_probabilities_by_year : pandas.DataFrame, optional
        National death probabilities by (year, age) (index) and sex (columns
        ``female``, ``male``): used instead of ``death_probabilities`` by the cohort
        residual, the expected deaths and the projection, which take each year's
        table (the nearest year of the table for a year outside it, see
        :func:`geoattr.demography.death_probabilities_in_year`).  DS keeps the single
        ``death_probabilities`` schedule (as its employment rates).
    on_mismatch : {"raise", "drop"}, default "raise"
        What to do when the units of polygons, flows, centrality or regions differ from
        the panel's: raise an error listing them, or drop the units that are not in all
        inputs, record the number in the accounting and warn.
    accounting : Accounting, optional
        Accounting of earlier steps (readers) to continue.
    centrality_mean : float, optional
        The constant centrality is centred on (``mean(c / 1000)`` over municipalities).
        Computed from ``centrality`` when not given; region-level data carry the
        municipal constant so that coefficients transfer.
    unit_level : str, default "municipality"
        Label of the unit level (``"municipality"`` or ``"region"``).
    harmonisation_report : pandas.DataFrame, optional
        The report of the code harmonisation the data went through
        (:attr:`geoattr.data.harmonise.HarmonisedPanel.report`), written as
        ``harmonisation.csv`` by the pipeline.
    flags : pandas.DataFrame, optional
        Boolean columns on the (unit, year) index that mark estimated or interpolated
        values (e.g. ``net_migration_estimated``).
    info : mapping, optional
        Further facts about the data (e.g. ``net_migration_agreement``), kept as given.
    unit_names : pandas.Series, optional
        Unit id -> name, for units whose polygons give no name (or without polygons);
        see :attr:`names`.
    region_names : pandas.Series, optional
        Region id -> name (of the ids in ``regions``): the names of the units of
        :meth:`aggregate`, shown in region rankings, tables and maps.

    Notes
    -----
    Ids are strings throughout.  The inputs are copied, never modified.  A PanelData
    is frozen: its attributes cannot be set after construction (use :meth:`replace`),
    and derived objects (commuting weights, the region aggregation, DS) are cached on
    it (:meth:`cached`), so do not change its tables in place either.
    """

    def __init__(
        self,
        panel: pd.DataFrame,
        *,
        flows: pd.DataFrame | None = None,
        centrality: pd.Series | None = None,
        regions: pd.Series | None = None,
        polygons: gpd.GeoDataFrame | None = None,
        population_by_age: pd.DataFrame | None = None,
        employment_rates: pd.DataFrame | None = None,
        death_probabilities: pd.DataFrame | None = None,
        fertility_rates: pd.Series | None = None,
        on_mismatch: Literal["raise", "drop"] = "raise",
        accounting: Accounting | None = None,
        centrality_mean: float | None = None,
        unit_level: str = "municipality",
        harmonisation_report: pd.DataFrame | None = None,
        flags: pd.DataFrame | None = None,
        info: Mapping[str, Any] | None = None,
        unit_names: pd.Series | None = None,
        region_names: pd.Series | None = None,
        death_probabilities_by_year: pd.DataFrame | None = None,
    ) -> None:
        if on_mismatch not in ("raise", "drop"):
            raise ValueError(f"on_mismatch must be 'raise' or 'drop', got {on_mismatch!r}")
        self.accounting = Accounting() if accounting is None else accounting
        self.unit_level = unit_level
        self.harmonisation_report = harmonisation_report
        self.flags = flags
        self.info: dict[str, Any] = dict(info or {})
        self.unit_names = None if unit_names is None else _check_names(unit_names, "unit_names")
        self.region_names = None if region_names is None else _check_names(region_names, "region_names")
        self._cache: dict[Any, Any] = {}
        self.panel = check_panel(panel)
        if "panel" not in self.accounting:
            self.accounting.record("panel", read=len(self.panel))
        units = pd.Index(self.panel.index.get_level_values("unit").unique())

        self.polygons = None if polygons is None else check_polygons(polygons)
        self.centrality = None if centrality is None else check_unit_series(centrality, "centrality")
        self.regions = None if regions is None else check_regions(regions)
        self.flows = None if flows is None else self._checked_flows(flows)
        self.population_by_age = (
            None if population_by_age is None else check_population_by_age(population_by_age)
        )
        self.employment_rates = (
            None if employment_rates is None else check_rates(employment_rates, "employment_rates")
        )
        self.death_probabilities = (
            None
            if death_probabilities is None
            else check_rates(death_probabilities, "death_probabilities")
        )
        self.fertility_rates = None if fertility_rates is None else check_fertility_rates(fertility_rates)
        self.death_probabilities_by_year = (None if death_probabilities_by_year is None else
                                            check_rates_by_year(death_probabilities_by_year,
                                                                "death_probabilities_by_year"))
        self._align(units, on_mismatch)
        if self.centrality is not None:
            self.centrality_mean = (
                float((self.centrality / 1000.0).mean()) if centrality_mean is None else float(centrality_mean)
            )
        else:
            self.centrality_mean = centrality_mean
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_frozen", False):
            raise AttributeError(
                f"PanelData is frozen: cannot set {name!r}; use data.replace({name}=...) for a "
                "copy with another input"
            )
        object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> "PanelData":
        """Return a copy with some inputs replaced; this object is not changed.

        The replaced inputs are checked as by the constructor (their units must be the
        panel's); the others, and the row accounting, are shared with this object, which
        is safe because neither is ever modified.  The copy has its own cache, which starts with this object's
        cached values that do not depend on the replaced inputs.

        Parameters
        ----------
        **changes
            New values of inputs named in :data:`INPUTS` (for example ``flows=``).
            ``replace()`` without changes gives a copy with a copy of the cache.

        Returns
        -------
        PanelData

        Raises
        ------
        TypeError
            A name that is not an input.
        InputError
            A replaced input that fails the constructor's checks or refers to other units.
        """
        unknown = sorted(set(changes) - set(INPUTS))
        if unknown:
            raise TypeError(f"replace() got unknown input(s) {unknown}; the inputs are {list(INPUTS)}")
        new = copy.copy(self)
        state = new.__dict__
        if "flows" in changes and "flows" not in self.accounting:  # the check records the flows read
            state["accounting"] = Accounting().merge(self.accounting)
        state["_cache"] = {
            k: v
            for k, v in self._cache.items()
            if not changes or (isinstance(k, tuple) and k and not set(changes) & _CACHE_INPUTS.get(k[0], set(INPUTS)))
        }
        checks = {
            "panel": check_panel,
            "flows": new._checked_flows,
            "centrality": lambda v: check_unit_series(v, "centrality"),
            "regions": check_regions,
            "polygons": check_polygons,
            "population_by_age": check_population_by_age,
            "employment_rates": lambda v: check_rates(v, "employment_rates"),
            "death_probabilities": lambda v: check_rates(v, "death_probabilities"),
            "fertility_rates": check_fertility_rates,
            "unit_names": lambda v: _check_names(v, "unit_names"),
            "region_names": lambda v: _check_names(v, "region_names"),
            "death_probabilities_by_year": lambda v: check_rates_by_year(v, "death_probabilities_by_year"),
        }
        for name, value in changes.items():
            state[name] = value if value is None or name not in checks else checks[name](value)
        if "centrality_mean" in changes and changes["centrality_mean"] is not None:
            state["centrality_mean"] = float(changes["centrality_mean"])
        if "info" in changes:
            state["info"] = dict(changes["info"] or {})
        if set(changes) & set(checks):
            state["_frozen"] = False
            new._align(new.units, "raise")
            state["_frozen"] = True
        return new

    def cached(self, key: tuple, build: Callable[[], T]) -> T:
        """Return the value cached under ``key``, building and caching it on first use.

        Parameters
        ----------
        key : tuple
            Its first item names the kind of value (``"weights"`` for commuting weights,
            ``"ds"`` for the demographic supply), which says what :meth:`replace` keeps.
        build : callable
            Called without arguments when ``key`` is not cached yet.

        Returns
        -------
        object
            The cached value.
        """
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _checked_flows(self, flows: pd.DataFrame) -> pd.DataFrame:
        out = check_flows(flows)
        if "flows" not in self.accounting:
            self.accounting.record("flows", read=len(out))
        return out

    def _align(self, units: pd.Index, on_mismatch: str) -> None:
        """Check that every auxiliary input refers to the panel's units."""
        unit_set = set(units)
        problems: dict[str, tuple[set[str], set[str]]] = {}
        sources: dict[str, set[str]] = {}
        if self.polygons is not None:
            sources["polygons"] = set(self.polygons.index)
        if self.centrality is not None:
            sources["centrality"] = set(self.centrality.index)
        if self.regions is not None:
            sources["regions"] = set(self.regions.index)
        for name, ids in sources.items():
            only_panel, only_other = unit_set - ids, ids - unit_set
            if only_panel or (only_other and name == "polygons"):
                problems[name] = (only_panel, only_other)
        flow_ids: set[str] = set()
        if self.flows is not None:
            flow_ids = set(self.flows["origin"].unique()) | set(self.flows["destination"].unique())
            unknown = flow_ids - unit_set
            if unknown:
                problems["flows"] = (set(), unknown)
        if self.population_by_age is not None:
            unknown = set(self.population_by_age["unit"].unique()) - unit_set
            if unknown:
                problems["population_by_age"] = (set(), unknown)
        if not problems:
            self._drop_extra(unit_set)
            return
        if on_mismatch == "raise":
            lines = []
            for name, (only_panel, only_other) in problems.items():
                if only_panel:
                    lines.append(f"{len(only_panel)} panel unit(s) missing from {name}: {format_ids(only_panel)}")
                if only_other:
                    lines.append(f"{len(only_other)} unit(s) in {name} but not in the panel: {format_ids(only_other)}")
            raise InputError(
                "the units of the inputs differ:\n  " + "\n  ".join(lines)
                + "\nFix the ids (harmonise codes with a crosswalk), or pass on_mismatch='drop' "
                "to keep only the units present everywhere (the drop is counted and reported)."
            )
        keep = set(unit_set)
        for name, (only_panel, _) in problems.items():
            keep -= only_panel
        dropped_units = unit_set - keep
        mask = self.panel.index.get_level_values("unit").isin(list(keep))
        n_drop = int((~mask).sum())
        if n_drop:
            self.panel = self.panel[mask]
            step = self.accounting.last_step("panel")
            self.accounting.record(
                step, read=len(mask), dropped={"unit missing from another input": n_drop},
                note=f"dropped units: {format_ids(dropped_units)}",
            )
        self._drop_extra(keep, dropped_units)
        extra = set().union(*(only_other for _, only_other in problems.values())) - unit_set
        msg = "on_mismatch='drop': "
        if dropped_units:
            msg += f"{len(dropped_units)} unit(s) dropped ({n_drop} panel rows): {format_ids(dropped_units)}; "
        if extra:
            msg += (f"{len(extra)} unit(s) not in the panel dropped from "
                    f"{', '.join(n for n, (_, o) in problems.items() if o)}: {format_ids(extra)}; ")
        warnings.warn(msg + "see the accounting for the other inputs", DroppedRowsWarning, stacklevel=3)

    def _drop_extra(self, keep: set[str], dropped_units: set[str] = frozenset()) -> None:
        """Restrict auxiliary inputs to ``keep``, recording what was removed and why.

        A row whose unit was dropped from the panel (``dropped_units``, missing from
        another input) is counted apart from one whose unit never was a panel unit.
        """
        def why(units: pd.Series, absent: str, dropped: str) -> dict[str, int]:
            gone = ~units.isin(list(keep))
            was = units.isin(list(dropped_units))
            return {absent: int((gone & ~was).sum()), dropped: int((gone & was).sum())}

        keep_list = list(keep)
        dropped_label = "unit dropped from the panel (missing from another input)"
        if self.polygons is not None:
            m = self.polygons.index.isin(keep_list)
            if (~m).any():
                self.accounting.record("polygons", read=len(m), dropped=why(
                    self.polygons.index.to_series(), "unit not in panel", dropped_label))
            self.polygons = self.polygons[m]
        for attr in ("centrality", "regions"):
            s = getattr(self, attr)
            if s is not None:
                m = s.index.isin(keep_list)
                if (~m).any():
                    self.accounting.record(attr, read=len(m), dropped=why(
                        s.index.to_series(), "unit not in panel", dropped_label))
                setattr(self, attr, s[m])
        if self.flows is not None:
            m = self.flows["origin"].isin(keep_list) & self.flows["destination"].isin(keep_list)
            if (~m).any():
                ends = self.flows[["origin", "destination"]]
                was = ends.isin(list(dropped_units)).any(axis=1)
                self.accounting.record(self.accounting.last_step("flows"), read=len(m), dropped={
                    "origin or destination not a panel unit": int((~m & ~was).sum()),
                    "origin or destination dropped": int((~m & was).sum())})
            self.flows = self.flows[m].reset_index(drop=True)
        if self.population_by_age is not None:
            m = self.population_by_age["unit"].isin(keep_list)
            if (~m).any():
                self.accounting.record("population_by_age", read=len(m), dropped=why(
                    self.population_by_age["unit"], "unit not in panel", "unit dropped"))
            self.population_by_age = self.population_by_age[m].reset_index(drop=True)

    # ------------------------------------------------------------------ access
    @property
    def units(self) -> pd.Index:
        """Unit ids (sorted strings)."""
        return pd.Index(self.panel.index.get_level_values("unit").unique(), name="unit")

    @property
    def years(self) -> pd.Index:
        """Years present in the panel (sorted)."""
        return pd.Index(sorted(self.panel.index.get_level_values("year").unique()), name="year")

    @property
    def names(self) -> pd.Series:
        """Unit names: the polygons' ``name`` column, else ``unit_names``, else the ids."""
        ids = pd.Series(self.units, index=self.units, name="name")
        out = ids.copy()
        if self.unit_names is not None:
            out = self.unit_names.reindex(self.units).fillna(out)
        if self.polygons is not None and "name" in self.polygons:
            poly = self.polygons["name"].reindex(self.units)
            poly = poly[poly.notna() & (poly.astype(str) != ids.astype(str))]
            out.loc[poly.index] = poly.to_numpy()
        return out.rename("name")

    def column(self, name: str) -> pd.Series:
        """A panel column as a Series on (unit, year); error naming the columns available."""
        if name not in self.panel.columns:
            raise InputError(
                f"the panel has no column {name!r}; it has {list(self.panel.columns)}"
            )
        return self.panel[name]

    def __repr__(self) -> str:
        parts = [f"{len(self.units)} {self.unit_level} units", f"years {self.years.min()}-{self.years.max()}"]
        if self.flows is not None:
            parts.append(f"{len(self.flows)} flow rows")
        return f"PanelData({', '.join(parts)})"

    # ------------------------------------------------------------------ aggregation
    def aggregate(self, regions: pd.Series | None = None, *, unit_level: str = "region") -> "PanelData":
        """Aggregate to regions following the conventions of MODEL.md.

        Counts (population, jobs, net migration, births, deaths, migration counts, the
        subgroup counts ``net_migration__*`` and ``flow__*``, flows and age-sex
        population) are summed; flows are aggregated region x region (commuting inside
        a region becomes the region's diagonal); centrality becomes the
        population-weighted mean of the municipal index, weighted by each municipality's
        mean population over the panel years; the centring constant stays the municipal
        one so that region coefficients carry over to municipalities.  Other numeric
        panel columns are averaged with population weights (they are treated as rates).

        Parameters
        ----------
        regions : pandas.Series, optional
            Unit -> region mapping; defaults to the ``regions`` given to the constructor.
        unit_level : str, default "region"
            Label of the new unit level.

        Returns
        -------
        PanelData
            A new object indexed by (region, year); polygons are dissolved by region.
        """
        if regions is None and ("aggregate", unit_level) in self._cache:
            return self._cache[("aggregate", unit_level)]
        mapping = self.regions if regions is None else check_regions(regions)
        if mapping is None:
            raise InputError("no unit -> region mapping: pass regions= here or to PanelData(...)")
        missing = set(self.units) - set(mapping.index)
        if missing:
            raise InputError(
                f"{len(missing)} unit(s) have no region in the mapping: {format_ids(missing)}; "
                "add them to the mapping"
            )
        mapping = mapping.reindex(self.units)
        reg = self.panel.index.get_level_values("unit").map(mapping)
        yrs = self.panel.index.get_level_values("year")
        # every column of persons is summed, subgroup counts (net_migration__*, flow__*) included
        sums = [c for c in self.panel.columns if val.is_person_count(c)]
        rates = [c for c in self.panel.columns if c not in sums]
        grouped = self.panel[sums].groupby([reg, yrs])
        panel = grouped.sum(min_count=1)
        if rates:
            w = self.panel["population"]
            wsum = w.groupby([reg, yrs]).sum()
            rate_part = self.panel[rates].mul(w, axis=0).groupby([reg, yrs]).sum(min_count=1).div(wsum, axis=0)
            panel = panel.join(rate_part)
        panel.index = panel.index.set_names(["unit", "year"])
        flows = None
        if self.flows is not None:
            flows = sum_by(self.flows, ["year", "origin", "destination"], "count",
                           relabel={"origin": mapping, "destination": mapping})
        centrality = None
        if self.centrality is not None:
            wpop = self.panel["population"].groupby(level="unit").mean().reindex(self.units)
            c = self.centrality.reindex(self.units)
            centrality = (c * wpop).groupby(mapping).sum() / wpop.groupby(mapping).sum()
            centrality.index.name = "unit"
        polygons = None
        if self.polygons is not None:
            g = self.polygons[["geometry"]].copy()
            g["region"] = mapping.reindex(g.index).to_numpy()
            polygons = g.dissolve(by="region")
            polygons.index.name = "unit"
            polygons["name"] = polygons.index.astype(str)
            if self.region_names is not None:
                polygons["name"] = self.region_names.reindex(polygons.index).fillna(polygons["name"]).to_numpy()
        age = None
        if self.population_by_age is not None:
            age = sum_by(self.population_by_age, ["unit", "year", "sex", "age"], "population",
                         relabel={"unit": mapping})
        acc = Accounting().merge(self.accounting)
        acc.note("panel", f"aggregated {len(self.units)} units to {mapping.nunique()} regions")
        n_reg = mapping.nunique()
        acc.record(step_name("panel", unit_level), read=len(self.panel), source=acc.last_step("panel"),
                   dropped={f"summed into {unit_level}-year rows ({len(self.units)} units in {n_reg} {unit_level}s)":
                            len(self.panel) - len(panel)})
        if flows is not None and self.flows is not None:
            acc.record(step_name("flows", unit_level), read=len(self.flows), source=acc.last_step("flows"),
                       dropped={f"summed into {unit_level} x {unit_level} flows": len(self.flows) - len(flows)})
        out = PanelData(
            panel,
            flows=flows,
            centrality=centrality,
            polygons=polygons,
            population_by_age=age,
            employment_rates=self.employment_rates,
            death_probabilities=self.death_probabilities,
            death_probabilities_by_year=self.death_probabilities_by_year,
            fertility_rates=self.fertility_rates,
            accounting=acc,
            centrality_mean=self.centrality_mean,
            unit_level=unit_level,
            unit_names=None if self.region_names is None else self.region_names,
        )
        if regions is None:
            self._cache[("aggregate", unit_level)] = out
        return out

    def region_of(self) -> pd.Series:
        """Unit -> region mapping restricted to the panel's units (error if absent)."""
        if self.regions is None:
            raise InputError("this PanelData has no regions; pass regions= to PanelData(...)")
        return self.regions.reindex(self.units)

    def to_dict(self) -> Mapping[str, Any]:
        """Summary for ``run.json``."""
        return {
            "level": self.unit_level,
            "units": int(len(self.units)),
            "years": [int(self.years.min()), int(self.years.max())],
            "panel_rows": int(len(self.panel)),
            "flow_rows": None if self.flows is None else int(len(self.flows)),
            "centrality_mean": None if self.centrality_mean is None else float(self.centrality_mean),
        }
