"""A second travel matrix (e.g. public transport): read from a small hand-made long or wide
CSV and validated like the road matrix, kept as an optional dataset layer through a save and
a load, reported with every answer, and usable for the travel standard (which then changes
the answer on a hand-solvable instance, and the checker verifies it)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.checker import check
from optimiser.dataset.importers import import_dataset
from optimiser.dataset.importers.second_travel import add_second_travel
from optimiser.dataset.store import load_dataset, save_dataset
from optimiser.errors import DataWarning, InputError, ScenarioError
from optimiser.instance import CoverageRule, Rules
from optimiser.model.solve import solve_instance
from tests.conftest import make_instance

HERE = Path(__file__).resolve().parent / "fixtures"
PT = HERE / "second_travel"
BAD = HERE / "bad_input"
EXPECTED = {("E01000001", "alpha"): 12.0, ("E01000001", "beta"): 35.0, ("E01000002", "alpha"): 18.0,
            ("E01000002", "beta"): np.nan, ("E01000003", "alpha"): 25.0, ("E01000003", "beta"): 40.5,
            ("E01000004", "alpha"): np.nan, ("E01000004", "beta"): 9.0}


@pytest.fixture(scope="module")
def small():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return import_dataset(population=BAD / "valid_population.csv", boundaries=BAD / "valid_boundaries.geojson",
                              sites=BAD / "valid_sites.csv", travel=BAD / "valid_travel_long.csv")


def _as_dict(ds) -> dict:
    t = ds.second_travel
    return dict(zip(zip(t["zone_code"], t["site_id"]), t["minutes"]))


@pytest.mark.parametrize("name", ["pt_long.csv", "pt_wide.csv"])
def test_long_and_wide_hand_made_matrices_read_the_same(small, name):
    with pytest.warns(DataWarning) as caught:
        ds = add_second_travel(small, PT / name, "public transport")
    got = _as_dict(ds)
    assert set(got) == set(EXPECTED)
    for pair, minutes in EXPECTED.items():
        assert (np.isnan(got[pair]) and np.isnan(minutes)) or got[pair] == minutes, pair
    messages = " ".join(str(w.message) for w in caught)
    assert "2 of 8 zone-site pairs" in messages and "no public transport route" in messages
    if name == "pt_long.csv":
        assert "Gamma Infirmary" in messages          # a destination that is not a site: ignored, said
    assert ds.second_travel_label == "public transport"
    assert ds.second_travel_matrix().loc["E01000004", "beta"] == 9.0
    assert ds.provenance.set_index("key").loc["travel.second_matrix", "kind"] == "user-supplied"


def test_the_layer_survives_a_save_and_a_load(small, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ds = add_second_travel(small, PT / "pt_wide.csv", "bus and train", out=tmp_path / "with_pt.gpkg")
    back = load_dataset(tmp_path / "with_pt.gpkg")
    assert back.second_travel_label == "bus and train"
    pd.testing.assert_frame_equal(back.second_travel_matrix(), ds.second_travel_matrix())
    assert load_dataset(save_dataset(small, tmp_path / "without.gpkg")).second_travel is None


BAD_MATRICES = [
    ("unknown zone", "zone_code,alpha,beta\nE01000001,1,2\nE01000002,1,2\nE01000003,1,2\nE01000004,1,2\nE09999999,1,2\n",
     r"row 5, column 'zone_code': zone 'E09999999' is not in the dataset"),
    ("missing zone", "zone_code,alpha,beta\nE01000001,1,2\nE01000002,1,2\nE01000003,1,2\n",
     r"zone 'E01000004' is not in the file \(1 of the dataset's 4 zones"),
    ("missing site", "zone_code,alpha\nE01000001,1\nE01000002,1\nE01000003,1\nE01000004,1\n",
     r"site 'beta' \(Beta Hospital\) is not in the file"),
    ("misspelt site", "zone_code,alpha,Betta Hospital\nE01000001,1,2\nE01000002,1,2\nE01000003,1,2\nE01000004,1,2\n",
     r"site 'beta' .* is not in the file; the file names 1 destination\(s\) that are not sites "
     r"\(e.g. 'Betta Hospital'\): a misspelt site\?"),
    ("not a number", "zone,site,minutes\nE01000001,alpha,1\nE01000001,beta,soon\nE01000002,alpha,1\n"
                     "E01000003,alpha,1\nE01000004,alpha,1\n",
     r"row 2, column 'minutes': travel time 'soon' for zone 'E01000001' to site 'beta' is not a number"),
    ("negative", "zone_code,alpha,beta\nE01000001,1,2\nE01000002,-3,2\nE01000003,1,2\nE01000004,1,2\n",
     r"row 2, column 'alpha': travel time -3 for zone 'E01000002' to site 'alpha' is negative"),
    ("duplicate", "zone,site,minutes\nE01000001,alpha,1\nE01000002,alpha,1\nE01000003,alpha,1\n"
                  "E01000004,alpha,1\nE01000001,alpha,2\nE01000001,beta,2\n",
     r"row 5: zone 'E01000001' to site 'alpha' appears twice"),
]


@pytest.mark.parametrize("what,text,message", BAD_MATRICES, ids=[b[0] for b in BAD_MATRICES])
def test_bad_matrices_are_refused_naming_file_row_and_column(small, tmp_path, what, text, message):
    path = tmp_path / "pt.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as err:
        add_second_travel(small, path)
    assert "pt.csv" in str(err.value)


def test_the_cli_adds_a_matrix_and_data_check_reports_it(small, tmp_path, capsys):
    from optimiser.cli import main

    base = save_dataset(small, tmp_path / "small.gpkg")
    out = tmp_path / "small_pt.gpkg"
    assert main(["data", "add-travel", "--dataset", str(base), "--matrix", str(PT / "pt_long.csv"),
                 "--label", "public transport", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "added 'public transport' minutes for 4 zones x 2 sites (6 pairs with a route" in text
    assert main(["data", "check", str(out)]) == 0
    assert "second travel matrix: public transport (6 pairs with a route, 2 without; from pt_long.csv)" in \
        capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("zone_code,alpha\nE01000001,1\n")
    assert main(["data", "add-travel", "--dataset", str(base), "--matrix", str(bad), "--out", str(tmp_path / "x.gpkg")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "x.gpkg").exists()


# ---- the travel standard on the second matrix changes the answer ---------------------------

# Exactly one of two sites opens. By road site 0 is nearer everyone (travel 5*5 + 5*5 + 20*10
# = 250 admission-minutes against 500 at site 1) and both meet "60% of residents 65+ within 30
# minutes". By public transport zone 2 (2,000 of the 3,000 residents 65+) has no route to site
# 0 and 20 minutes to site 1: only site 1 puts 60% within 30 minutes.
ROAD = [[5, 20], [5, 20], [10, 15]]
TRANSIT = np.array([[20, 40], [25, 45], [np.nan, 20]])


def _two_sites(matrix: str):
    rule = CoverageRule(pathway=0, threshold_minutes=30.0, share=0.6, population="65_plus", travel_matrix=matrix)
    inst = make_instance(ROAD, [5, 5, 20], steps=(0, 40), rules=Rules(single_assignment=False, open_exactly=1,
                                                                       coverage=(rule,)))
    return replace(inst, second_travel=TRANSIT, second_travel_label="public transport")


def test_a_standard_on_the_second_matrix_changes_the_answer_and_is_checked():
    by_road = solve_instance(_two_sites("main"))
    assert list(by_road.sites["open"]) == [True, False]
    assert by_road.metrics["share_within_30_minutes_65_plus_second_matrix"] == pytest.approx(1000 / 3000)
    assert by_road.metrics["share_no_route_65_plus_second_matrix"] == pytest.approx(2000 / 3000)
    by_transit = solve_instance(_two_sites("second"))
    assert list(by_transit.sites["open"]) == [False, True]
    assert by_transit.metrics["share_within_30_minutes_65_plus_second_matrix"] == pytest.approx(2000 / 3000)
    assert by_transit.metrics["mean_travel_minutes_65_plus_second_matrix"] == pytest.approx(
        (500 * 40 + 500 * 45 + 2000 * 20) / 3000)
    assert check(by_transit).ok
    broken = check(replace(by_road, _instance=_two_sites("second")))
    found = [v for v in broken.violations if v.rule == "travel_standard"]
    assert found and "within 30 minutes by public transport" in found[0].message


def test_llr_answers_report_access_by_both_and_a_standard_needs_the_layer(llr_scenario, llr_dataset, tmp_path):
    from optimiser import api

    with pytest.raises(ScenarioError, match="the dataset has none") as err:
        api.instance_for(llr_scenario.with_changes(**{"travel.standard.travel_matrix": "second"}), llr_dataset)
    assert err.value.key == "travel.standard.travel_matrix"
    ds = with_made_up_transit(llr_dataset, tmp_path)
    sol = api.evaluate(llr_scenario, api.shipped_options()["Status quo"], ds)
    m = sol.metrics
    assert m["mean_travel_minutes_65_plus_second_matrix"] > m["mean_travel_minutes_65_plus"]
    assert 0 < m["share_no_route_65_plus_second_matrix"] < 0.2
    assert m["share_within_60_minutes_65_plus_second_matrix"] + m["share_no_route_65_plus_second_matrix"] <= 1 + 1e-9
    from optimiser.compare import compare_table

    assert "share_within_30_minutes_65_plus_second_matrix" in compare_table([sol]).index
    plain = api.evaluate(llr_scenario, api.shipped_options()["Status quo"], llr_dataset)
    assert "share_within_30_minutes_65_plus_second_matrix" not in compare_table([plain]).index


def with_made_up_transit(dataset, folder: Path):
    """The dataset with a made-up public transport matrix (1.6 x road + 10 minutes; no route
    where the road takes over 15 minutes and the zone code ends in 7), written as a wide CSV."""
    road = dataset.travel_matrix()
    transit = (road * 1.6 + 10).round(1).astype(object)
    no_route = (road > 15).to_numpy() & np.asarray(road.index.str.endswith("7"))[:, None]
    transit = transit.mask(no_route, "")
    path = folder / "made_up_transit.csv"
    transit.rename_axis("LSOA11CD").to_csv(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return add_second_travel(dataset, path, "public transport")


def test_travel_by_site_and_the_data_page_show_both_matrices(tmp_path, monkeypatch):
    """Issue 14: the Data page says which travel matrices the dataset holds, with each
    hospital's median journey by both and the residents the second one has a route for."""
    from streamlit.testing.v1 import AppTest

    from optimiser.dataset.default import DEFAULT_DATASET_PATH

    monkeypatch.setenv("LLR_OPTIONS_DIR", str(tmp_path / "options"))
    llr = load_dataset(DEFAULT_DATASET_PATH)
    road = llr.travel_matrix()
    transit = (road * 1.6 + 10).round(1).astype(object)
    no_route = (road > 15).to_numpy() & np.asarray(road.index.str.endswith("7"))[:, None]
    path = tmp_path / "made_up_transit.csv"
    transit.mask(no_route, "").rename_axis("LSOA11CD").to_csv(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ds = add_second_travel(llr, path, "public transport", out=tmp_path / "with_pt.gpkg")
    table = ds.travel_by_site()
    assert list(table["site_id"]) == list(llr.sites.index)
    # the road median by hand for one hospital: the journey half of its residents 65+ are within
    weights = llr.zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1)
    site = llr.sites.index[0]
    ordered = pd.DataFrame({"minutes": road[site], "w": weights}).sort_values("minutes", kind="stable")
    half = ordered["minutes"][ordered["w"].cumsum() >= ordered["w"].sum() / 2].iloc[0]
    assert table.loc[0, "median_minutes"] == pytest.approx(half)
    assert (table["median_minutes_second"] > table["median_minutes"] + 10).all()   # 1.6 x road + 10
    share = table["share_65_plus_with_route_second"]
    assert ((share > 0.5) & (share <= 1)).all() and (share < 1).any()
    assert "median_minutes_second" not in llr.travel_by_site().columns

    at = AppTest.from_string("from optimiser.ui import data_page\ndata_page.page()\n", default_timeout=300)
    at.session_state["dataset_path"] = str(tmp_path / "with_pt.gpkg")
    at.run()
    assert not at.exception, at.exception
    assert any("**public transport**" in c.value for c in at.caption)
    shown = [d.value for d in at.dataframe if "median_minutes_second" in d.value.columns]
    assert len(shown) == 1 and len(shown[0]) == len(llr.sites)
    at = AppTest.from_string("from optimiser.ui import data_page\ndata_page.page()\n", default_timeout=300).run()
    assert any("data add-travel" in c.value for c in at.caption)
