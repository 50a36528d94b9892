"""A robust configuration: beds that keep the blocking target in at least a stated share of
sampled futures (a scenario-based programme solved by constraint generation), checked against
brute force on small instances, and out of sample on the LLR default."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_instance

from optimiser.model.formulation import build, configuration_start
from optimiser.model.quick import with_configuration
from optimiser.model.solve import solve_once
from optimiser.robust import FutureCheck, RobustModel, impossible, meets_target, plan_robust

REPO = Path(__file__).resolve().parents[1]
TRAVEL = [[5, 20], [10, 10], [20, 5]]
ADMISSIONS = np.array([60.0, 40.0, 50.0])      # x 36.5 days / 365 = 15 erlangs in all
STEPS = (0, 10, 15, 20, 25, 30)


def tiny(scale: float = 1.0, **kw):
    return make_instance(TRAVEL, ADMISSIONS * scale, steps=STEPS, fixed_cost=50.0, cost_per_bed=10.0, **kw)


def _brute_force(central, futures, reliability):
    """The cheapest configuration (central objective) meeting the target in enough futures, by
    trying every one."""
    need = len(futures) - int(np.floor((1 - reliability) * len(futures) + 1e-9))
    best = None
    for beds in itertools.product(STEPS, repeat=2):
        beds = np.array(beds)
        met = sum(meets_target(f, beds, None)[0] for f in futures)
        if met < need:
            continue
        try:
            sol = solve_once(with_configuration(central, beds, None), explain_infeasible=False)
        except Exception:   # noqa: BLE001 - a configuration breaking a rule is skipped
            continue
        if best is None or sol.objective < best[1] - 1e-6:
            best = (beds, sol.objective)
    return best


def test_robust_plan_equals_brute_force_on_a_small_instance():
    scales = [0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4]
    central = tiny()
    futures = [tiny(s) for s in scales]
    plan = plan_robust(central, futures, 0.8, mip_gap=0.0)
    beds, objective = _brute_force(central, futures, 0.8)
    assert plan.objective == pytest.approx(objective, rel=1e-6)
    met = [meets_target(f, plan.beds, None)[0] for f in futures]
    assert sum(met) >= 8
    assert set(plan.given_up) == {i for i, ok in enumerate(met) if not ok}
    # the demand grows with the scale, so the futures given up are the largest
    assert set(plan.given_up) <= {8, 9}
    # more reliability costs at least as much
    strict = plan_robust(central, futures, 1.0, mip_gap=0.0)
    assert strict.objective >= plan.objective - 1e-6 and strict.given_up == ()
    assert all(meets_target(f, strict.beds, None)[0] for f in futures)
    assert strict.beds.sum() > tiny_point_beds(central)


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
def test_a_future_s_cut_never_cuts_off_a_configuration_that_meets_it(backend):
    """The cut of a future failed at one configuration is a lower bound on the admissions left
    unplaced at every configuration (tried: all 36 of the tiny instance), equal at the one it
    came from, so it never excludes a configuration meeting the future; and the check's figure
    is the one meets_target reports. Both backends give reduced costs (GLOP, CBC)."""
    central, future = tiny(backend=backend), tiny(1.8, backend=backend)
    f = build(central)
    model = RobustModel(central)
    names = model.p0.var_names[model.first]
    check = FutureCheck(0, future, names)

    def first_values(beds):
        return configuration_start(f, np.array(beds), None)[model.first]

    failing = (15, 10)
    unplaced, cut = check.separate(first_values(failing))
    assert unplaced == pytest.approx(meets_target(future, np.array(failing), None)[1], rel=1e-7, abs=1e-7)
    assert unplaced > check.tolerance and cut is not None and cut.future == 0
    lower_bound = lambda y: check.tolerance - cut.rhs + cut.coefficients @ y   # noqa: E731
    assert lower_bound(first_values(failing)) == pytest.approx(unplaced, rel=1e-7)
    assert cut.coefficients @ first_values(failing) > cut.rhs + 1e-6          # cuts off where it failed
    met = 0
    for beds in itertools.product(STEPS, repeat=2):
        y = first_values(beds)
        here, _ = check.separate(y)
        if any(beds):   # (with no hospital at all, meets_target finds no patient who can reach one)
            assert here == pytest.approx(meets_target(future, np.array(beds), None)[1], rel=1e-7, abs=1e-7)
        assert lower_bound(y) <= here + 1e-6 * max(1.0, here)   # (CBC writes its figures to 7 digits or so)
        if here <= check.tolerance:
            met += 1
            assert cut.coefficients @ y <= cut.rhs + 1e-6
    assert met > 0     # some configurations meet the future, and the cut keeps every one


def test_the_plan_holds_futures_by_cuts_and_each_round_is_reported():
    """Ten futures growing in demand: the plan holds them by cuts on the bed decisions (no
    future's rows are copied), its rounds say how many failed each time, the last none, and it
    equals the plan with every future held by its own rows."""
    central = tiny()
    futures = [tiny(s) for s in (0.6, 0.9, 1.2, 1.5, 1.8, 2.1)]
    plan = plan_robust(central, futures, 1.0, mip_gap=0.0)
    assert plan.cuts and not plan.in_programme
    assert plan.rounds[0]["futures_failed"] > 0 and plan.rounds[-1]["futures_failed"] == 0
    assert all(meets_target(f, plan.beds, None)[0] for f in futures)
    blocks = plan_robust(central, futures, 1.0, mip_gap=0.0, start=tuple(range(len(futures))))
    assert blocks.objective == pytest.approx(plan.objective, rel=1e-9)
    assert list(blocks.beds) == list(plan.beds)


def tiny_point_beds(central) -> int:
    return int(solve_once(central, explain_infeasible=False).metrics["physical_beds"])


def test_a_future_no_configuration_can_meet_is_given_up_and_said_so():
    central = tiny()
    futures = [tiny(1.0), tiny(1.3), tiny(20.0)]      # 20x demand: beyond every estate limit
    assert impossible(futures[2]) and not impossible(futures[0])
    plan = plan_robust(central, futures, 1.0, mip_gap=0.0)
    assert plan.given_up == (2,) and plan.impossible == (2,)
    assert plan.notes and "cannot be had" in plan.notes[0] and "as many of the 3 futures as any can (2)" in plan.notes[0]
    assert meets_target(futures[1], plan.beds, None)[0]


def test_a_future_met_keeps_every_unit_within_the_target_in_the_flow_model():
    """Meeting a future means a routing with every unit's load within its capacity at the
    target: the patient-flow model run on that routing keeps every unit's blocking within it."""
    central = tiny()
    future = tiny(1.5)
    plan = plan_robust(central, [future], 1.0, mip_gap=0.0)
    routed = solve_once(with_configuration(future, plan.beds, None), explain_infeasible=False)
    assert routed.metrics["unmet_admissions_per_year"] <= 1e-6
    assert routed.metrics["max_blocking_probability"] <= future.rules.utilisation_target + 1e-9


def test_the_programme_counts_futures_given_up():
    central = tiny()
    model = RobustModel(central)
    for k, s in enumerate((1.0, 2.0, 2.4)):
        model.add_future(k, tiny(s))
    fewest, proven, _ = model.fewest_given_up("ortools", "highs", 60)
    assert fewest == 0 and proven       # 2 x 30 beds carry even 2.4 x the demand
    p = model.program(0)
    assert p.var_integer[p.var_families["future_given_up"]].all()
    assert p.row_names[-1] == "at_most_0_futures_given_up"


@pytest.mark.slow
def test_robust_configuration_on_llr_meets_the_target_in_the_share_asked_of_a_third_sample(
        llr_scenario, llr_dataset, tmp_path):
    """On the LLR default with the estate limits raised (as they stand, no configuration meets
    the target in many futures): planned for 12 futures, validated on 40 fresh futures until
    the 95% lower bound on its reliability reaches 70%, the robust configuration meets the
    target in at least 70% of a third sample of 40 futures independent of both (seed 4;
    90% measured, where a plan allowed to give up 3 of the 12 met 30-33%)."""
    from optimiser import api
    from optimiser.robust import (
        VALIDATION_ROUNDS,
        reliability_lower_bound,
        validation_seed,
        write_robust,
    )

    sc = llr_scenario.with_changes(**{f"sites.{s}.max_beds": 90 for s in llr_dataset.sites.index})
    point = api.quick_solve(sc, llr_dataset)
    r = api.robust(sc, llr_dataset, samples=12, reliability=0.7, seed=3, check_samples=40, validation_samples=40,
                   point=point, workers=2)
    assert r.validated and not r.notes
    last = r.validation[-1]
    assert last["lower_bound"] >= 0.7
    assert last["lower_bound"] == pytest.approx(reliability_lower_bound(last["met"], 40, 1 - 0.05 / VALIDATION_ROUNDS))
    assert [v["validation_seed"] for v in r.validation] == [validation_seed(3, k) for k in range(len(r.validation))]
    assert r.in_sample_reliability == 1.0 and r.futures_planned_for == last["futures_planned_for"]
    # the third, independent sample: the share asked, and more often than the point answer
    assert len(r.check) == 40 and r.check_seed == 4
    assert r.out_of_sample_reliability >= 0.7
    assert r.out_of_sample_reliability > r.point_out_of_sample_reliability
    assert r.optimality_gap is not None and r.optimality_gap <= 0.01 + 1e-9
    write_robust(r, llr_dataset, tmp_path / "R")
    summary = json.loads((tmp_path / "R" / "robust.json").read_text())
    assert summary["out_of_sample"]["robust_reliability"] == pytest.approx(r.out_of_sample_reliability)
    assert summary["validation"]["reached"] and len(summary["validation"]["rounds"]) == len(r.validation)
    assert "out of sample" in json.loads((tmp_path / "R" / "summary.json").read_text())["status_message"]
    assert (tmp_path / "R" / "beds.csv").exists() and (tmp_path / "R" / "point" / "beds.csv").exists()
    assert len((tmp_path / "R" / "out_of_sample.csv").read_text().splitlines()) == 41


@pytest.mark.slow
def test_a_plan_failing_validation_is_planned_again_with_the_futures_it_failed(llr_scenario, llr_dataset):
    """Planned for 2 futures only, the first plan fails some of 20 fresh futures; those are
    added to the futures planned for, and the next plan (meeting them too) is validated on
    another fresh sample."""
    from optimiser import api

    sc = llr_scenario.with_changes(**{f"sites.{s}.max_beds": 90 for s in llr_dataset.sites.index})
    point = api.quick_solve(sc, llr_dataset)
    r = api.robust(sc, llr_dataset, samples=2, reliability=0.95, seed=5, check_samples=20, validation_samples=20,
                   validation_rounds=2, point=point, workers=2)
    first, second = r.validation
    assert first["futures_planned_for"] == 2 and first["met"] < 20
    assert second["futures_planned_for"] == 2 + 20 - first["met"] == r.futures_planned_for
    assert second["validation_seed"] != first["validation_seed"]
    assert r.in_sample_reliability == 1.0 and not r.impossible     # the failures added are met now
    assert r.validated == (second["lower_bound"] >= 0.95)
    if not r.validated:
        assert any("not enough to be 95% sure" in n for n in r.notes)


def test_the_lower_bound_on_reliability_is_clopper_pearson():
    from scipy.stats import binom

    from optimiser.robust import reliability_lower_bound

    # every future met: the bound solves p**n = 1 - confidence
    assert reliability_lower_bound(40, 40, 0.95) == pytest.approx(0.05 ** (1 / 40))
    assert reliability_lower_bound(0, 40, 0.95) == 0.0
    # the bound p has P(at least m met | p) = 1 - confidence
    for met in (30, 36, 39):
        p = reliability_lower_bound(met, 40, 0.95)
        assert binom.sf(met - 1, 40, p) == pytest.approx(0.05, abs=1e-9)
    # 96 of 100 is enough to be 95% sure of 90%, 95 of 100 is not; more confidence, lower bound
    assert reliability_lower_bound(96, 100, 0.95) >= 0.9 > reliability_lower_bound(95, 100, 0.95)
    assert reliability_lower_bound(96, 100, 0.9875) < reliability_lower_bound(96, 100, 0.95)
    with pytest.raises(ValueError):
        reliability_lower_bound(41, 40, 0.95)


def test_validation_samples_have_their_own_seeds_derived_from_the_users():
    from optimiser.robust import validation_seed

    seeds = [validation_seed(1, k) for k in range(4)]
    assert seeds == [validation_seed(1, k) for k in range(4)]          # reproducible
    assert len(set(seeds)) == 4 and not {1, 2} & set(seeds)            # apart from planning and check seeds
    assert validation_seed(2, 0) not in seeds


@pytest.mark.slow
def test_cli_solve_robust_reports_out_of_sample_reliability(tmp_path):
    out = tmp_path / "R"
    run = subprocess.run([sys.executable, "-m", "optimiser", "solve", "--robust", "--quick", "--samples", "6",
                          "--check-samples", "12", "--validation-samples", "12", "--validation-rounds", "1",
                          "--workers", "2", "--out", str(out)],
                         capture_output=True, text=True, cwd=REPO, timeout=3000)
    assert run.returncode == 0, run.stderr
    assert "Robust configuration" in run.stdout and "futures it was not planned for" in run.stdout
    summary = json.loads((out / "robust.json").read_text())
    assert 0 <= summary["out_of_sample"]["robust_reliability"] <= 1
    assert summary["proven_gap"] is not None
    assert len(summary["validation"]["rounds"]) == 1 and summary["validation"]["rounds"][0]["validation_futures"] == 12
    assert "fresh futures" in run.stdout
    assert "out of sample" in json.loads((out / "summary.json").read_text())["status_message"]
    bad = subprocess.run([sys.executable, "-m", "optimiser", "solve", "--robust", "--reliability", "1.5"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "--reliability" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "optimiser", "solve", "--robust", "--validation-rounds", "0"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "--validation-rounds must be at least 1" in bad.stderr
    # a robust run may replace its own results, and is refused a folder of other files before any work
    from optimiser.outputs import check_output_folder

    assert check_output_folder(out) == out.absolute()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "minutes.txt").write_text("keep me")
    bad = subprocess.run([sys.executable, "-m", "optimiser", "solve", "--robust", "--out", str(other)],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "holds other files (minutes.txt)" in bad.stderr and "Traceback" not in bad.stderr
    assert "Robust configuration" not in bad.stdout and (other / "minutes.txt").read_text() == "keep me"


def test_robust_instances_need_the_same_bed_options():
    central = tiny()
    other = make_instance(TRAVEL, ADMISSIONS, steps=(0, 5, 10))
    model = RobustModel(central)
    with pytest.raises(Exception, match="bed options differ"):
        model.add_future(0, other)
    assert replace(central) is not None


def test_a_future_the_grouped_model_meets_the_full_model_meets(llr_scenario, llr_dataset):
    """Areas are grouped only with areas reaching the same hospitals within every threshold,
    so a configuration meeting a future on the groups meets it on the 611 areas."""
    from optimiser import api
    from optimiser.futures import FutureCompiler, sample_futures, uncertain_figures
    from optimiser.robust import grouped, reach_groups
    from optimiser.solution import unit_beds_of, virtual_beds_of

    compiler = FutureCompiler(llr_dataset, llr_scenario)
    central = compiler.central
    group = reach_groups(central)
    assert 27 < group.max() + 1 < central.n_zones
    point = api.quick_solve(llr_scenario, llr_dataset)
    beds, virtual = unit_beds_of(central, point.tables), virtual_beds_of(central, point.tables)
    drawn = sample_futures(uncertain_figures(llr_scenario), 6, seed=5)
    seen, lost = [], []
    for values in [{}] + [row.to_dict() for _, row in drawn.iterrows()]:   # the central future first
        inst = compiler.compile(values)
        on_groups, lost_on_groups = meets_target(grouped(inst, group), beds, virtual)
        on_areas, lost_on_areas = meets_target(inst, beds, virtual)
        seen.append(on_groups)
        if on_groups:
            assert on_areas
        # the fewest unplaced: planning for groups can only leave more patients unplaced
        assert lost_on_groups >= lost_on_areas - 1e-6
        lost.append(lost_on_areas)
    assert seen[0] and not all(seen)
    assert max(lost) > 1.0       # some future leaves patients unplaced even on every area
