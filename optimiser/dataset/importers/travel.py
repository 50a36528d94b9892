"""Travel times: a router's matrix (long or wide), destinations that are not sites, estimates for sites it lacks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimiser.dataset.default import DEFAULT_DATASET_PATH
from optimiser.dataset.importers.columns import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    ODS_CODE,
    POSTCODE,
    SITE_ID,
    SITE_NAME,
    TRAVEL_MINUTES,
    TRAVEL_SITE,
    TRAVEL_ZONE,
    ZONE_CODE,
    ZONE_NAME,
    _require,
)
from optimiser.dataset.importers.constants import USER_LICENCE
from optimiser.dataset.importers.sites import _site_locations, _site_lookup, _Sites
from optimiser.dataset.importers.tables import (
    _check_codes,
    _codes,
    _first,
    _key,
    _numbers,
    _read_table,
    _Table,
    _to_number,
)
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.dataset.store import load_dataset
from optimiser.errors import InputError, OptimiserError, warn_data
from optimiser.travel import (
    RoadTimeEstimator,
    estimated_travel_table,
    estimator_from_metadata,
    fit_road_time,
    straight_line_km,
)


@dataclass
class _TravelMatrix:
    """A travel file read against the sites: times to the sites it names, and the
    destinations it holds that are not sites (kept only to calibrate an estimate)."""

    table: _Table
    travel: pd.DataFrame           # zone_code, site_id, minutes for the sites the file names
    ignored: list[str]             # destinations that are not in the sites file at all
    others: pd.DataFrame           # zone x destination label: minutes to destinations not kept
    layout: str                    # "wide" (a column per destination) or "long"


def _read_travel(path, zones: gpd.GeoDataFrame, sites: _Sites) -> _TravelMatrix:
    """Travel times from a long or a wide CSV. Destinations may be named by site id, name,
    ODS code or postcode; destinations that are not sites (for example every stroke unit in
    England) are set aside, not refused."""
    table = _read_table(path)
    minutes_col = TRAVEL_MINUTES.find(table.headers)
    if minutes_col is not None:
        return _travel_long(table, zones, sites, minutes_col)
    return _travel_wide(table, zones, sites)


def _site_ids_of(labels: pd.Series, sites: _Sites) -> tuple[pd.Series, pd.Series]:
    """Site id for each label (NaN if unknown) and whether the label is a site left out by
    type."""
    keys = _key(labels)
    ids = keys.map(_site_lookup(sites.frame))
    return ids, ids.isna() & keys.isin(sites.excluded_keys)


def _unknown_zone(table: _Table, codes: pd.Series, zones: gpd.GeoDataFrame, column: str) -> None:
    pos = _first(~codes.isin(zones.index))
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"zone '{codes.iloc[pos]}' is not in the population and boundaries "
                         "files" + table.where(row), file=table.file, row=row, column=column,
                         expected="zone codes of the imported zones")


def _travel_long(table: _Table, zones: gpd.GeoDataFrame, sites: _Sites,
                 minutes_col: str) -> _TravelMatrix:
    zone_col = _require(TRAVEL_ZONE, table.headers, table.file, "travel file")
    site_col = _require(TRAVEL_SITE, table.headers, table.file, "travel file")
    frame = table.frame
    codes = _codes(frame[zone_col])
    for column, values, what in ((zone_col, codes, "zone code"),
                                 (site_col, frame[site_col], "site")):
        pos = _first(values.isna())
        if pos is not None:
            row = int(frame.index[pos])
            raise InputError(f"no {what}" + table.where(row), file=table.file, row=row,
                             column=column, expected=f"a {what} on every row")
    ids, left_out = _site_ids_of(frame[site_col], sites)
    _unknown_zone(table, codes, zones, zone_col)
    other = ids.isna()
    ignored = list(dict.fromkeys(frame.loc[other & ~left_out, site_col].astype(str)))
    others = pd.DataFrame({"zone_code": codes[other], "label": frame.loc[other, site_col].astype(str),
                           "minutes": _to_number(frame.loc[other, minutes_col])})
    others = others.drop_duplicates(["zone_code", "label"]).pivot(
        index="zone_code", columns="label", values="minutes") if len(others) else pd.DataFrame()
    keep = ~other
    frame, codes, ids = frame[keep], codes[keep], ids[keep]
    labels = "zone '" + codes + "' to site '" + ids + "'"
    minutes = _numbers(table, frame[[minutes_col]], labels, what="travel time",
                       expected="minutes, 0 or more")[minutes_col]
    travel = pd.DataFrame({"zone_code": codes, "site_id": ids, "minutes": minutes})
    pos = _first(travel.duplicated(["zone_code", "site_id"]))
    if pos is not None:
        row = int(travel.index[pos])
        raise InputError(f"{labels.iloc[pos]} appears twice" + table.where(row),
                         file=table.file, row=row, expected="each zone-site pair once")
    return _TravelMatrix(table, travel, ignored, others, "long")


def _travel_wide(table: _Table, zones: gpd.GeoDataFrame, sites: _Sites) -> _TravelMatrix:
    headers = table.headers
    zone_col = ZONE_CODE.find(headers) or headers[0]
    extra = {r.find(headers) for r in (ZONE_NAME, DISTRICT_CODE, DISTRICT_NAME)} - {None, zone_col}
    site_cols = [h for h in headers if h != zone_col and h not in extra]
    ids, left_out = _site_ids_of(pd.Series(site_cols, dtype=str), sites)
    kept = ids.notna().to_numpy()
    ignored = [c for c, k, out in zip(site_cols, kept, left_out, strict=True) if not k and not out]
    other_cols = [c for c, k in zip(site_cols, kept, strict=True) if not k]
    site_cols, ids = [c for c, k in zip(site_cols, kept, strict=True) if k], ids[kept]
    pos = _first(ids.duplicated())
    if pos is not None:
        raise InputError(f"columns '{site_cols[pos]}' and "
                         f"'{site_cols[_first(ids == ids.iloc[pos])]}' are the same site "
                         f"'{ids.iloc[pos]}'", file=table.file, column=site_cols[pos],
                         expected="one column per site")
    codes = _codes(table.frame[zone_col])
    _check_codes(table, codes, zone_col, "zone code")
    _unknown_zone(table, codes, zones, zone_col)
    others = table.frame[other_cols].apply(_to_number).set_axis(codes.to_numpy())
    if not site_cols:
        return _TravelMatrix(table, pd.DataFrame(columns=["zone_code", "site_id", "minutes"]), ignored,
                             others, "wide")
    values = _numbers(table, table.frame[site_cols], "zone '" + codes + "'",
                      what="travel time", expected="minutes, 0 or more")
    values = values.set_axis(codes.to_numpy()).set_axis(ids.to_numpy(), axis=1)
    travel = values.rename_axis(index="zone_code", columns="site_id").stack()
    return _TravelMatrix(table, travel.rename("minutes").reset_index(), ignored, others, "wide")


def _read_destinations(path) -> dict[str, tuple[float, float]]:
    """Where a travel matrix's destinations are: loose key of each id, postcode, ODS code or
    name -> (easting, northing)."""
    table = _read_table(path)
    id_cols = [c for c in (SITE_ID.find(table.headers), POSTCODE.find(table.headers),
                           ODS_CODE.find(table.headers), SITE_NAME.find(table.headers), table.headers[0]) if c]
    labels = "destination '" + table.frame[id_cols[0]].astype(str) + "'"
    x, y, *_ = _site_locations(table, table.frame, labels)
    points: dict[str, tuple[float, float]] = {}
    for col in dict.fromkeys(id_cols):
        for key, px, py in zip(_key(table.frame[col].fillna("")), x, y, strict=True):
            if key:
                points.setdefault(key, (float(px), float(py)))
    return points


def _calibrate(matrix: _TravelMatrix, zones: gpd.GeoDataFrame, sites: _Sites,
               destinations) -> RoadTimeEstimator | None:
    """A road-time estimator fitted on the matrix's own road times (pairs under 60 km), to
    every destination whose location is known: the sites it names, sites left out by type,
    and the destinations file. None if fewer than 10 pairs can be used."""
    located = dict(sites.excluded_points)
    if destinations is not None:
        located.update(_read_destinations(destinations))
    columns, xs, ys = [], [], []
    for label in matrix.others.columns:
        point = located.get(_key(pd.Series([label])).iloc[0])
        if point is not None:
            columns.append(label)
            xs.append(point[0])
            ys.append(point[1])
    minutes = matrix.others.reindex(index=zones.index, columns=columns)
    if len(matrix.travel):
        known = matrix.travel.pivot(index="zone_code", columns="site_id", values="minutes")
        known = known.reindex(index=zones.index)
        minutes = pd.concat([minutes, known], axis=1)
        xs += sites.frame.loc[known.columns, "x"].tolist()
        ys += sites.frame.loc[known.columns, "y"].tolist()
    if minutes.shape[1] == 0:
        return None
    km = straight_line_km(zones["x"], zones["y"], xs, ys)
    try:
        return fit_road_time(km, minutes.to_numpy(float), max_km=60.0)
    except ValueError:
        return None


def _complete_travel(matrix: _TravelMatrix, zones: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                     estimate) -> tuple[pd.DataFrame, list[str]]:
    """Every zone-site pair: from the matrix, or (for a site the matrix does not name at all)
    from ``estimate()``, an estimator. A site the matrix names for only some zones is an
    error. Returns the long table and the ids of the estimated sites."""
    table, travel = matrix.table, matrix.travel
    matrix_sites = pd.Index(travel["site_id"].unique())
    table_m = travel.pivot(index="zone_code", columns="site_id", values="minutes") if len(travel) \
        else pd.DataFrame(index=zones.index)
    table_m = table_m.reindex(index=zones.index, columns=sites.index)
    absent = [s for s in sites.index if s not in matrix_sites]
    named = table_m.drop(columns=absent)
    missing = named.isna().to_numpy()
    if missing.any():
        i, j = np.argwhere(missing)[0]
        hint = ""
        if matrix.ignored:
            hint = (f"; the file also names {len(matrix.ignored)} destination(s) that are not sites "
                    f"(e.g. {', '.join(repr(x) for x in matrix.ignored[:3])}): a misspelt site?")
        raise InputError(f"no travel time from zone '{zones.index[i]}' to site "
                         f"'{named.columns[j]}' ({int(missing.sum())} missing pair(s) in all){hint}",
                         file=table.file, expected="a travel time for every zone-site pair")
    if absent:
        estimator = estimate()
        km = straight_line_km(zones["x"], zones["y"], sites.loc[absent, "x"], sites.loc[absent, "y"])
        table_m[absent] = np.round(estimator.minutes(km), 2)
    long = table_m.rename_axis(index="zone_code", columns="site_id").stack()
    return long.rename("minutes").reset_index().astype({"minutes": float}), absent


def _default_estimator() -> RoadTimeEstimator:
    path = DEFAULT_DATASET_PATH
    if not path.exists():
        raise OptimiserError(
            f"no travel matrix was given and the embedded default dataset ({path}) has not been "
            "built, so there is no road-time estimator: pass a travel CSV, or run "
            "'python -m optimiser data build-default' first")
    estimator = estimator_from_metadata(load_dataset(path).metadata)
    if estimator is None:
        raise OptimiserError(f"the default dataset {path} records no road-time estimator; "
                             "pass a travel CSV")
    return estimator


def _travel(path, zones: gpd.GeoDataFrame, sites: _Sites, estimator: RoadTimeEstimator | None,
            log: ProvenanceLog, destinations=None) -> tuple[pd.DataFrame, dict[str, str]]:
    if path is not None:
        matrix = _read_travel(path, zones, sites)
        name = Path(path).name
        if matrix.ignored:
            what = "destination column(s)" if matrix.layout == "wide" else "destination(s)"
            warn_data(f"{len(matrix.ignored)} {what} of the travel matrix '{name}' are not "
                      f"sites in the sites file and are ignored (e.g. "
                      f"{', '.join(repr(x) for x in matrix.ignored[:3])})")
        used: dict[str, object] = {}

        def estimate() -> RoadTimeEstimator:
            fitted = _calibrate(matrix, zones, sites, destinations)
            if fitted is not None:
                used.update(estimator=fitted, origin=f"fitted to the road times in {name}")
            elif estimator is not None:
                used.update(estimator=estimator, origin="given to the import")
            else:
                used.update(estimator=_default_estimator(),
                            origin=f"of the default dataset ({DEFAULT_DATASET_PATH.name}); too few "
                                   f"destinations of {name} have a known location to fit one")
            return used["estimator"]

        travel, estimated = _complete_travel(matrix, zones, sites.frame, estimate)
        from_file = len(sites.frame) - len(estimated)
        log.add("import.travel", f"road travel minutes: {len(zones)} zones x {from_file} sites from "
                f"the file; median {travel['minutes'].median():.1f} min", len(zones) * from_file,
                "zone-site pairs", "user-supplied", name, "", USER_LICENCE)
        if not estimated:
            return travel, {"travel_method": f"imported from {name}", "source_travel": name,
                            "data_line_travel": f"road travel times from {name}"}
        fitted = used["estimator"]
        names = ", ".join(sites.frame.loc[estimated, "site_name"])
        warn_data(f"{len(estimated)} of {len(sites.frame)} sites are not in the travel matrix '{name}': "
                  f"their minutes are estimated from straight-line distance ({fitted.describe()}; "
                  f"estimator {used['origin']}): {names}")
        log.add("travel.minutes", f"zone to site road travel minutes for {len(estimated)} sites not in "
                f"{name} (estimated)", f"{fitted.intercept_minutes:.2f} + {fitted.minutes_per_km:.3f} x km",
                "minutes", "estimate", f"road-time estimator {used['origin']}", "", "",
                note=f"{fitted.describe()}; sites {', '.join(estimated)}")
        method = (f"road minutes imported from {name} for {from_file} sites; {len(estimated)} sites "
                  f"estimated from straight-line distance calibrated to road minutes" if from_file else
                  f"estimated: straight-line distance calibrated to the road minutes in {name} (none of "
                  "the sites is in it)")
        return travel, {"travel_method": method, "source_travel": name,
                        "data_line_travel": (f"travel times estimated from road distance (calibrated on {name})"
                                             if not from_file else
                                             f"travel times from {name} and estimated from road distance"),
                        **fitted.as_metadata()}
    given = estimator is not None
    estimator = estimator if given else _default_estimator()
    travel = estimated_travel_table(zones, sites.frame, estimator)
    log.add("travel.minutes", "zone to site road travel minutes (estimated)",
            f"{estimator.intercept_minutes:.2f} + {estimator.minutes_per_km:.3f} x km", "minutes",
            "estimate", "road-time estimator " + ("given to the import" if given else
                                                  f"of the default dataset ({DEFAULT_DATASET_PATH.name})"),
            "", "", note=estimator.describe() + ". Import a router's matrix to replace it.")
    return travel, {"travel_method": "estimated: straight-line distance calibrated to road "
                                     "minutes", "data_line_travel": "travel times estimated from road distance",
                    **estimator.as_metadata()}
