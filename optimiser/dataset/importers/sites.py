"""Hospital sites: ids, locations, beds and estate limits, and what is copied from another dataset."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from optimiser.dataset.core import BEDS_PREFIX, CRS, PROVENANCE_COLUMNS, Dataset
from optimiser.dataset.importers.columns import (
    CAN_ADD_BEDS,
    EASTING,
    LAT,
    LON,
    MAX_BEDS,
    NORTHING,
    ODS_CODE,
    POSTCODE,
    SITE_ID,
    SITE_NAME,
    SITE_TYPE,
    _missing_column,
    _require,
    _Role,
)
from optimiser.dataset.importers.constants import MAX_SITE_BEDS, USER_LICENCE, WGS84
from optimiser.dataset.importers.tables import (
    _first,
    _key,
    _numbers,
    _read_table,
    _slug,
    _Table,
    _to_number,
)
from optimiser.dataset.llr import PATHWAYS
from optimiser.errors import InputError


@dataclass
class _Sites:
    table: _Table
    frame: gpd.GeoDataFrame        # indexed by site_id
    given: list[str]               # bed and estate columns the file gave
    excluded_keys: set[str]        # loose keys of sites left out by site type
    types: str                     # which site types were kept
    # loose key -> (easting, northing) of the sites left out by type (to calibrate travel)
    excluded_points: dict[str, tuple[float, float]] = field(default_factory=dict)


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _read_sites(path, zones: gpd.GeoDataFrame, site_types) -> _Sites:
    table = _read_table(path, key=SITE_NAME)
    name_col = _require(SITE_NAME, table.headers, table.file, "sites file")
    frame, excluded, types = _filter_site_types(table, site_types)
    names = frame[name_col]
    pos = _first(names.isna())
    if pos is not None:
        row = int(frame.index[pos])
        raise InputError("no site name" + table.where(row), file=table.file, row=row,
                         column=name_col, expected="a name on every row")
    labels = "site '" + names.astype(str) + "'"
    x, y, lat, lon, location = _site_locations(table, frame, labels)
    sites = pd.DataFrame({
        "site_id": _site_ids(table, frame, names).to_numpy(),
        "site_name": names.astype(str).to_numpy(),
        "ods_code": _optional_text(frame, ODS_CODE, table.headers),
        "postcode": _optional_text(frame, POSTCODE, table.headers),
        "lat": lat, "lon": lon, "x": x, "y": y,
    }, index=frame.index)
    given = _site_beds(table, frame, labels, sites)
    points = gpd.GeoDataFrame(sites, geometry=gpd.points_from_xy(sites["x"], sites["y"]), crs=CRS)
    points = _locate_sites(table, points, zones, location)
    return _Sites(table, points.set_index("site_id"), given,
                  _excluded_keys(table, excluded, name_col), types,
                  _excluded_points(table, excluded, name_col))


def _excluded_points(table: _Table, excluded: pd.DataFrame, name_col: str) -> dict[str, tuple[float, float]]:
    """Where the sites left out by type are (where the file says), by loose key."""
    if not len(excluded):
        return {}
    headers = table.headers
    lat, lon, east, north = LAT.find(headers), LON.find(headers), EASTING.find(headers), NORTHING.find(headers)
    if lat and lon:
        la, lo = _to_number(excluded[lat]).to_numpy(float), _to_number(excluded[lon]).to_numpy(float)
        x, y = Transformer.from_crs(WGS84, CRS, always_xy=True).transform(lo, la)
    elif east and north:
        x, y = _to_number(excluded[east]).to_numpy(float), _to_number(excluded[north]).to_numpy(float)
    else:
        return {}
    cols = [c for c in (SITE_ID.find(headers), name_col, ODS_CODE.find(headers), POSTCODE.find(headers)) if c]
    points: dict[str, tuple[float, float]] = {}
    for col in cols:
        for key, px, py in zip(_key(excluded[col].fillna("")), x, y, strict=True):
            if key and np.isfinite(px) and np.isfinite(py):
                points.setdefault(key, (float(px), float(py)))
    for key, px, py in zip(_key(_slug(excluded[name_col].fillna(""))), x, y, strict=True):
        if key and np.isfinite(px) and np.isfinite(py):
            points.setdefault(key, (float(px), float(py)))
    return points


def _filter_site_types(table: _Table, site_types) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    type_col = SITE_TYPE.find(table.headers)
    if type_col is None or site_types is None:
        return table.frame, table.frame.iloc[:0], "all"
    wanted = sorted({str(t).strip().lower() for t in site_types})
    keep = table.frame[type_col].str.lower().isin(wanted)
    if not keep.any():
        present = sorted(set(table.frame[type_col].dropna()))
        raise InputError(f"no sites of type {', '.join(wanted)}", file=table.file,
                         column=type_col, expected=f"site_types among {', '.join(present)}")
    return table.frame[keep], table.frame[~keep], ", ".join(wanted)


def _excluded_keys(table: _Table, excluded: pd.DataFrame, name_col: str) -> set[str]:
    """Loose keys (id, name, slug of name, ODS code) of the sites left out by type, so that a
    travel matrix may still list them."""
    cols = [c for c in (SITE_ID.find(table.headers), name_col, ODS_CODE.find(table.headers),
                        POSTCODE.find(table.headers)) if c]
    keys = [_key(excluded[c].dropna()) for c in cols] + [_key(_slug(excluded[name_col].dropna()))]
    return set(pd.concat(keys)) - {""} if len(excluded) else set()


def _optional_text(frame: pd.DataFrame, role: _Role, headers) -> np.ndarray:
    col = role.find(headers)
    if col is None:
        return np.full(len(frame), "", dtype=object)
    return frame[col].fillna("").astype(str).to_numpy(dtype=object)


def _site_ids(table: _Table, frame: pd.DataFrame, names: pd.Series) -> pd.Series:
    id_col = SITE_ID.find(table.headers)
    slugs = _slug(names)
    ids = frame[id_col].fillna(slugs) if id_col else slugs
    column = id_col or str(names.name)
    pos = _first(ids == "")
    if pos is not None:
        row = int(ids.index[pos])
        raise InputError(f"site name {names.iloc[pos]!r} gives an empty site id" + table.where(row),
                         file=table.file, row=row, column=column,
                         expected="a site_id column, or names with letters or digits")
    pos = _first(ids.duplicated())
    if pos is not None:
        row = int(ids.index[pos])
        first = int(ids.index[_first(ids == ids.iloc[pos])])
        made = "" if id_col else " (made from the site name)"
        raise InputError(f"duplicate site id '{ids.iloc[pos]}'{made} for site "
                         f"'{names.iloc[pos]}' (also on row {first})" + table.where(row),
                         file=table.file, row=row, column=column, expected="each site id once")
    return ids.astype(str)


def _site_locations(table: _Table, frame: pd.DataFrame, labels: pd.Series):
    """(x, y, lat, lon) arrays from lat/lon, or else from easting/northing, and the names of
    the columns used."""
    headers = table.headers
    lat, lon = LAT.find(headers), LON.find(headers)
    east, north = EASTING.find(headers), NORTHING.find(headers)
    if lat and lon:
        values = _numbers(table, frame[[lat, lon]], labels, what="coordinate", minimum=None,
                          expected="latitude and longitude in decimal degrees")
        for column, limit in ((lat, 90), (lon, 180)):
            pos = _first(values[column].abs() > limit)
            if pos is not None:
                row = int(values.index[pos])
                raise InputError(f"{column} {values[column].iloc[pos]:g} for {labels.iloc[pos]} is not "
                                 f"between -{limit} and {limit} degrees: are these eastings and "
                                 "northings in metres? Then head the columns 'easting' and "
                                 "'northing'" + table.where(row), file=table.file, row=row,
                                 column=column, expected="latitude and longitude in decimal degrees")
        x, y = Transformer.from_crs(WGS84, CRS, always_xy=True).transform(
            values[lon].to_numpy(float), values[lat].to_numpy(float))
        return np.round(x, 1), np.round(y, 1), values[lat].to_numpy(float), \
            values[lon].to_numpy(float), f"{lat}/{lon}"
    if east and north:
        values = _numbers(table, frame[[east, north]], labels, what="coordinate", minimum=None,
                          expected="easting and northing in metres (British National Grid)")
        lon_v, lat_v = Transformer.from_crs(CRS, WGS84, always_xy=True).transform(
            values[east].to_numpy(float), values[north].to_numpy(float))
        return values[east].to_numpy(float), values[north].to_numpy(float), \
            np.round(lat_v, 6), np.round(lon_v, 6), f"{east}/{north}"
    role = LON if lat else NORTHING if east else EASTING if north else LAT
    raise _missing_column(role, headers, table.file, "sites file",
                          expected="location columns: lat and lon (latitude, longitude) or "
                                   "easting and northing (British National Grid)")


def _bed_columns(headers) -> dict[str, str]:
    """{'beds_<pathway>': header} for every current-beds column of the sites file."""
    found = {}
    for header in headers:
        if m := re.fullmatch(r"beds[\s_-]*(.+)", str(header).strip().lower()):
            pathway = re.sub(r"[^0-9a-z]+", "_", m.group(1)).strip("_")
            found.setdefault(f"{BEDS_PREFIX}{pathway}", header)
    return found


def _site_beds(table: _Table, frame: pd.DataFrame, labels: pd.Series,
               sites: pd.DataFrame) -> list[str]:
    """Add the bed and estate columns the file gives to ``sites``; return their names."""
    columns = _bed_columns(table.headers)
    max_col = MAX_BEDS.find(table.headers)
    if max_col:
        columns["max_beds"] = max_col
    if columns:
        values = _numbers(table, frame[list(columns.values())], labels, what="number of beds",
                          integer=True, maximum=MAX_SITE_BEDS,
                          expected="a whole number of beds, 0 or more")
        for name, header in columns.items():
            sites[name] = values[header].astype(int)
    add_col = CAN_ADD_BEDS.find(table.headers)
    if add_col:
        sites["can_add_beds"] = _booleans(table, frame[add_col], labels)
    if max_col:
        _check_estate(table, sites, max_col)
    return [*columns, *(["can_add_beds"] if add_col else [])]


def _booleans(table: _Table, column: pd.Series, labels: pd.Series) -> np.ndarray:
    text = column.str.lower()
    pos = _first(~text.isin(_TRUE | _FALSE))
    if pos is not None:
        row = int(column.index[pos])
        raise InputError(f"{column.iloc[pos]!r} for {labels.iloc[pos]} is not yes or no"
                         + table.where(row), file=table.file, row=row, column=str(column.name),
                         expected="true/false, yes/no or 1/0")
    return text.isin(_TRUE).to_numpy()


def _check_estate(table: _Table, sites: pd.DataFrame, max_col: str) -> None:
    beds = sites[[c for c in sites.columns if c.startswith(BEDS_PREFIX)]].sum(axis=1)
    pos = _first(beds > sites["max_beds"])
    if pos is not None:
        row = int(sites.index[pos])
        raise InputError(f"site '{sites['site_name'].iloc[pos]}' has {beds.iloc[pos]} current beds "
                         f"but max_beds {sites['max_beds'].iloc[pos]}" + table.where(row),
                         file=table.file, row=row, column=max_col,
                         expected="max_beds at least the sum of current beds")


def _locate_sites(table: _Table, points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame,
                  location: str) -> gpd.GeoDataFrame:
    """Add the zone and district containing each site; a site outside every zone is an error."""
    hit = gpd.sjoin(points[["geometry"]], zones[["district_code", "geometry"]].reset_index(),
                    how="left", predicate="intersects")
    hit = hit[~hit.index.duplicated()]
    pos = _first(hit["zone_code"].isna())
    if pos is not None:
        row = int(points.index[pos])
        site = points.iloc[pos]
        raise InputError(f"site '{site['site_name']}' at ({site['lat']:.6f}, {site['lon']:.6f}) "
                         "is not inside any zone" + table.where(row), file=table.file, row=row,
                         column=location,
                         expected="a site located inside the study area's boundaries")
    points["zone_code"] = hit["zone_code"].astype(str)
    points["district_code"] = hit["district_code"].astype(str)
    return points


def _site_lookup(sites: gpd.GeoDataFrame) -> dict[str, str]:
    """Loose key of each site's id, name, name slug, ODS code, postcode and the id it had in
    the sites file -> site id (id wins)."""
    ids = sites.index.to_series()
    lookup: dict[str, str] = {}
    extra = [sites["file_id"]] if "file_id" in sites.columns else []
    for values in (sites["postcode"], sites["ods_code"], sites["site_name"], _slug(sites["site_name"]),
                   *extra, ids):
        lookup.update(zip(_key(values), ids, strict=True))
    lookup.pop("", None)
    return lookup


def _matching_source_sites(sites: gpd.GeoDataFrame, source: Dataset | None) -> pd.Series:
    """For each site, the id of the ``source`` site with the same ODS code (or NaN)."""
    if source is None:
        return pd.Series(np.nan, index=sites.index, dtype=object)
    ods = source.sites["ods_code"].astype(str).str.strip().str.upper()
    by_ods = pd.Series(source.sites.index, index=ods)
    by_ods = by_ods[(by_ods.index != "") & ~by_ods.index.duplicated()]
    mine = sites["ods_code"].astype(str).str.strip().str.upper()
    return mine.map(by_ods).where(mine != "")


def _complete_sites(sites: _Sites, beds_from: Dataset | None) -> tuple[gpd.GeoDataFrame,
                                                                       pd.DataFrame]:
    """Fill the bed and estate columns the sites file lacks: copied from ``beds_from`` by ODS
    code, else beds 0, beds can be added, and an estate limit of the current beds."""
    frame = sites.frame.copy()
    pathways = [*PATHWAYS, *(c[len(BEDS_PREFIX):] for c in sites.given if c.startswith(BEDS_PREFIX)),
                *(beds_from.pathways_with_beds if beds_from is not None else ())]
    bed_cols = [f"{BEDS_PREFIX}{p}" for p in dict.fromkeys(pathways)]
    fill = [c for c in [*bed_cols, "can_add_beds", "max_beds"] if c not in sites.given]
    source = _matching_source_sites(frame, beds_from)
    for col in fill:
        copied = (beds_from.sites[col].reindex(source).to_numpy()
                  if beds_from is not None and col in beds_from.sites.columns
                  else np.full(len(frame), np.nan))
        frame[col] = pd.Series(copied, index=frame.index, dtype=object)
    frame[bed_cols] = frame[bed_cols].fillna(0).astype(int)
    frame["can_add_beds"] = frame["can_add_beds"].fillna(True).astype(bool)
    current = frame[bed_cols].sum(axis=1)
    if "max_beds" in fill:
        frame["max_beds"] = np.maximum(frame["max_beds"].fillna(0).astype(int), current)
    frame["max_beds"] = frame["max_beds"].astype(int)
    order = ["site_name", "ods_code", "postcode", "lat", "lon", "x", "y", "zone_code",
             "district_code", *bed_cols, "can_add_beds", "max_beds", "geometry"]
    return frame[order], _site_provenance(frame, sites, fill, source, beds_from)


def _site_provenance(frame: pd.DataFrame, sites: _Sites, fill: list[str], source: pd.Series,
                     beds_from: Dataset | None) -> pd.DataFrame:
    """A provenance row per site for its current beds of each pathway and its estate (can beds
    be added; max_beds): a fact from the sites file, or copied from ``beds_from`` with the kind
    its provenance gives (else 'assumption'); plus one assumption row for defaulted sites."""
    bed_cols = [c for c in frame.columns if c.startswith(BEDS_PREFIX)]
    values = frame[bed_cols].astype(str)
    values["estate"] = frame["can_add_beds"].astype(str) + "; " + frame["max_beds"].astype(str)
    pairs = pd.MultiIndex.from_product([frame.index, values.columns], names=["site", "figure"])
    rows = pairs.to_frame(index=False)
    filled = rows["figure"].isin(fill) | ((rows["figure"] == "estate")
                                          & bool({"can_add_beds", "max_beds"} & set(fill)))
    rows["src"] = source.reindex(rows["site"]).to_numpy()
    rows["value"] = values.stack().reindex(pairs).to_numpy()
    rows = rows[~filled | rows["src"].notna()].reset_index(drop=True)
    estate = rows["figure"] == "estate"
    name = frame["site_name"].reindex(rows["site"]).to_numpy()
    prefix = ("sites." + rows["figure"] + ".").where(~estate, "sites.estate.")
    copied = rows["src"].notna()
    found = pd.DataFrame(index=rows.index, columns=list(PROVENANCE_COLUMNS)).fillna("")
    if beds_from is not None and copied.any():
        lookup = beds_from.provenance.drop_duplicates("key").set_index("key")
        found = lookup.reindex(prefix + rows["src"].fillna("")).fillna("").set_axis(rows.index)
    origin = (f"copied from dataset '{beds_from.name}' (same ODS code, site '"
              + rows["src"].fillna("") + "')") if beds_from is not None else ""
    table = pd.DataFrame({
        "key": prefix + rows["site"],
        "description": (name + ": current " + rows["figure"].str.removeprefix(BEDS_PREFIX)
                        + " beds").where(~estate, name + ": can beds be added; estate limit"),
        "value": rows["value"], "unit": "beds",
        "kind": found["kind"].replace("", "assumption").where(copied, "user-supplied"),
        "source": (origin + (": " + found["source"]).where(found["source"] != "", "")).where(
            copied, sites.table.file.name),
        "vintage": found["vintage"].where(copied, ""),
        "licence": found["licence"].where(copied, USER_LICENCE),
        "citation": found["citation"].where(copied, ""),
        "note": found["note"].where(copied, ""),
    })
    return pd.concat([table, _default_site_row(fill, source)], ignore_index=True)


def _default_site_row(fill: list[str], source: pd.Series) -> pd.DataFrame:
    unmatched = list(source.index[source.isna()])
    if not unmatched or not fill:
        return pd.DataFrame(columns=list(PROVENANCE_COLUMNS))
    what = [c for c in fill if c.startswith(BEDS_PREFIX)]
    said = []
    if what:
        said.append(f"current beds ({', '.join(what)}) 0")
    if "can_add_beds" in fill:
        said.append("beds can be added")
    if "max_beds" in fill:
        said.append("estate limit (max_beds) = current beds")
    return pd.DataFrame([{
        "key": "sites.beds.assumed", "value": ", ".join(unmatched), "unit": "sites",
        "description": "not in the sites file: " + "; ".join(said), "kind": "assumption",
        "source": "not in the imported files", "vintage": "", "licence": "", "citation": "",
        "note": "set these columns in the sites file, or give beds_from to copy them by ODS "
                "code; an estate limit of 0 means no beds can be placed on the site until it is "
                "raised (in the dataset or the scenario's sites.<id>.max_beds)",
    }], columns=list(PROVENANCE_COLUMNS))
