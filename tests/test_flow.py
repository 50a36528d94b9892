"""The patient-flow model, the calibration to today's beds, and their agreement with the
optimiser (issue 10: one consistent model of today)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import make_instance

from optimiser.checker import check
from optimiser.flow import patient_flow
from optimiser.model.solve import solve_instance
from optimiser.queueing import erlang_b


def _reduced_load_two_units(lam, stay, c1, c2):
    """Independent solution of the two-unit reduced-load equations by bisection on B1
    (zone 1 prefers unit 1 then 2; zone 2 prefers unit 2 then 1)."""
    l1, l2 = lam
    b1 = 0.0
    for _ in range(2000):
        a2 = l2 * stay + l1 * stay * b1
        b2 = erlang_b(c2, a2)
        a1 = l1 * stay + l2 * stay * b2
        nb1 = erlang_b(c1, a1)
        if abs(nb1 - b1) < 1e-14:
            break
        b1 = nb1
    return b1, b2, a1, a2


def test_onward_flow_matches_the_reduced_load_equations():
    # two zones, two sites; each zone's nearest site is its own
    inst = make_instance([[5.0, 20.0], [20.0, 5.0]], [300.0, 200.0], los_days=36.5, steps=(0, 10, 20))
    inst = inst.with_rules(onward_flow=True)
    beds = np.array([10, 10])
    flow = patient_flow(inst, beds)
    b1, b2, a1, a2 = _reduced_load_two_units((300.0, 200.0), 0.1, 10, 10)
    assert flow.converged
    assert flow.unit_blocking == pytest.approx([b1, b2], abs=1e-9)
    assert flow.unit_offered == pytest.approx([a1, a2], abs=1e-8)
    # a patient is turned away only when both are full: zone 1 with chance b1*b2, zone 2 b2*b1
    assert flow.turned_away_per_year == pytest.approx(500.0 * b1 * b2, rel=1e-8)
    assert flow.redirected_per_year == pytest.approx(300 * b1 * (1 - b2) + 200 * b2 * (1 - b1), rel=1e-8)


def test_without_onward_flow_a_refused_patient_is_turned_away():
    inst = make_instance([[5.0, 20.0], [20.0, 5.0]], [300.0, 200.0], los_days=36.5, steps=(0, 10, 20))
    flow = patient_flow(inst, np.array([10, 10]))
    b = [erlang_b(10, 30.0), erlang_b(10, 20.0)]
    assert flow.unit_blocking == pytest.approx(b, abs=1e-12)
    assert flow.turned_away_per_year == pytest.approx(300 * b[0] + 200 * b[1], rel=1e-10)


def test_patients_beyond_reach_of_any_open_unit_are_turned_away():
    inst = make_instance([[5.0, 90.0], [90.0, 5.0]], [100.0, 100.0], max_travel=45.0, steps=(0, 10))
    flow = patient_flow(inst.with_rules(onward_flow=True), np.array([10, 0]))
    assert flow.turned_away[1].sum() == pytest.approx(100.0)
    assert flow.unit_arrivals[0] == pytest.approx(100.0)


def test_the_optimisers_answer_keeps_its_blocking_target_with_onward_flow():
    """Planned onward flow: every unit's load, own and from full units nearby, is within its
    capacity at the target, so the patient-flow model run on the answer agrees."""
    rng = np.random.default_rng(3)
    travel = rng.uniform(5, 40, size=(12, 4))
    inst = make_instance(travel, rng.uniform(20, 80, 12), los_days=20.0, steps=(0, 8, 12, 16, 20, 24, 28),
                         fixed_cost=5e4, cost_per_bed=1e4)
    inst = replace(inst, site_travel=np.full((4, 4), 10.0) - 10.0 * np.eye(4))
    for onward in (False, True):
        sol = solve_instance(inst.with_rules(onward_flow=onward))
        assert check(sol).ok, check(sol).summary()
        units = sol.units
        open_units = units[units["beds"] > 0]
        assert (open_units["blocking_probability"] <= 0.05 + 1e-6).all()
        if onward:
            assert len(sol.tables.onward) > 0
            assert (units["load_erlangs"] <= units["planned_load_erlangs"] + units["inflow_erlangs"] + 1e-9).all()


def test_checker_objects_to_a_broken_onward_plan():
    rng = np.random.default_rng(5)
    inst = make_instance(rng.uniform(5, 40, size=(10, 3)), rng.uniform(20, 80, 10), los_days=20.0,
                         steps=(0, 8, 12, 16, 20, 24, 28, 32), fixed_cost=5e4, cost_per_bed=1e4)
    inst = replace(inst.with_rules(onward_flow=True), site_travel=np.zeros((3, 3)))
    sol = solve_instance(inst)
    assert check(sol).ok
    onward = sol.tables.onward.copy()
    onward["erlangs"] = onward["erlangs"] * 0.5
    broken = replace(sol, tables=replace(sol.tables, onward=onward))
    rules = {v.rule for v in check(broken).violations}
    assert "onward_balance" in rules


def test_status_quo_at_the_base_year_runs_as_calibrated(llr_dataset, llr_scenario):
    """Issue 10: today's beds, evaluated at the base year, run at their calibration occupancy
    and few patients are turned away."""
    from optimiser import api

    base = llr_scenario.with_changes(horizon_year=2020)
    sol = api.evaluate(base, api.load_option("data/options/status_quo.yaml"), llr_dataset)
    cal = sol.summary()["calibration"]["units"]
    units = sol.units.set_index(["site_id", "ward"])
    assert len(cal) == 9
    for row in cal:
        occ = units.loc[(row["site_id"], row["ward"]), "occupancy"]
        assert abs(occ - row["calibration_occupancy"]) <= 0.05, row
    m = sol.metrics
    target = llr_scenario.utilisation.blocking_target
    assert m["patients_finding_no_free_bed_per_year"] <= (target + 0.01) * m["demand_admissions_per_year"]
    # today's hospitals are full enough that patients are sent on
    assert m["patients_redirected_per_year"] > 0


def test_calibration_reproduces_each_units_occupancy_and_says_where_rates_differ(llr_dataset, llr_scenario):
    from optimiser import api
    from optimiser.solution import calibration_table

    inst = api.instance_for(llr_scenario, llr_dataset)
    table = calibration_table(inst)
    assert inst.calibration.converged
    assert np.allclose(table["model_occupancy"], table["calibration_occupancy"], atol=1e-3)
    # the city's assumed 48 beds imply a far lower rate of use than the county's
    evington = table[(table["site_id"] == "evington") & (table["ward"] == "general")].iloc[0]
    assert evington["beds_today_source"] == "assumption"
    assert evington["catchment_rate_vs_area"] < 0.8
    county = api.instance_for(llr_scenario.with_changes(**{"calibration.scope": "county"}), llr_dataset)
    spread = calibration_table(county)["model_occupancy"]
    assert spread.max() - spread.min() > 0.1       # one rate for all: occupancies far apart


@pytest.mark.slow
def test_near_ties_are_found_and_the_search_proves_there_are_no_more():
    """Two hospitals equally placed for every zone: whichever the solver keeps, the other is a
    near-tie costing nothing more; the far third one is not (it is proven out)."""
    from optimiser.model.near_ties import find_near_ties

    travel = [[10.0, 10.0, 60.0]] * 4
    inst = make_instance(travel, [50.0] * 4, los_days=36.5, steps=(0, 10, 20, 30, 40), fixed_cost=1000.0,
                         cost_per_bed=10.0)
    best = solve_instance(inst)
    search = find_near_ties(inst, best, margin=0.01, limit=5)
    assert search.complete
    assert len(search.ties) == 1
    tie = search.ties[0]
    assert tie.difference_gbp_per_year == pytest.approx(0.0, abs=1e-6)
    changed = {c.site_id for c in tie.sites_changed}
    assert changed == {"S0", "S1"}
    assert "Closing" in tie.description and "cannot tell these apart" in tie.description
    assert check(tie.solution).ok
    # with no margin left for anything but exact ties the far site stays out; with a wide
    # margin a materially different size of the same site counts as a near-tie too
    wide = find_near_ties(inst, best, margin=0.5, limit=10)
    assert len(wide.ties) > 1
    assert all(t.objective <= best.objective * 1.5 + 1e-6 for t in wide.ties)


def test_a_time_limited_answer_says_so_everywhere():
    """An answer the time limit cut short (the solver's 'feasible' status) is flagged in the
    solution, its summary and its label, and is never presented as the best."""
    import time as _time

    from optimiser.model.backends import Status, solve_program
    from optimiser.model.formulation import build
    from optimiser.model.solve import _to_solution

    inst = make_instance([[5.0, 20.0], [20.0, 5.0]], [300.0, 200.0], los_days=36.5, steps=(0, 10, 20))
    f = build(inst)
    raw = solve_program(f.lp.freeze(inst.weights.as_dict()), "ortools", time_limit=60, mip_gap=0.0)
    assert raw.status == Status.OPTIMAL
    proven = _to_solution(f, raw, "proven", _time.perf_counter())
    assert not proven.stopped_by_time_limit and proven.is_single_best
    cut = _to_solution(f, replace(raw, status=Status.FEASIBLE), "cut short", _time.perf_counter())
    assert cut.stopped_by_time_limit and not cut.is_single_best
    assert "time limit" in cut.status_message and "not proven" in cut.status_message
    assert cut.summary()["stopped_by_time_limit"] is True


@pytest.mark.slow
@pytest.mark.parametrize("mode", [pytest.param(["--quick"], id="quick"), pytest.param([], id="best")])
def test_the_same_settings_give_byte_identical_answers(tmp_path, mode):
    """Issue 10: two runs at once, then three one after another (the machine busy with the
    others and the rest of the suite), write the same tables, for the quick answer and for
    the best."""
    import subprocess
    import sys

    def start(out):
        return subprocess.Popen([sys.executable, "-m", "optimiser", "solve", *mode, "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(run):
        out, err = run.communicate(timeout=1800)
        assert run.returncode == 0, err
        assert "the time limit, not the proof" not in out, out    # a limit that binds would make this no test

    together = [start(tmp_path / "a"), start(tmp_path / "b")]
    for run in together:
        finish(run)
    for name in ("c", "d", "e"):
        finish(start(tmp_path / name))
    for table in ("beds.csv", "virtual_beds.csv", "assignment.csv"):
        first = (tmp_path / "a" / table).read_bytes()
        assert all((tmp_path / run / table).read_bytes() == first for run in "bcde"), table


def test_unique_rows_is_numpys_unique_by_rows():
    """The fixed point groups identical chains by reading each as one number: the same
    distinct rows, in the same order, and the same inverse as np.unique(axis=0), also
    where the rows are too wide for one number (then np.unique itself is used)."""
    from optimiser.flow import unique_rows

    rng = np.random.default_rng(7)
    for n, width, top in ((2000, 16, 11), (40, 3, 1), (1, 5, 0), (300, 40, 100), (500, 8, 900)):
        rows = rng.integers(-1, top + 1, size=(n, width))
        rows[::4] = rows[0]
        want, want_inverse = np.unique(rows, axis=0, return_inverse=True)
        got, got_inverse = unique_rows(rows)
        assert np.array_equal(got, want)
        assert np.array_equal(got_inverse, want_inverse.ravel())
        assert np.array_equal(got[got_inverse], rows)


def test_solution_tables_read_one_flow_of_the_answer(llr_solution):
    """A solution's tables (units, sites, beds, home-based beds) come from one run of the
    patient-flow model on its answer, worked out once; a solution with other tables gets
    its own."""
    from optimiser.solution import beds_by_pathway, flow_of, unit_table, virtual_table

    sol = replace(llr_solution)     # a fresh solution: nothing worked out yet
    fresh = flow_of(sol.instance, sol.tables)
    assert sol.units.equals(unit_table(sol.instance, sol.tables, fresh))
    assert sol.virtual_beds.equals(virtual_table(sol.instance, sol.tables, fresh))
    assert sol.beds.equals(beds_by_pathway(sol.instance, sol.tables, fresh))
    assert sol._flow() is sol._flow()
    handed_out = sol.units
    handed_out["beds"] = -1                # the accessors hand out copies
    assert (sol.units["beds"] >= 0).all()
    fewer = sol.tables.units.copy()
    fewer.loc[fewer["beds"] > 0, "beds"] += 2
    other = replace(sol, tables=replace(sol.tables, units=fewer))
    assert other._flow() is not sol._flow()
    assert other.units["beds"].sum() == sol.units["beds"].sum() + 2 * int((sol.units["beds"] > 0).sum())
