"""The dataset: zones, districts, sites, travel times, projections and provenance.

A :class:`Dataset` is read-only once built. It is stored as one GeoPackage (opens in QGIS)
with one layer per table; geometry is kept in British National Grid (EPSG:27700) so that
distances are in metres. The model layer never sees geometry: it uses the tables and the
travel matrix only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd

from optimiser.errors import InputError

CRS = "EPSG:27700"
AGE_BANDS = ("0-64", "65-74", "75-84", "85+")
POPULATION_COLUMNS = ("pop_total", "pop_65_74", "pop_75_84", "pop_85_plus")
PROJECTION_BANDS = ("all_ages", "65_plus", "85_plus")
# "user-supplied": a figure a user gave (a file or the command line) that the tool cannot
# check against a published source; never "fact".
PROVENANCE_KINDS = ("fact", "user-supplied", "assumption", "estimate", "derived")

ZONE_COLUMNS = (
    "zone_code", "zone_name", "district_code", "sub_icb_code",
    *POPULATION_COLUMNS, "stroke_admissions", "x", "y",
)
# Deprivation per zone (IMD 2019 rank, 1 = most deprived; decile 1-10, 0 = unknown): present
# in every dataset built or imported now; added as unknown to older files when they are read.
DEPRIVATION_COLUMNS = ("imd_rank", "imd_decile")
DISTRICT_COLUMNS = ("district_code", "district_name", "current_virtual_beds")
SITE_COLUMNS = (
    "site_id", "site_name", "ods_code", "postcode", "lat", "lon", "x", "y",
    "zone_code", "district_code", "can_add_beds", "max_beds",
)
BEDS_PREFIX = "beds_"
TRAVEL_COLUMNS = ("zone_code", "site_id", "minutes")
PROJECTION_COLUMNS = ("district_code", "band", "year", "index")
PROVENANCE_COLUMNS = (
    "key", "description", "value", "unit", "kind", "source", "vintage", "licence",
    "citation", "note",
)


@dataclass(frozen=True)
class Dataset:
    """A validated geospatial dataset. Build one with :func:`optimiser.load_dataset`,
    :func:`optimiser.dataset.build_default` or :func:`optimiser.dataset.import_dataset`."""

    name: str
    zones: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    travel: pd.DataFrame
    projections: pd.DataFrame
    provenance: pd.DataFrame
    metadata: Mapping[str, str] = field(default_factory=dict)
    # SHA-256 of the GeoPackage this dataset was read from ("" if built in memory)
    file_sha256: str = field(default="", compare=False, repr=False)
    # Optional second zone -> site matrix (e.g. public transport): zone_code, site_id, minutes
    # (blank = no route by this means); its name is metadata["second_travel_label"].
    second_travel: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        validate(self)
        # figures derived from the (read-only) tables alone, kept for the next compile
        object.__setattr__(self, "_derived", {})

    # ---- convenient read-only views -------------------------------------------------
    def hub_distance_km(self, hub_locations: dict[str, tuple[float, float]]) -> np.ndarray:
        """Straight-line km from each zone to its district's home-based hub: the (lat, lon)
        given for the district, else the district's centre weighted by residents aged 65+.
        (Geometry stays in the dataset layer: the instance gets distances.) Kept per set of
        hub locations: the dataset does not change once built."""
        key = ("hub_distance_km", tuple(sorted((d, tuple(map(float, at))) for d, at in hub_locations.items())))
        if key not in self._derived:
            self._derived[key] = self._hub_distance_km(hub_locations)
            self._derived[key].setflags(write=False)
        return self._derived[key].copy()

    def _hub_distance_km(self, hub_locations: dict[str, tuple[float, float]]) -> np.ndarray:
        from pyproj import Transformer

        zones = self.zones
        weights = zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1) + 1e-9
        to_bng = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
        hubs = {}
        for d in self.districts.index:
            if d in hub_locations:
                lat, lon = hub_locations[d]
                hubs[d] = to_bng.transform(lon, lat)
            else:
                mask = zones["district_code"] == d
                w = weights[mask]
                hubs[d] = ((zones.loc[mask, "x"] * w).sum() / w.sum(), (zones.loc[mask, "y"] * w).sum() / w.sum())
        hx = zones["district_code"].map(lambda d: hubs[d][0]).to_numpy(float)
        hy = zones["district_code"].map(lambda d: hubs[d][1]).to_numpy(float)
        return np.hypot(zones["x"].to_numpy(float) - hx, zones["y"].to_numpy(float) - hy) / 1000.0

    @property
    def pathways_with_beds(self) -> tuple[str, ...]:
        return tuple(c[len(BEDS_PREFIX):] for c in self.sites.columns if c.startswith(BEDS_PREFIX))

    def current_beds(self) -> pd.DataFrame:
        """Current beds as a site x pathway table (integers)."""
        cols = [c for c in self.sites.columns if c.startswith(BEDS_PREFIX)]
        table = self.sites[cols].astype(int)
        table.columns = [c[len(BEDS_PREFIX):] for c in cols]
        return table

    def travel_matrix(self) -> pd.DataFrame:
        """Minutes as a zone x site table (zones in dataset order, sites in dataset order)."""
        matrix = self.travel.pivot(index="zone_code", columns="site_id", values="minutes")
        return matrix.loc[self.zones.index, self.sites.index]

    def second_travel_matrix(self) -> pd.DataFrame:
        """The second matrix as a zone x site table (NaN: no route), like :meth:`travel_matrix`."""
        if self.second_travel is None:
            raise InputError("the dataset has no second travel matrix (add one with 'python -m optimiser "
                             "data add-travel')")
        matrix = self.second_travel.pivot(index="zone_code", columns="site_id", values="minutes")
        return matrix.loc[self.zones.index, self.sites.index].astype(float)

    def travel_by_site(self) -> pd.DataFrame:
        """Per site, the median journey from the small areas (weighted by residents aged 65+)
        by the main matrix and, when there is one, by the second (over the areas it has a
        route from) with the share of residents 65+ it has a route for."""
        weights = self.zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1).to_numpy(float)

        def weighted_median(minutes: np.ndarray) -> float:
            ok = np.isfinite(minutes) & (weights > 0)
            if not ok.any():
                return float("nan")
            order = np.argsort(minutes[ok], kind="stable")
            cumulative = np.cumsum(weights[ok][order])
            return float(minutes[ok][order][np.searchsorted(cumulative, cumulative[-1] / 2)])

        road = self.travel_matrix()
        table = pd.DataFrame({"site_id": self.sites.index, "site_name": self.sites["site_name"].to_numpy(),
                              "median_minutes": [weighted_median(road[s].to_numpy(float)) for s in self.sites.index]})
        if self.second_travel is not None:
            second = self.second_travel_matrix()
            table["median_minutes_second"] = [weighted_median(second[s].to_numpy(float)) for s in self.sites.index]
            table["share_65_plus_with_route_second"] = [
                float(weights[np.isfinite(second[s].to_numpy(float))].sum() / max(weights.sum(), 1e-9))
                for s in self.sites.index]
        return table

    @property
    def second_travel_label(self) -> str:
        """What the second matrix measures, e.g. 'public transport' ('' when there is none)."""
        if self.second_travel is None:
            return ""
        return str(self.metadata.get("second_travel_label") or "second travel matrix")

    @property
    def assumptions(self) -> pd.DataFrame:
        """Figures a user should check or replace: assumptions, estimates and derived
        figures (not published facts, and not the user's own figures)."""
        return self.provenance[~self.provenance["kind"].isin(("fact", "user-supplied"))]

    @property
    def user_supplied(self) -> pd.DataFrame:
        return self.provenance[self.provenance["kind"] == "user-supplied"]

    def data_line(self) -> str:
        """What the data is, in one line, e.g. 'ONS mid-2020 small-area populations; travel
        times estimated from road distance'."""
        md = self.metadata
        if md.get("data_line"):
            return str(md["data_line"])
        population = str(md.get("population_method") or "population source not recorded")
        travel = str(md.get("travel_method") or "not recorded")
        return f"{population}; travel times: {travel}"

    def summary(self) -> dict:
        z = self.zones
        return {
            "name": self.name,
            "zones": int(len(z)),
            "districts": int(len(self.districts)),
            "sites": int(len(self.sites)),
            "population_total": int(round(z["pop_total"].sum())),
            "population_65_plus": int(round(z[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum().sum())),
            "population_85_plus": int(round(z["pop_85_plus"].sum())),
            "current_physical_beds": int(self.current_beds().to_numpy().sum()),
            "current_virtual_beds": int(round(self.districts["current_virtual_beds"].sum())),
            "travel_pairs": int(len(self.travel)),
            "travel_method": self.metadata.get("travel_method", ""),
            "second_travel": self.second_travel_label,
            "travel_fit_mae_minutes": self.metadata.get("travel_fit_mae_minutes", ""),
            "population_method": self.metadata.get("population_method", ""),
            "imd_deciles": sorted(int(d) for d in set(z["imd_decile"]) - {0}) if "imd_decile" in z else [],
            "zones_without_imd": int((z["imd_decile"] == 0).sum()) if "imd_decile" in z else int(len(z)),
            "projection_years": sorted(int(y) for y in set(self.projections["year"])),
            "assumptions": int(len(self.assumptions)),
            "user_supplied": int(len(self.user_supplied)),
        }


def _where(table: str, index_value) -> str:
    return f"{table} '{index_value}'"


def _check_columns(df: pd.DataFrame, required, table: str, file: str | None) -> None:
    present = set(df.columns) | ({df.index.name} if df.index.name else set())
    missing = [c for c in required if c not in present]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(repr(m) for m in missing)} in the {table} table",
            file=file, column=missing[0], expected=f"columns {', '.join(required)}",
        )


def _check_numeric(df: pd.DataFrame, columns, table: str, file: str | None, *,
                   minimum: float | None = 0.0, allow_missing: bool = False) -> None:
    for col in columns:
        values = pd.to_numeric(df[col], errors="coerce")
        bad_type = values.isna() & df[col].notna()
        if bad_type.any():
            pos = int(np.flatnonzero(bad_type.to_numpy())[0])
            raise InputError(
                f"value {df[col].iloc[pos]!r} in {_where(table, df.index[pos])} is not a number",
                file=file, row=pos + 1, column=col, expected="a number",
            )
        if not allow_missing and values.isna().any():
            pos = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise InputError(
                f"missing value in {_where(table, df.index[pos])}",
                file=file, row=pos + 1, column=col, expected="a number",
            )
        if minimum is not None and (values < minimum).any():
            pos = int(np.flatnonzero((values < minimum).to_numpy())[0])
            raise InputError(
                f"value {values.iloc[pos]:g} in {_where(table, df.index[pos])} is below {minimum:g}",
                file=file, row=pos + 1, column=col, expected=f"a number >= {minimum:g}",
            )


def _check_travel_table(t: pd.DataFrame, z: pd.DataFrame, s: pd.DataFrame, table: str, file: str | None,
                        allow_missing: bool = False) -> None:
    """A zone -> site minutes table: numbers of 0 or more (blank allowed for a second matrix:
    no route), each pair once, every pair present, only known zones and sites."""
    _check_columns(t, TRAVEL_COLUMNS, table, file)
    _check_numeric(t, ("minutes",), table, file, allow_missing=allow_missing)
    pairs = pd.MultiIndex.from_frame(t[["zone_code", "site_id"]])
    if pairs.duplicated().any():
        pos = int(np.flatnonzero(pairs.duplicated())[0])
        raise InputError(f"zone '{t['zone_code'].iloc[pos]}' to site '{t['site_id'].iloc[pos]}' appears twice"
                         + ("" if table == "travel" else f" in the {table} table"), file=file, row=pos + 1,
                         expected="each zone-site pair once")
    expected = len(z) * len(s)
    if len(t) != expected or not t["zone_code"].isin(z.index).all() or not t["site_id"].isin(s.index).all():
        have = set(zip(t["zone_code"], t["site_id"], strict=True))
        for zc in z.index:
            for sc in s.index:
                if (zc, sc) not in have:
                    raise InputError(f"no {table} time from zone '{zc}' to site '{sc}'", file=file,
                                     expected=f"a {table} time for every zone-site pair")
        bad = ~t["zone_code"].isin(z.index) | ~t["site_id"].isin(s.index)
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{table} row names unknown zone '{t['zone_code'].iloc[pos]}' or site "
                         f"'{t['site_id'].iloc[pos]}'", file=file, row=pos + 1)


def validate(ds: Dataset, file: str | None = None) -> None:
    """Check every table and the links between them; raise :class:`InputError` on the first
    problem found, naming the table, the row and the column."""
    z, d, s, t = ds.zones, ds.districts, ds.sites, ds.travel
    _check_columns(z, ZONE_COLUMNS, "zones", file)
    _check_columns(d, DISTRICT_COLUMNS, "districts", file)
    _check_columns(s, SITE_COLUMNS, "sites", file)
    _check_columns(t, TRAVEL_COLUMNS, "travel", file)
    _check_columns(ds.projections, PROJECTION_COLUMNS, "projections", file)
    _check_columns(ds.provenance, PROVENANCE_COLUMNS, "provenance", file)
    for table, df, key in (("zones", z, "zone_code"), ("districts", d, "district_code"),
                           ("sites", s, "site_id")):
        if df.index.name != key:
            raise InputError(f"the {table} table must be indexed by {key}", file=file)
        dup = df.index.duplicated()
        if dup.any():
            pos = int(np.flatnonzero(dup)[0])
            raise InputError(f"duplicate {key} '{df.index[pos]}'", file=file, row=pos + 1,
                             column=key, expected=f"each {key} once")
    _check_numeric(z, POPULATION_COLUMNS + ("x", "y"), "zone", file, minimum=None)
    _check_numeric(z, POPULATION_COLUMNS, "zone", file)
    _check_numeric(z, ("stroke_admissions",), "zone", file, allow_missing=True)
    if "imd_rank" in z.columns:
        _check_numeric(z, ("imd_rank",), "zone", file, minimum=1, allow_missing=True)
    if "imd_decile" in z.columns:
        _check_numeric(z, ("imd_decile",), "zone", file)
        bad = ~z["imd_decile"].isin(range(11))
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"IMD decile {z['imd_decile'].iloc[pos]!r} of zone '{z.index[pos]}' is not "
                             "a whole number 1-10 (0 = unknown)", file=file, row=pos + 1,
                             column="imd_decile", expected="a whole number 0-10")
    over = z[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1) > z["pop_total"] + 1e-6
    if over.any():
        pos = int(np.flatnonzero(over.to_numpy())[0])
        raise InputError(f"the 65+ age bands of zone '{z.index[pos]}' add up to more than its total",
                         file=file, row=pos + 1, column="pop_total",
                         expected="pop_65_74 + pop_75_84 + pop_85_plus <= pop_total")
    unknown = ~z["district_code"].isin(d.index)
    if unknown.any():
        pos = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(f"zone '{z.index[pos]}' names district '{z['district_code'].iloc[pos]}', "
                         "which is not in the districts table", file=file, row=pos + 1,
                         column="district_code", expected="a district code from the districts table")
    _check_numeric(d, ("current_virtual_beds",), "district", file)
    beds_cols = [c for c in s.columns if c.startswith(BEDS_PREFIX)]
    if not beds_cols:
        raise InputError("the sites table has no current-beds columns", file=file,
                         column="beds_<pathway>", expected="at least one column named beds_<pathway>")
    _check_numeric(s, ("lat", "lon", "x", "y"), "site", file, minimum=None)
    _check_numeric(s, tuple(beds_cols) + ("max_beds",), "site", file)
    too_many = s[beds_cols].sum(axis=1) > s["max_beds"]
    if too_many.any():
        pos = int(np.flatnonzero(too_many.to_numpy())[0])
        raise InputError(f"site '{s.index[pos]}' has more current beds than its max_beds",
                         file=file, row=pos + 1, column="max_beds",
                         expected="max_beds >= the sum of current beds")
    outside = ~s["zone_code"].isin(z.index)
    if outside.any():
        pos = int(np.flatnonzero(outside.to_numpy())[0])
        raise InputError(f"site '{s.index[pos]}' is not inside any zone", file=file, row=pos + 1,
                         column="zone_code", expected="a site located inside the study area")
    _check_travel_table(t, z, s, "travel", file)
    if ds.second_travel is not None:
        _check_travel_table(ds.second_travel, z, s, "second travel", file, allow_missing=True)
    kinds = ~ds.provenance["kind"].isin(PROVENANCE_KINDS)
    if kinds.any():
        pos = int(np.flatnonzero(kinds.to_numpy())[0])
        raise InputError(f"provenance kind {ds.provenance['kind'].iloc[pos]!r} is not one of "
                         f"{', '.join(PROVENANCE_KINDS)}", file=file, row=pos + 1, column="kind")
