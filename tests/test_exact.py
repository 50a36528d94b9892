"""The exact solve on grouped relaxations (optimiser.model.exact, optimiser.model.aggregate):
the groupings are relaxations (never above the full model), the proof ends on answers the
direct solve confirms, both backends agree, and the LLR default is proven within its
tolerance with every check passing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimiser.checker import check
from optimiser.instance import CoverageRule, Rules, Weights
from optimiser.model.aggregate import aggregate
from optimiser.model.backends import solve_program
from optimiser.model.exact import Tier, configuration_of, route, solve_exact, structure
from optimiser.model.formulation import build, configuration_start
from optimiser.model.solve import solve_instance, solve_once
from tests.conftest import make_instance


def _clustered(n_zones: int = 160, n_sites: int = 7, seed: int = 3, mip_gap: float = 0.0, backend: str = "ortools"):
    """Capacitated, with a travel standard and an equity term so that every bounded row of
    the grouping is exercised: Erlang bed steps, fixed site costs, a 55-minute limit."""
    rng = np.random.default_rng(seed)
    zxy = rng.uniform(0, 100, (n_zones, 2))
    sxy = rng.uniform(0, 100, (n_sites, 2))
    travel = np.round(6 + 1.1 * np.hypot(*(zxy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)), 1)
    adm = rng.gamma(4, 1.5, n_zones)
    district = (zxy[:, 0] // 34).astype(int)
    rules = Rules(single_assignment=False, utilisation_target=0.05,
                  coverage=(CoverageRule(pathway=0, threshold_minutes=40.0, share=0.8, population="65_plus"),))
    inst = make_instance(travel, adm, los_days=25, steps=(0,) + tuple(range(12, 41, 4)), fixed_cost=750.0,
                         cost_per_bed=110.0, max_travel=55, rules=rules, district=district, backend=backend,
                         population_65=adm * rng.uniform(60, 140, n_zones),
                         weights=Weights(cost=1.0, travel=0.05, unmet=50.0, equity=2.0))
    return replace(inst, solver=replace(inst.solver, mip_gap=mip_gap))


def _relaxed(program):
    return replace(program, var_integer=np.zeros_like(program.var_integer))


def test_groupings_are_relaxations_of_the_full_model():
    """For the linear relaxation and for random fixed configurations, the fine grouping is
    never above the full model and the coarse one never above the fine one."""
    inst = _clustered()
    f = build(inst)
    program = f.lp.freeze(inst.weights.as_dict())
    fine, coarse = aggregate(f, program), aggregate(f, program, coarse=True)
    assert coarse.n_groups < fine.n_groups < inst.n_zones
    full_lp = solve_program(_relaxed(program), time_limit=60, mip_gap=0.0).objective
    fine_lp = solve_program(_relaxed(fine.program), time_limit=60, mip_gap=0.0).objective
    coarse_lp = solve_program(_relaxed(coarse.program), time_limit=60, mip_gap=0.0).objective
    assert coarse_lp <= fine_lp * (1 + 1e-9) and fine_lp <= full_lp * (1 + 1e-9)
    rng = np.random.default_rng(11)
    s = structure(f, fine)
    tiers = [Tier(fine, s, "ortools"), Tier(coarse, s, "ortools")]
    ints = program.var_integer[fine.kept]
    checked = 0
    for _ in range(12):
        beds = rng.choice([0, 0, 16, 24, 32, 40], len(inst.bed_choices.unit_site))
        fixed = configuration_start(f, beds, None)
        full = route(program, fixed, "ortools", 60)
        if not full.status.has_solution:
            continue
        values = []
        for tier in tiers:
            lo, hi = tier.program.var_lower[:len(fine.kept)].copy(), tier.program.var_upper[:len(fine.kept)].copy()
            lo[ints] = hi[ints] = fixed[fine.kept][ints]
            values.append(tier.solve(lo, hi, 1e18).objective)
        assert values[1] <= values[0] * (1 + 1e-9) + 1e-6
        assert values[0] <= full.objective * (1 + 1e-9) + 1e-6
        checked += 1
    assert checked >= 6


@pytest.mark.slow
def test_exact_solve_is_confirmed_by_the_direct_optimum():
    """At a 1% tolerance the grouped proof's answer is within 1% of the true optimum (found
    directly, to optimality) and its bound is below it; the answer passes the checker."""
    inst = _clustered(mip_gap=0.01)
    done = solve_exact(inst)
    assert done is not None and done.proven
    truth = solve_once(replace(inst, solver=replace(inst.solver, mip_gap=0.0, backend="ortools")), grouped_proof=False)
    assert truth.optimality_gap == 0.0
    assert done.result.bound <= truth.objective * (1 + 1e-7)
    assert done.result.objective <= truth.objective * 1.01 + 1e-6
    assert done.result.gap <= 0.01 + 1e-9
    sol = solve_instance(inst)
    assert "grouped proof" in sol.solver
    assert check(sol).ok, check(sol).summary()
    assert sol.objective == pytest.approx(done.result.objective, rel=1e-9)


@pytest.mark.slow
def test_backends_give_the_same_answer():
    """OR-Tools and PuLP/CBC end within the tolerance of each other, each bound below the
    other's answer."""
    answers = [solve_exact(_clustered(mip_gap=0.01, backend=b)) for b in ("ortools", "pulp")]
    a, b = (x.result for x in answers)
    assert a.objective == pytest.approx(b.objective, rel=0.01)
    assert a.bound <= b.objective * (1 + 1e-7) and b.bound <= a.objective * (1 + 1e-7)
    assert configuration_of(answers[0].formulation, a.values)[0].sum() > 0


@pytest.mark.slow
def test_a_tolerance_finer_than_the_grouping_goes_to_the_full_model():
    """Asked for the exact optimum (gap 0), the grouped proof cannot close (its bound sits a
    little below every configuration's value): the full model is solved from its answer, and
    the result is the true optimum."""
    inst = _clustered(mip_gap=0.0)
    done = solve_exact(inst)
    assert done is not None and not done.proven
    sol = solve_instance(inst)
    truth = solve_once(inst, grouped_proof=False)
    assert sol.optimality_gap == 0.0
    assert sol.objective == pytest.approx(truth.objective, rel=1e-9)


@pytest.mark.slow
def test_same_inputs_same_answer():
    inst = _clustered(mip_gap=0.01)
    first, second = solve_instance(inst), solve_instance(inst)
    assert first.objective == second.objective
    assert first.units.equals(second.units)
    assert first.tables.assignment.equals(second.tables.assignment)


def test_llr_default_best_is_proven_within_its_tolerance(llr_dataset):
    """The LLR default ("Best", 0.5%): proven by the grouped relaxations, the checker passes,
    and the proven bound is below the routed value of other configurations (the answer with
    one unit a step larger or smaller)."""
    from optimiser import api
    from optimiser.scenario import default_scenario

    sc = default_scenario().with_changes(**{"solver.time_limit_seconds": 600})   # correctness here, not speed
    inst = api.instance_for(sc, llr_dataset)
    sol = solve_instance(inst, sc.name)
    assert "grouped proof" in sol.solver
    assert sol.status == "optimal" and sol.optimality_gap <= 0.005
    assert check(sol).ok, check(sol).summary()
    bound = sol.objective * (1 - sol.optimality_gap)
    f = build(inst)
    program = f.lp.freeze(inst.weights.as_dict())
    beds = sol.units.set_index(["site_id", "ward"])["beds"]
    opt = inst.bed_choices
    unit_beds = np.array([beds.get((inst.sites.ids[s], inst.wards[w]), 0) for s, w in zip(opt.unit_site, opt.unit_ward, strict=True)])
    virtual = sol.virtual_beds.set_index("district_code")["beds"].reindex(inst.districts.ids).fillna(0).to_numpy(int)
    routed = route(program, configuration_start(f, unit_beds, virtual), "ortools", 60)
    assert routed.objective == pytest.approx(sol.objective, rel=1e-7)
    tried = 0
    for u in np.flatnonzero(unit_beds > 0)[:4]:
        options = np.sort(opt.option_beds[opt.option_unit == u])
        for other in options[(options > 0) & (options != unit_beds[u])][:2]:
            changed = unit_beds.copy()
            changed[u] = other
            res = route(program, configuration_start(f, changed, virtual), "ortools", 60)
            if res.status.has_solution:
                assert bound <= res.objective + 1e-6
                tried += 1
    assert tried >= 4


def test_llr_quick_answer_is_proven_within_one_percent(llr_dataset):
    from optimiser import api
    from optimiser.scenario import default_scenario

    sol = api.quick_solve(default_scenario(), llr_dataset)
    assert check(sol).ok, check(sol).summary()
    assert sol.optimality_gap <= 0.01 + 1e-9
    assert any("grouped relaxations" in n for n in sol.notes)


def test_cli_quick_answer_loads_no_plotting_parallel_or_database_library(tmp_path):
    """`python -m optimiser solve --quick --out D` writes its answer without importing what
    the quick answer does not use (maps, charts, Dask, the options database, spreadsheets,
    scipy's statistics and optimisation): those imports stay inside the functions that need
    them, so the workshop's command starts in the time its own work takes."""
    import json
    import subprocess
    import sys

    unused = ("matplotlib", "plotly", "dask", "distributed", "sqlalchemy", "psycopg", "streamlit", "openpyxl",
              "reportlab", "scipy.stats", "scipy.optimize")
    out = tmp_path / "quick"
    script = ("import json, sys\n"
              "from optimiser.cli import main\n"
              f"code = main(['solve', '--quick', '--out', {str(out)!r}])\n"
              "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    loaded = [m for m in report["modules"] if m.startswith(tuple(f"{u}." for u in unused)) or m in unused]
    assert not loaded, f"the quick CLI path imported {loaded[:10]}"
    assert {"beds.csv", "summary.json", "result.gpkg"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "summary.json").read_text())["status"] == "quick"
