"""The deprivation equity rule: on a hand-solvable instance it binds and changes the answer,
the independent checker verifies it (and objects when it is broken), the infeasibility
diagnosis names it with the nearest workable limit; on the LLR data the gap is reported with
every answer, the baseline is measured in the patient-flow model, and an evaluated option that
breaks the rule says so."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimiser.checker import check
from optimiser.errors import InfeasibleError, ScenarioError
from optimiser.instance import DeprivationRule, Rules
from optimiser.model.solve import solve_instance
from tests.conftest import make_instance

# Two sites; exactly one opens (the same cost at either). Zones 0 and 1 (least deprived,
# decile 10, 10 admissions each) are 5 minutes from site 0 and 30 from site 1; zone 2 (most
# deprived, decile 1, 5 admissions) is 30 minutes from site 0 and 10 from site 1; zone 3
# (decile 5, 1 admission) is 10 minutes from both.
#   site 0: travel 10*5*2 + 5*30 + 1*10 = 260; most deprived 30 min, least 5: gap +25
#   site 1: travel 10*30*2 + 5*10 + 1*10 = 660; most deprived 10 min, least 30: gap -20
TRAVEL = [[5, 30], [5, 30], [30, 10], [10, 10]]
ADMISSIONS = [10, 10, 5, 1]
DECILES = np.array([10, 10, 1, 5])


def tiny(rule: DeprivationRule | None, backend: str = "ortools"):
    inst = make_instance(TRAVEL, ADMISSIONS, steps=(0, 40), fixed_cost=100.0, cost_per_bed=10.0,
                         rules=Rules(single_assignment=False, open_exactly=1, deprivation=rule), backend=backend)
    # residents: zone 2 has the fewest, so only the groups' own means matter, not their size
    return replace(inst, zones=replace(inst.zones, deprivation_decile=DECILES))


def open_site(sol) -> str:
    s = sol.sites
    return "".join(s.loc[s["open"], "site_id"])


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
def test_the_gap_limit_binds_and_changes_the_answer(backend):
    free = solve_instance(tiny(DeprivationRule(), backend))
    assert open_site(free) == "S0"
    assert free.metrics["patient_travel_admission_minutes_per_year"] == pytest.approx(260)
    assert free.metrics["mean_travel_minutes_most_deprived"] == pytest.approx(30)
    assert free.metrics["mean_travel_minutes_least_deprived"] == pytest.approx(5)
    assert free.metrics["deprivation_gap_minutes"] == pytest.approx(25)

    bound = solve_instance(tiny(DeprivationRule(max_gap_minutes=0.0), backend))
    assert open_site(bound) == "S1"
    assert bound.metrics["patient_travel_admission_minutes_per_year"] == pytest.approx(660)
    assert bound.metrics["deprivation_gap_minutes"] == pytest.approx(-20)
    report = check(bound)
    assert report.ok, report.summary()

    loose = solve_instance(tiny(DeprivationRule(max_gap_minutes=25.0), backend))
    assert open_site(loose) == "S0", "a limit the free answer meets changes nothing"


def test_the_baseline_limit_binds():
    # the most deprived zone's baseline mean is 12 minutes; it may not worsen at all
    rule = DeprivationRule(max_worsening_minutes=0.0, baseline_mean_minutes=12.0, baseline_name="today")
    sol = solve_instance(tiny(rule))
    assert open_site(sol) == "S1" and sol.metrics["mean_travel_minutes_most_deprived"] == pytest.approx(10)
    assert check(sol).ok
    allowed = solve_instance(tiny(replace(rule, max_worsening_minutes=18.0)))
    assert open_site(allowed) == "S0"     # 30 <= 12 + 18


def test_the_checker_objects_to_a_plan_that_breaks_the_rule():
    free = solve_instance(tiny(DeprivationRule()))
    broken = replace(free, _instance=tiny(DeprivationRule(max_gap_minutes=10.0)))
    report = check(broken)
    found = [v for v in report.violations if v.rule == "deprivation_equity"]
    assert len(found) == 1 and found[0].amount == pytest.approx(15)
    assert "30.0 minutes, 25.0 more than those of the least deprived" in found[0].message
    baseline = replace(free, _instance=tiny(DeprivationRule(max_worsening_minutes=2.0, baseline_mean_minutes=12.0,
                                                            baseline_name="today")))
    found = [v for v in check(baseline).violations if v.rule == "deprivation_equity"]
    assert found and found[0].amount == pytest.approx(30 - 14)
    assert "18.0 more than under 'today'" in found[0].message


def test_an_unplaced_patient_counts_at_the_travel_limit():
    # with a 20-minute limit and only site 0 open, zone 2 (30 minutes away) cannot be placed:
    # it counts as 20 minutes, not as no journey at all
    inst = make_instance(TRAVEL, ADMISSIONS, steps=(0, 40), max_travel=20.0,
                         rules=Rules(single_assignment=False, open_exactly=1), status=[1, -1])
    inst = replace(inst, zones=replace(inst.zones, deprivation_decile=DECILES),
                   rules=replace(inst.rules, deprivation=DeprivationRule()))
    sol = solve_instance(inst)
    assert sol.metrics["unmet_admissions_per_year"] == pytest.approx(5)
    assert sol.metrics["mean_travel_minutes_most_deprived"] == pytest.approx(20)


def test_an_impossible_limit_is_explained_with_the_nearest_that_works():
    with pytest.raises(InfeasibleError) as err:
        solve_instance(tiny(DeprivationRule(max_gap_minutes=-30.0)))
    text = err.value.explanation.summary()
    assert "the most deprived areas' mean travel at most -30 minutes above the least deprived's" in text
    assert "Without the deprivation equity limit a configuration exists." in text
    nearest = err.value.explanation.nearest["equity.deprivation.max_gap_minutes"]
    assert nearest == pytest.approx(-20, abs=0.11)
    assert open_site(solve_instance(tiny(DeprivationRule(max_gap_minutes=nearest)))) == "S1"


# ---- on the LLR data ------------------------------------------------------------------------

def test_every_llr_answer_reports_the_gap(llr_scenario, llr_dataset):
    from optimiser import api

    status_quo = api.evaluate(llr_scenario, api.shipped_options()["Status quo"], llr_dataset)
    quick = api.quick_solve(llr_scenario, llr_dataset)
    for sol in (status_quo, quick):
        m = sol.metrics
        assert np.isfinite(m["deprivation_gap_minutes"])
        assert m["deprivation_gap_minutes"] == pytest.approx(
            m["mean_travel_minutes_most_deprived"] - m["mean_travel_minutes_least_deprived"])
    assert check(quick).ok


def test_llr_baseline_is_the_status_quo_in_the_flow_model_and_breaks_are_listed(llr_scenario, llr_dataset):
    from optimiser import api

    options = api.shipped_options()
    today = api.evaluate(llr_scenario, options["Status quo"], llr_dataset).metrics["mean_travel_minutes_most_deprived"]
    sc = llr_scenario.with_changes(**{"equity.deprivation": {"max_worsening_minutes": 0.0, "max_gap_minutes": -5.0}})
    rule = api.instance_for(sc, llr_dataset).rules.deprivation
    assert rule.baseline_mean_minutes == pytest.approx(today) and rule.baseline_name == "Status quo"
    evaluated = api.evaluate(sc, options["Status quo"], llr_dataset)
    gap = [b for b in evaluated.breaks if "least deprived" in b]
    assert len(gap) == 1 and "the limit is -5" in gap[0]
    assert not [b for b in evaluated.breaks if "more than under 'Status quo'" in b], "today does not worsen today"


def test_a_limit_on_data_without_deciles_is_refused(llr_scenario, llr_dataset):
    from optimiser import api

    unknown = replace(llr_dataset, zones=llr_dataset.zones.assign(imd_decile=0), file_sha256="")
    sc = llr_scenario.with_changes(**{"equity.deprivation": {"max_gap_minutes": 0.0}})
    with pytest.raises(ScenarioError, match="no small area of the dataset is in IMD decile.s. 1, 2") as err:
        api.instance_for(sc, unknown)
    assert err.value.key == "equity.deprivation.most_deprived_deciles"
    assert "import with --deprivation" in str(err.value)
    # without a limit the gap is simply not known
    assert np.isnan(api.evaluate(llr_scenario, api.shipped_options()["Status quo"], unknown)
                    .metrics["deprivation_gap_minutes"])


def test_bad_settings_name_the_key(llr_scenario, llr_dataset):
    from optimiser import api

    with pytest.raises(ScenarioError, match="decile.s. 2 are in both groups") as err:
        llr_scenario.with_changes(**{"equity.deprivation": {"most_deprived_deciles": [1, 2],
                                                             "least_deprived_deciles": [2, 10]}})
    assert "equity.deprivation" in str(err.value)
    with pytest.raises(ScenarioError, match="baseline option 'nowhere'"):
        api.instance_for(llr_scenario.with_changes(**{"equity.deprivation": {"max_worsening_minutes": 1.0,
                                                                              "baseline_option": "nowhere"}}),
                         llr_dataset)


def test_a_binding_limit_on_llr_in_the_quick_answer(llr_scenario, llr_dataset):
    from optimiser import api

    free = api.quick_solve(llr_scenario, llr_dataset)
    limit = round(free.metrics["deprivation_gap_minutes"] - 1.0, 2)
    sc = llr_scenario.with_changes(**{"equity.deprivation": {"max_gap_minutes": limit}})
    bound = api.quick_solve(sc, llr_dataset)
    assert bound.metrics["deprivation_gap_minutes"] <= limit + 1e-6
    assert bound.metrics["deprivation_gap_minutes"] == pytest.approx(limit, abs=0.05), "the limit binds"
    assert bound.objective >= free.objective * (1 - 0.03)     # within the quick answers' proven gaps
    report = check(bound)
    assert report.ok, report.summary()
