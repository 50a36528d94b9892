"""Today's beds and home-based beds, from a file or the command line (always "user-supplied")."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd

from optimiser.dataset.core import BEDS_PREFIX, PROVENANCE_COLUMNS
from optimiser.dataset.importers.columns import (
    CAN_ADD_BEDS,
    DISTRICT_CODE,
    DISTRICT_NAME,
    MAX_BEDS,
    ODS_CODE,
    POSTCODE,
    SITE_ID,
    SITE_NAME,
    _missing_column,
    _require,
    _Role,
)
from optimiser.dataset.importers.constants import USER_LICENCE
from optimiser.dataset.importers.sites import _TRUE, _bed_columns, _booleans, _site_lookup
from optimiser.dataset.importers.tables import _key, _read_table, _slug, _to_number
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.errors import InputError, warn_data

SOURCE_COLUMN = _Role("source", "source", ("source", "sources", "reference", "note", "notes"))
HOME_BEDS = _Role("home-based beds", "beds", (
    "beds", "virtual_beds", "home_based_beds", "home-based beds", "current_virtual_beds",
    "virtual beds", "home beds"))


def _inline(spec: str, what: str, example: str) -> list[tuple[str, str, str]]:
    """'a.b=1, c.d=2' -> [('a', 'b', '1'), ...] (the part before the dot may be all)."""
    out = []
    for item in re.split(r"[,;]", spec):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise InputError(f"{what} {item!r} is not of the form {example}", file="command line",
                             expected=example)
        key, value = (t.strip() for t in item.split("=", 1))
        head, _, tail = key.rpartition(".")
        out.append((head or key, tail if head else "", value))
    return out


def _is_file(spec) -> bool:
    return isinstance(spec, (str, Path)) and (Path(spec).suffix.lower() in (".csv", ".xlsx", ".gz")
                                               or Path(spec).is_file())


def _whole_beds(value: str, file: str, row, column: str) -> int:
    number = _to_number(pd.Series([value])).iloc[0]
    if pd.isna(number) or number < 0 or number % 1:
        raise InputError(f"{value!r} is not a whole number of beds", file=file, row=row, column=column,
                         expected="a whole number of beds, 0 or more")
    return int(number)


def _beds_today(spec, frame: gpd.GeoDataFrame, rows: pd.DataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame, str]:
    """Today's beds (and estate) per site from a CSV, or 'site.pathway=N, ...' from the command
    line: user-supplied figures, replacing what the sites file or beds_from gave."""
    frame = frame.copy()
    lookup = _site_lookup(frame)
    given: list[tuple[str, str, int, str, str]] = []   # site id, column, value, source, where
    if _is_file(spec):
        table = _read_table(spec)
        name = table.file.name
        id_cols = [c for c in (SITE_ID.find(table.headers), ODS_CODE.find(table.headers),
                               SITE_NAME.find(table.headers), POSTCODE.find(table.headers)) if c]
        if not id_cols:
            raise _missing_column(SITE_ID, table.headers, table.file, "beds file",
                                  expected="a site column: site_id, ods_code or site_name")
        columns = _bed_columns(table.headers)
        for role, col in ((MAX_BEDS, "max_beds"), (CAN_ADD_BEDS, "can_add_beds")):
            header = role.find(table.headers)
            if header:
                columns[col] = header
        if not any(c.startswith(BEDS_PREFIX) for c in columns):
            raise InputError("no beds_<pathway> columns in the beds file", file=table.file,
                             expected="columns such as beds_rehab, beds_stroke, beds_palliative")
        source_col = SOURCE_COLUMN.find(table.headers)
        for row, record in table.frame.iterrows():
            site = next((lookup[k] for c in id_cols
                         if (k := _key(pd.Series([record[c]])).iloc[0]) and k in lookup), None)
            if site is None:
                shown = next((record[c] for c in id_cols if isinstance(record[c], str)), "")
                raise InputError(f"site {shown!r} is not among the imported sites ({', '.join(frame.index)})"
                                 + table.where(row), file=table.file, row=int(row), column=id_cols[0],
                                 expected="a site id, ODS code or name of the imported sites")
            text = f"{name}" + (f": {record[source_col]}" if source_col and isinstance(record[source_col], str) else "")
            for col, header in columns.items():
                value = record[header]
                if not isinstance(value, str):
                    continue
                if col == "can_add_beds":
                    given.append((site, col, int(_booleans(table, pd.Series([value], index=[row], name=header),
                                                          pd.Series([f"site '{site}'"]))[0]), text, name))
                else:
                    given.append((site, col, _whole_beds(value, table.file, int(row), header), text, name))
        origin = name
    else:
        for site_label, column, value in _inline(str(spec), "beds", "site.pathway=beds, e.g. st_lukes.stroke=20"):
            site = lookup.get(_key(pd.Series([site_label])).iloc[0])
            if site is None:
                raise InputError(f"site {site_label!r} is not among the imported sites ({', '.join(frame.index)})",
                                 file="command line", column="--current-beds",
                                 expected="site.pathway=beds with a site id, ODS code or name")
            if not column:
                raise InputError(f"{site_label}={value}: say which beds, as site.pathway=beds (e.g. "
                                 f"{site_label}.rehab={value})", file="command line", column="--current-beds",
                                 expected="site.pathway=beds")
            col = column if column in ("max_beds", "can_add_beds") else f"{BEDS_PREFIX}{_slug(pd.Series([column])).iloc[0]}"
            if col == "can_add_beds":
                given.append((site, col, int(value.lower() in _TRUE), "command line", "command line"))
            else:
                given.append((site, col, _whole_beds(value, "command line", None, "--current-beds"),
                              "command line", "command line"))
        origin = "the command line"
    for site, col, value, _, _ in given:
        if col not in frame.columns:
            frame[col] = 0
        frame.loc[site, col] = bool(value) if col == "can_add_beds" else value
    bed_cols = [c for c in frame.columns if c.startswith(BEDS_PREFIX)]
    frame[bed_cols] = frame[bed_cols].astype(int)
    frame["can_add_beds"] = frame["can_add_beds"].astype(bool)
    beds = frame[bed_cols].sum(axis=1)
    max_given = {s for s, c, *_ in given if c == "max_beds"}
    for site in frame.index:
        if beds[site] > frame.loc[site, "max_beds"]:
            if site in max_given:
                raise InputError(f"site '{site}' has {beds[site]} beds today but max_beds "
                                 f"{frame.loc[site, 'max_beds']}", file=origin,
                                 expected="max_beds at least the sum of today's beds")
            frame.loc[site, "max_beds"] = beds[site]
    frame["max_beds"] = frame["max_beds"].astype(int)
    names = frame["site_name"]
    new_rows = []
    for site, col, value, text, _ in given:
        key = f"sites.estate.{site}" if col in ("max_beds", "can_add_beds") else f"sites.{col}.{site}"
        what = f"{names[site]}: " + ({"max_beds": "estate limit on beds", "can_add_beds": "can beds be added"}
                                     .get(col) or f"beds today, {col[len(BEDS_PREFIX):]}")
        new_rows.append({"key": key if col != "can_add_beds" else f"sites.can_add_beds.{site}",
                         "description": what, "value": str(bool(value)) if col == "can_add_beds" else str(value),
                         "unit": "" if col == "can_add_beds" else "beds", "kind": "user-supplied",
                         "source": text, "vintage": "", "licence": USER_LICENCE, "citation": "", "note": ""})
    replaced = {r["key"] for r in new_rows} | {f"sites.estate.{s}" for s, c, *_ in given if c in ("max_beds", "can_add_beds")}
    rows = rows[~rows["key"].isin(replaced)]
    if "sites.beds.assumed" in set(rows["key"]):
        rows = rows[rows["key"] != "sites.beds.assumed"]
    missing = [s for s in frame.index if s not in {g[0] for g in given}]
    if missing:
        warn_data(f"{len(missing)} site(s) have no beds in {origin}: 0 beds today assumed at "
                  f"{', '.join(names[m] for m in missing)}")
    return frame, pd.concat([rows, pd.DataFrame(new_rows, columns=list(PROVENANCE_COLUMNS))],
                            ignore_index=True), origin


def _virtual_today(spec, districts: gpd.GeoDataFrame, log: ProvenanceLog) -> tuple[gpd.GeoDataFrame, str]:
    """Today's home-based (virtual) beds per district from a CSV (district code or name, beds)
    or 'E07000130=20, Melton=8' from the command line: user-supplied."""
    districts = districts.copy()
    lookup = {**{_key(pd.Series([n])).iloc[0]: c for c, n in districts["district_name"].items()},
              **{_key(pd.Series([c])).iloc[0]: c for c in districts.index}}
    given: dict[str, tuple[float, str]] = {}
    if _is_file(spec):
        table = _read_table(spec)
        name = table.file.name
        code_col = DISTRICT_CODE.find(table.headers) or DISTRICT_NAME.find(table.headers)
        if code_col is None:
            raise _missing_column(DISTRICT_CODE, table.headers, table.file, "home-based beds file")
        beds_col = _require(HOME_BEDS, table.headers, table.file, "home-based beds file")
        source_col = SOURCE_COLUMN.find(table.headers)
        for row, record in table.frame.iterrows():
            code = lookup.get(_key(pd.Series([record[code_col]])).iloc[0])
            if code is None:
                raise InputError(f"district {record[code_col]!r} is not a district of the imported zones "
                                 f"({', '.join(districts.index)})" + table.where(row), file=table.file,
                                 row=int(row), column=code_col, expected="a district code or name")
            text = name + (f": {record[source_col]}" if source_col and isinstance(record[source_col], str) else "")
            given[code] = (_whole_beds(record[beds_col], table.file, int(row), beds_col), text)
        origin = name
    else:
        for head, tail, value in _inline(str(spec), "home-based beds", "district=beds, e.g. E07000130=20"):
            label = f"{head}.{tail}" if tail else head
            code = lookup.get(_key(pd.Series([label])).iloc[0])
            if code is None:
                raise InputError(f"district {label!r} is not a district of the imported zones "
                                 f"({', '.join(districts.index)})", file="command line",
                                 column="--virtual-beds", expected="district=beds with a district code or name")
            given[code] = (_whole_beds(value, "command line", None, "--virtual-beds"), "command line")
        origin = "the command line"
    log.drop("districts.current_virtual_beds.unknown")
    for code, (beds, text) in given.items():
        districts.loc[code, "current_virtual_beds"] = float(beds)
        log.add(f"districts.current_virtual_beds.{code}", f"{districts.loc[code, 'district_name']}: "
                "home-based (virtual) beds today", beds, "virtual beds", "user-supplied", text, "",
                USER_LICENCE)
    missing = [c for c in districts.index if c not in given]
    if missing:
        warn_data(f"{len(missing)} district(s) have no home-based beds in {origin}: 0 assumed in "
                  f"{', '.join(districts.loc[missing, 'district_name'])}")
    return districts, origin
