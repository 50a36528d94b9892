"""Importing user files: one small bad file per kind of bad input (tests/fixtures/bad_input,
made by make_fixtures.py), each of which must be refused with a message naming the file, the
row or feature, the column and what was expected; and the valid set they vary from."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.dataset.importers import DISTRICT_CODE, import_dataset
from optimiser.dataset.store import load_dataset
from optimiser.errors import DataWarning, InputError
from optimiser.travel import RoadTimeEstimator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bad_input"
VALID = {
    "population": FIXTURES / "valid_population.csv",
    "boundaries": FIXTURES / "valid_boundaries.geojson",
    "sites": FIXTURES / "valid_sites.csv",
    "travel": FIXTURES / "valid_travel_long.csv",
    "projections": FIXTURES / "valid_projections.csv",
}
ZONES = ["E01000001", "E01000002", "E01000003", "E01000004"]
ESTIMATOR = RoadTimeEstimator(11.24, 0.812, 2.93, 0.072, 3.0, 1000, 10, 60.0)


def _import(**changes):
    # the valid population CSV does not state its year, and projections need it
    return import_dataset(**{**VALID, "population_year": 2020, **changes})


BAD = [
    # argument, fixture, message (regex), row, column
    pytest.param("population", "population_misspelt_column.csv",
                 r"no zone code column in the population file; columns that look close: "
                 r"'lsoa11_cdoe'.*\(expected a zone code column such as 'LSOA11CD'",
                 None, "zone_code", id="population-misspelt-column"),
    pytest.param("population", "population_missing_column.csv",
                 r"no total population column in the population file; found columns "
                 r"'lsoa11_code'.*\(expected a total population column such as 'All Ages'",
                 None, "total", id="population-missing-column"),
    pytest.param("population", "population_duplicate_zone.csv",
                 r"row 3, column 'lsoa11_code': duplicate zone code 'E01000002' \(also on row 2\)",
                 3, "lsoa11_code", id="population-duplicate-zone"),
    pytest.param("population", "population_unknown_zone.csv",
                 r"row 4, column 'lsoa11_code': zone 'E01009999' is not in the boundaries file "
                 r"'valid_boundaries.geojson'", 4, "lsoa11_code", id="population-unknown-zone"),
    pytest.param("population", "population_negative.csv",
                 r"row 2, column 'age_75_84': population -5 for zone 'E01000002' is negative "
                 r"\(expected a number of people, 0 or more\)", 2, "age_75_84",
                 id="population-negative"),
    pytest.param("population", "population_non_numeric.csv",
                 r"row 3, column 'total_population': population 'about 1400' for zone "
                 r"'E01000003' is not a number", 3, "total_population",
                 id="population-non-numeric"),
    pytest.param("population", "population_missing_value.csv",
                 r"row 4, column 'age_85_plus': no population for zone 'E01000004'", 4,
                 "age_85_plus", id="population-missing-value"),
    pytest.param("population", "population_negative_ons.xlsx",
                 r"row 2, column '80': population -3 for zone 'E01000002' is negative "
                 r"\(sheet 'Mid-2020 Persons', line 6\)", 2, "80", id="population-xlsx-negative"),
    pytest.param("boundaries", "boundaries_no_crs.shp",
                 r"has no coordinate reference system \(expected .*\.prj", None, None,
                 id="boundaries-no-crs"),
    pytest.param("boundaries", "boundaries_empty_geometry.geojson",
                 r"row 3, column 'geometry': feature 3 \(zone 'E01000003'\) has an empty "
                 r"geometry \(expected a polygon", 3, "geometry", id="boundaries-empty-geometry"),
    pytest.param("sites", "sites_outside.csv",
                 r"row 2, column 'lat/lon': site 'Beta Hospital' at \(52\.68\d+, -0\.96\d+\) is "
                 r"not inside any zone \(expected a site located inside", 2, "lat/lon",
                 id="sites-outside-every-zone"),
    pytest.param("sites", "sites_no_location.csv",
                 r"column 'lat': no latitude column in the sites file; found columns 'site_id'.*"
                 r"\(expected location columns: lat and lon", None, "lat",
                 id="sites-no-location"),
    pytest.param("sites", "sites_duplicate_id.csv",
                 r"row 2, column 'site_id': duplicate site id 'alpha' for site 'Beta Hospital' "
                 r"\(also on row 1\)", 2, "site_id", id="sites-duplicate-id"),
    pytest.param("travel", "travel_missing_pair.csv",
                 r"no travel time from zone 'E01000003' to site 'beta' .*\(expected a travel "
                 r"time for every zone-site pair\)", None, None, id="travel-missing-pair"),
    pytest.param("travel", "travel_negative.csv",
                 r"row 5, column 'minutes': travel time -3 for zone 'E01000003' to site 'alpha' "
                 r"is negative \(expected minutes, 0 or more\)", 5, "minutes",
                 id="travel-negative"),
    pytest.param("travel", "travel_non_numeric.csv",
                 r"row 2, column 'Beta Hospital': travel time 'n/a' for zone 'E01000002' is not "
                 r"a number", 2, "Beta Hospital", id="travel-non-numeric"),
    pytest.param("deprivation", "deprivation_bad_decile.csv",
                 r"row 3, column 'Index of Multiple Deprivation \(IMD\) Decile': IMD decile 11 for zone "
                 r"'E01000003' is above 10 \(expected a decile 1-10\)", 3,
                 "Index of Multiple Deprivation (IMD) Decile", id="deprivation-bad-decile"),
    pytest.param("current_beds", "beds_unknown_site.csv",
                 r"row 2, column 'ods_code': site 'RT5ZZ' is not among the imported sites \(alpha, beta\)",
                 2, "ods_code", id="beds-today-unknown-site"),
    pytest.param("virtual_beds", "home_based_beds_unknown_district.csv",
                 r"row 2, column 'district_code': district 'E07000999' is not a district of the imported "
                 r"zones", 2, "district_code", id="home-based-beds-unknown-district"),
    pytest.param("projections", "projections_unknown_district.csv",
                 r"row 2, column 'area_code': district 'E07000999' is not a district of the "
                 r"imported zones", 2, "area_code", id="projections-unknown-district"),
]


@pytest.mark.parametrize("argument, fixture, message, row, column", BAD)
def test_bad_input_is_refused_naming_file_row_column_and_expectation(argument, fixture, message,
                                                                     row, column):
    with pytest.raises(InputError, match=message) as caught:
        _import(**{argument: FIXTURES / fixture})
    error = caught.value
    assert Path(error.file).name == fixture
    assert error.row == row
    assert error.column == column
    assert error.expected
    text = str(error)
    assert text.startswith(f"file '{fixture}'")
    assert text.endswith(f"(expected {error.expected})")
    if row is not None:
        assert f"row {row}" in text
    if column is not None:
        assert f"column '{column}'" in text


def test_every_fixture_file_is_used():
    used = {p.values[1] for p in BAD} | {f.name for f in VALID.values()}
    used |= {"valid_population_ons.xlsx", "valid_travel_wide.csv", "boundaries_bowtie.geojson",
             "travel_unknown_site.csv", "valid_deprivation.csv", "valid_beds_today.csv",
             "valid_home_based_beds.csv"}
    on_disk = {p.name for p in FIXTURES.iterdir()
               if p.suffix in (".csv", ".xlsx", ".geojson", ".shp")}
    assert on_disk == used


def test_bow_tie_polygon_is_repaired_with_one_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _import(boundaries=FIXTURES / "boundaries_bowtie.geojson")
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert messages == ["1 invalid polygon(s) in 'boundaries_bowtie.geojson' were repaired "
                        "with make_valid: zones E01000002"]
    geometry = ds.zones.geometry
    assert geometry.is_valid.all()
    # the bow tie's two triangles keep half the square; the other squares are whole
    assert geometry["E01000002"].geom_type == "MultiPolygon"
    assert geometry.area["E01000002"] == pytest.approx(500_000, rel=1e-3)
    assert geometry.area.drop("E01000002").to_numpy() == pytest.approx([1_000_000] * 3, rel=1e-3)
    assert "E01000002" in ds.provenance.set_index("key").loc["import.boundaries", "note"]


def test_bow_tie_warning_is_a_data_warning():
    with pytest.warns(DataWarning, match=r"1 invalid polygon\(s\) .* zones E01000002"):
        _import(boundaries=FIXTURES / "boundaries_bowtie.geojson")


# ---- the valid set ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def valid():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the valid set imports without a single warning
        return _import()


def test_valid_set_imports(valid):
    ds = valid
    assert list(ds.zones.index) == ZONES
    assert list(ds.zones["zone_name"]) == ["Leicester 901A", "Leicester 901B", "Blaby 901A",
                                           "Blaby 901B"]
    assert list(ds.zones["pop_total"]) == [1500, 1620, 1410, 1730]
    assert list(ds.zones["pop_85_plus"]) == [30, 25, 45, 40]
    # square zones: the reference point is the centre of the square
    np.testing.assert_allclose(ds.zones["x"], [460500, 461500, 460500, 461500], atol=1)
    np.testing.assert_allclose(ds.zones["y"], [303500, 303500, 304500, 304500], atol=1)
    assert dict(ds.districts["district_name"]) == {"E06000016": "Leicester",
                                                   "E07000129": "Blaby"}
    np.testing.assert_allclose(ds.districts.geometry.area, 2_000_000, rtol=1e-3)
    # the acute site is left out (site_types defaults to community)
    assert list(ds.sites.index) == ["alpha", "beta"]
    assert list(ds.sites["zone_code"]) == ["E01000001", "E01000004"]
    assert list(ds.sites["district_code"]) == ["E06000016", "E07000129"]
    np.testing.assert_allclose(ds.sites["x"], [460400, 461600], atol=0.5)
    assert ds.current_beds().loc["beta"].to_dict() == {"rehab": 12, "stroke": 4, "palliative": 0}
    assert list(ds.sites["can_add_beds"]) == [True, False]
    assert list(ds.sites["max_beds"]) == [32, 16]
    assert ds.travel_matrix().loc["E01000001", "alpha"] == 4.2
    p = ds.projections.set_index(["district_code", "band", "year"])["index"]
    assert p[("E06000016", "65_plus", 2022)] == 1.0
    assert p[("E06000016", "65_plus", 2030)] == pytest.approx(580 / 500)
    assert ("E06000016", "75_plus", 2030) not in p.index
    assert ds.metadata["travel_method"] == "imported from valid_travel_long.csv"
    assert ds.metadata["population_base_year"] == "2020"
    prov = ds.provenance.set_index("key")
    assert prov.loc["sites.beds_stroke.beta", "kind"] == "user-supplied"   # never "fact"
    assert prov.loc["sites.beds_stroke.beta", "value"] == "4"
    assert "fact" not in set(ds.provenance["kind"])     # nothing a user gives is a published fact


def test_wide_travel_matrix_gives_the_same_table(valid):
    ds = _import(travel=FIXTURES / "valid_travel_wide.csv")
    pd.testing.assert_frame_equal(ds.travel, valid.travel)


def test_ons_spreadsheet_population_gives_the_same_zones(valid):
    ds = _import(population=FIXTURES / "valid_population_ons.xlsx")
    columns = ["zone_name", "district_code", "pop_total", "pop_65_74", "pop_75_84", "pop_85_plus"]
    pd.testing.assert_frame_equal(pd.DataFrame(ds.zones[columns]),
                                  pd.DataFrame(valid.zones[columns]))
    assert ds.metadata["population_base_year"] == "2020"
    assert "sheet 'Mid-2020 Persons'" in ds.provenance.set_index("key").loc[
        "import.population", "source"]


@pytest.mark.slow
def test_a_site_the_matrix_lacks_is_estimated_with_a_warning():
    with pytest.warns(DataWarning, match=r"1 of 3 sites are not in the travel matrix 'valid_travel_long.csv': "
                                         r"their minutes are estimated .*: Gamma Infirmary"):
        ds = _import(site_types=None)
    km = np.hypot(ds.zones["x"] - ds.sites.loc["gamma", "x"], ds.zones["y"] - ds.sites.loc["gamma", "y"]) / 1000
    from optimiser.dataset.default import DEFAULT_DATASET_PATH
    from optimiser.travel import estimator_from_metadata

    default = estimator_from_metadata(load_dataset(DEFAULT_DATASET_PATH).metadata)
    np.testing.assert_allclose(ds.travel_matrix()["gamma"], np.round(default.minutes(km), 2))
    assert ds.travel_matrix().loc["E01000001", "alpha"] == 4.2             # the file's own times kept
    assert ds.provenance.set_index("key").loc["travel.minutes", "kind"] == "estimate"
    assert ds.metadata["travel_method"].startswith("road minutes imported from valid_travel_long.csv for 2 sites")
    ds = _import(site_types=None, travel=FIXTURES / "valid_travel_wide.csv")
    assert list(ds.sites.index) == ["alpha", "beta", "gamma"]
    assert ds.travel_matrix().loc["E01000001", "gamma"] == 5.5


def test_a_destination_that_is_not_a_site_is_ignored_with_a_warning_naming_it():
    # the long file names 'delta' instead of 'beta' once: delta is set aside (with a warning),
    # and beta's missing pair is an error that points at it
    with pytest.warns(DataWarning, match=r"1 destination\(s\) of the travel matrix 'travel_unknown_site.csv' "
                                         r"are not sites in the sites file and are ignored \(e.g. 'delta'\)"), \
            pytest.raises(InputError, match=r"no travel time from zone 'E01000004' to site 'beta' \(1 missing "
                                            r"pair\(s\) in all\); the file also names 1 destination\(s\) that are "
                                            r"not sites \(e.g. 'delta'\): a misspelt site\?") as caught:
        _import(travel=FIXTURES / "travel_unknown_site.csv")
    assert Path(caught.value.file).name == "travel_unknown_site.csv"


def test_sites_located_by_easting_and_northing(valid, tmp_path):
    sites = pd.read_csv(VALID["sites"]).drop(columns=["lat", "lon"])
    sites["easting"], sites["northing"] = [460400, 461600, 461500], [303400, 304600, 303400]
    sites.to_csv(tmp_path / "sites_bng.csv", index=False)
    ds = _import(sites=tmp_path / "sites_bng.csv")
    np.testing.assert_allclose(ds.sites[["lat", "lon"]], valid.sites[["lat", "lon"]], atol=1e-5)
    assert list(ds.sites["zone_code"]) == list(valid.sites["zone_code"])


def _sites_without_beds(tmp_path: Path, **changes) -> Path:
    sites = pd.read_csv(VALID["sites"]).drop(
        columns=["beds_rehab", "beds_stroke", "beds_palliative", "can_add_beds", "max_beds"])
    for column, (row, value) in changes.items():
        sites.loc[row, column] = value
    path = tmp_path / "sites_without_beds.csv"
    sites.to_csv(path, index=False)
    return path


def test_sites_without_beds_get_stated_defaults(tmp_path):
    ds = _import(sites=_sites_without_beds(tmp_path), projections=None)
    assert ds.current_beds().to_numpy().sum() == 0
    assert ds.sites["can_add_beds"].all() and (ds.sites["max_beds"] == 0).all()
    prov = ds.provenance.set_index("key")
    assert prov.loc["sites.beds.assumed", "kind"] == "assumption"
    assert prov.loc["sites.beds.assumed", "value"] == "alpha, beta"
    assert prov.loc["projections.none", "description"] == "no growth projections"
    assert ds.projections.empty


def test_beds_and_projections_copied_from_another_dataset_by_ods_code(valid, tmp_path):
    path = _sites_without_beds(tmp_path, ods_code=(1, "XXXXX"))  # beta no longer matches
    ds = _import(sites=path, projections=None, beds_from=valid)
    assert ds.current_beds().loc["alpha"].to_dict() == {"rehab": 20, "stroke": 0,
                                                        "palliative": 1}
    assert ds.sites.loc["alpha", "max_beds"] == 32
    assert ds.current_beds().loc["beta"].sum() == 0 and ds.sites.loc["beta", "max_beds"] == 0
    prov = ds.provenance.set_index("key")
    assert prov.loc["sites.beds_rehab.alpha", "kind"] == "user-supplied"  # as in the source dataset
    assert "copied from dataset" in prov.loc["sites.beds_rehab.alpha", "source"]
    assert prov.loc["sites.beds.assumed", "value"] == "beta"
    pd.testing.assert_frame_equal(ds.projections, valid.projections)


def test_estimated_travel_when_no_matrix_is_given():
    ds = _import(travel=None, estimator=ESTIMATOR)
    assert (ds.travel["minutes"] > 11.24).all()
    assert ds.metadata["travel_fit_minutes_per_km"] == "0.812000"
    assert ds.provenance.set_index("key").loc["travel.minutes", "kind"] == "estimate"


def test_newest_local_authority_code_column_is_preferred():
    headers = ["LSOA Code", "LA Code (2018 boundaries)", "LA Code (2021 boundaries)"]
    assert DISTRICT_CODE.find(headers) == "LA Code (2021 boundaries)"


# ---- writing ------------------------------------------------------------------------------

@pytest.mark.slow
def test_out_writes_the_dataset(valid, tmp_path):
    path = tmp_path / "imported.gpkg"
    _import(out=path)
    back = load_dataset(path)
    assert back.summary() == valid.summary()


@pytest.mark.slow
def test_failed_import_leaves_an_existing_output_untouched(tmp_path):
    path = tmp_path / "imported.gpkg"
    _import(out=path)
    before = path.read_bytes()
    with pytest.raises(InputError, match="travel time -3"):
        _import(travel=FIXTURES / "travel_negative.csv", out=path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["imported.gpkg"]


@pytest.mark.slow
def test_import_failing_while_writing_leaves_an_existing_output_untouched(tmp_path,
                                                                         monkeypatch):
    from optimiser.dataset import store

    path = tmp_path / "imported.gpkg"
    _import(out=path)
    before = path.read_bytes()
    real_write = store._write_table

    def fail_on_travel(target, df, layer):
        if layer == "travel":
            raise OSError("disk full")
        real_write(target, df, layer)

    monkeypatch.setattr(store, "_write_table", fail_on_travel)
    with pytest.raises(OSError, match="disk full"):
        _import(travel=FIXTURES / "valid_travel_wide.csv", out=path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["imported.gpkg"]


@pytest.mark.slow
def test_deprivation_in_the_official_file_one_layout(tmp_path):
    ds = _import(deprivation=FIXTURES / "valid_deprivation.csv")
    assert ds.zones["imd_rank"].tolist() == [1928, 705, 21400, 32100]      # "1,928": thousands separators
    assert ds.zones["imd_decile"].tolist() == [1, 1, 7, 10]
    row = ds.provenance.set_index("key").loc["zones.imd"]
    assert row["kind"] == "user-supplied" and "1 rows for other areas skipped" in row["note"]
    assert ds.metadata["source_deprivation"] == "valid_deprivation.csv"
    # England-wide files come gzipped: the same figures
    import gzip

    gz = tmp_path / "imd.csv.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "valid_deprivation.csv").read_bytes()))
    again = _import(deprivation=gz)
    pd.testing.assert_frame_equal(again.zones[["imd_rank", "imd_decile"]], ds.zones[["imd_rank", "imd_decile"]])
    # a zone the file lacks: decile 0 (unknown), with a warning
    lines = (FIXTURES / "valid_deprivation.csv").read_text().splitlines()
    short = tmp_path / "imd_short.csv"
    short.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    with pytest.warns(DataWarning, match=r"1 of 4 zones are not in the deprivation file 'imd_short.csv'"):
        partial = _import(deprivation=short)
    assert partial.zones.loc["E01000002", "imd_decile"] == 0 and np.isnan(partial.zones.loc["E01000002", "imd_rank"])
    # no file at all: every decile unknown, said in the provenance
    none = _import()
    assert (none.zones["imd_decile"] == 0).all()
    assert none.provenance.set_index("key").loc["zones.imd", "kind"] == "assumption"


@pytest.mark.slow
def test_beds_today_from_a_file_or_the_command_line_are_user_supplied():
    ds = _import(current_beds=FIXTURES / "valid_beds_today.csv")
    assert ds.current_beds().loc["alpha"].to_dict() == {"rehab": 22, "stroke": 0, "palliative": 1}
    assert ds.sites.loc["alpha", "max_beds"] == 30
    prov = ds.provenance.set_index("key")
    assert prov.loc["sites.beds_rehab.alpha", "kind"] == "user-supplied"
    assert prov.loc["sites.beds_rehab.alpha", "source"] == "valid_beds_today.csv: ward returns, March 2025"
    assert ds.metadata["current_beds_from"] == "valid_beds_today.csv"
    inline = _import(current_beds="alpha.rehab=25, Beta Hospital.stroke=6, RT5AA.max_beds=40")
    assert inline.current_beds().loc["alpha", "rehab"] == 25 and inline.sites.loc["alpha", "max_beds"] == 40
    assert inline.current_beds().loc["beta", "stroke"] == 6
    assert inline.provenance.set_index("key").loc["sites.beds_stroke.beta", "source"] == "command line"
    with pytest.raises(InputError, match=r"alpha=20: say which beds, as site.pathway=beds \(e.g. alpha.rehab=20\)"):
        _import(current_beds="alpha=20")
    # today's beds above an estate limit the user also gave
    with pytest.raises(InputError, match="site 'alpha' has 25 beds today but max_beds 20"):
        _import(current_beds="alpha.rehab=24, alpha.palliative=1, alpha.max_beds=20")


@pytest.mark.slow
def test_home_based_beds_today_from_a_file_or_the_command_line():
    ds = _import(virtual_beds=FIXTURES / "valid_home_based_beds.csv")
    assert ds.districts["current_virtual_beds"].to_dict() == {"E06000016": 6.0, "E07000129": 4.0}
    prov = ds.provenance.set_index("key")
    assert prov.loc["districts.current_virtual_beds.E07000129", "kind"] == "user-supplied"
    assert "districts.current_virtual_beds.unknown" not in prov.index
    with pytest.warns(DataWarning, match=r"1 district\(s\) have no home-based beds in the command line: 0 "
                                         r"assumed in Blaby"):
        inline = _import(virtual_beds="Leicester=3")
    assert inline.districts["current_virtual_beds"].to_dict() == {"E06000016": 3.0, "E07000129": 0.0}


@pytest.mark.slow
def test_an_import_without_beds_today_says_so_plainly(tmp_path):
    from optimiser.dataset.importers import today_warnings

    ds = _import(sites=_sites_without_beds(tmp_path))
    messages = today_warnings(ds)
    assert len(messages) == 2
    assert "options that refer to today (the status quo) cannot be evaluated" in messages[0]
    assert "--current-beds FILE or --copy-from default" in messages[0]
    assert "home-based (virtual) beds today were given" in messages[1]
    assert ds.provenance.set_index("key").loc["sites.beds.unknown", "kind"] == "assumption"
    assert today_warnings(_import(current_beds=FIXTURES / "valid_beds_today.csv",
                                  virtual_beds=FIXTURES / "valid_home_based_beds.csv")) == []
