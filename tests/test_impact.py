"""Who is affected: the impact of an option against the status quo, from the patient-flow
model, for evaluated options and solved answers alike; people counts add up to the
population; each district's paragraph quotes exactly the district table's numbers; the CLI
writes the tables, summary.json and nine printable packs (each rendered to PNG here, into
artifacts/impact_packs/, for people to look at)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser import api
from optimiser.errors import ScenarioError
from optimiser.impact import district_paragraph, impact_of, placed_admissions
from optimiser.solution import flow_of

ROOT = Path(__file__).resolve().parent.parent
EAST = ROOT / "data" / "options" / "east_consolidation.yaml"
SHOTS = ROOT / "artifacts" / "impact_packs"
TABLES = ("by_district", "by_imd_decile", "by_imd_quintile", "overall")


@pytest.fixture(scope="module")
def east(llr_scenario, llr_dataset):
    return api.impact(llr_scenario, api.load_option(EAST), dataset=llr_dataset)


def test_people_counts_add_up_to_the_population(east, llr_dataset):
    population = int(llr_dataset.zones["pop_total"].sum())
    older = int(llr_dataset.zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum().sum())
    assert (population, older) == (1_107_597, 200_622)
    for name in TABLES:
        t = getattr(east, name)
        for who in ("", "_65_plus"):
            total = t[f"people_longer{who}"] + t[f"people_shorter{who}"] + t[f"people_unchanged{who}"]
            assert (total == t[f"population{who}"]).all(), (name, who)
        assert t["population"].sum() == population and t["population_65_plus"].sum() == older, name
    assert len(east.by_district) == 9 and list(east.by_imd_decile["imd_decile"]) == list(range(1, 11))
    assert list(east.by_imd_quintile["imd_quintile"]) == [1, 2, 3, 4, 5]
    assert len(east.by_lsoa) == 611


def _numbers(text: str) -> list[float]:
    words = re.sub(r"65\+|more than 30 minutes", "", text)      # thresholds are words of the text
    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", words)]


def test_each_paragraph_quotes_exactly_the_district_tables_numbers(east):
    table = east.by_district[east.by_district["travel_times"] == "road"].set_index("district_code")
    assert set(east.paragraphs) == set(table.index)
    quoted = 0
    for code, text in east.paragraphs.items():
        again, used = district_paragraph(table.loc[code].to_dict() | {"district_code": code})
        assert again == text
        numbers = _numbers(text)
        assert len(numbers) == len(used), (text, used)
        for number, column in zip(numbers, used, strict=True):
            value = float(table.loc[code, column])
            if column.startswith(("people", "population")):
                assert number == value, (column, text)
            elif column.startswith("admissions"):
                assert number == round(value), (column, text)
            else:                                   # minutes: the size, to 0.1 (the sign is in words)
                assert number == round(abs(value), 1), (column, text)
            quoted += 1
        assert table.loc[code, "district_name"] in text
    assert quoted >= 9 * 3
    harborough = east.paragraphs["E07000131"]    # Lutterworth is in Harborough
    row = table.loc["E07000131"]
    assert f"{row['people_longer_65_plus']:,} of the {row['population_65_plus']:,} people aged 65+" in harborough


def test_the_figures_come_from_the_patient_flow_model(east):
    option, baseline = east.option, east.baseline
    placed = placed_admissions(option)
    flow = flow_of(option.instance, option.tables)
    assert placed.sum() == pytest.approx(flow.unit_admitted.sum())
    assert east.by_lsoa["admissions_per_year_after"].sum() == pytest.approx(option.metrics["hospital_admissions_per_year"])
    assert east.by_lsoa["admissions_per_year_before"].sum() == pytest.approx(baseline.metrics["hospital_admissions_per_year"])
    inst = option.instance
    rehab = list(inst.pathways.ids).index("rehab")
    for zone in ("E01025791", "E01013600", "E01013804"):
        i = list(inst.zones.ids).index(zone)
        where = placed[i, rehab]
        row = east.by_lsoa.set_index("zone_code").loc[zone]
        assert row["hospital_after"] == inst.sites.names[int(np.argmax(where))]
        assert row["minutes_after"] == pytest.approx((where * inst.travel[i]).sum() / where.sum(), abs=0.006)
    # admissions whose hospital changes: what each area's patients gain at some hospital
    before = placed_admissions(baseline)
    assert east.overall["admissions_changing_hospital_per_year"].iloc[0] == pytest.approx(
        np.maximum(placed - before, 0).sum(), abs=0.06)


def test_where_the_closed_sites_patients_go(east):
    fp = east.site_changes[east.site_changes["site_id"] == "feilding_palmer"]
    assert set(east.site_changes["site_id"]) == {"feilding_palmer"}
    assert (fp["beds_before"] == 13).all() and (fp["beds_after"] == 0).all()
    assert fp.iloc[0]["to_site_id"] == "st_lukes"          # the nearest, which takes its beds
    assert fp["admissions_per_year"].sum() == pytest.approx(fp["admissions_per_year_before"].iloc[0], abs=0.1 * len(fp))
    assert fp["admissions_per_year"].is_monotonic_decreasing or fp.iloc[-1]["to_site_id"] == ""


def test_worst_areas_deprivation_and_summary(east):
    worst = east.worst_areas
    assert 1 <= len(worst) <= 10 and (worst["change_minutes"] > 0).all()
    assert worst["change_minutes"].is_monotonic_decreasing and worst["zone_name"].str.len().gt(0).all()
    s = east.summary()
    assert s["option"] == "Consolidate Lutterworth into Market Harborough" and s["baseline"] == "Status quo"
    assert s["deprivation_gap_minutes"]["option"] == pytest.approx(east.option.metrics["deprivation_gap_minutes"])
    assert s["overall"][0]["population"] == 1_107_597
    assert s["provenance"]["option"]["attribution"].startswith("Contains ONS data and OS data")
    assert len(s["district_paragraphs"]) == 9 and s["closed_or_shrunk_sites"]
    json.dumps(s)   # plain values only


def test_an_option_against_itself_changes_nothing(llr_scenario, llr_dataset):
    today = api.evaluate(llr_scenario, api.shipped_options()["Status quo"], llr_dataset)
    same = impact_of(today, today)
    o = same.overall.iloc[0]
    assert o["people_unchanged"] == o["population"] and o["admissions_changing_hospital_per_year"] == 0
    assert same.site_changes.empty and same.worst_areas.empty
    assert all("none of the" in p for p in same.paragraphs.values())


def test_a_solved_answer_works_too_and_says_what_it_is(llr_scenario, llr_dataset):
    quick = api.quick_solve(llr_scenario, llr_dataset)
    result = api.impact(llr_scenario, quick, dataset=llr_dataset)
    assert result.option is quick and result.baseline.name == "Status quo"
    assert any("quick answer" in c for c in result.caveats)
    closed = set(quick.sites.loc[quick.sites["beds"] < quick.sites["current_beds"], "site_id"])
    assert set(result.site_changes["site_id"]) <= closed | set(
        result.baseline.sites.loc[result.baseline.sites["beds"] > quick.sites.set_index("site_id")["beds"]
                                  .reindex(result.baseline.sites["site_id"]).to_numpy(), "site_id"])
    o = result.overall.iloc[0]
    assert o["people_longer"] + o["people_shorter"] + o["people_unchanged"] == o["population"]
    other = llr_scenario.with_changes(**{"travel.max_minutes": 40.0})
    with pytest.raises(ScenarioError, match="different scenarios"):
        api.impact(other, quick, dataset=llr_dataset)


def test_impact_under_both_travel_matrices(llr_scenario, llr_dataset, tmp_path):
    from tests.test_second_travel import with_made_up_transit

    ds = with_made_up_transit(llr_dataset, tmp_path)
    result = api.impact(llr_scenario, api.load_option(EAST), dataset=ds)
    assert result.travel_labels == ("road", "public transport")
    assert len(result.by_district) == 18 and set(result.by_district["travel_times"]) == {"road", "public transport"}
    transit = result.by_district[result.by_district["travel_times"] == "public transport"]
    road = result.by_district[result.by_district["travel_times"] == "road"]
    assert (transit["people_longer"] + transit["people_shorter"] + transit["people_unchanged"]
            == transit["population"]).all()
    assert (transit["mean_minutes_after"].to_numpy() > road["mean_minutes_after"].to_numpy()).all()
    assert "minutes_after_second_matrix" in result.by_lsoa.columns
    from optimiser.impact_pack import district_table

    rows = district_table(result, "E07000131")["Measure"].tolist()
    assert "By public transport: mean journey before → after (minutes)" in rows


def _pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """The (width, height) in points of each page of a PDF matplotlib wrote."""
    text = data.decode("latin-1")
    return [(float(w), float(h)) for w, h in re.findall(r"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", text)]


def test_the_cli_writes_tables_summary_and_nine_printable_packs(tmp_path, llr_dataset, capsys):
    from PIL import Image

    from optimiser.cli import main
    from optimiser.impact_pack import district_pack_png, pack_name

    out = tmp_path / "D"
    assert main(["impact", "--option", str(EAST), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Feilding Palmer Hospital, Lutterworth: 13 -> 0 beds" in printed
    for name in ("impact_by_lsoa.csv", "impact_by_district.csv", "impact_by_imd_decile.csv",
                 "impact_by_imd_quintile.csv", "summary.json"):
        assert (out / name).stat().st_size > 500, name
    district = pd.read_csv(out / "impact_by_district.csv")
    assert district["population"].sum() == 1_107_597
    lsoa = pd.read_csv(out / "impact_by_lsoa.csv")
    assert lsoa["population"].sum() == 1_107_597 and {"hospital_before", "hospital_after", "minutes_before",
                                                       "minutes_after", "minutes_before_stroke"} <= set(lsoa.columns)
    summary = json.loads((out / "summary.json").read_text())
    for row in district.itertuples():
        text = summary["district_paragraphs"][row.district_code]
        assert f"{row.population_65_plus:,} people aged 65+" in text
    pdfs = sorted((out / "packs").glob("*.pdf"))
    assert len(pdfs) == 9 and len(list((out / "packs").glob("*.html"))) == 9
    with zipfile.ZipFile(out / "packs" / "district_packs.zip") as z:
        assert len(z.namelist()) == 18
    for pdf in pdfs:
        pages = _pdf_pages(pdf.read_bytes())
        assert pages == [pytest.approx((595.44, 841.68), abs=1)], pdf.name      # one A4 page
    html = (out / "packs" / "melton.html").read_text()
    assert "data:image/png;base64," in html and "What &#x27;Consolidate Lutterworth into Market Harborough&#x27; " \
        "would mean for Melton" in html and "Open Government Licence" in html
    assert summary["district_paragraphs"]["E07000133"].split(".")[0] in html
    # Each page as a PNG (the same figure as the PDF), kept for people to look at.
    from optimiser.scenario import default_scenario

    result = api.impact(default_scenario(), api.load_option(EAST), dataset=llr_dataset)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for code in llr_dataset.districts.index:
        png = district_pack_png(llr_dataset, result, code)
        path = SHOTS / f"{pack_name(llr_dataset, code)}.png"
        path.write_bytes(png)
        image = Image.open(io.BytesIO(png)).convert("L")
        w, h = image.size
        assert h / w == pytest.approx(11.69 / 8.27, rel=0.01)
        pixels = np.asarray(image, float)
        map_part = pixels[int(0.13 * h):int(0.5 * h), : int(0.62 * w)]
        assert (map_part < 200).mean() > 0.02, f"the map of {code} is drawn"
        assert (pixels[int(0.75 * h):int(0.82 * h)] < 128).mean() > 0.005, f"the paragraph of {code} is printed"
