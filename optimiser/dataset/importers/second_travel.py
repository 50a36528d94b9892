"""A second travel matrix (e.g. public transport minutes) as an optional layer of a dataset.

Many people in the areas a change affects most do not drive. Any router (OpenTripPlanner,
r5r, TravelTime, a council's own model) gives zone -> hospital minutes; this module reads them
from a long CSV (one row per zone and site: zone, site, minutes) or a wide one (one row per
zone, one column per site), validated like the road matrix: every zone and every site of the
dataset must appear, sites are named by id, name, ODS code or postcode, minutes are numbers of
0 or more. Unlike road times, a blank cell (or ``no route``, ``NA``, ``-``) means there is no
journey by this means, and in the long layout an absent zone-site row means the same; each is
counted in a warning. Destinations that are not sites are ignored with a warning.

:func:`add_second_travel` returns the dataset with the layer (``Dataset.second_travel``, its
name in ``metadata['second_travel_label']``, a provenance row) and can write it atomically;
``python -m optimiser data add-travel`` does the same from the command line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.dataset.importers.columns import (
    TRAVEL_MINUTES,
    TRAVEL_SITE,
    TRAVEL_ZONE,
    ZONE_CODE,
    _require,
)
from optimiser.dataset.importers.sites import _site_lookup
from optimiser.dataset.importers.tables import _codes, _key, _read_table, _Table
from optimiser.dataset.store import save_dataset
from optimiser.errors import InputError, warn_data

NO_ROUTE_WORDS = {"", "noroute", "none", "na", "n/a", "-", "nan", "unreachable"}


def _minutes(table: _Table, raw: pd.Series, rows, column: str, labels) -> np.ndarray:
    """Minutes of each cell; NaN for no route; a non-number or a negative raises InputError."""
    text = raw.fillna("").astype(str).str.strip()
    no_route = text.str.lower().str.replace(" ", "", regex=False).isin(NO_ROUTE_WORDS)
    values = pd.to_numeric(text.str.replace(",", "", regex=False).where(~no_route), errors="coerce")
    bad = values.isna() & ~no_route
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"travel time {text.iloc[k]!r} for {labels[k]} is not a number (leave the cell blank, "
                         "or write 'no route', where there is no journey)" + table.where(int(rows[k])),
                         file=table.file, row=int(rows[k]), column=column, expected="minutes, 0 or more, or blank")
    negative = values < 0
    if negative.any():
        k = int(np.flatnonzero(negative.to_numpy())[0])
        raise InputError(f"travel time {values.iloc[k]:g} for {labels[k]} is negative" + table.where(int(rows[k])),
                         file=table.file, row=int(rows[k]), column=column, expected="minutes, 0 or more, or blank")
    return values.to_numpy(float)


def _check_zones(table: _Table, codes: pd.Series, dataset: Dataset, column: str) -> None:
    missing = codes.isna()
    if missing.any():
        row = int(codes.index[int(np.flatnonzero(missing.to_numpy())[0])])
        raise InputError("no zone code" + table.where(row), file=table.file, row=row, column=column,
                         expected="a zone code on every row")
    unknown = ~codes.isin(dataset.zones.index)
    if unknown.any():
        row = int(codes.index[int(np.flatnonzero(unknown.to_numpy())[0])])
        raise InputError(f"zone '{codes.loc[row]}' is not in the dataset" + table.where(row), file=table.file,
                         row=row, column=column, expected="zone codes of the dataset's zones")
    absent = dataset.zones.index[~dataset.zones.index.isin(codes)]
    if len(absent):
        raise InputError(f"zone '{absent[0]}' is not in the file ({len(absent)} of the dataset's "
                         f"{len(dataset.zones)} zones are missing)", file=table.file, column=column,
                         expected="every zone of the dataset (a blank time where there is no route)")


def _site_ids(labels: pd.Series, dataset: Dataset) -> pd.Series:
    return _key(labels).map(_site_lookup(dataset.sites))


def _check_sites(table: _Table, named: pd.Index, dataset: Dataset, ignored: list[str]) -> None:
    absent = dataset.sites.index[~dataset.sites.index.isin(named)]
    if len(absent):
        hint = (f"; the file names {len(ignored)} destination(s) that are not sites (e.g. "
                f"{', '.join(repr(x) for x in ignored[:3])}): a misspelt site?" if ignored else "")
        raise InputError(f"site '{absent[0]}' ({dataset.sites.loc[absent[0], 'site_name']}) is not in the file"
                         + hint, file=table.file,
                         expected="every site of the dataset, by id, name, ODS code or postcode")


def read_second_travel(path, dataset: Dataset) -> tuple[pd.DataFrame, int, list[str]]:
    """(zone_code, site_id, minutes table with NaN for no route, number of no-route pairs,
    destinations ignored) from a long or wide CSV, checked against ``dataset``."""
    table = _read_table(path)
    minutes_col = TRAVEL_MINUTES.find(table.headers)
    frame = table.frame
    if minutes_col is not None:      # long: zone, site, minutes
        zone_col = _require(TRAVEL_ZONE, table.headers, table.file, "travel file")
        site_col = _require(TRAVEL_SITE, table.headers, table.file, "travel file")
        codes = _codes(frame[zone_col])
        _check_zones(table, codes, dataset, zone_col)
        ids = _site_ids(frame[site_col], dataset)
        ignored = list(dict.fromkeys(frame.loc[ids.isna(), site_col].astype(str)))
        keep = ids.notna()
        codes, ids, rows = codes[keep], ids[keep], frame.index[keep]
        labels = ("zone '" + codes + "' to site '" + ids + "'").tolist()
        minutes = _minutes(table, frame.loc[keep, minutes_col], rows, minutes_col, labels)
        long = pd.DataFrame({"zone_code": codes.to_numpy(), "site_id": ids.to_numpy(), "minutes": minutes})
        dup = long.duplicated(["zone_code", "site_id"]).to_numpy()
        if dup.any():
            k = int(np.flatnonzero(dup)[0])
            raise InputError(f"{labels[k]} appears twice" + table.where(int(rows[k])), file=table.file,
                             row=int(rows[k]), expected="each zone-site pair once")
    else:                            # wide: a zone column, then one column per site
        headers = table.headers
        zone_col = ZONE_CODE.find(headers) or headers[0]
        codes = _codes(frame[zone_col])
        _check_zones(table, codes, dataset, zone_col)
        dup = codes.duplicated().to_numpy()
        if dup.any():
            row = int(codes.index[int(np.flatnonzero(dup)[0])])
            raise InputError(f"zone '{codes.loc[row]}' appears twice" + table.where(row), file=table.file,
                             row=row, column=zone_col, expected="each zone once")
        others = [h for h in headers if h != zone_col]
        ids = _site_ids(pd.Series(others, dtype=str), dataset)
        ignored = [c for c, i in zip(others, ids, strict=True) if pd.isna(i)]
        seen: dict[str, str] = {}
        parts = []
        for column, site in zip(others, ids, strict=True):
            if pd.isna(site):
                continue
            if site in seen:
                raise InputError(f"columns '{seen[site]}' and '{column}' are the same site '{site}'",
                                 file=table.file, column=column, expected="one column per site")
            seen[site] = column
            labels = ("zone '" + codes + f"' to site '{site}'").tolist()
            parts.append(pd.DataFrame({"zone_code": codes.to_numpy(), "site_id": site,
                                       "minutes": _minutes(table, frame[column], frame.index, column, labels)}))
        long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["zone_code", "site_id", "minutes"])
    _check_sites(table, pd.Index(long["site_id"].unique()), dataset, ignored)
    full = (long.set_index(["zone_code", "site_id"])["minutes"]
            .reindex(pd.MultiIndex.from_product([dataset.zones.index, dataset.sites.index],
                                                names=["zone_code", "site_id"]))
            .reset_index())
    return full.astype({"minutes": float}), int(full["minutes"].isna().sum()), ignored


def add_second_travel(dataset: Dataset, path, label: str = "public transport", *, source: str = "",
                      out=None) -> Dataset:
    """``dataset`` with a second travel matrix read from ``path`` (see the module docstring),
    named ``label``; ``source`` says where the times come from (default: the file's name).
    ``out``: also write the dataset there (atomically)."""
    label = str(label).strip() or "second travel matrix"
    table, no_route, ignored = read_second_travel(path, dataset)
    name = Path(path).name
    if ignored:
        warn_data(f"{len(ignored)} destination(s) of the travel matrix '{name}' are not sites and were ignored: "
                  + ", ".join(ignored[:5]) + (" ..." if len(ignored) > 5 else ""))
    if no_route:
        warn_data(f"{no_route} of {len(table)} zone-site pairs in '{name}' have no {label} route (blank or "
                  "absent): they count as out of reach by this means")
    row = {"key": "travel.second_matrix", "description": f"zone to site {label} minutes (second travel matrix)",
           "value": str(len(table) - no_route), "unit": "zone-site pairs with a route", "kind": "user-supplied",
           "source": source or name, "vintage": "", "licence": "", "citation": "",
           "note": f"{no_route} pairs with no route"}
    provenance = pd.concat([dataset.provenance[dataset.provenance["key"] != "travel.second_matrix"],
                            pd.DataFrame([row])], ignore_index=True).astype(str)
    metadata = {**dataset.metadata, "second_travel_label": label, "second_travel_source": source or name}
    ds = replace(dataset, second_travel=table, provenance=provenance, metadata=metadata, file_sha256="")
    if out is not None:
        save_dataset(ds, out)
    return ds
