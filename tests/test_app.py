"""Every page of the Streamlit app through Streamlit's AppTest: it loads, a control changes
the result, an infeasible setting shows the explanation, options are saved and reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 300


def page_app(module: str) -> AppTest:
    return AppTest.from_string(f"from optimiser.ui import {module}\n{module}.page()\n", default_timeout=TIMEOUT)


@pytest.fixture(autouse=True)
def option_library(tmp_path, monkeypatch):
    folder = tmp_path / "options"
    monkeypatch.setenv("LLR_OPTIONS_DIR", str(folder))
    return folder


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [s.value for s in at.success] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def _metric(at, label_start: str) -> str:
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise AssertionError(f"no metric {label_start!r}: {[m.label for m in at.metric]}")


def test_app_opens_on_the_workshop_with_the_default_answer():
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value.startswith("Workshop")
    assert _metric(at, "Hospitals with inpatient beds")
    assert _metric(at, "Residents 65+ within 30 minutes").endswith("%")
    texts = _texts(at)
    assert "LLR community bed optimiser" in texts and "Beta" in texts                 # header, phase banner
    assert "Contact:" in texts and "Open Government Licence" in texts                # footer


def test_workshop_control_changes_the_answer_and_shows_the_change():
    from optimiser import api
    from optimiser.ui.state import base_scenario

    # the smallest hospital the default answer keeps, closed by the clinician
    sites = api.quick_solve(base_scenario()).sites
    kept = sites[sites["open"]].sort_values(["beds", "site_id"])
    site_id, site_name = kept.iloc[0]["site_id"], kept.iloc[0]["site_name"]
    at = page_app("workshop").run()
    assert not at.exception
    before = [(m.label, m.value) for m in at.metric]
    at.sidebar.selectbox(key=f"status_{site_id}").set_value("close")
    at.sidebar.button(key="find").click().run()  # the form's submit button
    assert not at.exception
    after = [(m.label, m.value) for m in at.metric]
    assert _metric(at, "Annual cost") and after != before
    assert [m.delta for m in at.metric if m.delta], "the change from the previous run is shown"
    changed = [e for e in at.expander if e.label == "What changed since the previous run"]
    assert changed, "the changes are listed"
    assert f"{site_name}: model decides → no inpatient beds" in _texts(at)
    assert any("Change (beds)" in d.value.columns for d in at.dataframe)


def test_workshop_infeasible_setting_shows_the_explanation_not_a_traceback():
    at = page_app("workshop").run()
    at.sidebar.select_slider(key="coverage_threshold").set_value(20)
    at.sidebar.button(key="find").click().run()
    assert not at.exception
    text = _texts(at)
    assert "No configuration meets all of these limits together" in text
    assert "most reachable" in text
    assert "Traceback" not in text


def test_saving_an_option_in_the_workshop_and_reloading_it_on_compare(option_library):
    at = page_app("workshop").run()
    at.text_input(key="save_name").set_value("Council briefing A")
    at.button(key="save_option").click().run()
    assert not at.exception
    assert "Saved 'Council briefing A' (version 1)" in _texts(at)
    cmp_ = page_app("compare_page").run()
    assert "Council briefing A" in cmp_.multiselect(key="compare_chosen").options
    cmp_.multiselect(key="compare_chosen").set_value(["Status quo", "Council briefing A"]).run()
    assert not cmp_.exception
    table = cmp_.table[0].value
    assert list(table.columns) == ["Status quo", "Council briefing A"]
    # the option keeps the workshop answer's beds: same totals, and the same beds per hospital
    for label in ("Community hospital beds", "Home-based (virtual) beds", "Annual cost"):
        row = next(r for r in table.index if r.startswith(label))
        assert table.loc[row, "Council briefing A"] == _metric(at, label), label
    from optimiser.library import OptionStore

    option = OptionStore().load("Council briefing A")
    shown = next(d.value for d in at.dataframe if "Beds today" in d.value.columns)
    assert option.beds.groupby("site_id")["beds"].sum().sum() == shown["Beds"].sum()


def test_compare_page_table_appraisal_and_damaged_file(option_library):
    option_library.mkdir(parents=True)
    (option_library / "broken.yaml").write_text("name: [unclosed\n")
    (option_library / "ok.yaml").write_text("name: Kept\nbeds:\n  melton: {general: 20}\nvirtual_beds: current\n")
    at = page_app("compare_page").run()
    assert not at.exception
    assert any("broken.yaml" in w.value for w in at.warning)
    assert (option_library / "broken.yaml").read_text() == "name: [unclosed\n"   # nothing lost
    assert "Kept" in at.multiselect(key="compare_chosen").options
    table = at.table[0].value
    assert list(table.columns) == ["Workshop answer", "Status quo", "West Leicestershire proposal"]
    assert table.loc["Annual cost (£ a year)", "Status quo"].startswith("£")
    assert len(at.get("plotly_chart")) == 3, "beds per site, cost, travel distribution"
    scores = [t.value for t in at.table if "Weighted score (0-10)" in t.value.columns]
    assert scores and set(scores[0].index) == set(table.columns)
    assert scores[0]["Weighted score (0-10)"].astype(float).between(0, 10).all()
    assert list(scores[0].columns[:2]) == ["Rank", "Weighted score (0-10)"]
    # the status quo breaks rules of the settings: it is marked and ranked after the workshop answer
    assert scores[0].loc["Status quo", "Rank"].endswith("rules)")
    assert scores[0].loc["Workshop answer", "Rank"] == "1"
    assert any(c.value.startswith("Scales in use: Annual cost (£ a year): 0 at £60,000,000") for c in at.caption)


def test_compare_page_sets_any_number_of_options_side_by_side_and_saves_the_weights(option_library):
    from optimiser.library import OptionStore

    store = OptionStore()
    shipped = list(__import__("optimiser.api", fromlist=["x"]).shipped_options().values())
    for k, name in enumerate(["Workshop A: 40 min, Melton kept", "Plan B", "Plan C"]):
        store.save(__import__("dataclasses").replace(shipped[k % len(shipped)], name=name), author="test")
    at = page_app("compare_page").run()
    chosen = ["Status quo", "West Leicestershire proposal", "Workshop A: 40 min, Melton kept", "Plan B", "Plan C"]
    at.multiselect(key="compare_chosen").set_value(chosen).run()
    assert not at.exception
    tables = [t.value for t in at.table if "Annual cost (£ a year)" in t.value.index]
    assert [list(t.columns) for t in tables] == [chosen[:4], chosen[4:]]          # four to a table
    assert "Rules of these settings it breaks" in tables[0].index
    at.text_input(key="comparison_name").set_value("Board, March")
    at.button(key="save_comparison").click().run()
    assert any("Saved the comparison 'Board, March' (version 1), with its weights" in s.value for s in at.success)
    kept = store.comparisons()["Board, March"]["payload"]
    assert kept["options"] == chosen and kept["criteria"]["annual_cost_gbp"]["weight"] == 30


def test_maps_page_draws_the_map_and_district_sheet():
    at = page_app("maps_page").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3, "the map, and the district before and after"
    assert {b.proto.label for b in at.get("download_button")} >= {
        "Map for slides (PNG)", "Map for printing (PDF)", "Interactive map (HTML, opens offline)",
        "PNG", "PDF", "HTML (offline)", "Figures (CSV)", "District pack (PDF)"}
    at.selectbox(key="district_pick").set_value("E07000133").run()
    at.selectbox(key="after_option").set_value("West Leicestershire proposal").run()
    assert not at.exception
    assert any("'West Leicestershire proposal' means for Melton residents" in s.value for s in at.subheader)
    sheet = at.table[0].value
    assert list(sheet.columns) == ["Status quo", "West Leicestershire proposal"]
    assert "Nearest hospital with beds (share of residents for whom it is nearest)" in sheet.index


def test_maps_page_option_changes_the_map():
    at = page_app("maps_page").run()
    title = at.get("plotly_chart")[0].proto.spec
    assert "Workshop answer for the current settings" in title
    at.selectbox(key="map_option").set_value("Status quo").run()
    assert not at.exception
    assert "Travel time to community hospital beds: Status quo" in at.get("plotly_chart")[0].proto.spec


def test_assumptions_page_shows_the_workshop_settings():
    from optimiser.scenario import default_scenario

    at = page_app("assumptions_page")
    at.session_state["scenario_yaml"] = default_scenario().with_changes(**{"travel.max_minutes": 35.0}).to_yaml()
    at.run()
    assert not at.exception
    table = at.table[0].value
    table = table.set_index("Setting") if "Setting" in table.columns else table
    assert table.loc["travel.max_minutes", "Value in use"] == "35"
    assert table.loc["travel.max_minutes", "Assumption"].startswith("Changed in this session from 45")
    assert table.loc["pathways.rehab.length_of_stay_days", "Unit"] == "days"     # one row per pathway setting
    assert "Longest journey" not in table.loc["travel.standard.share", "Assumption"]   # others keep their notes
    assert "not in the review papers" in table.loc["travel.standard.share", "Assumption"]


def test_data_page_shows_the_dataset_and_its_assumptions():
    at = page_app("data_page").run()
    assert not at.exception
    assert _metric(at, "Small areas") == "611"
    assert _metric(at, "Population") == "1,107,597"
    assert any("assumptions" in s.value for s in at.subheader)


def test_assumptions_page_lists_every_setting():
    at = page_app("assumptions_page").run()
    assert not at.exception
    table = at.table[0].value
    table = table.set_index("Setting") if "Setting" in table.columns else table
    assert len(table) == 44                                  # every figure of the default scenario
    assert (table["Source"].str.len() + table["Assumption"].str.len()).gt(0).all()
    assert "not in the review papers" in table.loc["utilisation.blocking_target", "Assumption"]
    source = table.loc["pathways.rehab.virtual_length_of_stay_days", "Source"]
    assert source.startswith("seeds/llr_community_services_progress_2020.yaml#home_first_intensive_support_weeks (6 weeks")
    assert "Community Services Redesign Process" in source      # the paper, spelt out
    assert "44 figures: 4 cite a source" in _texts(at)


def test_infeasible_workshop_offers_and_applies_the_nearest_setting():
    at = page_app("workshop").run()
    at.sidebar.select_slider(key="coverage_threshold").set_value(20)
    at.sidebar.button(key="find").click().run()
    assert any("No configuration meets" in e.value for e in at.error)
    at.button(key="apply_nearest").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    share = at.sidebar.slider(key="coverage_share").value
    assert 50 <= share < 95
    assert _metric(at, "Residents 65+ within 20 minutes")


def test_result_downloads_are_excel_and_geopackage(llr_solution, llr_dataset):
    """What the workshop's download buttons serve (AppTest does not expose their bytes)."""
    import io

    import pandas as pd

    from optimiser import api

    sheets = pd.read_excel(io.BytesIO(api.excel_bytes(llr_solution)), sheet_name=None)
    assert list(sheets)[0] == "About"
    assert {"beds", "virtual_beds", "assignment", "zones", "metrics"} <= set(sheets)
    assert sheets["beds"]["beds"].sum() == llr_solution.metrics["physical_beds"]
    about = dict(zip(sheets["About"]["item"], sheets["About"]["value"].astype(str)))
    prov = llr_solution.provenance
    assert about["Dataset SHA-256"] == prov["dataset_sha256"] == llr_dataset.file_sha256
    assert about["Scenario SHA-256 (of its settings as YAML)"] == prov["scenario_sha256"]
    assert about["What the data is"].startswith("ONS mid-2020 small-area populations")
    assert about["Population source"].startswith("ONS small area population estimates")
    assert int(about["Assumption-flagged figures used (total)"]) == prov["assumption_figures"]
    for label in ("Software", "Solver", "Date (UTC)", "Scenario", "Dataset"):
        assert about[label]
    gpkg = api.geopackage_bytes(llr_solution, llr_dataset)
    assert gpkg[:16] == b"SQLite format 3\x00"
    import tempfile

    import pyogrio

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.gpkg"
        path.write_bytes(gpkg)
        assert "about" in set(pyogrio.list_layers(path)[:, 0])
        table = pyogrio.read_dataframe(path, layer="about")
        assert dict(zip(table["item"], table["value"]))["Dataset SHA-256"] == prov["dataset_sha256"]
        assert pyogrio.read_info(path, layer="about")["layer_metadata"]["Scenario SHA-256 (of its settings as YAML)"] \
            == prov["scenario_sha256"]


def test_assumptions_page_a_figure_set_back_to_the_files_value_shows_its_note_again():
    from optimiser.scenario import default_scenario

    sc = default_scenario().with_changes(**{"travel.max_minutes": 35.0}).with_changes(**{"travel.max_minutes": 45.0})
    assert "travel.max_minutes" not in sc.figures
    at = page_app("assumptions_page")
    at.session_state["scenario_yaml"] = sc.to_yaml()
    at.run()
    assert not at.exception
    table = at.table[0].value
    table = table.set_index("Setting") if "Setting" in table.columns else table
    assert table.loc["travel.max_minutes", "Assumption"].startswith("Longest journey a patient is routed")


# ---- issue 16: what the workshop shows ----------------------------------------------------------

def test_back_to_the_default_resets_the_controls_the_answer_and_the_link():
    at = page_app("workshop").run()
    at.sidebar.slider(key="max_travel").set_value(40)
    at.sidebar.slider(key="min_beds").set_value(24)
    at.sidebar.button(key="find").click().run()
    assert at.query_params["travel"] == "40" and at.query_params["min_beds"] == "24"
    at.sidebar.button(key="reset_settings").click().run()
    assert not at.exception
    assert at.sidebar.slider(key="max_travel").value == 45
    assert at.sidebar.slider(key="min_beds").value == 16
    assert at.query_params["travel"] == "45"
    # the next Find solves the default settings, not the old ones
    at.sidebar.button(key="find").click().run()
    assert at.session_state["scenario_yaml"] is not None
    import yaml

    from optimiser.scenario import scenario_from_dict

    sc = scenario_from_dict(yaml.safe_load(at.session_state["scenario_yaml"]))
    assert sc.travel.max_minutes == 45 and sc.min_beds_per_open_site == 16


def test_a_saving_shows_as_a_green_down_arrow_and_the_changes_speak_plainly():
    at = page_app("workshop").run()
    at.sidebar.slider(key="blocking").set_value(15)       # beds may be fuller: fewer beds, lower cost
    at.sidebar.slider(key="coverage_share").set_value(74)
    at.sidebar.button(key="find").click().run()
    assert not at.exception
    cost = next(m for m in at.metric if m.label.startswith("Annual cost"))
    assert cost.delta.startswith("-£"), cost.delta          # ASCII minus: read as negative
    from streamlit.proto.Metric_pb2 import Metric

    assert (cost.proto.color, cost.proto.direction) == (Metric.MetricColor.GREEN, Metric.MetricDirection.DOWN)
    text = _texts(at)
    assert "Residents 65+ who must be within the threshold: 95% → 74%" in text
    assert "Highest acceptable chance a patient finds no free bed: 5% → 15%" in text
    assert "0.95" not in text and "-0.0" not in text


def test_a_budget_that_leaves_patients_unserved_is_never_called_best():
    at = page_app("workshop").run()
    at.sidebar.number_input(key="budget").set_value(30_000_000)
    at.sidebar.button(key="find").click().run()
    assert not at.exception
    text = _texts(at)
    unserved = float(_metric(at, "Admissions the plan cannot place").replace(",", ""))
    assert unserved > 100
    assert "Best configuration found" not in text
    assert any("Not every patient can be served" in e.value for e in at.error)
    assert any("admissions a year are left without a bed" in e.value and "£30,000,000" in e.value
               for e in at.error)
    assert not at.success
    assert "Annual budget: no limit → £30,000,000 a year" in text
    assert "e+07" not in text


def test_the_travel_tile_follows_the_threshold():
    at = page_app("workshop").run()
    at.sidebar.select_slider(key="coverage_threshold").set_value(45)
    at.sidebar.slider(key="coverage_share").set_value(90)
    at.sidebar.button(key="find").click().run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Residents 65+ within 45 minutes (%)" in labels
    assert not any("within 30 minutes" in label for label in labels)
    assert float(_metric(at, "Residents 65+ within 45 minutes").rstrip("%")) >= 90


def test_settings_come_from_the_link_and_go_back_into_it():
    at = page_app("workshop")
    at.query_params.update({"travel": "40", "threshold": "35", "share": "90", "close": "rutland",
                            "year": "2035", "answer": "quick", "budget": "oops"})
    at.run()
    assert not at.exception
    assert at.sidebar.slider(key="max_travel").value == 40
    assert at.sidebar.select_slider(key="coverage_threshold").value == 35
    assert at.sidebar.selectbox(key="status_rutland").value == "close"
    assert any("'budget=oops' was ignored" in w.value for w in at.warning)
    assert "Residents 65+ within 35 minutes (%)" in [m.label for m in at.metric]   # the answer follows at once
    assert at.query_params["year"] == "2035" and at.query_params["close"] == "rutland"
    assert at.query_params["budget"] == "0"


def test_no_model_jargon_outside_the_technical_detail():
    at = page_app("workshop").run()
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption] + [m.label for m in at.metric]
    shown += [s.value for s in at.success] + [w.value for w in at.warning]
    shown += [str(list(d.value.columns)) for d in at.dataframe]
    detail = next(e for e in at.expander if e.label.startswith("Technical detail"))
    inside = {m.value for m in detail.markdown}
    text = "\n".join(str(v) for v in shown if v not in inside)
    for word in ("ortools", "relaxation", "zones.district", "site_id", "load_erlangs", "erlang", "HiGHS"):
        assert word.lower() not in text.lower(), word
    assert "ortools" in " ".join(inside).lower() or "solver" in " ".join(inside)


def test_saving_a_name_again_makes_a_new_version_and_says_so():
    at = page_app("workshop").run()
    at.text_input(key="save_name").set_value("Workshop A: 40 min, Melton kept")
    at.text_input(key="save_author").set_value("Dr Patel")
    at.button(key="save_option").click().run()
    assert "Saved 'Workshop A: 40 min, Melton kept' (version 1)" in _texts(at)
    at.button(key="save_option").click().run()
    assert "already in the library: saved as version 2" in _texts(at)
    from optimiser.library import OptionStore

    rec = OptionStore().record("Workshop A: 40 min, Melton kept")
    assert (rec.version, rec.author) == (2, "Dr Patel")
    assert "plan for 2030" in rec.option.description and "LLR default" not in rec.option.description
    import yaml

    from optimiser.scenario import scenario_from_dict

    assert scenario_from_dict(yaml.safe_load(rec.settings_yaml)).horizon_year == 2030
    assert rec.answer["status"] == "quick" and rec.answer["metrics"]["annual_cost_gbp"] > 0
