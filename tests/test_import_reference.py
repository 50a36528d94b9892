"""Import the real open data in ../shared/data/llr-reference (ONS small-area populations,
LSOA/MSOA boundaries, NHS site list, ONS projections) and check it against the files' own
totals. The reference folder sits beside the repo and is never copied into it."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from optimiser.dataset.importers import import_dataset
from optimiser.dataset.store import load_dataset, save_dataset
from optimiser.errors import DataWarning
from optimiser.travel import RoadTimeEstimator, straight_line_km

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "llr-reference"
ESTIMATOR = RoadTimeEstimator(11.24, 0.812, 2.93, 0.072, 3.0, 1000, 10, 60.0)
LLR_TOTAL = 1_107_597
# The brief and the folder's README say 65+ is 201,822, but both the LSOA and the district
# files (age_65_plus, and the single years 65..90+) add up to 200,622, as do the mid-2020
# district figures in optimiser/dataset/llr.py: 201,822 is a transposition of 200,622.
LLR_65_PLUS = 200_622
LLR_75_PLUS = 91_383
LLR_85_PLUS = 26_212
REPAIRED_LSOAS = ["E01013619", "E01013633", "E01013792", "E01025861"]


@pytest.fixture(scope="module")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"the reference data folder {REFERENCE} is missing: these tests import the "
                    "real LLR files kept beside the repo at ../shared/data/llr-reference")
    return REFERENCE


def _import(reference: Path, level: str, **kwargs):
    with pytest.warns(DataWarning) as record:
        ds = import_dataset(
            population=reference / "population" / f"llr_population20_{level}11_mid2020_syoa.csv",
            boundaries=reference / "boundaries" / f"llr_{level}11.geojson",
            sites=reference / "sites" / "llr_hospital_sites.csv",
            estimator=ESTIMATOR, population_year=2020, **kwargs)   # the CSVs do not state their year
    return ds, [str(w.message) for w in record if issubclass(w.category, DataWarning)]


@pytest.fixture(scope="module")
def lsoa(reference):
    return _import(reference, "lsoa",
                   projections=reference / "population" / "llr_snpp2022_migcat23_bands.csv")


@pytest.fixture(scope="module")
def districts_file(reference) -> pd.DataFrame:
    path = reference / "population" / "llr_population20_ltla21_mid2020_syoa.csv"
    return pd.read_csv(path, dtype={"ltla21_code": str}).set_index("ltla21_code")


@pytest.fixture(scope="module")
def sites_file(reference) -> pd.DataFrame:
    return pd.read_csv(reference / "sites" / "llr_hospital_sites.csv")


def test_lsoa_import_counts(lsoa):
    ds, _ = lsoa
    summary = ds.summary()
    assert (summary["zones"], summary["districts"], summary["sites"]) == (611, 9, 8)
    assert summary["population_total"] == LLR_TOTAL
    assert summary["population_65_plus"] == LLR_65_PLUS
    assert summary["population_85_plus"] == LLR_85_PLUS
    z = ds.zones
    assert round((z["pop_75_84"] + z["pop_85_plus"]).sum()) == LLR_75_PLUS
    assert z.index.str.match(r"^E01\d{6}$").all()
    assert z["zone_name"].str.match(r"^.+ \d{3}[A-Z]$").all()


def test_lsoa_import_repairs_exactly_four_polygons_with_one_warning(lsoa):
    ds, warnings = lsoa
    assert len(warnings) == 1
    assert warnings[0].startswith("4 invalid polygon(s) in 'llr_lsoa11.geojson'")
    for code in REPAIRED_LSOAS:
        assert code in warnings[0]
    assert ds.zones.geometry.is_valid.all()
    assert ds.zones.loc[REPAIRED_LSOAS].geometry.area.gt(0).all()
    boundaries = ds.provenance.set_index("key").loc["import.boundaries"]
    assert "4 invalid polygons repaired" in boundaries["note"]


def test_every_district_adds_up_to_the_district_file(lsoa, districts_file):
    ds, _ = lsoa
    z = ds.zones
    by_district = pd.DataFrame({
        "total_population": z["pop_total"],
        "age_65_plus": z[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1),
        "age_75_plus": z["pop_75_84"] + z["pop_85_plus"],
        "age_85_plus": z["pop_85_plus"],
    }).groupby(z["district_code"]).sum()
    expected = districts_file.loc[by_district.index, by_district.columns]
    assert sorted(by_district.index) == sorted(districts_file.index)
    np.testing.assert_array_equal(by_district.to_numpy(), expected.to_numpy())
    names = ds.districts["district_name"]
    assert (names == districts_file.loc[names.index, "ltla21_name"]).all()


def test_zone_reference_point_is_the_centroid_unless_that_falls_outside(lsoa):
    ds, _ = lsoa
    z = ds.zones
    points = gpd.GeoSeries(gpd.points_from_xy(z["x"], z["y"]), index=z.index, crs=z.crs)
    assert (points.distance(z.geometry) < 0.1).all()  # inside (to the 0.1 m rounding)
    centroid = z.geometry.centroid
    inside = centroid.within(z.geometry)
    assert 0 < (~inside).sum() < len(z)  # some real LSOAs are crescents
    assert (centroid[inside].distance(points[inside]) < 0.1).all()
    assert (centroid[~inside].distance(points[~inside]) > 1).all()


def test_districts_are_the_union_of_their_zones(lsoa):
    ds, _ = lsoa
    zone_area = ds.zones.geometry.area.groupby(ds.zones["district_code"]).sum()
    np.testing.assert_allclose(ds.districts.geometry.area.loc[zone_area.index], zone_area,
                               rtol=1e-6)


def test_community_sites_are_located_in_their_district(lsoa, sites_file):
    ds, _ = lsoa
    community = sites_file[sites_file["site_type"] == "community"].set_index("ods_site_code")
    sites = ds.sites.set_index("ods_code")
    assert sorted(sites.index) == sorted(community.index)
    assert (sites["district_code"] == community.loc[sites.index, "lad25cd"]).all()
    zones = ds.zones.loc[ds.sites["zone_code"]].geometry.to_numpy()
    assert all(zone.covers(site) for zone, site in zip(zones, ds.sites.geometry, strict=True))
    # BNG from lat/lon agrees with the file's own easting/northing to within a few metres
    np.testing.assert_allclose(sites["x"], community.loc[sites.index, "easting"], atol=3)
    np.testing.assert_allclose(sites["y"], community.loc[sites.index, "northing"], atol=3)
    assert ds.sites.index[0] == "loughborough_hospital"


def test_travel_is_complete_positive_and_from_the_estimator(lsoa):
    ds, _ = lsoa
    t = ds.travel
    assert len(t) == 611 * 8
    assert not t.duplicated(["zone_code", "site_id"]).any()
    assert (t["minutes"] > 0).all() and t["minutes"].notna().all()
    matrix = ds.travel_matrix()
    assert matrix.shape == (611, 8) and matrix.notna().all().all()
    km = straight_line_km(ds.zones["x"], ds.zones["y"], ds.sites["x"], ds.sites["y"])
    np.testing.assert_allclose(matrix.to_numpy(), 11.24 + 0.812 * km, atol=0.006)
    assert ds.metadata["travel_method"].startswith("estimated")
    assert ds.metadata["travel_fit_intercept_minutes"] == "11.240000"
    row = ds.provenance.set_index("key").loc["travel.minutes"]
    assert row["kind"] == "estimate"


def test_projections_are_indexed_to_the_first_year(lsoa, reference):
    ds, _ = lsoa
    p = ds.projections
    assert set(p["band"]) == {"all_ages", "65_plus", "85_plus"}
    assert p["district_code"].nunique() == 9
    assert len(p) == 9 * 3 * 26
    assert (p.loc[p["year"] == 2022, "index"] == 1.0).all()
    raw = pd.read_csv(reference / "population" / "llr_snpp2022_migcat23_bands.csv")
    leicester = raw[(raw["area_code"] == "E06000016") & (raw["band"] == "65_plus")].iloc[0]
    got = p[(p["district_code"] == "E06000016") & (p["band"] == "65_plus") & (p["year"] == 2047)]
    assert got["index"].iloc[0] == pytest.approx(leicester["2047"] / leicester["2022"], rel=1e-6)


def test_provenance_and_metadata(lsoa):
    ds, _ = lsoa
    prov = ds.provenance.set_index("key")
    for key in ("import.population", "import.boundaries", "import.sites", "import.projections"):
        assert prov.loc[key, "kind"] == "user-supplied"       # what a user gives is never a "fact"
        assert prov.loc[key, "licence"] == "as supplied by the user"
    assert prov.loc["import.population", "source"] == "llr_population20_lsoa11_mid2020_syoa.csv"
    assert "1,107,597" in prov.loc["import.population", "description"]
    assert prov.loc["sites.beds.assumed", "kind"] == "assumption"
    assert ds.current_beds().to_numpy().sum() == 0
    assert ds.sites["can_add_beds"].all() and (ds.sites["max_beds"] == 0).all()
    assert ds.zones["stroke_admissions"].isna().all()
    assert (ds.districts["current_virtual_beds"] == 0).all()
    assert ds.metadata["population_base_year"] == "2020"
    assert ds.metadata["source_boundaries"] == "llr_lsoa11.geojson"


def test_lsoa_dataset_round_trips_through_a_geopackage(lsoa, tmp_path):
    ds, _ = lsoa
    path = save_dataset(ds, tmp_path / "llr_imported.gpkg")
    back = load_dataset(path)
    assert back.name == ds.name
    assert dict(back.metadata) == dict(ds.metadata)
    for table in ("zones", "districts", "sites"):
        mine, theirs = getattr(ds, table), getattr(back, table)
        pd.testing.assert_frame_equal(pd.DataFrame(theirs.drop(columns="geometry")),
                                      pd.DataFrame(mine.drop(columns="geometry")),
                                      check_dtype=False)
        assert theirs.geometry.geom_equals_exact(mine.geometry, tolerance=1e-6).all()
    for table in ("travel", "projections", "provenance"):
        pd.testing.assert_frame_equal(getattr(back, table), getattr(ds, table), check_dtype=False)


def test_msoa_import(reference, districts_file):
    ds, warnings = _import(reference, "msoa", out=None)
    summary = ds.summary()
    assert (summary["zones"], summary["districts"], summary["sites"]) == (125, 9, 8)
    assert summary["population_total"] == LLR_TOTAL
    assert summary["population_65_plus"] == LLR_65_PLUS
    assert summary["population_85_plus"] == LLR_85_PLUS
    assert ds.zones.index.str.match(r"^E02\d{6}$").all()
    totals = ds.zones.groupby("district_code")["pop_total"].sum()
    assert (totals == districts_file.loc[totals.index, "total_population"]).all()
    assert len(warnings) == 1 and warnings[0].startswith("2 invalid polygon(s)")
    assert len(ds.travel) == 125 * 8 and (ds.travel["minutes"] > 0).all()
    assert ds.projections.empty
    assert "projections.none" in set(ds.provenance["key"])
