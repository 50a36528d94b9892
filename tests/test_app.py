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


def test_workshop_control_changes_the_answer_and_shows_the_change():
    at = page_app("workshop").run()
    assert not at.exception
    before = [(m.label, m.value) for m in at.metric]
    at.sidebar.selectbox(key="status_melton").set_value("keep_open")   # the default answer closes it
    at.sidebar.button[0].click().run()  # the form's submit button
    assert not at.exception
    after = [(m.label, m.value) for m in at.metric]
    assert _metric(at, "Annual cost") and after != before
    assert [m.delta for m in at.metric if m.delta], "the change from the previous run is shown"
    # the best (slower) answer is one click away
    at.radio(key="answer_mode").set_value("best").run()
    assert not at.exception
    assert "within 0.5" in " ".join(c.value for c in at.caption) or at.metric
    changed = [e for e in at.expander if e.label == "What changed since the previous run"]
    assert changed, "the changes are listed"
    assert "Melton Mowbray Hospital: model decides → keep beds" in _texts(at)
    assert any("Change (beds)" in d.value.columns for d in at.dataframe)


def test_workshop_infeasible_setting_shows_the_explanation_not_a_traceback():
    at = page_app("workshop").run()
    at.sidebar.select_slider(key="coverage_threshold").set_value(20)
    at.sidebar.button[0].click().run()
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
    saved = list(option_library.glob("*.yaml"))
    assert [p.name for p in saved] == ["council_briefing_a.yaml"]
    cmp_ = page_app("compare_page").run()
    assert "Council briefing A" in cmp_.multiselect(key="compare_chosen").options
    cmp_.multiselect(key="compare_chosen").set_value(["Status quo", "Council briefing A"]).run()
    assert not cmp_.exception
    table = cmp_.dataframe[0].value
    assert list(table.columns) == ["Status quo", "Council briefing A"]
    # the option keeps the workshop answer's beds: same totals, and the same beds per hospital
    for label in ("Community hospital beds", "Home-based (virtual) beds", "Annual cost"):
        row = next(r for r in table.index if r.startswith(label))
        assert table.loc[row, "Council briefing A"] == _metric(at, label), label
    from optimiser.options import OptionLibrary

    option = OptionLibrary(option_library).load("Council briefing A")
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
    table = at.dataframe[0].value
    assert list(table.columns) == ["Best configuration", "Status quo", "West Leicestershire proposal"]
    assert table.loc["Annual cost (£ a year)", "Status quo"].startswith("£")
    assert len(at.get("plotly_chart")) == 3, "beds per site, cost, travel distribution"
    scores = [d.value for d in at.dataframe if "Weighted score (0–10)" in d.value.columns]
    assert scores and set(scores[0].index) == set(table.columns)
    assert scores[0]["Weighted score (0–10)"].between(0, 10).all()
    assert list(scores[0].columns[:2]) == ["Weighted score (0–10)", "Rank"]


def test_maps_page_draws_the_map_and_district_sheet():
    at = page_app("maps_page").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3, "the map, and the district before and after"
    assert {b.proto.label for b in at.get("download_button")} >= {
        "Map for slides (PNG)", "Map for printing (PDF)", "Interactive map (HTML, opens offline)",
        "District sheet (PNG)", "District sheet (PDF)", "District sheet (HTML, opens offline)"}
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
    assert "Best configuration for the current settings" in title
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
    at.sidebar.button[0].click().run()
    assert any("No configuration meets" in e.value for e in at.error)
    at.button(key="apply_nearest").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    share = at.sidebar.slider(key="coverage_share").value
    assert 50 <= share < 95
    assert _metric(at, "Residents 65+ within 30 minutes")


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
