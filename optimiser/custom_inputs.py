"""Scenarios that bring their own zones and travel matrix instead of a dataset: the classical
p-median (open exactly p sites, assign every zone, minimise weighted travel alone, no capacity
or cost), which is how the model is checked against published optima.

``inputs.travel_file``: a CSV travel matrix, long (zone_code, site_id, minutes) or wide (first
column zone codes, one column per site), or an OR-Library pmed file (``n m p`` graph).
``inputs.zones_file`` (optional): zone_code, demand [, population_65_plus] — the weights.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.errors import InputError, ScenarioError
from optimiser.instance import Instance, SolverSettings
from optimiser.orlib import read_pmed


def _is_orlib(path: Path) -> bool:
    if path.suffix.lower() != ".txt":
        return False
    with open(path, encoding="ascii", errors="replace") as fh:
        first = fh.readline().split()
    return len(first) == 3 and all(t.isdigit() for t in first)


@dataclass(frozen=True)
class TravelMatrix:
    """Minutes from each zone (rows) to each site (columns)."""

    zone_ids: np.ndarray     # object
    site_ids: np.ndarray     # object
    minutes: np.ndarray      # (zones, sites) float64

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.minutes, index=pd.Index(self.zone_ids, name="zone_code"),
                            columns=pd.Index(self.site_ids, name="site_id"))


def _header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError:
        raise InputError("not a readable CSV (UnicodeDecodeError)", file=path) from None
    if not first.strip():
        raise InputError("no rows", file=path)
    return next(csv.reader([first]))


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kw)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({type(exc).__name__})", file=path) from None
    except pd.errors.EmptyDataError:
        raise InputError("no rows", file=path) from None


def _raw_cell(path: Path, row: int, column: str):
    """The text of one cell (``row`` 0-based among the data rows), read again as text: only
    when reporting a bad value."""
    raw = _read_csv(path, dtype=str, keep_default_na=False, usecols=[column], skiprows=range(1, row + 1),
                    nrows=1)
    return raw[column].iat[0] if len(raw) else ""


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    """Columns as float64 (NaN where a cell is not a number)."""
    if all(frame[c].dtype.kind in "fiu" for c in frame.columns):
        return frame.to_numpy(np.float64)
    return frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)


def _sorted_codes(rows: np.ndarray, distinct) -> tuple[np.ndarray, np.ndarray]:
    """Row codes re-numbered so that the distinct codes, with surrounding spaces dropped, come
    out sorted; the text work is done once per distinct code, not once per row."""
    codes, uniques = pd.factorize(pd.Index(distinct, dtype=object).str.strip(), sort=True)
    return codes[rows], np.asarray(uniques, object)


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return _sorted_codes(*pd.factorize(column))


def _arrow_table(path: Path, header: list[str], types: dict):
    """The file through pyarrow's multi-threaded CSV reader, or ``None`` when pyarrow is
    missing or a cell does not convert (the pandas reader then finds and names it)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow comes with streamlit
        return None
    try:
        return pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
                              convert_options=pacsv.ConvertOptions(
                                  include_columns=list(types), column_types=types, strings_can_be_null=False,
                                  null_values=[""], quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None


def _arrow_codes(column) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column.combine_chunks())
    return _sorted_codes(encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist())


def _long_columns(path: Path, header: list[str], zc: str, sc: str, mc: str):
    """(zone row codes, zones, site row codes, sites, minutes) of a long file."""
    try:
        import pyarrow as pa

        table = _arrow_table(path, header, {zc: pa.string(), sc: pa.string(), mc: pa.float64()})
    except ImportError:  # pragma: no cover - pyarrow comes with streamlit
        table = None
    if table is not None and table.num_rows:
        minutes = table.column(mc).to_numpy().astype(np.float64)    # empty cells are NaN
        return (*_arrow_codes(table.column(zc)), *_arrow_codes(table.column(sc)), minutes)
    raw = _read_csv(path, usecols=[zc, sc, mc], dtype={zc: str, sc: str}, keep_default_na=False,
                    na_values={mc: [""]}, low_memory=False)
    if raw.empty:
        raise InputError("no rows", file=path)
    return (*_codes(raw[zc]), *_codes(raw[sc]), _numbers(raw[[mc]])[:, 0])


def _read_long(path: Path, header: list[str], names: dict[str, str]) -> TravelMatrix:
    zc, sc, mc = names["zone_code"], names["site_id"], names["minutes"]
    zone_codes, zones, site_codes, sites, minutes = _long_columns(path, header, zc, sc, mc)
    bad = ~(minutes >= 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"travel time {_raw_cell(path, k, mc)!r} is not a number of minutes >= 0", file=path,
                         row=k + 2, column="minutes")
    n_z, n_s = len(zones), len(sites)
    key = zone_codes.astype(np.int64) * n_s + site_codes
    count = np.bincount(key, minlength=n_z * n_s)
    if (count > 1).any():
        order = np.argsort(key, kind="stable")
        repeat = order[1:][key[order][1:] == key[order][:-1]]
        k = int(repeat.min())
        raise InputError(f"pair {zones[zone_codes[k]]} -> {sites[site_codes[k]]} appears twice", file=path,
                         row=k + 2, column="zone_code")
    if (count == 0).any():
        z, s = divmod(int(np.flatnonzero(count == 0)[0]), n_s)
        raise InputError(f"no travel time for zone {zones[z]} to site {sites[s]}", file=path,
                         expected="every zone-site pair")
    matrix = np.empty(n_z * n_s)
    matrix[key] = minutes
    return TravelMatrix(np.asarray(zones, object), np.asarray(sites, object), matrix.reshape(n_z, n_s))


def _read_wide(path: Path, header: list[str]) -> TravelMatrix:
    if len(header) < 2:
        raise InputError("expected columns zone_code, site_id, minutes (long) or zone codes then one "
                         "column per site (wide)", file=path, column=header[0])
    seen: dict[str, int] = {}
    for k, name in enumerate(header):
        if name in seen:
            raise InputError(f"column {name!r} appears twice (columns {seen[name] + 1} and {k + 1})", file=path,
                             column=name)
        seen[name] = k
    first = header[0]
    try:
        import pyarrow as pa

        table = _arrow_table(path, header, {first: pa.string(), **{c: pa.float64() for c in header[1:]}})
    except ImportError:  # pragma: no cover
        table = None
    if table is not None and table.num_rows:
        matrix = np.column_stack([table.column(c).to_numpy().astype(np.float64) for c in header[1:]])
        raw = pd.DataFrame({first: table.column(first).to_pylist()})
    else:
        raw = _read_csv(path, dtype={first: str}, keep_default_na=False, na_values={c: [""] for c in header[1:]},
                        low_memory=False)
        if raw.empty:
            raise InputError("no rows", file=path)
        matrix = _numbers(raw[header[1:]])
    bad = ~(matrix >= 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"travel time {_raw_cell(path, int(r), header[c + 1])!r} is not a number of minutes >= 0",
                         file=path, row=int(r) + 2, column=str(header[c + 1]))
    zones = raw[first].str.strip().to_numpy(object)
    dup = pd.Index(zones).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        raise InputError(f"zone {zones[k]} appears twice", file=path, row=k + 2, column=first)
    return TravelMatrix(zones, np.asarray([h.strip() for h in header[1:]], object), np.ascontiguousarray(matrix))


def read_travel(path: Path) -> TravelMatrix:
    """Zones x sites minutes from a long (zone_code, site_id, minutes) or wide (zone codes,
    then one column per site) CSV, read once (pyarrow's multi-threaded reader; pandas where a
    cell does not convert, to name it) and checked with whole-column operations (time linear
    in the file). Errors name the file, row and column. A long file's zones and sites
    come out sorted by code; a wide file keeps its own order."""
    path = Path(path)
    if not path.exists():
        raise InputError("travel file not found", file=path)
    header = _header(path)
    names = {c.strip().lower(): c for c in header}
    if {"zone_code", "site_id", "minutes"} <= set(names):
        return _read_long(path, header, names)
    return _read_wide(path, header)


def read_zones(path: Path, zone_codes) -> np.ndarray:
    """Demand weight of each zone in ``zone_codes`` order (whole-column operations: linear)."""
    path = Path(path)
    if not path.exists():
        raise InputError("zones file not found", file=path)
    header = _header(path)
    cols = {c.strip().lower(): c for c in header}
    for need in ("zone_code", "demand"):
        if need not in cols:
            raise InputError(f"missing column '{need}'", file=path, column=need,
                             expected="zone_code, demand [, population_65_plus]")
    raw = _read_csv(path, usecols=[cols["zone_code"], cols["demand"]], dtype=str, keep_default_na=False)
    demand = pd.to_numeric(raw[cols["demand"]], errors="coerce").to_numpy(np.float64)
    bad = ~(demand >= 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"demand {raw[cols['demand']].iat[k]!r} is not a number >= 0", file=path, row=k + 2,
                         column="demand")
    codes = raw[cols["zone_code"]].str.strip()
    index = pd.Index(codes)
    if index.has_duplicates:
        k = int(np.flatnonzero(index.duplicated())[0])
        raise InputError(f"zone {codes.iat[k]} appears twice", file=path, row=k + 2, column="zone_code")
    wanted = pd.Index(np.asarray(zone_codes, object))
    where = index.get_indexer(wanted)
    if (where < 0).any():
        raise InputError(f"zone {wanted[int(np.flatnonzero(where < 0)[0])]} of the travel matrix has no demand row",
                         file=path, column="zone_code")
    unknown = wanted.get_indexer(index) < 0
    if unknown.any():
        k = int(np.flatnonzero(unknown)[0])
        raise InputError(f"zone {codes.iat[k]} is not in the travel matrix", file=path, row=k + 2,
                         column="zone_code")
    return demand[where]


def instance_from_custom_inputs(scenario, dataset=None) -> Instance:
    if scenario.mode != "p_median":
        raise ScenarioError("custom zone and travel files drive the classical p-median (mode: p_median); "
                            "for the full bed model import a dataset instead (python -m optimiser data import)",
                            key="mode")
    if not scenario.inputs.travel_file:
        raise ScenarioError("the p-median needs a travel matrix", key="inputs.travel_file")
    tpath = scenario.resolve_path(scenario.inputs.travel_file)
    sv = scenario.solver
    solver = SolverSettings.of(sv)
    p = scenario.open_sites.exactly
    if tpath.exists() and _is_orlib(tpath):
        dist, _ = read_pmed(tpath)
        ids = np.array([str(i + 1) for i in range(len(dist))], object)
        weights = read_zones(scenario.resolve_path(scenario.inputs.zones_file), ids) if scenario.inputs.zones_file \
            else np.ones(len(dist))
        return Instance.p_median(dist, p, weights, name=scenario.name, zone_ids=ids, site_ids=ids, solver=solver)
    travel = read_travel(Path(tpath))
    zone_ids, site_ids, minutes = travel.zone_ids, travel.site_ids, travel.minutes
    if scenario.inputs.sites_file:
        spath = scenario.resolve_path(scenario.inputs.sites_file)
        if not spath.exists():
            raise InputError("sites file not found", file=spath)
        sites = _read_csv(spath, dtype=str, keep_default_na=False)
        if "site_id" not in [c.strip().lower() for c in sites.columns]:
            raise InputError("missing column 'site_id'", file=spath, column="site_id")
        keep = sites[[c for c in sites.columns if c.strip().lower() == "site_id"][0]].str.strip().to_numpy(object)
        where = pd.Index(site_ids).get_indexer(keep)
        if (where < 0).any():
            k = int(np.flatnonzero(where < 0)[0])
            raise InputError(f"site {keep[k]} is not in the travel matrix", file=spath, row=k + 2, column="site_id")
        minutes, site_ids = minutes[:, where], site_ids[where]
    if not 1 <= p <= len(site_ids):
        raise ScenarioError(f"open_sites.exactly = {p} but there are {len(site_ids)} sites", key="open_sites.exactly")
    weights = read_zones(scenario.resolve_path(scenario.inputs.zones_file), zone_ids) if scenario.inputs.zones_file \
        else np.ones(len(zone_ids))
    return Instance.p_median(minutes, p, weights, name=scenario.name, zone_ids=zone_ids,
                             site_ids=site_ids, solver=solver)
