"""The Impact page through Streamlit's AppTest: it measures an option against the status quo,
shows the change map, the district and deprivation tables and a district's paragraph, and
offers the packs for download."""

from __future__ import annotations

import pytest

from tests.test_app import page_app


@pytest.fixture(autouse=True)
def option_library(tmp_path, monkeypatch):
    monkeypatch.setenv("LLR_OPTIONS_DIR", str(tmp_path / "options"))


def test_impact_page_shows_who_is_affected_and_offers_the_packs():
    at = page_app("impact_page").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Who is affected"
    assert at.selectbox(key="impact_option").value == "Consolidate Lutterworth into Market Harborough"
    assert at.selectbox(key="impact_baseline").value == "Status quo"
    assert len(at.image) == 1, "the change map"
    labels = {m.label for m in at.metric}
    assert "People 65+ with a longer journey" in labels and "Deprivation gap (most − least deprived)" in labels
    tables = {d.value.columns[0]: d.value for d in at.dataframe}     # each table by its first column
    assert len(tables["District"]) == 9 and "Melton" in set(tables["District"]["District"])
    assert list(tables["IMD quintile (1 = most deprived fifth)"].iloc[:, 0]) == [1, 2, 3, 4, 5]
    assert list(tables["IMD decile (1 = most deprived tenth)"].iloc[:, 0]) == list(range(1, 11))
    assert any("Feilding Palmer Hospital" in m.value and "13 → 0 beds" in m.value for m in at.markdown)
    buttons = {b.proto.label for b in at.get("download_button")}
    assert "Every district's pack (zip of PDF and HTML)" in buttons

    at.selectbox(key="impact_district").set_value("E07000131").run()
    assert not at.exception
    assert any("would mean for Harborough" in s.value for s in at.subheader)
    paragraph = at.info[0].value
    assert paragraph.startswith("In Harborough, ") and "people aged 65+" in paragraph
    row = tables["District"].set_index("District").loc["Harborough"]
    assert f"{int(row['65+ with a longer journey']):,} of the {int(row['Aged 65+']):,} people aged 65+" in paragraph
    assert {"Harborough pack (PDF, A4)", "Harborough pack (HTML, opens offline)"} <= {
        b.proto.label for b in at.get("download_button")}
    shown = {d.value.columns[0]: d.value for d in at.dataframe}
    assert list(shown["IMD quintile"]["IMD quintile"]) == ["2", "3", "4", "5 (least deprived)"]
    assert "Admissions a year to a different hospital" in set(shown["Measure"]["Measure"])

    at.selectbox(key="impact_option").set_value("West Leicestershire proposal").run()
    assert not at.exception
    assert any("'West Leicestershire proposal' would mean for Harborough" in s.value for s in at.subheader)
