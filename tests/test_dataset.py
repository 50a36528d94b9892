"""The embedded default: deterministic rebuild, what `data check` reports, provenance."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from optimiser.dataset.core import validate
from optimiser.dataset.default import DEFAULT_DATASET_PATH, build_default
from optimiser.dataset.store import load_dataset


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_default_is_byte_identical_and_matches_the_shipped_file(tmp_path):
    a = build_default(tmp_path / "a.gpkg")
    b = build_default(tmp_path / "b.gpkg")
    assert _digest(a) == _digest(b)
    assert _digest(a) == _digest(DEFAULT_DATASET_PATH), "data/llr_default.gpkg is stale: run data build-default"


def test_default_holds_llr(llr_dataset):
    validate(llr_dataset)
    s = llr_dataset.summary()
    assert (s["zones"], s["districts"], s["sites"]) == (611, 9, 8)
    assert s["population_total"] == 1_107_597
    assert s["population_85_plus"] == 26_212
    # The district figures in the foundation issue sum to 200,622 people aged 65+
    # (the issue's own total, 201,822, does not match its table).
    assert s["population_65_plus"] == 200_622
    pops = llr_dataset.zones.groupby("district_code")["pop_total"].sum().round().astype(int)
    assert pops["E06000016"] == 354_036 and pops["E06000017"] == 40_476
    assert llr_dataset.zones.crs.to_epsg() == 27700
    assert llr_dataset.zones.geometry.is_valid.all()


def test_every_figure_has_provenance_and_assumptions_are_marked(llr_dataset):
    prov = llr_dataset.provenance
    assert {"key", "kind", "source", "licence"} <= set(prov.columns)
    assert set(prov["kind"]) <= {"fact", "assumption", "estimate", "derived"}
    a = llr_dataset.assumptions
    keys = " ".join(a["key"])
    assert "sites.beds_rehab.loughborough" in keys          # West split: not in the papers
    assert "sites.beds_rehab.evington" in keys              # Evington: not in the papers
    facts = prov[prov["kind"] == "fact"]
    assert facts["source"].str.len().gt(0).all()


def test_data_check_command_reports_the_figures():
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "check"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for text in ("zones: 611", "districts: 9", "sites: 8", "population: 1,107,597", "travel fit error",
                 "assumptions ("):
        assert text in out


def test_damaged_dataset_file_gets_a_clear_message(tmp_path):
    from optimiser.errors import OptimiserError

    p = tmp_path / "broken.gpkg"
    p.write_bytes(b"not a geopackage")
    with pytest.raises(OptimiserError, match="broken.gpkg"):
        load_dataset(p)


def test_cli_imports_the_reference_files_and_checks_them(tmp_path):
    from pathlib import Path

    ref = Path(__file__).resolve().parents[2] / "shared" / "data" / "llr-reference"
    assert ref.is_dir(), f"reference data missing at {ref}"
    out = tmp_path / "imported.gpkg"
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "import",
                        "--population", str(ref / "population" / "llr_population20_lsoa11_mid2020_syoa.csv"),
                        "--boundaries", str(ref / "boundaries" / "llr_lsoa11.geojson"),
                        "--sites", str(ref / "sites" / "llr_hospital_sites.csv"),
                        "--projections", str(ref / "population" / "llr_snpp2022_migcat23_bands.csv"),
                        "--population-year", "2020", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "repaired" in r.stderr.lower()          # 4 invalid LSOA polygons, with a warning
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "check", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "population: 1,107,597 (65+: 200,622; 85+: 26,212)" in r.stdout
    # a failed import leaves the existing file untouched
    before = out.read_bytes()
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "import",
                        "--population", str(ref / "sites" / "llr_hospital_sites.csv"),
                        "--boundaries", str(ref / "boundaries" / "llr_lsoa11.geojson"),
                        "--sites", str(ref / "sites" / "llr_hospital_sites.csv"), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "llr_hospital_sites.csv" in r.stderr
    assert out.read_bytes() == before
