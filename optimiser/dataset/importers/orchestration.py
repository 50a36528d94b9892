"""The import itself: every reader in order, each file's problems reported with its name."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd

from optimiser.dataset.core import BEDS_PREFIX, CRS, Dataset
from optimiser.dataset.importers.beds_today import _beds_today, _virtual_today
from optimiser.dataset.importers.boundaries import _Boundaries, _read_boundaries
from optimiser.dataset.importers.constants import USER_LICENCE, ZONE_TABLE_COLUMNS
from optimiser.dataset.importers.deprivation import _deprivation
from optimiser.dataset.importers.population import _Population, _read_population
from optimiser.dataset.importers.projections import _projections
from optimiser.dataset.importers.site_ids import _adopt_site_ids
from optimiser.dataset.importers.sites import _complete_sites, _read_sites, _Sites
from optimiser.dataset.importers.travel import _travel
from optimiser.dataset.importers.zones import (
    _build_districts,
    _build_zones,
    _copy_zone_facts,
    _district_names,
    _district_of_zones,
    _match_zones,
)
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.dataset.store import save_dataset
from optimiser.errors import InputError, OptimiserError, shorten, warn_data


@contextmanager
def _reading(path):
    """Turn anything unexpected while reading ``path`` into an InputError naming the file
    (the message says what broke; the traceback goes to the log for developers)."""
    try:
        yield
    except OptimiserError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        logging.getLogger(__name__).debug("reading %s failed", path, exc_info=True)
        raise InputError(f"cannot be read ({type(exc).__name__}: {shorten(str(exc), 160)})",
                         file=path) from exc


def _given_year(year, pop: _Population) -> str:
    """The population's year: the one given (checked), else the one the file states."""
    if year is None or year == "":
        return pop.base_year
    try:
        value = int(year)
    except (TypeError, ValueError):
        value = None
    if value is None or not 1900 <= value <= 2100 or str(year).strip() not in (str(value), f"{value}.0"):
        raise InputError(f"the population year {year!r} is not a year", file=pop.table.file,
                         expected="a year such as 2020")
    if pop.base_year not in ("unknown", str(value)):
        warn_data(f"'{pop.table.file.name}' says its population is for {pop.base_year}, but "
                  f"{value} was given: {value} is used")
    return str(value)


def _log_inputs(log: ProvenanceLog, pop: _Population, bounds: _Boundaries,
                zones: gpd.GeoDataFrame, sites: _Sites) -> None:
    z = zones
    sheet = f", sheet '{pop.table.sheet}'" if pop.table.sheet else ""
    log.add("import.population", f"small-area population: {len(z)} zones; total "
            f"{z['pop_total'].sum():,.0f}, 65+ "
            f"{z[['pop_65_74', 'pop_75_84', 'pop_85_plus']].sum().sum():,.0f}, 85+ "
            f"{z['pop_85_plus'].sum():,.0f}", f"{z['pop_total'].sum():.0f}", "people", "user-supplied",
            pop.table.file.name + sheet,
            pop.base_year if pop.base_year != "unknown" else "", USER_LICENCE, note=pop.method)
    repaired = (f"; {len(bounds.repaired)} invalid polygons repaired with make_valid: "
                f"{', '.join(bounds.repaired)}" if bounds.repaired else "")
    log.add("import.boundaries", f"zone boundaries: {len(z)} polygons, reprojected from "
            f"{bounds.source_crs} to {CRS}", len(z), "zones", "user-supplied", bounds.file.name, "",
            USER_LICENCE, note=f"districts dissolved from zones{repaired}")
    given = ", ".join(sites.given) or "none"
    log.add("import.sites", f"hospital sites: {len(sites.frame)} of type(s) {sites.types}",
            len(sites.frame), "sites", "user-supplied", sites.table.file.name, "", USER_LICENCE,
            note=f"bed and estate columns given: {given}")


def import_dataset(*, population, boundaries, sites, travel=None, projections=None,
                   name=None, out=None, site_types=("community",), beds_from=None,
                   estimator=None, travel_destinations=None, deprivation=None, current_beds=None,
                   virtual_beds=None, site_register=None, population_year: int | None = None) -> Dataset:
    """Build a validated dataset from user-supplied files (see the module docstring).

    ``population``: small-area estimates (e.g. ONS), CSV or .xlsx (title rows above the
    header are skipped). ``boundaries``: GeoJSON, GeoPackage or shapefile in any CRS.
    ``sites``: CSV of hospitals; with a site_type column only ``site_types`` are kept
    (``None`` keeps all). ``travel``: long or wide CSV of road minutes; destinations that are
    not sites (e.g. every stroke unit in England) are ignored with a warning, and sites the
    matrix does not name are estimated from straight-line distance calibrated on the matrix
    (destination locations from the sites file and ``travel_destinations``, a CSV of
    destination ids with lat/lon or easting/northing), with a warning; ``None`` estimates
    every site with ``estimator`` (default: the embedded default dataset's).
    ``projections``: ONS SNPP bands CSV. ``deprivation``: IMD 2019 File 1 (.csv or .csv.gz).
    ``current_beds``: today's beds per site (CSV with a site column and beds_<pathway>,
    optional max_beds, can_add_beds, source; or ``"site.pathway=N, ..."``);
    ``virtual_beds``: today's home-based beds per district (CSV of district and beds; or
    ``"E07000130=20, ..."``): both recorded as user-supplied. ``beds_from``: a dataset to copy
    current beds (by ODS code), virtual beds, stroke admissions, sub-ICB codes and
    projections from. ``site_register``: a sites table (site_id index, ods_code, site_name),
    e.g. the one a scenario's dataset has, whose ids the imported sites take where their ODS
    code, name or id matches (the match is in the dataset's metadata, ``site_ids``). ``out``:
    write the dataset there atomically (an existing file is replaced only if the import
    succeeds).
    ``population_year``: the year of the population estimates (mid-year), when the file does
    not say it in a sheet name, title or header; it is needed whenever the dataset has
    projections (they grow demand from that year).

    Raises :class:`InputError` naming the file, row, column and what was expected; warns
    (:class:`DataWarning`) about repaired polygons, ignored travel destinations, estimated
    sites, unknown deprivation, and missing beds today.
    """
    log = ProvenanceLog()
    with _reading(population):
        pop = _read_population(population)
        pop.base_year = _given_year(population_year, pop)
    with _reading(boundaries):
        bounds = _read_boundaries(boundaries)
        _match_zones(pop, bounds)
        district, district_source = _district_of_zones(pop, bounds)
        zones = _build_zones(pop, bounds, district, beds_from)
    with _reading(sites):
        site_data = _read_sites(sites, zones, site_types)
    match = None
    if site_register is not None:
        site_data, match = _adopt_site_ids(site_data, site_register)
        log.add("sites.ids", "site ids taken from the scenario's sites (by ODS code, name or id)",
                len(match.matched), "sites", "derived", "matched to the scenario's dataset", "", "",
                note=match.describe())
        if match.unmatched:
            warn_data(f"{len(match.unmatched)} imported site(s) match none of the scenario's sites (by ODS "
                      "code, name or id) and keep their own ids: "
                      + ", ".join(f"{n} ({i})" for n, i in match.unmatched))
    _log_inputs(log, pop, bounds, zones, site_data)
    log.add("zones.district", "district of each zone", zones["district_code"].nunique(),
            "districts", "user-supplied", district_source, "", USER_LICENCE)
    log.add("zones.reference_point", "zone reference point for travel: polygon centroid, or a "
            "point inside the polygon where the centroid falls outside it", "", "", "derived",
            f"computed from {bounds.file.name}", "", USER_LICENCE)
    _copy_zone_facts(zones, beds_from, log)
    deprivation_file = _deprivation(deprivation, zones, log)
    zones = zones[[*ZONE_TABLE_COLUMNS[:-2], "imd_rank", "imd_decile", "x", "y", "geometry"]]
    districts = _build_districts(zones, _district_names(district, pop, bounds, beds_from),
                                 beds_from, log)
    site_table, site_rows = _complete_sites(site_data, beds_from)
    beds_origin = virtual_origin = ""
    if current_beds is not None:
        site_table, site_rows, beds_origin = _beds_today(current_beds, site_table, site_rows)
    if virtual_beds is not None:
        districts, virtual_origin = _virtual_today(virtual_beds, districts, log)
    _say_what_today_is(site_data, site_table, beds_from, beds_origin, virtual_beds, log)
    with _reading(travel if travel is not None else sites):
        travel_table, travel_meta = _travel(travel, zones, site_data, estimator, log, travel_destinations)
    with _reading(projections if projections is not None else population):
        projection_table = _projections(projections, districts, beds_from, log)
    if len(projection_table) and pop.base_year == "unknown":
        raise InputError("the file does not say which year its population figures are for, and "
                         "the dataset has population projections, which grow demand from that "
                         "year: give the year (data import --population-year, or the year box "
                         "on the Data page)", file=pop.table.file,
                         expected="a sheet, title or header naming e.g. 'mid-2020', or the year given")
    provenance = pd.concat([log.table(), site_rows], ignore_index=True).astype(str)
    travel_line = travel_meta.pop("data_line_travel")
    ds = Dataset(
        name=name or f"Imported: {len(zones)} zones from {pop.table.file.stem}",
        zones=zones, districts=districts, sites=site_table, travel=travel_table,
        projections=projection_table, provenance=provenance,
        metadata={
            "description": f"imported from {pop.table.file.name}, {bounds.file.name} and "
                           f"{site_data.table.file.name}",
            "population_method": f"small-area populations imported from {pop.table.file.name} "
                                 f"({pop.method}; user-supplied)",
            "population_source": f"{pop.table.file.name} (user-supplied)",
            "population_base_year": pop.base_year,
            "data_line": f"small-area populations from {pop.table.file.name} (user-supplied); {travel_line}",
            "source_population": pop.table.file.name,
            "source_boundaries": bounds.file.name,
            "source_sites": site_data.table.file.name,
            "source_projections": Path(projections).name if projections is not None else "",
            "source_deprivation": deprivation_file,
            "beds_from": beds_from.name if beds_from is not None else "",
            "current_beds_from": beds_origin or ("sites file" if any(c.startswith(BEDS_PREFIX) for c in site_data.given)
                                                 else f"dataset '{beds_from.name}'" if beds_from is not None
                                                 else "not given"),
            "virtual_beds_from": virtual_origin or (f"dataset '{beds_from.name}'" if beds_from is not None
                                                    else "not given"),
            "site_ids": match.describe() if match is not None else "",
            **travel_meta,
        },
    )
    if bounds.repaired:
        warn_data(f"{len(bounds.repaired)} invalid polygon(s) in '{bounds.file.name}' were "
                  f"repaired with make_valid: zones {', '.join(bounds.repaired)}")
    if out is not None:
        save_dataset(ds, out)
    return ds


NO_BEDS_TODAY = ("no beds today were given (no beds_<pathway> columns in the sites file, no "
                 "--current-beds, no --copy-from): every site has 0 beds today, so options that refer "
                 "to today (the status quo) cannot be evaluated, and demand calibrated on today's beds "
                 "(the default scenario's method) cannot be worked out; give them with --current-beds "
                 "FILE or --copy-from default")
NO_HOME_BEDS_TODAY = ("no home-based (virtual) beds today were given (no --virtual-beds, no --copy-from): 0 "
                      "in every district, so options with 'virtual_beds: current' cannot be evaluated as "
                      "today, and a scenario that counts today's home-based beds in demand (the default's "
                      "rehabilitation pathway) understates it; give them with --virtual-beds FILE or "
                      "--copy-from default")


def today_warnings(ds: Dataset) -> list[str]:
    """What an imported dataset does not know about today, in plain words (empty if all is
    known): the CLI and the app say it after an import."""
    out = []
    if ds.metadata.get("current_beds_from") == "not given":
        out.append(NO_BEDS_TODAY)
    if ds.metadata.get("virtual_beds_from") == "not given":
        out.append(NO_HOME_BEDS_TODAY)
    return out


def _say_what_today_is(site_data: _Sites, site_table: gpd.GeoDataFrame, beds_from: Dataset | None,
                       beds_origin: str, virtual_beds, log: ProvenanceLog) -> None:
    """Record (as assumptions) that today's beds or home-based beds were not given."""
    file_beds = any(c.startswith(BEDS_PREFIX) for c in site_data.given)
    if not (beds_origin or file_beds or beds_from is not None):
        log.add("sites.beds.unknown", "beds today not given: 0 at every site", 0, "beds", "assumption",
                "not in the imported files", "", "", note=NO_BEDS_TODAY)
