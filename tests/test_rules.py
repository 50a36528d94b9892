"""One home per rule (issue 15): the registry drives the formulation, the checker, the
explanation and the breaks; the checker catches each way a solution can be wrong; the
worked example rule (at most N units of a ward type) lives in one module."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import make_instance

from optimiser import rules
from optimiser.checker import check, rule_breaks
from optimiser.errors import InfeasibleError
from optimiser.instance import CoverageRule, Rules, Weights
from optimiser.model.formulation import build
from optimiser.model.solve import solve_instance

LINE = [[0, 10, 20], [5, 5, 15], [10, 0, 10], [15, 5, 5], [20, 10, 0]]


def _instance(**rule_changes):
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0, cost_per_bed=8.0)
    return inst.with_rules(**rule_changes) if rule_changes else inst


def test_every_row_family_of_the_formulation_has_a_home_in_the_registry():
    inst = _instance(min_beds_open_site=5, coverage=(CoverageRule(pathway=0, threshold_minutes=10.0, share=0.5, population="all"),), open_at_most=3,
                     budget=1e6, max_units=((0, 3),))
    f = build(inst)
    families = set(f.lp._row_blocks)
    homes = {r.name for r in rules.REGISTRY}
    # each row family is named for its rule family or belongs to one (its module says which)
    owned = {"one_bed_option", "unit_opens_site", "open_site_has_beds", "min_beds_open_site", "estate_limit",
             "max_units", "serve_demand", "capacity", "strong_link", "travel_standard", "open_sites_at_most",
             "budget"}
    assert families <= owned
    assert {"one_bed_option", "site_open", "min_beds_open_site", "max_units", "serve_demand", "capacity",
            "travel_standard", "budget", "open_sites"} <= homes


def _corrupt(sol, **tables):
    return replace(sol, tables=replace(sol.tables, **tables))


def test_the_checker_catches_each_corrupted_solution(monkeypatch):
    inst = _instance(min_beds_open_site=5, coverage=(CoverageRule(pathway=0, threshold_minutes=10.0, share=0.9, population="all"),), budget=1e6)
    sol = solve_instance(inst)
    assert check(sol).ok, check(sol).summary()
    units = sol.tables.units

    def caught(broken):
        return {v.rule for v in check(broken).violations}

    # over capacity: fewer beds on every open unit
    fewer = units.assign(beds=np.where(units["beds"] > 0, units["beds"] - 5, 0))
    assert "capacity" in caught(_corrupt(sol, units=fewer))
    # over an estate limit: more beds than the site holds (and not a listed option)
    more = units.assign(beds=np.where(units["beds"] > 0, 30, 0))
    assert {"estate_limit", "one_bed_option"} <= caught(_corrupt(sol, units=more))
    # below the minimum on an open site
    small = units.assign(beds=np.where(units["beds"] > 0, 3, 0))
    assert "min_beds_open_site" in caught(_corrupt(sol, units=small))
    # the travel standard missed: everyone sent to the farthest open site
    open_sites = list(units.loc[units["beds"] > 0, "site_id"])
    far = open_sites[-1] if open_sites[-1] != "S0" else open_sites[0]
    a = sol.tables.assignment.groupby(["zone_code", "pathway"], as_index=False)["share"].sum().assign(site_id=far)
    assert "travel_standard" in caught(_corrupt(sol, assignment=a[["zone_code", "site_id", "pathway", "share"]]))
    # shares that do not add up
    half = sol.tables.assignment.assign(share=sol.tables.assignment["share"] / 2)
    assert "serve_demand" in caught(_corrupt(sol, assignment=half))
    # the budget
    assert "budget" in caught(replace(sol, _instance=inst.with_rules(budget=1.0)))
    # a site set to close has beds
    closed = replace(inst, sites=replace(inst.sites, status=np.where(np.arange(3) == int(open_sites[0][1:]), -1, 0)))
    assert "site_open" in caught(replace(sol, _instance=closed))
    # a wrong metric, and an objective that does not follow from the tables
    wrong = dict(sol.metrics)
    wrong["annual_cost_gbp"] += 1000.0
    assert "metrics" in caught(replace(sol, metrics=wrong))
    assert "objective" in caught(replace(sol, objective=sol.objective * 1.01))
    # a patient-flow model that reports a wrong chance of no free bed
    import optimiser.solution as solution_module

    real = solution_module.flow_of

    def off_by_a_little(inst_, tables_):
        flow = real(inst_, tables_)
        return replace(flow, unit_blocking=flow.unit_blocking * 1.01)

    monkeypatch.setattr(solution_module, "flow_of", off_by_a_little)
    # a fresh solution object: its tables read the flow once, here the wrong one (``sol``
    # itself keeps the flow its tables were first read with)
    assert "patient_flow" in caught(replace(sol))
    assert "patient_flow" not in caught(sol)


def test_onward_flow_plan_broken_is_caught():
    rng = np.random.default_rng(5)
    inst = make_instance(rng.uniform(5, 40, size=(10, 3)), rng.uniform(20, 80, 10), los_days=20.0,
                         steps=(0, 8, 12, 16, 20, 24, 28, 32), fixed_cost=5e4, cost_per_bed=1e4)
    inst = replace(inst.with_rules(onward_flow=True), site_travel=np.zeros((3, 3)))
    sol = solve_instance(inst)
    assert check(sol).ok, check(sol).summary()
    onward = sol.tables.onward.assign(erlangs=sol.tables.onward["erlangs"] * 0.5)
    assert "onward_balance" in {v.rule for v in check(_corrupt(sol, onward=onward)).violations}


# ---- the worked example: at most N units of a ward type -----------------------------------------

def _three_towns():
    """Three towns far apart, each big enough for its own unit; travel is dear, so without a
    limit each town keeps its own hospital."""
    travel = [[5, 60, 60], [60, 5, 60], [60, 60, 5]]
    return make_instance(travel, [150.0, 150.0, 150.0], los_days=36.5, steps=(0, 10, 20, 30, 40, 50, 60),
                         fixed_cost=10.0, cost_per_bed=1.0, weights=Weights(cost=1.0, travel=1.0, unmet=1e4))


def test_at_most_n_units_changes_the_answer_where_it_binds_and_the_checker_verifies_it():
    inst = _three_towns()
    free = solve_instance(inst)
    assert (free.units["beds"] > 0).sum() == 3
    limited = inst.with_rules(max_units=((0, 2),))
    sol = solve_instance(limited)
    assert (sol.units["beds"] > 0).sum() == 2
    assert check(sol).ok, check(sol).summary()
    assert sol.objective > free.objective
    # the unlimited answer measured against the limit: the break is listed in plain words
    breaks = rule_breaks(limited, free.tables)
    assert any("3 ward units have beds; at most 2 may" in b for b in breaks)
    # and the checker objects to it under the limit
    assert "max_units" in {v.rule for v in check(replace(free, _instance=limited)).violations}


def test_at_most_n_units_is_explained_when_it_contradicts_another_rule():
    inst = _three_towns().with_rules(max_units=((0, 1),), open_at_least=2)
    with pytest.raises(InfeasibleError) as err:
        solve_instance(inst)
    ex = err.value.explanation
    assert "at most 1 ward unit(s)" in ex.headline
    assert any("the most units of a ward type" in f for f in ex.findings)
    assert ex.nearest.get("wards.ward.max_units") == 2


def test_a_scenario_sets_the_limit_per_ward_type(llr_scenario, llr_dataset):
    from optimiser import api

    sc = llr_scenario.with_changes(**{"wards.stroke_unit.max_units": 1})
    inst = api.instance_for(sc, llr_dataset)
    assert inst.rules.max_units == ((list(inst.wards).index("stroke_unit"), 1),)
    assert "max_units" in build(inst).lp._row_blocks
    sol = api.quick_solve(sc, llr_dataset)
    u = sol.units
    assert ((u["ward"] == "stroke_unit") & (u["beds"] > 0)).sum() <= 1
    assert check(sol).ok, check(sol).summary()


def test_unit_counts_rule_is_one_module():
    """Adding the rule touched one module (and one registry line): its rows, check,
    wording and relaxation are all there."""
    from optimiser.rules import unit_counts

    rule = unit_counts.UnitsPerWardType()
    inst = _three_towns().with_rules(max_units=((0, 2),))
    assert rule.active(inst) and rule.relaxable and rule.measured
    assert rule.describe(inst) == ["at most 2 ward unit(s)"]
    assert rule.relax(inst).rules.max_units == ()
    assert isinstance(rules.REGISTRY[4], unit_counts.UnitsPerWardType)
    assert pd.Series([r.name for r in rules.REGISTRY]).is_unique
    assert Rules().max_units == ()
