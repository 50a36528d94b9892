"""Every figure traceable: inline notes on scenario and option figures (source or
assumption), validated, kept on the loaded object, written back, and listed by `params`."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimiser.errors import InputError, ScenarioError
from optimiser.figures import strip_notes, unnoted_figures
from optimiser.options import load_option, option_from_dict, shipped_options
from optimiser.scenario import default_scenario, load_scenario, scenario_from_dict

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "data" / "scenarios").glob("*.yaml")) + sorted((REPO / "data" / "options").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_number_in_a_shipped_scenario_or_option_has_a_source_or_assumption(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    plain, notes = strip_notes(raw)
    assert notes, f"{path.name} has no figure notes at all"
    missing = unnoted_figures(plain, notes)
    assert missing == [], f"{path.name}: numbers with neither a source nor an assumption: {missing}"
    for note in notes.values():
        assert note.source or note.assumption
    # and the loaders keep every note
    loaded = load_scenario(path) if path.parent.name == "scenarios" else load_option(path)
    assert dict(loaded.figures) == notes


def test_the_check_finds_a_bare_number():
    raw = yaml.safe_load((REPO / "data" / "scenarios" / "llr_default.yaml").read_text(encoding="utf-8"))
    raw["travel"]["max_minutes"] = 40          # a plain number, no note
    raw["wards"]["general"]["bed_options"] = [12, 16, 20]
    plain, notes = strip_notes(raw)
    assert unnoted_figures(plain, notes) == ["wards.general.bed_options", "travel.max_minutes"]


def test_travel_standard_and_blocking_target_are_flagged_as_assumptions():
    # Neither figure is in the review papers (seeds/): both are flagged, not cited.
    sc = default_scenario()
    for key in ("travel.standard.share", "travel.standard.threshold_minutes", "utilisation.blocking_target"):
        note = sc.figures[key]
        assert note.is_assumption and "not in the review papers" in note.assumption
        assert note.source == ""
    seeds_text = " ".join(p.read_text(encoding="utf-8") for p in (REPO / "seeds").glob("*.yaml"))
    assert "30 minutes" not in seeds_text and "blocking" not in seeds_text


def test_seed_sources_resolve_to_the_papers():
    sc = default_scenario()
    note = sc.figures["pathways.rehab.virtual_length_of_stay_days"]
    assert note.seed_references == ("seeds/llr_community_services_progress_2020.yaml#home_first_intensive_support_weeks",)
    assert "6 weeks" in note.source_text() and "Community Services Redesign Process" in note.source_text()
    cost = sc.figures["virtual.cost_per_bed_per_year"]
    assert len(cost.seed_references) == 2   # £5m and 109 beds


@pytest.mark.parametrize("note, words", [
    ("{value: 25}", "needs a 'source'"),
    ("{value: 25, source: 'seeds/elr_community_model_2015.yaml#no_such_figure'}", "is not a figure in seeds/"),
    ("{value: 25, source: 'seeds/nowhere.yaml'}", "not of the form seeds/<file>.yaml#<key>"),
    ("{value: 25, assumption: x, low: 30, high: 40}", "low (30) <= value (25) <= high (40)"),
    ("{value: 25, assumption: x, low: 20}", "give both 'low' and 'high'"),
    ("{value: 25, assumption: x, low: 20, high: '30 days'}", "'high' must be a number"),
    ("{value: 25, assumption: x, variants: {long: many}}", "variant 'long'"),
    ("{value: 25, assumption: x, unit: days}", "unknown key(s) 'unit' in a figure note"),
    ("{value: lots, assumption: x}", "must be a number"),
    ("{value: 25, assumption: ''}", "must be text"),
])
def test_a_bad_note_names_the_file_and_the_setting(tmp_path, note, words):
    p = tmp_path / "s.yaml"
    p.write_text(f"name: x\npathways:\n  rehab:\n    length_of_stay_days: {note}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert err.value.key == "pathways.rehab.length_of_stay_days"
    assert words in str(err.value) and "s.yaml" in str(err.value)


def test_a_note_on_a_setting_that_is_not_a_number_is_refused(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\ntravel:\n  assignment: {value: 3, assumption: x}\n")
    with pytest.raises(ScenarioError, match="travel.assignment"):
        load_scenario(p)


def test_ranges_and_variants_are_kept(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\npathways:\n  rehab:\n    length_of_stay_days:\n      value: 25\n"
                 "      assumption: typical stay\n      low: 20\n      high: 32\n"
                 "      variants: {short: 18, long: 35}\n")
    sc = load_scenario(p)
    assert sc.pathways["rehab"].length_of_stay_days == 25
    note = sc.figures["pathways.rehab.length_of_stay_days"]
    assert (note.low, note.high, note.variants) == (20, 32, (("short", 18), ("long", 35)))
    again = scenario_from_dict(yaml.safe_load(sc.to_yaml()))
    assert again.figures["pathways.rehab.length_of_stay_days"] == note


def test_default_scenario_round_trips_with_its_notes():
    sc = default_scenario()
    text = sc.to_yaml()
    assert "assumption: The travel standard" in text
    again = scenario_from_dict(yaml.safe_load(text))
    assert again.model_dump() == sc.model_dump()
    assert dict(again.figures) == dict(sc.figures)
    assert again.to_yaml() == text
    assert again.fingerprint() == sc.fingerprint()   # notes do not change what is solved


def test_a_changed_setting_loses_its_note_and_others_keep_theirs():
    sc = default_scenario()
    changed = sc.with_changes(**{"travel.max_minutes": 40, "pathways.rehab.length_of_stay_days": 25})
    assert "travel.max_minutes" not in changed.figures
    assert "pathways.rehab.length_of_stay_days" in changed.figures   # value unchanged
    assert len(changed.figures) == len(sc.figures) - 1
    plain = yaml.safe_load(changed.to_yaml())
    assert plain["travel"]["max_minutes"] == 40
    assert plain["pathways"]["rehab"]["length_of_stay_days"]["value"] == 25


def test_options_round_trip_with_their_notes():
    for option in shipped_options().values():
        again = option_from_dict(yaml.safe_load(yaml.safe_dump(option.to_dict(), sort_keys=False)), "again.yaml")
        assert dict(again.figures) == dict(option.figures)
        assert again.beds.equals(option.beds)
    sq = shipped_options()["Status quo"]
    note = sq.figures["beds.loughborough.rehab"]
    assert note.is_assumption and "111" in note.assumption
    assert sq.figures["beds.st_lukes.stroke"].source.endswith("#beds_st_lukes_stroke_rehab")


def test_a_bad_option_note_names_the_key():
    with pytest.raises(InputError) as err:
        option_from_dict({"name": "x", "beds": {"melton": {"rehab": {"value": 16}}}}, "o.yaml")
    assert err.value.column == "beds.melton.rehab" and "o.yaml" in str(err.value)


def _params(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optimiser", "params", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_params_lists_the_scenarios_values_and_notes(tmp_path):
    r = _params("--scenario", str(REPO / "data" / "scenarios" / "llr_default.yaml"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "44 figures set in the file" in out and "0 have neither" in out
    assert "pathways.stroke.length_of_stay_days = 35 days (default 25)" in out
    assert "source: seeds/llr_community_services_progress_2020.yaml#home_first_intensive_support_weeks" in out
    # a scenario of one's own: its own values, and bare numbers flagged
    p = tmp_path / "mine.yaml"
    p.write_text("name: Mine\ntravel:\n  max_minutes: 40\n")
    r = _params("--scenario", str(p))
    assert r.returncode == 0, r.stderr
    assert "travel.max_minutes = 40 minutes (default 45)" in r.stdout
    assert "1 have neither (travel.max_minutes)" in r.stdout


def test_params_csv():
    r = _params("--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    share = rows["travel.standard.share"]
    assert (share["value"], share["default"], share["unit"], share["status"]) == ("0.95", "0.95", "share", "assumption")
    assert rows["pathways.rehab.virtual_length_of_stay_days"]["status"] == "source and assumption"
    assert rows["pathways.rehab.demand.relative_rates.85+"]["value"] == "8"
    assert rows["virtual.max_beds.default"]["assumption"].startswith("Most home-based beds")
    figures = [row for row in rows.values() if row["status"] not in ("", "default")]
    assert len(figures) == 44 and all(row["status"] != "no note" for row in figures)
