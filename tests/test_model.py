"""The integer programme on instances with known optima, both backends, checked every time by
the independent checker."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import linprog

from optimiser.checker import check
from optimiser.errors import InfeasibleError
from optimiser.instance import Rules, Weights
from optimiser.model.formulation import build
from optimiser.model.solve import solve_instance
from optimiser.queueing import capacity_steps
from tests.conftest import make_instance

BACKENDS = ["ortools", "pulp"]


def solve_checked(inst):
    sol = solve_instance(inst)
    report = check(sol)
    assert report.ok, report.summary()
    return sol


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_zone_one_site_by_hand(backend):
    # 30 admissions a year x 36.5 days = 3 erlangs. At 5% blocking 5 beds carry 2.219
    # erlangs (too few), 10 beds carry 6.216: the site needs 10 beds.
    # cost 100 fixed + 10 beds x 10 = 200; travel 30 admissions x 7 minutes = 210.
    inst = make_instance([[7.0]], [30.0], backend=backend)
    sol = solve_checked(inst)
    assert sol.objective == pytest.approx(410.0, abs=1e-6)
    assert sol.units["beds"].tolist() == [10]
    assert sol.metrics["unmet_admissions_per_year"] == pytest.approx(0)


def brute_force(inst) -> float:
    """Optimum by enumerating every bed configuration and solving the split assignment as an
    LP with scipy (HiGHS through scipy: a separate code path from the model)."""
    opt = inst.bed_choices
    m = inst.n_sites
    steps = opt.option_beds[opt.option_unit == 0]
    caps = opt.option_capacity[opt.option_unit == 0]
    load = inst.hospital_load[:, 0]
    adm = inst.hospital_admissions[:, 0]
    n = len(adm)
    w = inst.weights
    best = np.inf
    for combo in itertools.product(range(len(steps)), repeat=m):
        beds = steps[list(combo)]
        if inst.rules.min_beds_open_site and any(0 < b < inst.rules.min_beds_open_site for b in beds):
            continue
        if inst.rules.open_exactly is not None and (beds > 0).sum() != inst.rules.open_exactly:
            continue
        cap = caps[list(combo)]
        cost = float((beds > 0) @ inst.sites.fixed_cost + beds @ inst.sites.cost_per_bed)
        # variables: x (n*m) then u (n)
        reach = inst.travel <= inst.pathways.max_travel[0]
        c = np.concatenate([(w.travel * adm[:, None] * inst.travel).ravel(), w.unmet * load * 365])
        a_eq = np.zeros((n, n * m + n))
        for i in range(n):
            a_eq[i, i * m:(i + 1) * m] = 1
            a_eq[i, n * m + i] = 1
        a_ub = np.zeros((m, n * m + n))
        for j in range(m):
            a_ub[j, j:n * m:m] = load
        bounds = [(0, 1 if (beds[j] > 0 and reach[i, j]) else 0) for i in range(n) for j in range(m)] + [(0, 1)] * n
        rows_ub, rhs_ub = [a_ub], [cap]
        if inst.rules.coverage:
            rule = inst.rules.coverage[0]
            pop = inst.zones.population_65
            near = (inst.travel <= rule.threshold_minutes)
            row = np.concatenate([(pop[:, None] * near).ravel(), np.zeros(n)])
            rows_ub.append(-row[None, :])
            rhs_ub.append([-rule.share * pop.sum()])
        res = linprog(c, A_ub=np.vstack(rows_ub), b_ub=np.concatenate(rhs_ub), A_eq=a_eq, b_eq=np.ones(n),
                      bounds=bounds, method="highs")
        if res.status == 0:
            best = min(best, w.cost * cost + res.fun)
    return best


LINE = np.abs(np.subtract.outer([0.0, 4.0, 9.0, 15.0, 22.0], [2.0, 12.0, 20.0]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_line_matches_enumeration(backend):
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0,
                         cost_per_bed=8.0, backend=backend, weights=Weights(cost=1.0, travel=1.0, unmet=500.0))
    sol = solve_checked(inst)
    assert sol.objective == pytest.approx(brute_force(inst), rel=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_travel_standard_and_minimum_beds_match_enumeration(backend):
    rules = Rules(single_assignment=False, min_beds_open_site=10,
                  coverage=(__import__("optimiser.instance", fromlist=["CoverageRule"]).CoverageRule(pathway=0, threshold_minutes=6.0, share=0.6, population="65_plus"),))
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0,
                         cost_per_bed=8.0, backend=backend, rules=rules,
                         weights=Weights(cost=1.0, travel=1.0, unmet=500.0))
    sol = solve_checked(inst)
    assert sol.objective == pytest.approx(brute_force(inst), rel=1e-7)
    assert sol.metrics["smallest_open_site_beds"] >= 10


def test_backends_agree_and_names_are_readable():
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0, cost_per_bed=8.0)
    a = solve_checked(inst)
    b = solve_checked(replace(inst, solver=replace(inst.solver, backend="pulp")))
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    f = build(inst)
    names = f.lp.freeze(inst.weights.as_dict()).row_names
    assert "serve_demand_zone_Z0_care" in names
    assert any(n.startswith("capacity_S0_ward") for n in names)


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_assignment_is_integral(backend):
    rules = Rules(single_assignment=True)
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0,
                         cost_per_bed=8.0, backend=backend, rules=rules)
    sol = solve_checked(inst)
    shares = sol.tables.assignment["share"].to_numpy()
    assert np.all((shares < 1e-9) | (shares > 1 - 1e-9))
    split = solve_checked(inst.with_rules(single_assignment=False))
    assert split.objective <= sol.objective + 1e-6


def test_capacity_forces_a_second_site():
    # Demand of 20 erlangs: at 5% blocking 20 beds carry only 15.25, so one 20-bed site
    # cannot take everyone and a second site opens.
    inst = make_instance(LINE, [40, 40, 40, 40, 40], los_days=36.5 * 2.5, steps=(0, 10, 20), fixed_cost=10.0,
                         cost_per_bed=1.0)
    sol = solve_checked(inst)
    assert sol.metrics["open_sites"] >= 2
    load = sol.units["load_erlangs"].to_numpy()
    assert np.all(load <= capacity_steps(sol.units["beds"], "erlang", 0.05) + 1e-6)


def test_infeasible_scenario_is_explained_in_plain_english():
    from optimiser.instance import CoverageRule

    # Zones at 0, 4, 9, 15, 22 km; sites at 2, 12, 20. Within 2.5 minutes of a site: zones
    # 0 and 1 (site 0, 65 of 210 people) and zone 4 (site 2, 50 people). With one site open
    # at most 65/210 = 31.0% can be within 2.5 minutes; two sites reach 115/210 = 54.8%.
    rule = CoverageRule(pathway=0, threshold_minutes=2.5, share=0.5, population="65_plus")
    rules = Rules(single_assignment=False, open_at_most=1, coverage=(rule,))
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), rules=rules)
    with pytest.raises(InfeasibleError) as err:
        solve_instance(inst)
    text = err.value.explanation.summary()
    assert "No configuration meets all of these limits together" in text
    assert "50% of residents aged 65+ within 2.5 minutes" in text and "at most 1 open sites" in text
    assert "most reachable" in text and "30.9%" in text  # 65/210 = 30.95%, rounded down
    assert "Keep 2 to 3 sites open" in text
    share = err.value.explanation.nearest["travel.standard.share"]
    assert share == pytest.approx(65 / 210, abs=0.005)
    # the suggested share really is feasible, and a little more is not
    assert solve_checked(inst.with_rules(coverage=(replace(rule, share=share),))).ok
    with pytest.raises(InfeasibleError):
        solve_instance(inst.with_rules(coverage=(replace(rule, share=share + 0.01),)))


def test_contradictory_site_statuses_are_explained():
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20),
                         status=[1, 1, 0], rules=Rules(single_assignment=False, open_exactly=1))
    with pytest.raises(InfeasibleError) as err:
        solve_instance(inst)
    text = str(err.value)
    assert "exactly 1 open sites" in text and "2 site(s) kept open" in text
    assert "Keep 2 to 3 sites open" in text or "decided by the model" in text


def test_alternatives_open_different_site_sets():
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0, cost_per_bed=8.0)
    inst = replace(inst, solver=replace(inst.solver, alternatives=2))
    sol = solve_instance(inst)
    sets = [tuple(s.sites["open"]) for s in (sol, *sol.alternatives)]
    assert len(sol.alternatives) == 2 and len(set(sets)) == 3
    assert all(alt.objective >= sol.objective - 1e-6 for alt in sol.alternatives)
    for alt in sol.alternatives:
        assert check(alt).ok


def test_lexicographic_puts_travel_first():
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0, cost_per_bed=8.0)
    lex = solve_instance(inst.with_weights(lexicographic=("travel", "cost"), unmet=500.0))
    travel_only = solve_instance(inst.with_weights(cost=0.0, travel=1.0, unmet=500.0))
    assert lex.metrics["patient_travel_admission_minutes_per_year"] == pytest.approx(
        travel_only.metrics["patient_travel_admission_minutes_per_year"], rel=1e-3)
    weighted = solve_instance(inst)
    assert lex.metrics["annual_cost_gbp"] >= weighted.metrics["annual_cost_gbp"] - 1e-6


def test_checker_catches_a_broken_solution():
    inst = make_instance(LINE, [40, 25, 60, 35, 50], steps=(0, 5, 10, 15, 20), fixed_cost=50.0, cost_per_bed=8.0)
    sol = solve_instance(inst)
    units = sol.tables.units.copy()
    units["beds"] = np.where(units["beds"] > 0, units["beds"] - 5, 0)   # too few beds now
    broken = replace(sol, tables=replace(sol.tables, units=units))
    report = check(broken)
    assert not report.ok
    assert {v.rule for v in report.violations} >= {"capacity", "objective"}


def _clustered_instance(n_zones: int = 400, n_sites: int = 12, seed: int = 7):
    """Capacitated, national-like: Erlang bed steps 0, 12, ..., 40, fixed site costs, a
    60-minute travel limit, unmet demand dearer than beds."""
    rng = np.random.default_rng(seed)
    zxy = rng.uniform(0, 100, (n_zones, 2))
    sxy = rng.uniform(0, 100, (n_sites, 2))
    travel = 8 + 1.2 * np.hypot(*(zxy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1))
    adm = rng.gamma(4, 1.5, n_zones)
    return make_instance(travel, adm, los_days=25, steps=(0,) + tuple(range(12, 41, 4)), fixed_cost=750.0,
                         cost_per_bed=110.0, max_travel=60, weights=Weights(cost=1.0, travel=0.05, unmet=50.0))


def test_rounding_the_relaxation_up_keeps_its_routing_feasible():
    """Each unit gets the smallest bed option that carries the load the LP relaxation sent
    it, so the relaxation's routing still fits: the routed answer's travel-and-unmet part is
    no worse than the relaxation's, and only the rounding of beds separates it from the bound."""
    from optimiser.model.quick import lp_relaxation, rounded_configuration, with_configuration

    inst = _clustered_instance()
    bound, f, values = lp_relaxation(inst)
    beds, virtual = rounded_configuration(f, values)
    assert virtual is None
    opt = inst.bed_choices
    z, s, k = f.pairs
    load = np.bincount(f.unit_of_pair, weights=f.streams.load[z, k] * values[f.lp.variables("assign")],
                       minlength=len(opt.unit_site))
    capacity = dict(zip(opt.option_beds[:len(opt.option_beds) // inst.n_sites].tolist(),
                        opt.option_capacity[:len(opt.option_beds) // inst.n_sites].tolist(), strict=True))
    steps = sorted(capacity)
    for unit, b in enumerate(beds):
        assert capacity[b] >= load[unit] - 1e-6                         # carries its load
        smaller = [c for c in steps if c < b]
        assert not smaller or capacity[smaller[-1]] < load[unit] + 1e-6  # and is the smallest that does
    assert 0 < (beds > 0).sum() < inst.n_sites
    routed = solve_instance(with_configuration(inst, beds, None))
    assert check(routed).ok, check(routed).summary()
    assert routed.metrics["physical_beds"] == beds.sum()
    program = f.lp.freeze(inst.weights.as_dict())
    relaxation_routing = bound - program.term_value(values, "cost")
    routed_cost = routed.metrics["annual_cost_gbp"]
    assert routed.objective - routed_cost <= relaxation_routing + 1e-6
    assert routed.objective >= bound - 1e-6


@pytest.mark.slow
def test_quick_answer_keeps_the_better_of_grouped_and_rounded():
    """On a capacitated instance where rounding the relaxation beats the grouped model, the
    quick answer is the rounded one; it lies between the proven optimum and its own gap."""
    from optimiser.model.quick import quick_solve

    inst = _clustered_instance()
    quick = quick_solve(inst, grouped_proof=False)      # the candidates themselves, not the grouped proof
    assert check(quick).ok, check(quick).summary()
    assert any("rounded up from the linear relaxation" in n for n in quick.notes)
    best = solve_instance(inst)                      # mip_gap 0: the optimum
    assert best.optimality_gap == 0.0
    assert best.objective <= quick.objective + 1e-6
    bound = quick.objective * (1 - quick.optimality_gap)
    assert bound <= best.objective + 1e-6            # the LP bound is a bound
    assert quick.objective <= best.objective * 1.02   # 1.45% above the optimum here


def test_strong_links_are_written_only_up_to_the_auto_limit():
    """'auto' writes x <= open per pair only for models with at most
    STRONG_LINKING_AUTO_LIMIT pairs (above it they made the national relaxation 25 times
    slower); 'on' always does; the scenario's help text states the same limit."""
    from optimiser.model.formulation import STRONG_LINKING_AUTO_LIMIT
    from optimiser.scenario import SolverSpec

    rng = np.random.default_rng(3)
    n_sites = 30
    n_zones = STRONG_LINKING_AUTO_LIMIT // n_sites + 10           # every pair allowed: just over the limit
    inst = make_instance(rng.uniform(5, 50, (n_zones, n_sites)), rng.uniform(1, 3, n_zones))
    auto = build(inst).lp.freeze()
    on = build(replace(inst, solver=replace(inst.solver, strong_linking="on"))).lp.freeze()
    assert "strong_link" not in auto.row_families
    assert on.row_families["strong_link"].stop - on.row_families["strong_link"].start == n_zones * n_sites
    small = make_instance(rng.uniform(5, 50, (100, 5)), rng.uniform(1, 3, 100))
    assert "strong_link" in build(small).lp.freeze().row_families
    assert f"{STRONG_LINKING_AUTO_LIMIT:,}" in SolverSpec.model_fields["strong_linking"].description
