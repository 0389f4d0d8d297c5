"""Readers with validation: polygons, origin-destination flows, long panels, mappings.

Every reader returns geoattr's canonical shapes (see :mod:`geoattr`): ids are strings
with their leading zeros (id columns are read as text; ``id_width=`` zero-pads ids a
file stores as numbers), years are integers.  Bad input raises
:class:`~geoattr.exceptions.InputError` naming the table, the columns and the rows or
ids, and saying how to fix it.  Rows are named by their index labels: for a file that
is the 0-based data row (file line minus 2 when there is one header line); for a
DataFrame, its own index.  Repairs (invalid geometries) warn, and both repairs and
dropped rows are counted in an optional :class:`~geoattr.accounting.Accounting`.

Tables are read from CSV (``,``, ``;``, tab or ``|`` separated, detected from the
header line; compressed ``.gz``/``.bz2``/``.xz``/``.zip``; UTF-8 with a Latin-1
fallback; a decimal comma is understood in ``;``-separated files), from Parquet
(``.parquet``/``.pq``), or from an existing DataFrame, which is never modified.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from geoattr._format import format_ids
from geoattr.accounting import Accounting
from geoattr.exceptions import InputError, InvalidGeometryWarning
from geoattr.io.crs import check_coordinates
import geoattr._validation as val
from geoattr.io.numbers import parse_counts

__all__ = ["read_polygons", "read_flows", "read_panel", "read_mapping", "read_series"]

PathOrFrame = str | os.PathLike | pd.DataFrame

_PARQUET = {".parquet", ".pq", ".geoparquet"}
_SPREADSHEET = {".xlsx", ".xls", ".xlsm", ".ods"}
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_DELIMITERS = (";", ",", "\t", "|")
#: SSB's symbols for cells without a number, and what they mean.
_SSB_SYMBOLS = {"..": "= missing", ":": "= confidential", ".": "= not applicable", "...": "= not yet available",
                "-": "= nil"}
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+(,\d+)?\s*$")


# --------------------------------------------------------------------------- tables
def _as_path(src: Any, *, table: str) -> Path:
    if not isinstance(src, (str, os.PathLike)):
        raise TypeError(f"{table}: expected a file path or a DataFrame, got {type(src).__name__}")
    path = Path(src)
    if not path.exists():
        raise InputError(f"{table}: file {str(path)!r} does not exist")
    return path


def _sniff_delimiter(path: Path) -> str | None:
    """Detect the delimiter from the header line (``None``: the file cannot be peeked into)."""
    opener = _OPENERS.get(path.suffix.lower(), open)
    if path.suffix.lower() == ".zip":
        return None
    with opener(path, "rb") as fh:
        head = fh.read(65536)
    line = head.split(b"\n", 1)[0].decode("utf-8", errors="ignore")
    line = re.sub(r'"[^"]*"', "", line)  # delimiters inside quoted names do not count
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _decimal_comma(df: pd.DataFrame, skip: Sequence[str]) -> pd.DataFrame:
    """Convert text columns that hold decimal-comma numbers (``"12,5"``) to floats."""
    for c in df.columns:
        if c in skip or pd.api.types.is_numeric_dtype(df[c]):
            continue
        s = df[c].dropna()
        if len(s) == 0 or not s.map(lambda v: isinstance(v, str)).all():
            continue
        if s.str.match(_DECIMAL_COMMA).all() and s.str.contains(",", regex=False).any():
            df[c] = pd.to_numeric(df[c].str.replace(",", ".", regex=False).str.strip())
    return df


def _header(path: Path, kw: Mapping[str, Any]) -> list[str]:
    """The column names of a CSV file as written (not stripped)."""
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return [str(c) for c in pd.read_csv(path, nrows=0, encoding=enc, **kw).columns]
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:  # reported with the file's name when the file is read
            return []
    return []  # pragma: no cover - latin-1 decodes every byte


def _read_table(
    src: PathOrFrame,
    *,
    str_columns: Sequence[str],
    table: str,
    counts: Callable[[str], bool] | None = None,
    thousands: str | None = None,
) -> pd.DataFrame:
    """Read a DataFrame (copied), Parquet, or CSV with ``str_columns`` read as text.

    Columns whose (stripped) name ``counts`` accepts are read as text and converted by
    :func:`~geoattr.io.numbers.parse_counts` (thousands separators, decimal commas).
    """
    if isinstance(src, pd.DataFrame):
        df = src.copy()
        return parse_counts(df, [c for c in df.columns if counts and counts(str(c))], table=table,
                             sep=None, thousands=thousands)
    path = _as_path(src, table=table)
    if path.is_dir():
        raise InputError(f"{table}: {str(path)!r} is a folder; give the path of the {table} file")
    df = _read_file(path, str_columns=str_columns, table=table, counts=counts, thousands=thousands)
    if len(df) == 0:
        raise InputError(
            f"{table}: file {path.name!r} has a header line but no data rows "
            f"(columns {val.format_in_order(list(df.columns))}); check that the export or download completed"
        )
    return df


def _read_file(path: Path, *, str_columns: Sequence[str], table: str,
               counts: Callable[[str], bool] | None = None, thousands: str | None = None) -> pd.DataFrame:
    """Read a Parquet or CSV file; unreadable files raise InputError naming the file."""
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise InputError(f"{table}: cannot read {path.name!r} as Parquet ({err}); check that the file is "
                             "complete and really Parquet") from err
    if suffix in _SPREADSHEET:
        raise InputError(
            f"{table}: cannot read spreadsheet {path.name!r}; read it with "
            "pd.read_excel(path, dtype={<id column>: str}) and pass the DataFrame, "
            "or save it as CSV"
        )
    sep = _sniff_delimiter(path)
    kw: dict[str, Any] = {"sep": sep} if sep is not None else {"sep": None, "engine": "python"}
    dtypes = {c: str for c in str_columns if c}
    count_names = [c for c in _header(path, kw) if counts and counts(c.strip())] if counts else []
    dtypes.update({c: str for c in count_names if c not in dtypes})
    if thousands:
        kw.update(thousands=thousands, decimal="," if thousands == "." else ".")
    for enc in ("utf-8-sig", "latin-1"):
        try:
            df = pd.read_csv(path, dtype=dtypes, encoding=enc, **kw)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as err:
            raise InputError(f"{table}: file {path.name!r} is empty (no header line, no rows); check that the "
                             "export or download completed") from err
        except (pd.errors.ParserError, OSError, EOFError) as err:  # ragged rows, a broken archive
            raise InputError(f"{table}: cannot read {path.name!r} as a delimited text file: "
                             f"{' '.join(str(err).split())}; fix the file or save it again as CSV") from err
    else:  # pragma: no cover - latin-1 decodes every byte
        raise InputError(f"{table}: cannot decode {path.name!r} as UTF-8 or Latin-1")
    df.columns = [str(c).strip() for c in df.columns]
    count_names = [c.strip() for c in count_names if c not in str_columns]
    df = parse_counts(df, count_names, table=table, sep=sep, thousands=thousands)
    if sep == ";":
        df = _decimal_comma(df, skip=list(str_columns) + count_names)
    return df


def _refuse_ssb_symbols(df: pd.DataFrame, columns: Sequence[str], *, table: str, from_file: bool,
                        advice: str) -> None:
    """Raise naming the cells that hold SSB's symbols (``..``, ``:``...) instead of numbers.

    Only when symbols are the sole non-numbers: other text is left to the general check.
    """
    problems, seen = [], set()
    for c in columns:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            continue
        text = col.astype("string").str.strip()
        hit = text.isin(list(_SSB_SYMBOLS)).fillna(False).to_numpy(dtype=bool)
        bad = pd.to_numeric(col, errors="coerce").isna().to_numpy() & col.notna().to_numpy()
        if (bad & ~hit).any():
            return  # other text too: the general message lists every non-numeric value
        if hit.any():
            pos = np.flatnonzero(hit)
            seen.update(text.iloc[pos])
            problems.append(f"column {c!r}: {len(pos)} cell(s) "
                            f"{val.format_in_order(text.iloc[pos[:val.LIMIT]].tolist(), total=len(pos))} "
                            f"in row(s) {val.format_in_order(df.index[pos])}")
    if problems:
        meaning = ", ".join(f"{s!r} {_SSB_SYMBOLS[s]}" for s in sorted(seen))
        raise InputError(
            f"table {table!r} has SSB symbols instead of numbers: {'; '.join(problems)}"
            + (" (rows are data rows from 0: file line = row + 2)" if from_file else "")
            + f". Statistics Norway writes them for missing or confidential cells ({meaning}); {advice}"
        )


def _years(values: pd.Series, *, table: str, column: str, index: pd.Index) -> np.ndarray:
    """Whole-number years as int64, with errors naming the rows."""
    frame = pd.DataFrame({column: values.to_numpy()}, index=index)
    val.require_no_missing(frame, [column], table=table)
    val.require_numeric(frame, [column], table=table)
    num = pd.to_numeric(frame[column])
    frac = (num % 1 != 0).to_numpy()
    if frac.any():
        pos = np.flatnonzero(frac)
        raise InputError(
            f"table {table!r} column {column!r} has {len(pos)} year(s) that are not whole numbers "
            f"{val.format_in_order(num.iloc[pos[:10]].tolist(), total=len(pos))} "
            f"in row(s) {val.format_in_order(index[pos])}; "
            "years must be integers such as 2017"
        )
    return num.to_numpy().astype(np.int64)


# ------------------------------------------------------------------------- polygons
def _polygonal_part(g: Any) -> Any:
    """Keep the polygonal part of a repaired geometry (collections reduced to polygons)."""
    if g is None or g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _repair(gdf: gpd.GeoDataFrame, accounting: Accounting | None) -> gpd.GeoDataFrame:
    """Repair invalid geometries with ``make_valid`` keeping their polygonal parts; warn."""
    bad = ~gdf.geometry.is_valid.to_numpy()
    if not bad.any():
        return gdf
    fixed = [_polygonal_part(g) for g in shapely.make_valid(gdf.geometry.to_numpy()[bad])]
    ids = list(gdf.index[bad])
    lost = [i for i, g in zip(ids, fixed) if g is None or g.is_empty]
    if lost:
        raise InputError(
            f"polygons: {len(lost)} invalid geometr{'y has' if len(lost) == 1 else 'ies have'} "
            f"no area left after make_valid (degenerate rings): {format_ids(lost)}; "
            "fix or remove these units' geometries"
        )
    geoms = gdf.geometry.to_numpy().copy()
    geoms[bad] = fixed
    out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    n = len(ids)
    msg = (
        f"{n} invalid geometr{'y was' if n == 1 else 'ies were'} repaired with make_valid "
        f"(polygonal parts kept): {format_ids(ids)}"
    )
    warnings.warn(msg, InvalidGeometryWarning, stacklevel=3)
    if accounting is not None:
        accounting.note("polygons", msg)
    return out


def read_polygons(
    path: str | os.PathLike | gpd.GeoDataFrame,
    *,
    id_column: str,
    name_column: str | None = None,
    layer: str | int | None = None,
    crs: Any = None,
    id_width: int | None = None,
    accounting: Accounting | None = None,
) -> gpd.GeoDataFrame:
    """Read unit polygons from any format geopandas reads.

    Parameters
    ----------
    path : str, path-like or GeoDataFrame
        GeoJSON, shapefile, GeoPackage, ... (read with :func:`geopandas.read_file`),
        or GeoParquet (suffix ``.parquet``, read with :func:`geopandas.read_parquet`),
        or a GeoDataFrame (not modified).
    id_column : str
        Column with the unit ids (e.g. ``"kommunenummer"``).
    name_column : str, optional
        Column with the unit names; default: the ids.
    layer : str or int, optional
        Layer of a multi-layer file (GeoPackage).
    crs : optional
        CRS to *set* when the file has none (anything :class:`pyproj.CRS` accepts,
        e.g. ``"EPSG:25833"``).  It does not reproject: to change the CRS, call
        ``.to_crs(...)`` on the result.  Passing a CRS that differs from the file's
        is an error.
    id_width : int, optional
        Zero-pad the ids to this width, for formats that store them as integers
        (a shapefile with ``301`` for Oslo: ``id_width=4`` gives ``"0301"``).
    accounting : Accounting, optional
        Receives the rows read and a note on repaired geometries (table ``"polygons"``).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by ``unit`` (str), with the column ``name`` and the geometry, in the
        file's CRS (geoattr's distance-based tools want a projected CRS in metres, e.g.
        ``.to_crs("EPSG:25833")`` for Norway).

    Raises
    ------
    InputError
        Missing columns, no CRS and no ``crs=``, a ``crs=`` that contradicts the file,
        coordinates that do not fit the CRS (degrees declared as EPSG:25833, metres as
        EPSG:4326; see :func:`geoattr.io.crs.check_coordinates`),
        missing ids, duplicate ids (merge them with ``dissolve``), empty or missing
        geometries, geometries that are not polygons, or invalid geometries that
        have no area left after repair.

    Warns
    -----
    InvalidGeometryWarning
        When invalid geometries (e.g. self-intersections) were repaired with
        :func:`shapely.make_valid`, keeping the polygonal parts; the warning counts
        them and names up to 10 ids.

    Examples
    --------
    >>> gdf = read_polygons("kommuner_2020.geojson", id_column="kommunenummer",
    ...                     name_column="kommunenavn")  # doctest: +SKIP
    """
    if isinstance(path, gpd.GeoDataFrame):
        gdf = path
    elif isinstance(path, pd.DataFrame):
        raise TypeError(
            "read_polygons: a DataFrame without geometry was given; "
            "pass a GeoDataFrame or a file path"
        )
    else:
        p = _as_path(path, table="polygons")
        try:
            gdf = gpd.read_parquet(p) if p.suffix.lower() in _PARQUET else gpd.read_file(p, layer=layer)
        except (RuntimeError, OSError, ValueError) as err:  # pyogrio/fiona: unreadable, not a format
            raise InputError(
                f"polygons: cannot read {p.name!r} ({' '.join(str(err).split())[:300]}); check that "
                "the file is complete and in a format GDAL reads (GeoPackage, GeoJSON, shapefile, GeoParquet)"
                + (f" and that it has the layer {layer!r}" if layer is not None else "")
            ) from err
        if len(gdf) == 0:
            raise InputError(f"polygons: {p.name!r} has no features" + (f" in layer {layer!r}" if layer else "")
                             + "; check the file (and pass layer= for a multi-layer file)")
    cols = [id_column] + ([name_column] if name_column else [])
    val.require_columns(
        gdf,
        cols,
        table="polygons",
        hint="pass id_column= (and name_column=) naming the id (and name) column",
    )
    if crs is not None:
        try:
            pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as err:
            raise InputError(f"polygons: crs={crs!r} is not a CRS pyproj knows ({err}); give an authority code "
                             "such as 'EPSG:25833'") from err
    if gdf.crs is None:
        if crs is None:
            raise InputError(
                "the polygons have no CRS; pass crs= (e.g. crs='EPSG:25833') to set the CRS "
                "the coordinates are in (in a run configuration: [data] polygons = { path = ..., "
                "crs = \"EPSG:25833\" })"
            )
        gdf = gdf.set_crs(crs)
    elif crs is not None and not gdf.crs.equals(
        pyproj.CRS.from_user_input(crs), ignore_axis_order=True
    ):
        raise InputError(
            f"the polygons already have the CRS {gdf.crs.to_string()!r} but crs={crs!r} was "
            "passed; crs= only sets a missing CRS: drop it, and reproject the result with "
            f".to_crs({crs!r}) if that is what you want"
        )
    check_coordinates(gdf)
    ids = val.normalise_ids(gdf[id_column], name=f"polygons column {id_column!r}", width=id_width)
    index = pd.Index(ids.to_numpy(), dtype=object, name="unit")
    dup = index[index.duplicated(keep=False)].unique()
    if len(dup):
        raise InputError(
            f"polygons: {len(dup)} id(s) appear on more than one row: {format_ids(dup)}; "
            "merge each unit's parts into one (multi)polygon first, e.g. "
            f"read_polygons(gpd.read_file(path).dissolve(by={id_column!r}, "
            f"as_index=False), id_column={id_column!r})"
        )
    names = gdf[name_column].to_numpy() if name_column else ids.to_numpy()
    out = gpd.GeoDataFrame(
        {"name": names}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs, index=index
    )
    geom = out.geometry
    empty = out.index[(geom.isna() | geom.is_empty).to_numpy()]
    if len(empty):
        raise InputError(
            f"polygons: {len(empty)} unit(s) have an empty or missing geometry: "
            f"{format_ids(empty)}; "
            "supply their geometry or remove these units"
        )
    types = geom.geom_type
    wrong = ~types.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if wrong.any():
        kinds = ", ".join(sorted(set(types[wrong])))
        raise InputError(
            f"polygons: {int(wrong.sum())} unit(s) have geometries that are not polygons "
            f"({kinds}): "
            f"{format_ids(out.index[wrong])}; units need (multi)polygon boundaries"
        )
    if accounting is not None:
        accounting.record("polygons", read=len(out))
    return _repair(out, accounting)


# ---------------------------------------------------------------------------- flows
def read_flows(
    path_or_frame: PathOrFrame,
    *,
    origin: str = "origin",
    destination: str = "destination",
    value: str = "count",
    year: str | None = "year",
    year_value: int | None = None,
    id_width: int | None = None,
    drop_zero: bool = False,
    thousands: str | None = None,
    whole_counts: bool = True,
    accounting: Accounting | None = None,
) -> pd.DataFrame:
    """Read a long origin-destination (commuting) table.

    Parameters
    ----------
    path_or_frame : str, path-like or DataFrame
        CSV (``,`` or ``;``, ``.csv.gz``), Parquet, or a DataFrame (not modified).
    origin, destination, value : str
        Source column names of the residence id, the workplace id and the count
        (SSB table 03321: ``origin="bosted", destination="arbeidssted",
        value="sysselsatte"``).  Id columns are read as text, so ``"0301"`` keeps
        its zero.
    year : str or None, default "year"
        Year column.  For a table without one, pass ``year=None`` and ``year_value=``.
    year_value : int, optional
        The year of a single-year table without a year column.
    id_width : int, optional
        Zero-pad the ids to this width (for files that store them as numbers).
    drop_zero : bool, default False
        Drop rows with a zero count; how many is recorded in ``accounting``
        (reason ``"zero count"``).  Zero and absent flows mean the same to the
        weights builders.
    thousands : str, optional
        The thousands separator of the counts (``"."`` for ``1.234``, which also makes
        ``,`` the decimal mark; ``","`` for ``1,234``).  Without it a count written
        ``1.234`` in a ``;``-separated file is refused rather than read as 1.234.
    whole_counts : bool, default True
        Refuse counts that are not whole numbers (commuters are persons), naming the
        rows; pass False for estimated flows (e.g. shares of a split unit).
    accounting : Accounting, optional
        Receives rows read and dropped (table ``"flows"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``year`` (int), ``origin``, ``destination`` (str), ``count``
        (number >= 0) on a fresh ``RangeIndex``, in the file's row order.

    Raises
    ------
    InputError
        Missing columns (the hint names the keyword to pass), no year, missing or
        non-numeric, infinite, huge or negative counts, counts that look like thousands
        written with a ``.`` separator, non-integer years, missing ids, or duplicate
        ``(year, origin, destination)`` rows, each naming the rows.

    Examples
    --------
    >>> f = read_flows("pendling_03321_2017_2022.csv.gz", origin="bosted",
    ...                destination="arbeidssted", value="sysselsatte")  # doctest: +SKIP
    """
    raw = _read_table(path_or_frame, str_columns=[origin, destination], table="flows",
                      counts=lambda name: name == value, thousands=thousands)
    keyword = {origin: "origin", destination: "destination", value: "value"}
    missing = [c for c in (origin, destination, value) if c not in raw.columns]
    val.require_columns(
        raw,
        [origin, destination, value],
        table="flows",
        hint="name the table's columns with "
        + ", ".join(f"{keyword[c]}='<column>'" for c in missing)
        + (
            " (SSB 03321: origin='bosted', destination='arbeidssted', value='sysselsatte')"
            if missing
            else ""
        ),
    )
    if year_value is not None:
        if year is not None and year in raw.columns:
            raise InputError(
                f"the flows have a year column {year!r} and year_value={year_value!r} "
                "was passed too; "
                f"pass year=None to use year_value, or leave out year_value"
            )
        years: Any = int(year_value)
    elif year is None:
        raise InputError(
            "the flows need a year: pass year='<column>' or year=None with year_value=<year>"
        )
    else:
        val.require_columns(
            raw,
            [year],
            table="flows",
            hint="pass year='<column>', or year=None with year_value=<year> for a one-year table",
        )
        years = _years(raw[year], table="flows", column=year, index=raw.index)
    _refuse_ssb_symbols(raw, [value], table="flows", from_file=not isinstance(path_or_frame, pd.DataFrame),
                        advice="remove those rows (an absent flow counts as zero) or fill them with known counts")
    val.require_no_missing(raw, [value], table="flows")
    val.require_numeric(raw, [value], table="flows")
    counts = pd.to_numeric(raw[value])
    val.require_finite(counts.to_frame(value), [value], table="flows",
                       hint="Fix these counts in the file (commuters are persons), or remove these rows.")
    val.require_nonnegative(counts.to_frame(value), [value], table="flows")
    if whole_counts:
        val.require_whole(counts.to_frame(value), [value], table="flows",
                          hint="Commuters are persons: if '.' or ',' separates thousands in the file pass "
                               "thousands=; pass whole_counts=False if the flows are estimates.")
    df = pd.DataFrame(
        {
            "year": np.broadcast_to(np.asarray(years, dtype=np.int64), len(raw)).copy(),
            "origin": val.normalise_ids(
                raw[origin], name=f"flows column {origin!r}", width=id_width
            ).to_numpy(),
            "destination": val.normalise_ids(
                raw[destination], name=f"flows column {destination!r}", width=id_width
            ).to_numpy(),
            "count": counts.to_numpy(),
        },
        index=raw.index,
    )
    val.require_unique(df, ["year", "origin", "destination"], table="flows")
    n = len(df)
    dropped: dict[str, int] = {}
    if drop_zero:
        zero = (df["count"] == 0).to_numpy()
        dropped["zero count"] = int(zero.sum())
        df = df[~zero]
    if accounting is not None:
        accounting.record("flows", read=n, dropped=dropped)
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------- panel
def read_panel(
    path_or_frame: PathOrFrame,
    *,
    unit: str = "unit",
    year: str = "year",
    columns: Mapping[str, str] | Sequence[str] | None = None,
    id_width: int | None = None,
    thousands: str | None = None,
    whole_counts: bool = True,
    accounting: Accounting | None = None,
) -> pd.DataFrame:
    """Read a long panel (one row per unit and year) onto a ``(unit, year)`` index.

    Ids become strings (zero-padded with ``id_width``), years whole numbers, and the
    value columns numbers checked for the errors of hand-made files (listed under
    Raises); nothing is dropped.

    Parameters
    ----------
    path_or_frame : str, path-like or DataFrame
        CSV, Parquet, or a DataFrame with ``unit`` and ``year`` columns (not modified).
    unit, year : str
        Source names of the id and year columns.
    columns : mapping or sequence of str, optional
        Value columns to keep; a mapping also renames them, source -> canonical
        (``{"folketall": "population", "arbeidsplasser": "jobs"}``).  Default: every
        other column (which must then all be numeric).
    id_width : int, optional
        Zero-pad the ids to this width.
    thousands : str, optional
        The thousands separator of the file's numbers (``"."`` for ``560.000``, which
        also makes ``,`` the decimal mark; ``","`` for ``560,000``).  Without it a count
        written ``560.000`` in a ``;``-separated file is refused rather than read as 560.
    whole_counts : bool, default True
        Refuse counts of persons (population, jobs, births, deaths, employed residents,
        net migration and its subgroup columns) that are not whole numbers; pass False
        for estimated counts (e.g. shares of a split unit).
    accounting : Accounting, optional
        Receives the rows read (table ``"panel"``) and a note counting missing values.

    Returns
    -------
    pandas.DataFrame
        Numeric value columns on a MultiIndex ``(unit: str, year: int)``, sorted.
        Missing values are kept (the model layer decides what to do with them).

    Raises
    ------
    InputError
        Missing columns, missing ids or years, non-integer years, non-numeric value
        columns (naming columns and rows), infinite or huge values, negative counts,
        counts of persons that are not whole numbers or that look like thousands
        written with a ``.`` separator, or duplicate ``(unit, year)`` rows.

    Examples
    --------
    >>> panel = read_panel("kommune_panel_2003_2016.csv", unit="kommunenummer",
    ...                    columns={"folketall": "population",
    ...                             "arbeidsplasser": "jobs"})  # doctest: +SKIP
    """
    chosen = None if columns is None else ({columns: columns} if isinstance(columns, str) else (
        dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}))

    def is_count(name: str) -> bool:
        if name in (unit, year) or (chosen is not None and name not in chosen):
            return False
        return val.is_person_count(chosen.get(name, name) if chosen else name)

    raw = _read_table(path_or_frame, str_columns=[unit], table="panel", counts=is_count, thousands=thousands)
    val.require_columns(
        raw, [unit, year], table="panel", hint="name the id and year columns with unit= and year="
    )
    if columns is None:
        mapping = {c: c for c in raw.columns if c not in (unit, year)}
    elif isinstance(columns, Mapping):
        mapping = dict(columns)
    elif isinstance(columns, str):
        mapping = {columns: columns}
    else:
        mapping = {c: c for c in columns}
    val.require_columns(raw, list(mapping), table="panel", hint="check the names given in columns=")
    targets = list(mapping.values())
    clash = sorted(
        {t for t in targets if targets.count(t) > 1} | ({unit, year, "unit", "year"} & set(targets))
    )
    if clash:
        raise InputError(
            f"panel: columns= gives the name(s) {format_ids(clash)} to more than one column or to "
            f"the id/year columns; give each value column its own name"
        )
    df = raw[list(mapping)].rename(columns=mapping)
    _refuse_ssb_symbols(
        df, list(df.columns), table="panel", from_file=not isinstance(path_or_frame, pd.DataFrame),
        advice="replace them with empty cells (or read the file with pd.read_csv(..., na_values=['..', ':']) and "
        "pass the DataFrame), then set [model] on_missing = 'drop' (estimate(..., on_missing='drop')) to drop "
        "those unit-years, counted in run.json, or fill them with known values")
    try:
        val.require_numeric(df, list(df.columns), table="panel")
    except InputError as err:
        if columns is None:
            raise InputError(
                f"{err} Or choose the value columns with columns=[...] (default: every column "
                f"but {unit!r} and {year!r})"
            ) from None
        raise
    df = df.apply(pd.to_numeric)
    _check_panel_values(df, whole_counts=whole_counts)
    years = _years(raw[year], table="panel", column=year, index=raw.index)
    ids = val.normalise_ids(raw[unit], name=f"panel column {unit!r}", width=id_width)
    df.index = pd.MultiIndex.from_arrays(
        [pd.Index(ids.to_numpy(), dtype=object), years], names=["unit", "year"]
    )
    val.require_unique(df, None, table="panel")
    if accounting is not None:
        n_missing = df.isna().sum()
        n_missing = n_missing[n_missing > 0]
        note = (
            "missing values kept: " + ", ".join(f"{c} {int(n)}" for c, n in n_missing.items())
            if len(n_missing)
            else None
        )
        accounting.record("panel", read=len(df), note=note)
    return df.sort_index()


def _check_panel_values(df: pd.DataFrame, *, whole_counts: bool) -> None:
    """Finite values, counts >= 0, and whole counts of persons, naming the file rows."""
    val.require_finite(df, list(df.columns), table="panel",
                       hint="Fix these values in the file, or leave the cells empty (missing).")
    val.require_nonnegative(df, [c for c in df.columns if c in val.COUNT_COLUMNS], table="panel")
    if whole_counts:
        val.require_whole(
            df, [c for c in df.columns if val.is_person_count(c)], table="panel",
            hint="Counts of persons are whole numbers: if '.' or ',' separates thousands in the file "
            "(1.500 or 1,500 for fifteen hundred), pass thousands='.' or thousands=',' (run "
            "configuration: thousands = \".\" in the panel's entry); otherwise fix these values, or pass "
            "whole_counts=False if they are estimates (shares of a split unit).",
        )


# ------------------------------------------------------------------ mapping, series
def read_mapping(
    path_or_frame: PathOrFrame,
    *,
    key: str,
    value: str,
    id_width: int | None = None,
    name: str = "region",
) -> pd.Series:
    """Read a unit -> group mapping (e.g. municipality -> commuting region).

    Parameters
    ----------
    path_or_frame : str, path-like or DataFrame
    key, value : str
        Source names of the unit id column and the group column; both are read as
        text (``"005"`` stays ``"005"``).
    id_width : int, optional
        Zero-pad the unit ids (not the group ids) to this width.
    name : str, default "region"
        Name of the returned Series (and of the table in messages).

    Returns
    -------
    pandas.Series
        Group ids (str) indexed by ``unit`` (str).  Rows repeating the same pair are
        kept once.

    Raises
    ------
    InputError
        Missing columns, missing ids or groups, or a unit listed with two different
        groups (naming the units and their groups).
    """
    raw = _read_table(path_or_frame, str_columns=[key, value], table=name)
    val.require_columns(raw, [key, value], table=name, hint="name the columns with key= and value=")
    k = val.normalise_ids(raw[key], name=f"{name} column {key!r}", width=id_width)
    v = val.normalise_ids(raw[value], name=f"{name} column {value!r}")
    df = pd.DataFrame({"k": k.to_numpy(), "v": v.to_numpy()}).drop_duplicates()
    conflict = df[df["k"].duplicated(keep=False)]
    if len(conflict):
        groups = conflict.groupby("k", sort=True)["v"].agg(lambda s: "/".join(sorted(s)))
        shown = ", ".join(f"{k!r} -> {g}" for k, g in list(groups.items())[:10])
        more = f" and {len(groups) - 10} more" if len(groups) > 10 else ""
        raise InputError(
            f"{name}: {len(groups)} key(s) map to more than one value: {shown}{more}; "
            f"each {key!r} must belong to exactly one {value!r}"
        )
    return pd.Series(
        df["v"].to_numpy(),
        index=pd.Index(df["k"].to_numpy(), dtype=object, name="unit"),
        name=name,
        dtype=object,
    )


def read_series(
    path_or_frame: PathOrFrame, *, key: str, value: str, id_width: int | None = None, name: str
) -> pd.Series:
    """Read one numeric value per unit (e.g. SSB's centrality index).

    Parameters
    ----------
    path_or_frame : str, path-like or DataFrame
    key, value : str
        Source names of the unit id column and the value column.
    id_width : int, optional
        Zero-pad the ids to this width.
    name : str
        Name of the returned Series (and of the table in messages).

    Returns
    -------
    pandas.Series
        Float or integer values indexed by ``unit`` (str), in the file's order.

    Raises
    ------
    InputError
        Missing columns, missing ids, missing or non-numeric values, duplicate ids.
    """
    raw = _read_table(path_or_frame, str_columns=[key], table=name)
    val.require_columns(raw, [key, value], table=name, hint="name the columns with key= and value=")
    _refuse_ssb_symbols(raw, [value], table=name, from_file=not isinstance(path_or_frame, pd.DataFrame),
                        advice="fill those units' values or remove their rows")
    val.require_no_missing(raw, [value], table=name)
    val.require_numeric(raw, [value], table=name)
    ids = val.normalise_ids(raw[key], name=f"{name} column {key!r}", width=id_width)
    s = pd.Series(
        pd.to_numeric(raw[value]).to_numpy(),
        index=pd.Index(ids.to_numpy(), dtype=object, name="unit"),
        name=name,
    )
    val.require_unique(s.index, None, table=name)
    return s
