"""Scenario files: validated once, errors name the key; contradictory and infeasible
scenarios get a plain-English message."""

from __future__ import annotations

import pytest

from optimiser import api
from optimiser.errors import InfeasibleError, ScenarioError
from optimiser.scenario import default_scenario, load_scenario, scenario_from_dict


@pytest.mark.parametrize("yaml_text, key, words", [
    ("name: x\ntravel:\n  max_minuts: 40\n", "travel.max_minuts", "unknown setting"),
    ("name: x\ntravel:\n  max_minutes: -5\n", "travel.max_minutes", "greater than 0"),
    ("name: x\nutilisation:\n  blocking_target: 1.5\n", "utilisation.blocking_target", "less than 1"),
    ("name: x\nhorizon_year: next year\n", "horizon_year", "integer"),
    ("name: x\nutilisation:\n  rule: queue\n", "utilisation.rule", "erlang"),
    ("name: x\nmin_beds_per_open_site: 12.5\n", "min_beds_per_open_site", "integer"),
])
def test_bad_values_name_the_key(tmp_path, yaml_text, key, words):
    p = tmp_path / "s.yaml"
    p.write_text(yaml_text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    msg = str(err.value)
    assert key in msg and words in msg and "s.yaml" in msg


def test_not_yaml_is_reported_with_the_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: x\ntravel: [unclosed\n")
    with pytest.raises(ScenarioError, match="broken.yaml"):
        load_scenario(p)


def test_scenario_is_immutable_and_changes_make_new_ones():
    sc = default_scenario()
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        sc.horizon_year = 2040
    other = sc.with_changes(**{"travel.max_minutes": 60})
    assert other.travel.max_minutes == 60 and sc.travel.max_minutes == 45
    assert other.fingerprint() != sc.fingerprint()
    again = scenario_from_dict(__import__("yaml").safe_load(sc.to_yaml()))
    assert again.fingerprint() == sc.fingerprint()


def test_unknown_site_and_stroke_site_are_named(llr_dataset):
    sc = default_scenario().with_changes(**{"pathways.stroke.sites": ["st_lukes", "atlantis"]})
    with pytest.raises(ScenarioError, match=r"atlantis.*pathways.stroke.sites|pathways.stroke.sites.*atlantis"):
        api.solve(sc, llr_dataset)


def test_virtual_minimum_above_maximum_is_contradictory(llr_dataset):
    with pytest.raises(ScenarioError, match=r"virtual.min_beds.default \(50\) is more than virtual.max_beds \(20\)"):
        default_scenario().with_changes(**{"virtual.min_beds": {"default": 50}, "virtual.max_beds": {"default": 20}})


def test_unreachable_travel_standard_is_explained(llr_dataset):
    sc = default_scenario().with_changes(**{"travel.standard.threshold_minutes": 20})
    with pytest.raises(InfeasibleError) as err:
        api.solve(sc, llr_dataset)
    text = err.value.explanation.summary()
    assert "95% of residents aged 65+ within 20 minutes" in text
    assert "most reachable" in text
    best = err.value.explanation.nearest["travel.standard.share"]
    assert 0.5 < best < 0.95
    assert "status" not in text.lower() or "solver" not in text.lower()


def test_closing_every_site_is_explained(llr_dataset):
    sites = {s: {"status": "close"} for s in llr_dataset.sites.index}
    sc = default_scenario().with_changes(**{"sites": sites})
    with pytest.raises(InfeasibleError) as err:
        api.solve(sc, llr_dataset)
    assert "8 site(s) closed" in str(err.value)
    assert "Let the model decide" in str(err.value)


def test_data_dictionary_is_current():
    from pathlib import Path

    from optimiser.cli import parameters_markdown

    doc = Path(__file__).resolve().parent.parent / "docs" / "scenario-parameters.md"
    assert doc.read_text(encoding="utf-8") == parameters_markdown(), \
        "regenerate with: python -m optimiser params --markdown > docs/scenario-parameters.md"
    assert "`travel.standard.share`" in doc.read_text(encoding="utf-8")
