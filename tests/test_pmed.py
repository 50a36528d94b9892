"""The classical p-median: OR-Library instances against their published optima (both
backends), the duplicate-edge rule, and a scenario pointing at custom files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from optimiser.checker import check
from optimiser.errors import InputError
from optimiser.instance import Instance, SolverSettings
from optimiser.model.solve import solve_instance
from optimiser.orlib import read_optima, read_pmed

PMED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "orlib-pmed"


@pytest.fixture(scope="module")
def optima():
    assert PMED.is_dir(), f"the OR-Library instances are missing at {PMED}"
    return read_optima(PMED / "pmedopt.txt")


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed3", "pmed4", "pmed5"])
def test_orlib_optimum(name, backend, optima):
    dist, p = read_pmed(PMED / f"{name}.txt")
    inst = Instance.p_median(dist, p, name=name, solver=SolverSettings(backend=backend, mip_gap=0.0,
                                                                      time_limit_seconds=300))
    sol = solve_instance(inst)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(optima[name], abs=1e-6)
    assert sol.metrics["open_sites"] == p
    assert check(sol).ok


def test_duplicate_edges_take_the_last_cost(tmp_path):
    f = tmp_path / "dup.txt"
    # 1-2 appears twice: 10 then 3 -> the distance is 3 (the last), not min or first.
    f.write_text("3 3 1\n1 2 10\n2 3 4\n2 1 3\n")
    dist, p = read_pmed(f)
    assert dist[0, 1] == 3 and dist[0, 2] == 7 and p == 1
    f.write_text("3 3 1\n1 2 3\n2 3 4\n1 2 10\n")
    dist, _ = read_pmed(f)
    assert dist[0, 1] == 10 and dist[0, 2] == 14


def test_pmed1_duplicate_rule_matters(optima):
    dist, p = read_pmed(PMED / "pmed1.txt")
    sol = solve_instance(Instance.p_median(dist, p))
    assert optima["pmed1"] == 5819
    assert sol.objective == pytest.approx(5819, abs=1e-6)   # the minimum rule would give 5718


@pytest.mark.parametrize("text, words", [
    ("", "empty file"), ("3 x 1\n", "three whole numbers"), ("3 2 1\n1 2 5\n", "promises 2 edges"),
    ("3 2 1\n1 2 5\n2 9 4\n", "vertex out of range"), ("3 2 1\n1 2 5\n2 3 -4\n", "negative edge cost"),
    ("4 2 1\n1 2 5\n2 3 4\n", "not connected"),
])
def test_bad_pmed_files_are_named(tmp_path, text, words):
    f = tmp_path / "bad.txt"
    f.write_text(text)
    with pytest.raises(InputError, match=words) as err:
        read_pmed(f)
    assert "bad.txt" in str(err.value)


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
def test_small_p_median_matches_enumeration(backend):
    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 100, size=(9, 2))
    cost = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    w = rng.integers(1, 5, size=9).astype(float)
    best = min((w * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(9), 3))
    sol = solve_instance(Instance.p_median(cost, 3, w, solver=SolverSettings(backend=backend, mip_gap=0.0)))
    assert sol.objective == pytest.approx(best, rel=1e-9)


def _both_forms(inst):
    from dataclasses import replace

    from optimiser.model.formulation import build
    from optimiser.model.solve import _solve_direct

    shares = replace(inst, solver=replace(inst.solver, assignment_form="shares"))
    assert build(inst).radius_form and not build(shares).radius_form
    # the formulation itself in both forms (solve_instance sends a classical p-median through
    # optimiser/model/pmedian.py first; tests/test_pmedian.py covers that path)
    return _solve_direct(inst), _solve_direct(shares)


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
@pytest.mark.parametrize("name", ["pmed2", "pmed10"])
def test_radius_form_matches_the_shares_form(name, backend, optima):
    """The compact radius form (one column per distinct distance) and the one-share-per-pair
    form reach the same proven optimum and the same tables (the checker recomputes both)."""
    dist, p = read_pmed(PMED / f"{name}.txt")
    inst = Instance.p_median(dist, p, name=name, solver=SolverSettings(backend=backend, mip_gap=0.0,
                                                                      time_limit_seconds=300))
    radius, shares = _both_forms(inst)
    assert radius.objective == pytest.approx(optima[name], abs=1e-6)
    assert shares.objective == pytest.approx(optima[name], abs=1e-6)
    assert check(radius).ok and check(shares).ok
    assert radius.metrics["mean_travel_minutes_all"] == pytest.approx(shares.metrics["mean_travel_minutes_all"])
    # every vertex goes to its nearest open median, in one piece
    a = radius.tables.assignment
    assert (a["share"] == 1.0).all() and a["zone_code"].is_unique and len(a) == len(dist)


def test_radius_form_leaves_unreachable_zones_unmet_like_the_shares_form():
    """With a travel limit and no 'p' guarantee, a zone out of every open site's reach is
    unmet in both forms, at the same objective (unmet zones pay no travel)."""
    from conftest import make_instance

    from optimiser.instance import Rules, Weights

    travel = np.array([[5.0, 40.0, 70.0], [30.0, 8.0, 60.0], [90.0, 85.0, 12.0], [20.0, 25.0, 95.0]])
    inst = make_instance(travel, [3.0, 2.0, 1.0, 4.0], max_travel=50.0, fixed_cost=500.0,
                         rules=Rules(single_assignment=False, capacity_limits=False, open_at_most=1),
                         weights=Weights(cost=1.0, travel=1.0, unmet=100.0))
    radius, shares = _both_forms(inst)
    assert radius.objective == pytest.approx(shares.objective, rel=1e-9)
    assert check(radius).ok and check(shares).ok
    assert radius.metrics["unmet_admissions_per_year"] == pytest.approx(shares.metrics["unmet_admissions_per_year"])
    assert radius.metrics["unmet_admissions_per_year"] == pytest.approx(1.0)   # zone 2 is 85+ minutes from S0/S1
