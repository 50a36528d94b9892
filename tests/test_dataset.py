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


@pytest.mark.slow
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


def test_default_has_real_small_area_populations_deprivation_and_projections(llr_dataset):
    z = llr_dataset.zones
    # ONS mid-2020 small-area estimates, not an even spread: LSOAs of one district differ
    leicester_003a = z.loc["E01013600"]
    assert (leicester_003a["pop_total"], leicester_003a["pop_65_74"], leicester_003a["pop_75_84"],
            leicester_003a["pop_85_plus"]) == (1979, 120, 73, 57)
    assert z.groupby("district_code")["pop_total"].nunique().min() > 10
    assert (z[["pop_total", "pop_65_74", "pop_75_84", "pop_85_plus"]] % 1 == 0).all().all()
    # IMD 2019: every LSOA has a rank and a decile; all ten deciles occur in LLR
    assert z["imd_rank"].between(1, 32_844).all() and z["imd_decile"].between(1, 10).all()
    assert sorted(set(z["imd_decile"])) == list(range(1, 11))
    assert (z.loc["E01013603", "imd_rank"], z.loc["E01013603", "imd_decile"]) == (705, 1)
    # the lower the rank, the lower the decile
    assert (z.sort_values("imd_rank")["imd_decile"].diff().dropna() >= 0).all()
    # ONS 2022-based projections for every year 2022-2047, as an index to 2022
    p = llr_dataset.projections
    assert sorted(set(p["year"])) == list(range(2022, 2048))
    assert set(p["band"]) == {"all_ages", "65_plus", "85_plus"}
    assert len(p) == 9 * 3 * 26 and (p.loc[p["year"] == 2022, "index"] == 1.0).all()
    melton_85 = p[(p["district_code"] == "E07000133") & (p["band"] == "85_plus")].set_index("year")["index"]
    assert melton_85[2035] > melton_85[2030] > 1.0
    meta = llr_dataset.metadata
    assert meta["population_method"] == "ONS mid-2020 small-area population estimates (LSOA 2011)"
    assert "Open Government Licence v3.0" in meta["population_source"]
    assert "Indices of Deprivation 2019" in meta["deprivation_source"]
    assert llr_dataset.data_line() == "ONS mid-2020 small-area populations; travel times estimated from road distance"
    prov = llr_dataset.provenance.set_index("key")
    assert prov.loc["zones.population", "kind"] == "fact" and prov.loc["zones.imd", "kind"] == "fact"
    assert "zones.population.spread" not in prov.index


def test_a_horizon_year_up_to_2047_uses_the_ons_figure_itself(llr_dataset, llr_scenario):
    from optimiser.demand import growth_factors

    p = llr_dataset.projections.set_index(["district_code", "band", "year"])["index"]
    for year in (2030, 2035, 2047):
        g = growth_factors(llr_dataset, llr_scenario.with_changes(horizon_year=year))
        g2022 = growth_factors(llr_dataset, llr_scenario.with_changes(horizon_year=2022))
        zone = llr_dataset.zones.index[llr_dataset.zones["district_code"] == "E07000133"][0]
        # factor(year) / factor(2022) is the ONS index of that year exactly: nothing extrapolated
        assert g.loc[zone, "85+"] / g2022.loc[zone, "85+"] == pytest.approx(p[("E07000133", "85_plus", year)], rel=1e-9)
        assert g.loc[zone, "65-74"] / g2022.loc[zone, "65-74"] == pytest.approx(p[("E07000133", "65_plus", year)], rel=1e-9)


def test_shipped_lsoa_and_projection_tables_are_the_official_figures():
    from pathlib import Path

    from optimiser.dataset import derive

    ref = Path(__file__).resolve().parents[2] / "shared" / "data" / "llr-reference"
    assert ref.is_dir(), f"reference data missing at {ref}"
    lsoa = derive.lsoa_figures(ref)
    assert derive.lsoa_csv(lsoa) == derive.LSOA_FIGURES_PATH.read_text(encoding="utf-8")
    assert derive.projections_csv(derive.projection_figures(ref)) == derive.PROJECTIONS_PATH.read_text(encoding="utf-8")
    assert len(lsoa) == 611
    assert (lsoa["pop_total"].sum(), lsoa[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum().sum(),
            lsoa["pop_85_plus"].sum()) == (1_107_597, 200_622, 26_212)
    header = derive.LSOA_FIGURES_PATH.read_text(encoding="utf-8").splitlines()[:6]
    assert any("Office for National Statistics" in h and "Open Government Licence v3.0" in h for h in header)
    assert any("Indices of Deprivation 2019" in h for h in header)


def test_even_spread_is_only_the_fallback_for_areas_without_figures(llr_dataset):
    import geopandas as gpd

    from optimiser.dataset import derive
    from optimiser.dataset.default import _small_area_populations
    from optimiser.dataset.provenance import ProvenanceLog

    figures = derive.read_lsoa_figures()
    melton = figures.index[figures["lad_code"] == "E07000133"]
    dropped = list(melton[:3])
    zones = gpd.GeoDataFrame(llr_dataset.zones[["zone_name", "district_code", "geometry"]].copy())
    log = ProvenanceLog()
    _small_area_populations(zones, figures.drop(index=dropped), log)
    known = zones.drop(index=dropped)
    pd_testing = __import__("pandas").testing
    pd_testing.assert_series_equal(known["pop_total"], figures.loc[known.index, "pop_total"].astype(float),
                                   check_names=False)
    # the three LSOAs share evenly what the district total leaves
    left = 51_394 - figures.loc[melton[3:], "pop_total"].sum()
    assert zones.loc[dropped, "pop_total"].tolist() == pytest.approx([left / 3] * 3)
    assert zones.loc[zones["district_code"] == "E07000133", "pop_85_plus"].sum() == pytest.approx(1_484)
    spread = log.table().set_index("key").loc["zones.population.spread"]
    assert spread["kind"] == "assumption" and dropped[0] in spread["note"]


def test_every_figure_has_provenance_and_assumptions_are_marked(llr_dataset):
    prov = llr_dataset.provenance
    assert {"key", "kind", "source", "licence"} <= set(prov.columns)
    assert set(prov["kind"]) <= {"fact", "assumption", "estimate", "derived"}   # nothing user-supplied
    a = llr_dataset.assumptions
    keys = " ".join(a["key"])
    assert "sites.beds_rehab.loughborough" in keys          # West split: not in the papers
    assert "sites.beds_rehab.evington" in keys              # Evington: not in the papers
    facts = prov[prov["kind"] == "fact"]
    assert facts["source"].str.len().gt(0).all()


@pytest.mark.slow
def test_data_check_command_reports_the_figures():
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "check"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for text in ("zones: 611", "districts: 9", "sites: 8", "population: 1,107,597 (65+: 200,622; 85+: 26,212)",
                 "population from: ONS mid-2020 small-area population estimates (LSOA 2011)",
                 "deprivation: IMD 2019 deciles 1-10 present", "projections: 2022-2047 (26 years)",
                 "what the data is: ONS mid-2020 small-area populations", "travel fit error",
                 "assumptions ("):
        assert text in out


def test_damaged_dataset_file_gets_a_clear_message(tmp_path):
    from optimiser.errors import OptimiserError

    p = tmp_path / "broken.gpkg"
    p.write_bytes(b"not a geopackage")
    with pytest.raises(OptimiserError, match="broken.gpkg"):
        load_dataset(p)


@pytest.mark.slow
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


def test_the_instance_carries_each_zones_deprivation_decile(llr_dataset, llr_scenario):
    import numpy as np

    from optimiser import api
    from optimiser.instance import Instance

    inst = api.instance_for(llr_scenario, llr_dataset)
    assert np.array_equal(inst.zones.deprivation_decile, llr_dataset.zones["imd_decile"].to_numpy())
    assert set(inst.zones.deprivation_decile) == set(range(1, 11))
    # an instance with no deprivation figures: 0 = unknown for every zone
    pmed = Instance.p_median(np.ones((3, 2)), 1)
    assert pmed.zones.deprivation_decile.tolist() == [0, 0, 0]
