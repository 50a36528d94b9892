"""The model on the real LLR default: solve, check, evaluate the review's options, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from optimiser import api
from optimiser.checker import check
from optimiser.compare import compare_table
from optimiser.options import load_option, option_from_solution, shipped_options


def test_default_solution_passes_the_checker_and_meets_the_standard(llr_solution, llr_scenario):
    report = check(llr_solution)
    assert report.ok, report.summary()
    m = llr_solution.metrics
    assert llr_solution.status == "optimal" and not llr_solution.stopped_by_time_limit
    assert llr_solution.optimality_gap is not None and llr_solution.optimality_gap <= llr_scenario.solver.mip_gap + 1e-9
    assert m["share_within_30_minutes_65_plus"] >= 0.95 - 1e-9
    assert m["max_travel_minutes"] <= llr_scenario.travel.max_minutes + 1e-9
    assert m["smallest_open_site_beds"] >= llr_scenario.min_beds_per_open_site
    assert m["max_blocking_probability"] <= llr_scenario.utilisation.blocking_target + 1e-4
    assert m["unmet_admissions_per_year"] == pytest.approx(0, abs=1e-6)
    # stroke beds only where the scenario allows them
    u = llr_solution.units
    stroke_sites = set(u[(u["ward"] == "stroke_unit") & (u["beds"] > 0)]["site_id"])
    assert stroke_sites <= set(llr_scenario.pathways["stroke"].sites)
    assert len(stroke_sites) >= 1


def test_evaluating_the_optimisers_configuration_reproduces_its_metrics(llr_solution, llr_scenario, llr_dataset):
    option = option_from_solution(llr_solution, "optimised", with_assignment=True)
    ev = api.evaluate(llr_scenario, option, llr_dataset)
    for key, value in llr_solution.metrics.items():
        if isinstance(value, float):
            assert ev.metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    assert ev.objective == pytest.approx(llr_solution.objective, rel=1e-4)
    assert ev.breaks == ()
    assert check(ev).ok


def test_nearest_routing_of_the_same_beds_costs_the_same_and_travels_less(llr_solution, llr_scenario, llr_dataset):
    ev = api.evaluate(llr_scenario, option_from_solution(llr_solution, "beds only"), llr_dataset)
    assert ev.metrics["annual_cost_gbp"] == pytest.approx(llr_solution.metrics["annual_cost_gbp"])
    assert ev.metrics["physical_beds"] == llr_solution.metrics["physical_beds"]
    assert (ev.metrics["patient_travel_admission_minutes_per_year"]
            <= llr_solution.metrics["patient_travel_admission_minutes_per_year"] + 1e-6)
    assert check(ev).ok


@pytest.fixture(scope="module")
def evaluated_options(llr_scenario, llr_dataset):
    return {name: api.evaluate(llr_scenario, o, llr_dataset) for name, o in shipped_options().items()}


def test_shipped_options_cite_the_papers_and_evaluate(evaluated_options):
    from optimiser.seeds import resolve

    options = shipped_options()
    assert {"Status quo", "West Leicestershire proposal"} <= set(options)
    assert len(options) >= 3
    for o in options.values():
        assert o.citations
        for c in o.citations:
            resolve(c)   # raises if the seeds entry does not exist
    sq = evaluated_options["Status quo"]
    wl = evaluated_options["West Leicestershire proposal"]
    # 111 -> 126 West Leicestershire inpatient beds, 48 -> 142 home-based beds
    assert wl.metrics["physical_beds"] - sq.metrics["physical_beds"] == 126 - 111
    assert wl.metrics["virtual_beds"] - sq.metrics["virtual_beds"] == 142 - 47
    assert sq.metrics["physical_beds"] == 247
    # today's Feilding Palmer (13 beds) is below the 16-bed minimum of the default scenario
    assert any("Feilding Palmer" in b and "below the minimum" in b for b in sq.breaks)
    # more virtual beds: fewer patients turned away at home
    assert (wl.metrics["virtual_patients_finding_no_free_bed_per_year"]
            < sq.metrics["virtual_patients_finding_no_free_bed_per_year"])
    for sol in evaluated_options.values():
        assert check(sol).ok


def test_compare_table_lines_options_up(evaluated_options, llr_solution):
    table = compare_table([llr_solution, *evaluated_options.values()])
    assert list(table.columns)[0] == llr_solution.name
    assert table.loc["physical_beds", "Status quo"] == 247
    assert np.isfinite(table.loc["annual_cost_gbp"]).all()


def test_bad_option_file_names_the_key(tmp_path):
    from optimiser.errors import InputError

    p = tmp_path / "bad.yaml"
    p.write_text("name: Bad\nbeds:\n  loughborough: {rehab: -3}\n")
    with pytest.raises(InputError, match=r"bad.yaml.*beds.loughborough.rehab.*whole number"):
        load_option(p)
    p.write_text("name: Bad\nbeds:\n  nowhere: {rehab: 10}\n")
    with pytest.raises(Exception, match="site 'nowhere' is not in the dataset"):
        api.evaluate(__import__("optimiser.scenario", fromlist=["x"]).default_scenario(), load_option(p))
    p.write_text("name: Bad\nbeds: {a: 1}\ncolour: red\n")
    with pytest.raises(InputError, match="unknown key.*colour"):
        load_option(p)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "optimiser", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_cli_solve_evaluate_compare(tmp_path):
    opt = tmp_path / "opt"
    r = run_cli("solve", "--out", str(opt))
    assert r.returncode == 0, r.stderr
    summary = json.loads((opt / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["stopped_by_time_limit"] is False
    assert "near_ties" in summary and isinstance(summary["near_ties"], list)
    assert summary["near_tie_search"]
    assert {"annual_cost_gbp", "share_within_30_minutes_65_plus", "p95_travel_minutes_65_plus"} <= set(summary["metrics"])
    assert summary["solver"].startswith("ortools") and summary["solve_seconds"] > 0
    for name in ("beds.csv", "virtual_beds.csv", "assignment.csv", "result.gpkg"):
        assert (opt / name).stat().st_size > 100
    beds = pd.read_csv(opt / "beds.csv")
    assert beds["beds"].sum() == summary["metrics"]["physical_beds"]
    sq = tmp_path / "sq"
    r = run_cli("evaluate", "--option", "data/options/status_quo.yaml", "--out", str(sq))
    assert r.returncode == 0, r.stderr
    assert json.loads((sq / "summary.json").read_text())["mode"] == "evaluate"
    quick = tmp_path / "quick"
    r = run_cli("solve", "--quick", "--out", str(quick))
    assert r.returncode == 0, r.stderr
    qs = json.loads((quick / "summary.json").read_text())
    assert "(quick)" in qs["solver"] and 0 <= qs["optimality_gap"] < 0.05
    # where the result came from: the dataset and scenario by SHA-256, and the rest
    import hashlib

    from optimiser.dataset.default import DEFAULT_DATASET_PATH
    from optimiser.scenario import default_scenario

    prov = qs["provenance"]
    assert prov["dataset_sha256"] == hashlib.sha256(DEFAULT_DATASET_PATH.read_bytes()).hexdigest()
    assert prov["scenario_sha256"] == hashlib.sha256(default_scenario().to_yaml().encode()).hexdigest()
    assert prov["dataset"] == "LLR default (LSOA 2011, embedded)" and prov["scenario"] == "LLR default (2030)"
    assert prov["data"] == "ONS mid-2020 small-area populations; travel times estimated from road distance"
    assert prov["population_source"].startswith("ONS small area population estimates")
    assert prov["software"].startswith("llr-bed-optimiser ") and prov["solver"] == qs["solver"]
    assert prov["date"][:2] == "20" and "T" in prov["date"]
    # every figure of the default scenario's file that carries an assumption note (counted here from the YAML)
    import yaml

    def assumptions(node) -> int:
        if isinstance(node, dict):
            return int("assumption" in node and "value" in node) + sum(assumptions(v) for v in node.values())
        return sum(assumptions(v) for v in node) if isinstance(node, list) else 0

    from optimiser.scenario import DEFAULT_SCENARIO_PATH

    noted = assumptions(yaml.safe_load(DEFAULT_SCENARIO_PATH.read_text()))
    assert noted >= 40 and prov["assumption_figures_scenario"] == noted
    assert prov["assumption_figures"] > noted
    assert "SHA-256" in r.stdout and "ONS mid-2020 small-area populations" in r.stdout
    assert json.loads((sq / "summary.json").read_text())["provenance"]["option"] == "Status quo"
    assert qs["objective"] >= summary["objective"] * (1 - summary["optimality_gap"]) - 1e-6
    r = run_cli("solve", "--quick", "--alternatives", "2")
    assert r.returncode == 2 and "drop --alternatives" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("compare", str(opt), str(sq), str(quick))
    assert r.returncode == 0, r.stderr
    assert "Status quo" in r.stdout and "Annual cost (£ a year)" in r.stdout


def test_cli_errors_are_one_plain_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntravel:\n  max_minutes: -5\n")
    r = run_cli("solve", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "travel.max_minutes" in r.stderr
    r = run_cli("compare", str(tmp_path))
    assert r.returncode == 2 and "summary.json" in r.stderr and "Traceback" not in r.stderr


def test_single_assignment_gives_clean_catchments_close_to_the_split_bound(llr_solution, llr_scenario, llr_dataset):
    sc = llr_scenario.with_changes(**{"travel.assignment": "single"})
    sol = api.solve(sc, llr_dataset)
    assert check(sol).ok, check(sol).summary()
    shares = sol.tables.assignment["share"].to_numpy()
    assert ((shares < 1e-6) | (shares > 1 - 1e-6)).all()
    # the split optimum is a lower bound for one-hospital-per-zone
    assert sol.objective >= llr_solution.objective * (1 - llr_solution.optimality_gap) - 1e-6
    assert sol.optimality_gap is not None and sol.optimality_gap < 0.02


def test_quick_answer_is_valid_and_close_to_the_best(llr_solution, llr_scenario, llr_dataset):
    quick = api.quick_solve(llr_scenario, llr_dataset)
    assert check(quick).ok, check(quick).summary()
    best_lower = llr_solution.objective * (1 - llr_solution.optimality_gap)
    assert quick.objective >= best_lower - 1e-6                  # cannot beat a proven bound
    assert quick.objective <= llr_solution.objective * 1.01       # within 1% of the full answer here
    assert quick.optimality_gap is not None and quick.optimality_gap < 0.06
    assert quick.status == "quick" and not quick.is_single_best
    assert quick.metrics["share_within_30_minutes_65_plus"] >= 0.95 - 1e-9
    assert "quick" in quick.solver
    assert quick.instance.n_zones == 611                          # every small area routed


def test_quick_answer_under_a_looser_limit_keeps_every_rule(llr_solution, llr_scenario, llr_dataset):
    """A workshop moves one setting: the quick answer meets every rule at full resolution,
    and a site set to keep its beds keeps them."""
    looser = llr_scenario.with_changes(**{"travel.standard.share": 0.90})
    again = api.quick_solve(looser, llr_dataset)
    assert check(again).ok, check(again).summary()
    assert again.metrics["share_within_30_minutes_65_plus"] >= 0.90 - 1e-9
    assert again.optimality_gap is not None and 0 <= again.optimality_gap < 0.06
    closed = again.beds.groupby("site_id")["beds"].sum()
    roomy = llr_dataset.sites["max_beds"] >= llr_scenario.min_beds_per_open_site
    candidates = [s for s in closed[closed == 0].index if roomy.get(s, False)]
    site = str(candidates[0]) if candidates else "melton"
    kept_open = api.quick_solve(looser.with_changes(**{f"sites.{site}.status": "keep_open"}), llr_dataset)
    assert check(kept_open).ok
    assert kept_open.beds.groupby("site_id")["beds"].sum()[site] > 0


def test_a_fixed_configuration_is_solved_as_a_linear_programme(llr_solution, llr_dataset, llr_scenario):
    """With every bed decision fixed, only routing is left: the programme's integer columns
    are all fixed by bounds and the backend solves an LP, with the same answer as the MIP."""
    from dataclasses import replace

    from optimiser.configuration import Configuration
    from optimiser.model.backends import solve_program
    from optimiser.model.formulation import build
    from optimiser.model.quick import with_configuration

    inst = api.instance_for(llr_scenario, llr_dataset).with_rules(single_assignment=False)
    fixed = with_configuration(inst, *Configuration.of(llr_solution).arrays(inst))
    program = build(fixed).lp.freeze(fixed.weights.as_dict())
    ints = program.var_integer
    assert ints.any() and np.array_equal(program.var_lower[ints], program.var_upper[ints])
    as_lp = solve_program(program, "ortools", time_limit=60, mip_gap=0.0)
    as_mip = solve_program(replace(program, var_lower=np.where(ints, 0.0, program.var_lower)), "ortools",
                           time_limit=60, mip_gap=0.0)
    # the same problem solved as a MIP (lower bounds freed, the rows still force them)
    assert as_lp.objective == pytest.approx(as_mip.objective, rel=1e-7)
    # optimal routing of the full answer's beds: no worse than the full answer, and no
    # better than its proven bound
    assert as_lp.objective <= llr_solution.objective + 1e-6
    assert as_lp.objective >= llr_solution.objective * (1 - llr_solution.optimality_gap) - 1e-6


def test_quick_answer_explains_infeasibility_at_full_resolution(llr_scenario, llr_dataset):
    from optimiser.errors import InfeasibleError

    sc = llr_scenario.with_changes(**{"travel.standard.threshold_minutes": 20})
    with pytest.raises(InfeasibleError) as err:
        api.quick_solve(sc, llr_dataset)
    full = err.value.explanation.nearest["travel.standard.share"]
    with pytest.raises(InfeasibleError) as err2:
        api.solve(sc, llr_dataset)
    assert full == err2.value.explanation.nearest["travel.standard.share"]


def test_rounded_relaxation_keeps_llr_estate_limits_and_minimum_beds(llr_scenario, llr_dataset):
    """LLR's relaxation splits beds over a site's general and stroke wards; rounding both up
    would pass the shared estate limit, so the larger ward steps down. The rounded
    configuration then meets every LLR rule at full resolution."""
    from optimiser.model.quick import lp_relaxation, rounded_configuration, with_configuration
    from optimiser.model.solve import solve_instance

    inst = api.instance_for(llr_scenario, llr_dataset).with_rules(single_assignment=False)
    bound, f, values = lp_relaxation(inst)
    beds, virtual = rounded_configuration(f, values)
    opt = inst.bed_choices
    site_beds = np.bincount(opt.unit_site, weights=beds, minlength=inst.n_sites)
    assert (site_beds <= inst.sites.max_beds).all()
    assert ((site_beds == 0) | (site_beds >= inst.rules.min_beds_open_site)).all()
    assert (site_beds[inst.sites.status > 0] > 0).all() and (site_beds[inst.sites.status < 0] == 0).all()
    assert virtual is not None and (virtual % inst.virtual.step == 0).all() and (virtual <= inst.virtual.hi).all()
    shared = [s for s in range(inst.n_sites) if (opt.unit_site == s).sum() > 1]
    assert shared   # LLR has sites with two wards under one estate limit
    routed = solve_instance(with_configuration(inst, beds, virtual))
    assert check(routed).ok, check(routed).summary()
    assert routed.objective >= bound - 1e-6
