"""Zones and districts: matching population to boundaries, each zone's district, and the zone and district tables."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from optimiser.dataset.core import CRS, Dataset
from optimiser.dataset.importers.boundaries import _Boundaries, _reference_points
from optimiser.dataset.importers.columns import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    ZONE_NAME,
    _missing_column,
)
from optimiser.dataset.importers.constants import ZONE_TABLE_COLUMNS
from optimiser.dataset.importers.population import _Population
from optimiser.dataset.importers.tables import _codes, _first
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.errors import InputError


def _match_zones(pop: _Population, bounds: _Boundaries) -> None:
    pos = _first(~pop.codes.isin(bounds.codes))
    if pos is not None:
        row = int(pop.codes.index[pos])
        raise InputError(f"zone '{pop.codes.iloc[pos]}' is not in the boundaries file "
                         f"'{bounds.file.name}'" + pop.table.where(row), file=pop.table.file,
                         row=row, column=pop.code_column,
                         expected="the same zone codes in the population and boundaries files")
    pos = _first(~bounds.codes.isin(pop.codes))
    if pos is not None:
        raise InputError(f"feature {pos + 1}: zone '{bounds.codes.iloc[pos]}' is not in the "
                         f"population file '{pop.table.file.name}'", file=bounds.file,
                         row=pos + 1, column=bounds.code_column,
                         expected="the same zone codes in the population and boundaries files")


def _by_zone(values: pd.Series | None, codes: pd.Series) -> pd.Series | None:
    """Re-index a per-row column by zone code."""
    return None if values is None else pd.Series(values.to_numpy(), index=codes.to_numpy())


def _first_available(index, *sources: pd.Series | None) -> pd.Series:
    """For each label of ``index``, the first source that has a value for it."""
    result = pd.Series(None, index=pd.Index(index), dtype=object)
    for source in sources:
        if source is not None:
            source = source.dropna()
            result = result.fillna(source[~source.index.duplicated()].reindex(result.index))
    return result


def _district_of_zones(pop: _Population, bounds: _Boundaries) -> tuple[pd.Series, str]:
    """District code of every zone (indexed by zone code) from the population file, else from
    the boundaries file; and which file it came from."""
    b_col = DISTRICT_CODE.find(bounds.table.headers)
    if pop.district_codes is not None:
        table, codes, zones = pop.table, pop.district_codes, pop.codes
        column = DISTRICT_CODE.find(pop.table.headers)
    elif b_col is not None:
        table, codes, zones, column = bounds.table, _codes(bounds.table.frame[b_col]), \
            bounds.codes, b_col
    else:
        raise _missing_column(DISTRICT_CODE, pop.table.headers, pop.table.file, "population file",
                              f" (nor in the boundaries file '{bounds.file.name}')")
    pos = _first(codes.isna())
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"no district code for zone '{zones.iloc[pos]}'" + table.where(row),
                         file=table.file, row=row, column=column,
                         expected="a district code on every row")
    return pd.Series(codes.to_numpy(), index=zones.to_numpy()), table.file.name


def _district_names(district: pd.Series, pop: _Population, bounds: _Boundaries,
                    beds_from: Dataset | None) -> pd.Series:
    """Name of each district code: from the population file, the boundaries file,
    ``beds_from``, or else the code itself."""
    b_col = DISTRICT_NAME.find(bounds.table.headers)
    sources = [_by_zone(pop.district_names, pop.codes),
               _by_zone(bounds.table.frame[b_col] if b_col else None, bounds.codes)]
    by_district = [None if s is None else
                   pd.Series(s.to_numpy(), index=district.reindex(s.index).to_numpy())
                   for s in sources]
    if beds_from is not None:
        by_district.append(beds_from.districts["district_name"])
    codes = sorted(set(district))
    names = _first_available(codes, *by_district)
    return names.fillna(pd.Series(codes, index=codes))


def _build_zones(pop: _Population, bounds: _Boundaries, district: pd.Series,
                 beds_from: Dataset | None) -> gpd.GeoDataFrame:
    order = pop.codes.sort_values().to_numpy()
    geometry = bounds.geometry.set_axis(bounds.codes.to_numpy()).loc[order]
    b_name = ZONE_NAME.find(bounds.table.headers)
    names = _first_available(order, _by_zone(pop.names, pop.codes),
                             _by_zone(bounds.table.frame[b_name] if b_name else None, bounds.codes),
                             beds_from.zones["zone_name"] if beds_from is not None else None)
    counts = pop.counts.set_axis(pop.codes.to_numpy()).loc[order]
    x, y = _reference_points(geometry)
    zones = gpd.GeoDataFrame({
        "zone_name": names.fillna(pd.Series(order, index=order)).astype(str),
        "district_code": district.loc[order].astype(str),
        "sub_icb_code": "",
        **{c: counts[c].astype(float) for c in counts.columns},
        "stroke_admissions": np.nan,
        "x": np.round(x, 1), "y": np.round(y, 1),
    }, geometry=geometry.to_numpy(), index=pd.Index(order, name="zone_code"), crs=CRS)
    return zones[[*ZONE_TABLE_COLUMNS, "geometry"]]


def _copy_zone_facts(zones: gpd.GeoDataFrame, beds_from: Dataset | None,
                     log: ProvenanceLog) -> None:
    """stroke_admissions and sub_icb_code from ``beds_from`` where zone codes match."""
    if beds_from is not None:
        source = beds_from.zones.reindex(zones.index)
        zones["stroke_admissions"] = source["stroke_admissions"].astype(float)
        zones["sub_icb_code"] = source["sub_icb_code"].fillna("").astype(str)
    known = zones["stroke_admissions"].notna()
    if known.any():
        log.add("zones.stroke_admissions", "stroke admissions per zone per year, copied by zone "
                "code", round(float(zones["stroke_admissions"].sum()), 1), "admissions/year",
                _source_kind(beds_from, "zones.stroke_admissions"),
                f"dataset '{beds_from.name}'", "", "",
                note=f"{int(known.sum())} of {len(zones)} zones matched")
    if not known.all():
        log.add("zones.stroke_admissions.missing", "stroke admissions per zone not known",
                int((~known).sum()), "zones", "assumption", "not in the imported files", "", "",
                note="left blank (NaN): " + ("no zone of beds_from has the same code"
                                             if beds_from is not None else
                                             "give beds_from with the same zone codes to copy them"))
    matched = int((zones["sub_icb_code"] != "").sum())
    log.add("zones.sub_icb_code", "sub-ICB area of each zone", matched, "zones",
            "derived" if matched else "assumption",
            f"dataset '{beds_from.name}', by zone code" if matched else "not in the imported files",
            "", "", note="" if matched == len(zones) else f"{len(zones) - matched} zones left blank")


def _build_districts(zones: gpd.GeoDataFrame, names: pd.Series, beds_from: Dataset | None,
                     log: ProvenanceLog) -> gpd.GeoDataFrame:
    districts = zones[["district_code", "geometry"]].dissolve(by="district_code")
    districts["district_name"] = names.reindex(districts.index).astype(str)
    virtual = (beds_from.districts["current_virtual_beds"].reindex(districts.index)
               if beds_from is not None else pd.Series(np.nan, index=districts.index))
    districts["current_virtual_beds"] = virtual.fillna(0.0).astype(float)
    copied, absent = virtual.dropna(), list(virtual.index[virtual.isna()])
    if len(copied):
        log.add("districts.current_virtual_beds", "current home-based (virtual) beds per "
                "district, copied by district code", f"{copied.sum():g}", "virtual beds",
                _source_kind(beds_from, "districts.current_virtual_beds"),
                f"dataset '{beds_from.name}'", "", "", note=f"districts {', '.join(copied.index)}")
    if absent:
        log.add("districts.current_virtual_beds.unknown", "current home-based (virtual) beds "
                "not known: set to 0", 0, "virtual beds", "assumption",
                "not in the imported files", "", "", note=f"districts {', '.join(absent)}; "
                "give beds_from with the same district codes to copy them")
    return districts[["district_name", "current_virtual_beds", "geometry"]]


def _source_kind(source: Dataset | None, *keys: str, default: str = "assumption") -> str:
    """The kind ``source``'s provenance gives the first of ``keys`` it has, else ``default``."""
    if source is None:
        return default
    kinds = source.provenance.drop_duplicates("key").set_index("key")["kind"]
    return next((str(kinds[k]) for k in keys if k in kinds.index), default)
