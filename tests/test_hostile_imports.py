"""Valid and careless input files that used to crash with a raw traceback (issue 11, items 5
and 6): each now gets a message naming the file and what was wrong, or imports."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from optimiser.dataset.importers import import_dataset
from optimiser.errors import DataWarning, InputError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bad_input"
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "llr-reference"
VALID = {"population": FIXTURES / "valid_population.csv", "boundaries": FIXTURES / "valid_boundaries.geojson",
         "sites": FIXTURES / "valid_sites.csv", "travel": FIXTURES / "valid_travel_long.csv"}


def _import(**changes):
    return import_dataset(**{**VALID, **changes})


def _population_text() -> str:
    return VALID["population"].read_text(encoding="utf-8")


def header_only(d: Path) -> Path:
    p = d / "header_only.csv"
    p.write_text(_population_text().splitlines()[0] + "\n", encoding="utf-8")
    return p


def not_cp1252(d: Path) -> Path:
    p = d / "mixed_bytes.csv"     # 0x81 is neither UTF-8 here nor a cp1252 character
    p.write_bytes(_population_text().replace("Leicester 901A", "Leicester 901A \x00").encode().replace(b"\x00", b"\x81"))
    return p


def utf16(d: Path) -> Path:
    p = d / "unicode_text.csv"    # Excel's "Unicode text"
    p.write_bytes(_population_text().encode("utf-16"))
    return p


def enormous_population(d: Path) -> Path:
    p = d / "enormous.csv"
    p.write_text(_population_text().replace(",1500,", ",1e30,"), encoding="utf-8")
    return p


def empty_geojson(d: Path) -> Path:
    p = d / "no_features.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    return p


def metres_labelled_degrees(d: Path) -> Path:
    import geopandas as gpd

    data = json.loads(gpd.read_file(VALID["boundaries"]).to_crs(27700).to_json())
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    p = d / "metres_as_degrees.geojson"
    p.write_text(json.dumps(data))
    return p


def sites_metres_as_lat_lon(d: Path) -> Path:
    sites = pd.read_csv(VALID["sites"])
    sites["lat"], sites["lon"] = sites["lat"] * 0 + 304_500, sites["lon"] * 0 + 460_500
    p = d / "sites_in_metres.csv"
    sites.to_csv(p, index=False)
    return p


CASES = [
    ("population", header_only, r"has no data rows under its header"),
    ("population", not_cp1252, r"neither UTF-8 nor Windows \(cp1252\) text: byte \d+ \(line 2\)"),
    ("population", utf16, r"is UTF-16 text \(Excel's 'Unicode text'\).*CSV UTF-8"),
    ("population", enormous_population, r"row 1, column 'total_population': population 1e\+30 .* not plausible"),
    ("boundaries", empty_geojson, r"has no features \(no zones\)"),
    ("boundaries", metres_labelled_degrees, r"they look like metres"),
    ("sites", sites_metres_as_lat_lon, r"row 1, column 'lat': lat 304500 .* eastings and northings"),
]


@pytest.mark.parametrize("argument, make, message", CASES, ids=[c[1].__name__ for c in CASES])
def test_careless_files_get_a_message_naming_the_file(argument, make, message, tmp_path):
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as caught:
        _import(**{argument: path})
    assert Path(caught.value.file).name == path.name
    assert str(caught.value).startswith(f"file '{path.name}'")


def test_the_population_year_is_read_from_the_file_or_asked_for_never_from_the_name(tmp_path):
    """A real ONS file renamed without 'mid-2020' in its name: the import asks for the year
    instead of recording 'unknown' (after which every solve failed)."""
    renamed = tmp_path / "population.csv"
    shutil.copy(REFERENCE / "population" / "llr_population20_lsoa11_mid2020_syoa.csv", renamed)
    files = dict(population=renamed, boundaries=REFERENCE / "boundaries" / "llr_lsoa11.geojson",
                 sites=REFERENCE / "sites" / "llr_hospital_sites.csv",
                 projections=REFERENCE / "population" / "llr_snpp2022_migcat23_bands.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)     # 4 polygons repaired
        with pytest.raises(InputError, match=r"population.csv.*give the year"):
            import_dataset(**files)
        with pytest.raises(InputError, match="'20020' is not a year"):
            import_dataset(**files, population_year="20020")
        ds = import_dataset(**files, population_year=2020)
    assert ds.metadata["population_base_year"] == "2020"
    # the same file under its original name is not read by its name either
    original = tmp_path / "llr_population20_lsoa11_mid2020_syoa.csv"
    shutil.copy(renamed, original)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(InputError, match="give the year"):
            import_dataset(**{**files, "population": original})


def test_a_dataset_without_its_population_year_gets_a_message_not_a_crash(llr_dataset):
    from optimiser import api
    from optimiser.scenario import default_scenario

    ds = dataclasses.replace(llr_dataset, metadata={**llr_dataset.metadata, "population_base_year": "unknown"})
    with pytest.raises(InputError, match="does not record which year its population figures are for"):
        api.quick_solve(default_scenario(), ds)
    flat = default_scenario().with_changes(growth=5.0)
    assert api.quick_solve(flat, ds).metrics["physical_beds"] > 0


def test_cli_import_takes_the_population_year(tmp_path):
    import subprocess
    import sys

    renamed = tmp_path / "population.csv"
    shutil.copy(FIXTURES / "valid_population.csv", renamed)
    base = [sys.executable, "-m", "optimiser", "data", "import", "--population", str(renamed),
            "--boundaries", str(VALID["boundaries"]), "--sites", str(VALID["sites"]),
            "--travel", str(VALID["travel"]), "--projections", str(FIXTURES / "valid_projections.csv"),
            "--out", str(tmp_path / "d.gpkg")]
    r = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--population-year" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*base, "--population-year", "2022"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_scenario_hospitals_are_matched_by_ods_code_or_name_and_never_guessed(llr_dataset):
    """Item 5: a scenario written for the LLR default, on a dataset whose sites have other ids."""
    from optimiser.scenario import default_scenario
    from optimiser.site_match import match_scenario_sites

    travel = llr_dataset.travel.assign(site_id="site_" + llr_dataset.travel["site_id"])
    renamed = dataclasses.replace(llr_dataset, sites=llr_dataset.sites.rename(index=lambda s: f"site_{s}"),
                                  travel=travel)
    sc = default_scenario().with_changes(sites={"melton": {"status": "close"}, "nowhere": {"status": "keep_open"}})
    matched, notes = match_scenario_sites(sc, renamed, llr_dataset)
    assert list(matched.sites) == ["site_melton"] and matched.sites["site_melton"].status == "close"
    assert matched.pathways["stroke"].sites == ["site_st_lukes", "site_loughborough", "site_evington"]
    assert any("'nowhere'" in n and "left out" in n for n in notes)
    # and back again
    back, _ = match_scenario_sites(matched, llr_dataset, renamed)
    assert list(back.sites) == ["melton"] and back.pathways["stroke"].sites == ["st_lukes", "loughborough", "evington"]
    # two hospitals that fit equally are not guessed between
    sites = renamed.sites.copy()
    sites["ods_code"] = ""
    sites.loc[["site_st_lukes", "site_melton"], "site_name"] = "St Luke's Hospital"
    ambiguous = dataclasses.replace(renamed, sites=sites)
    matched, notes = match_scenario_sites(default_scenario(), ambiguous, llr_dataset)
    assert matched.pathways["stroke"].sites == ["site_loughborough", "site_evington"]
    assert any("St Luke's Hospital, Market Harborough (st_lukes) is not in this dataset" in n for n in notes)
