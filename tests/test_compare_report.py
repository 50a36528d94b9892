"""The comparison files for the steering group: the Excel holds numbers (units in headers),
an About sheet, the weights and settings; the PDF prints any number of options without a cut
column, with settings, weights, scores, near-ties and provenance. Real evaluations of the
shipped options on the default scenario."""

from __future__ import annotations

import dataclasses
import io
import re

import pandas as pd
import pytest

from optimiser import api
from optimiser.compare import DEFAULT_CRITERIA, appraisal, criteria_from
from optimiser.ui import compare_report

NAMES = ("Status quo", "West Leicestershire proposal")


@pytest.fixture(scope="module")
def pairs(llr_dataset, llr_scenario):
    shipped = api.shipped_options()
    out = []
    for name in NAMES:
        out.append((name, api.evaluate(llr_scenario, shipped[name], llr_dataset)))
    # five options, one named with characters Excel forbids in sheet names
    for label in ("Workshop A: 40 min, Melton kept", "Plan [B]/draft?", "=HYPERLINK(\"x\")"):
        out.append((label, dataclasses.replace(out[0][1], name=label)))
    return out


def _criteria():
    return criteria_from({k: (w, z, t) for k, (w, z, t) in DEFAULT_CRITERIA.items()})


def test_comparison_excel_has_numbers_units_about_weights_and_settings(pairs, llr_scenario):
    crit = _criteria()
    scores = appraisal([(label, s.metrics) for label, s in pairs], crit, breaks={n: len(s.breaks) for n, s in pairs})
    data = compare_report.excel_bytes(pairs, llr_scenario, crit, scores, "plan for 2030", "test data")
    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    assert list(sheets)[:7] == ["About", "Comparison", "Appraisal", "Weights", "Settings", "Near-ties", "Rule breaks"]
    comparison = sheets["Comparison"].set_index("Measure")
    from optimiser.spreadsheets import neutral

    assert list(comparison.columns) == ["Unit", *[neutral(label) for label, _ in pairs]]
    cost = comparison.loc["Annual cost"]
    assert cost["Unit"] == "£ a year"
    assert isinstance(cost["Status quo"], float) and cost["Status quo"] == pytest.approx(
        pairs[0][1].metrics["annual_cost_gbp"])                     # a number, not "£46,..." text
    share = comparison.loc["Residents 65+ within 30 minutes"]
    assert share["Unit"] == "%" and 0 < share["Status quo"] <= 100
    weights = sheets["Weights"].set_index("Criterion")
    assert weights.loc["Annual cost (£ a year)", "Weight"] == 30
    assert weights.loc["Annual cost (£ a year)", "Scores 0 at"] == 60e6
    assert weights.loc["Residents 65+ within 30 minutes (%)", "Scores 10 at"] == 100
    about = dict(zip(sheets["About"]["Item"], sheets["About"]["Value"].astype(str)))
    assert about["Settings every option is measured with"].endswith("plan for 2030")
    assert "Dataset SHA-256" in about and about["Made (UTC)"]
    assert "travel.max_minutes" in set(sheets["Settings"]["Setting"])
    appraisal_sheet = sheets["Appraisal"].set_index("Option")
    assert appraisal_sheet.loc["Status quo", "Rules of the settings broken"] == len(pairs[0][1].breaks) > 0
    assert set(sheets["Rule breaks"]["Option"]) >= {"Status quo"}
    # every option has its beds sheet, whatever its name (no ':', '[', '/', '?' in sheet names)
    beds = [name for name in sheets if name.startswith("Beds ")]
    assert len(beds) == len(pairs)
    assert all(not re.search(r"[:\\/?*\[\]]", name) for name in beds)
    formula = sheets[beds[-1]]["Option"].iloc[0]
    assert formula.startswith("'=HYPERLINK")                       # text, not a live formula
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    assert all(c.data_type != "f" for ws in book.worksheets for row in ws.iter_rows() for c in row)


def test_comparison_pdf_prints_every_option_with_settings_weights_and_provenance(pairs, llr_scenario):
    crit = _criteria()
    scores = appraisal([(label, s.metrics) for label, s in pairs], crit, breaks={n: len(s.breaks) for n, s in pairs})
    data = compare_report.pdf_bytes(pairs, llr_scenario, crit, scores, "plan for 2030", "test data", compress=False)
    assert data.startswith(b"%PDF")
    text = data.decode("latin-1")
    for label in ("Workshop A: 40 min, Melton kept", "West Leicestershire proposal", "Status quo"):
        assert label in text, label
    # five options: two side-by-side tables (four and one), each with the measures' names
    assert text.count("(Measure)") == 2
    for phrase in ("Options appraisal", "Scores 0 at", "Near-ties", "Where these figures come from",
                   "Dataset SHA-256", "Settings: plan for 2030", "Rules of the settings that options break"):
        assert phrase in text, phrase
    assert "\\(breaks" in text and "rules\\)" in text       # a rule-breaker's rank is marked
