"""ONS sub-national population projections by band."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd

from optimiser.dataset.core import PROJECTION_BANDS, PROJECTION_COLUMNS, Dataset
from optimiser.dataset.importers.columns import (
    _AGE_PREFIX,
    _AND_OVER,
    PROJECTION_BAND,
    PROJECTION_DISTRICT,
    _norm,
    _require,
)
from optimiser.dataset.importers.constants import MAX_DISTRICT_POPULATION, USER_LICENCE
from optimiser.dataset.importers.tables import _check_codes, _codes, _first, _numbers, _read_table
from optimiser.dataset.importers.zones import _source_kind
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.errors import InputError


def _band_names(values: pd.Series) -> pd.Series:
    """'all_ages', '65_plus' or '85_plus' for each band label; NaN for other bands."""
    key = values.astype(str).str.lower().str.replace("+", "plus", regex=False)
    key = key.str.replace(r"[^0-9a-z]", "", regex=True)
    key = key.str.replace(rf"^{_AGE_PREFIX}(\d+){_AND_OVER}$", r"\1_plus", regex=True)
    key = key.replace({"allages": "all_ages", "all": "all_ages", "total": "all_ages"})
    return key.where(key.isin(PROJECTION_BANDS))


def _read_projections(path, districts: gpd.GeoDataFrame) -> pd.DataFrame:
    table = _read_table(path, key=PROJECTION_DISTRICT)
    code_col = _require(PROJECTION_DISTRICT, table.headers, table.file, "projections file")
    band_col = _require(PROJECTION_BAND, table.headers, table.file, "projections file")
    years = [h for h in table.headers if re.fullmatch(r"(19|20)\d\d", _norm(h))]
    if len(years) < 2:
        raise InputError("fewer than two year columns in the projections file", file=table.file,
                         column="year", expected="one column per year, e.g. 2022, 2023, ...")
    codes = _codes(table.frame[code_col])
    pos = _first(codes.isna() | ~codes.isin(districts.index))
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"district '{codes.iloc[pos]}' is not a district of the imported zones "
                         f"({', '.join(districts.index)})" + table.where(row), file=table.file,
                         row=row, column=code_col, expected="district codes of the imported zones")
    bands = _band_names(table.frame[band_col])
    keep = bands.notna()
    if not keep.any():
        raise InputError("no all_ages, 65_plus or 85_plus rows", file=table.file, column=band_col,
                         expected=f"bands {', '.join(PROJECTION_BANDS)}")
    keys = codes[keep] + " " + bands[keep]
    _check_codes(table, keys, band_col, "district and band")
    years.sort(key=lambda h: int(_norm(h)))
    labels = "district '" + codes[keep] + "', band '" + bands[keep] + "'"
    values = _numbers(table, table.frame.loc[keep, years], labels, what="projected population",
                      maximum=MAX_DISTRICT_POPULATION,
                      expected="a number of people, 0 or more")
    base = values[years[0]]
    pos = _first(base <= 0)
    if pos is not None:
        row = int(base.index[pos])
        raise InputError(f"the first-year population of {labels.iloc[pos]} is 0"
                         + table.where(row), file=table.file, row=row, column=years[0],
                         expected="a positive population in the first year")
    index = values.div(base, axis=0).round(6).set_axis([int(_norm(y)) for y in years], axis=1)
    index.insert(0, "band", bands[keep])
    index.insert(0, "district_code", codes[keep])
    long = index.melt(id_vars=["district_code", "band"], var_name="year", value_name="index")
    long = long.sort_values(["district_code", "band", "year"], kind="stable")
    return long.astype({"year": int, "index": float})[list(PROJECTION_COLUMNS)].reset_index(drop=True)


def _projections(path, districts: gpd.GeoDataFrame, beds_from: Dataset | None,
                 log: ProvenanceLog) -> pd.DataFrame:
    if path is not None:
        table = _read_projections(path, districts)
        log.add("import.projections", f"population projections: {table['district_code'].nunique()} "
                f"districts, bands {', '.join(sorted(table['band'].unique()))}, years "
                f"{table['year'].min()}-{table['year'].max()}; index relative to "
                f"{table['year'].min()}", len(table), "rows", "user-supplied", Path(path).name, "",
                USER_LICENCE)
        return table
    if beds_from is not None:
        copied = beds_from.projections[beds_from.projections["district_code"].isin(districts.index)]
        if len(copied):
            log.add("projections.copied", "population projections copied by district code",
                    copied["district_code"].nunique(), "districts",
                    _source_kind(beds_from, "import.projections",
                                 "projections." + copied["district_code"].iloc[0]),
                    f"dataset '{beds_from.name}'", "", "")
            return copied.reset_index(drop=True)[list(PROJECTION_COLUMNS)]
    log.add("projections.none", "no growth projections", "", "", "assumption",
            "no projections file given", "", "",
            note="demand is held at the base-year population unless a scenario sets growth")
    return pd.DataFrame({"district_code": pd.Series(dtype=str), "band": pd.Series(dtype=str),
                         "year": pd.Series(dtype=int), "index": pd.Series(dtype=float)})
