"""The "How sure are we?" page through Streamlit's AppTest: an option measured in futures,
shown in plain words with interval charts, the waterfall and the downloads."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

TIMEOUT = 600


def test_how_sure_are_we_page_measures_an_option_in_futures(tmp_path, monkeypatch):
    monkeypatch.setenv("LLR_OPTIONS_DIR", str(tmp_path / "options"))
    at = AppTest.from_string("from optimiser.ui import uncertainty_page\nuncertainty_page.page()\n",
                             default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "How sure are we?"
    at.selectbox(key="unc_option").set_value("Status quo")
    at.number_input(key="unc_samples").set_value(20)
    at.button(key="unc_run").click().run()
    assert not at.exception, at.exception
    text = "\n".join(str(m.value) for m in at.markdown)
    assert "In 8 out of 10 futures 'Status quo' costs between" in text
    assert "Every hospital keeps the chance that a patient finds no free bed within 5%" in text
    labels = {m.label: m.value for m in at.metric}
    assert labels["Every hospital within the target"].endswith("% of futures")
    assert labels["Cost a year, 8 in 10 futures"].startswith("£")
    # the waterfall from today's beds, with its steps in words
    assert "**Beds today** (369 beds)" in text and "**Demographic growth**" in text
    assert "**Queueing target**" in text and "**Consolidation and the rest**" in text
    # the interval charts per hospital and district, and the waterfall; downloads
    assert len(at.get("plotly_chart")) >= 3
    downloads = [b.proto.label for b in at.get("download_button")]
    for label in ("Futures (CSV)", "Ranges per hospital and district (CSV)", "Chart (PNG)", "Chart (PDF)",
                  "Waterfall (CSV)", "Waterfall (PNG)", "Waterfall (PDF)"):
        assert label in downloads
    # the slower parts wait for a click: the tornado, per-site robustness, the robust configuration
    buttons = {b.key for b in at.button}
    assert {"unc_tornado", "unc_site_run", "unc_robust_run"} <= buttons
    # the same futures again come from the page's cache, not a new run
    at.radio(key="unc_site_measure").set_value("chance_no_free_bed").run()
    assert not at.exception
    assert "In 8 out of 10 futures" in "\n".join(str(m.value) for m in at.markdown)
