"""The p-median path (optimiser/model/pmedian.py): interchange, Lagrangian bound, reduced-cost
fixing and exact zone aggregation in front of the shared formulation; its answers against
published optima, brute force and the plain formulation with both backends; the custom-input
reader; and what a p-median result reports."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser.checker import check
from optimiser.custom_inputs import read_travel, read_zones
from optimiser.errors import InputError
from optimiser.instance import Instance, SolverSettings
from optimiser.model import pmedian as pm
from optimiser.model.solve import _solve_direct, solve_instance
from optimiser.orlib import read_optima, read_pmed

PMED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "orlib-pmed"
CUSTOM = Path(__file__).resolve().parent / "fixtures" / "custom"


@pytest.fixture(scope="module")
def optima():
    assert PMED.is_dir(), f"the OR-Library instances are missing at {PMED}"
    return read_optima(PMED / "pmedopt.txt")


def random_instance(seed: int, n: int = 12, m: int = 9, p: int = 3, *, integer: bool = True,
                    status=None, backend: str = "ortools") -> Instance:
    """Points in a square; integer distances (many ties) or real ones; random weights."""
    rng = np.random.default_rng(seed)
    zones = rng.uniform(0, 30, size=(n, 2))
    sites = rng.uniform(0, 30, size=(m, 2))
    cost = np.hypot(zones[:, None, 0] - sites[None, :, 0], zones[:, None, 1] - sites[None, :, 1])
    cost = np.round(cost) if integer else cost
    w = rng.integers(1, 6, size=n).astype(float)
    inst = Instance.p_median(cost, p, w, solver=SolverSettings(backend=backend, mip_gap=0.0))
    if status is not None:
        inst = replace(inst, sites=replace(inst.sites, status=np.asarray(status, np.int8)))
    return inst


def brute_force(inst: Instance) -> tuple[float, tuple[int, ...]]:
    """The best set of open sites by enumeration (respecting keep-open and closed sites)."""
    w = inst.hospital_admissions[:, 0]
    must = set(np.flatnonzero(inst.sites.status > 0).tolist())
    allowed = [j for j in range(inst.n_sites) if inst.sites.status[j] >= 0]
    best = (np.inf, ())
    for combo in itertools.combinations(allowed, inst.rules.open_exactly):
        if not must <= set(combo):
            continue
        value = float((w * inst.travel[:, list(combo)].min(axis=1)).sum())
        best = min(best, (value, combo))
    return best


# ---- answers -----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["ortools", "pulp"])
@pytest.mark.parametrize("name", ["pmed6", "pmed8", "pmed13"])
@pytest.mark.slow
def test_more_orlib_optima_through_the_p_median_path(name, backend, optima):
    """Instances with an integrality gap (pmed6: the relaxation is 0.5% below the optimum) go
    through fixing, aggregation and the reduced exact model on either backend."""
    dist, p = read_pmed(PMED / f"{name}.txt")
    inst = Instance.p_median(dist, p, name=name, solver=SolverSettings(backend=backend, mip_gap=0.0,
                                                                      time_limit_seconds=300))
    assert pm.applies(inst)
    sol = solve_instance(inst)
    assert sol.status == "optimal" and sol.optimality_gap == 0.0
    assert sol.objective == pytest.approx(optima[name], abs=1e-6)
    assert sol.mode == "p_median" and sol.solver.startswith("ortools" if backend == "ortools" else "pulp")
    assert check(sol).ok


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
@pytest.mark.parametrize("seed", range(6))
def test_p_median_path_matches_brute_force_and_the_plain_formulation(seed, backend):
    """Random instances, whole-number distances (many ties) or not, some sites forced open or
    closed: the p-median path, the plain formulation and enumeration agree."""
    status = None
    if seed % 3 == 1:
        status = [1, 0, 0, -1, 0, 0, -1, 0, 0]
    inst = random_instance(seed, p=2 + seed % 3, integer=seed % 2 == 0, status=status, backend=backend)
    best, _ = brute_force(inst)
    sol = solve_instance(inst)
    plain = _solve_direct(inst)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best, rel=1e-9)
    assert plain.objective == pytest.approx(best, rel=1e-9)
    assert check(sol).ok
    opened = set(sol.tables.units["site_id"])
    assert {inst.sites.ids[j] for j in np.flatnonzero(inst.sites.status > 0)} <= opened
    assert not {inst.sites.ids[j] for j in np.flatnonzero(inst.sites.status < 0)} & opened


@pytest.mark.parametrize("p", [1, 8, 9])
def test_p_at_the_extremes(p):
    """One site, all but one, all of them (9 candidate sites)."""
    inst = random_instance(11, n=20, m=9, p=p)
    best, _ = brute_force(inst)
    sol = solve_instance(inst)
    assert sol.status == "optimal" and sol.objective == pytest.approx(best, rel=1e-9)
    assert sol.metrics["open_sites"] == p


@pytest.mark.slow
def test_same_inputs_same_answer():
    dist, p = read_pmed(PMED / "pmed6.txt")
    inst = Instance.p_median(dist, p, solver=SolverSettings(mip_gap=0.0))
    a, b = solve_instance(inst), solve_instance(inst)
    assert a.objective == b.objective
    assert a.tables.units.equals(b.tables.units) and a.tables.assignment.equals(b.tables.assignment)


def test_a_time_limit_stops_the_proof_not_the_answer():
    """A limit too short for the proof still returns the best answer found, says the limit
    stopped it, and reports an honest gap (never below zero, never a bare solver status)."""
    dist, p = read_pmed(PMED / "pmed16.txt")
    inst = Instance.p_median(dist, p, solver=SolverSettings(mip_gap=0.0, time_limit_seconds=1.0))
    sol = solve_instance(inst)
    assert sol.status in ("optimal", "feasible")
    assert sol.objective >= 8162 - 1e-6
    assert check(sol).ok
    if sol.status == "feasible":
        assert sol.optimality_gap > 0
        assert any("time limit" in n for n in sol.notes)


# ---- the pieces ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(8))
def test_local_search_never_worse_than_its_start(seed):
    inst = random_instance(seed, n=40, m=15, p=4, integer=seed % 2 == 0)
    prob = pm.problem_of(inst)
    rng = np.random.default_rng(seed)
    start = np.zeros(prob.n_sites, bool)
    start[rng.choice(prob.n_sites, prob.p, replace=False)] = True
    before = pm.total_cost(prob.cost, start)
    after_sites, after = pm.local_search(prob, start)
    assert after <= before + 1e-9
    assert after == pytest.approx(pm.total_cost(prob.cost, after_sites))
    assert after_sites.sum() == prob.p
    # a local optimum: no single swap improves it
    for r in np.flatnonzero(after_sites):
        for a in np.flatnonzero(~after_sites):
            trial = after_sites.copy()
            trial[r], trial[a] = False, True
            assert pm.total_cost(prob.cost, trial) >= after - 1e-9


def test_local_search_keeps_forced_sites():
    inst = random_instance(3, n=30, m=9, p=3, status=[1, 0, -1, 0, 0, 0, 0, 0, 0])
    prob = pm.problem_of(inst)
    start = np.array([True, False, False, True, True, False, False, False, False])
    sites, _ = pm.local_search(prob, start)
    assert sites[0] and not sites[2] and sites.sum() == 3


@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed3", "pmed4", "pmed5", "pmed6"])
@pytest.mark.slow
def test_lagrangian_bound_is_below_the_optimum(name, optima):
    dist, p = read_pmed(PMED / f"{name}.txt")
    prob = pm.problem_of(Instance.p_median(dist, p))
    greedy = pm.greedy(prob)
    start, value = pm.local_search(prob, greedy)
    bound = pm.lagrangian_bound(prob, value, upper_sites=start)
    assert bound.value <= optima[name] + 1e-6
    assert bound.value >= 0.99 * optima[name]      # and it is a real bound, not a trivial one


@pytest.mark.parametrize("seed", range(10))
def test_fixing_never_cuts_off_a_better_answer(seed):
    """Every answer below the target keeps the fixed sites as fixed: checked on the optimum
    found by enumeration, starting from a deliberately poor incumbent."""
    inst = random_instance(seed, n=25, m=10, p=3, integer=seed % 2 == 0)
    prob = pm.problem_of(inst)
    best, combo = brute_force(inst)
    poor = np.zeros(prob.n_sites, bool)
    poor[np.argsort(prob.cost.sum(axis=0))[-prob.p:]] = True     # the p worst sites
    upper = pm.total_cost(prob.cost, poor)
    bound = pm.lagrangian_bound(prob, upper, upper_sites=poor)
    assert bound.value <= best + 1e-6
    optimum = np.zeros(prob.n_sites, bool)
    optimum[list(combo)] = True
    if best < bound.target:
        assert optimum[bound.fixed_open].all()
        assert not optimum[bound.fixed_closed].any()


@pytest.mark.parametrize("seed", range(6))
def test_reduced_instance_is_exact_for_every_configuration_it_allows(seed):
    """Zones merged by site order and sites fixed: every configuration that keeps the fixings
    costs the same in the reduced instance as in the original."""
    inst = random_instance(seed, n=60, m=9, p=3, integer=seed % 2 == 0)
    prob = pm.problem_of(inst)
    fixed_open = np.zeros(prob.n_sites, bool)
    fixed_closed = np.zeros(prob.n_sites, bool)
    if seed % 2:
        fixed_open[seed % 9] = True
        fixed_closed[(seed + 4) % 9] = True
    red = pm.reduced_instance(inst, prob, fixed_open, fixed_closed)
    assert red.groups <= red.zones
    rw = red.instance.hospital_admissions[:, 0]
    position = {s: k for k, s in enumerate(red.sites)}
    for combo in itertools.combinations(range(prob.n_sites), prob.p):
        y = np.zeros(prob.n_sites, bool)
        y[list(combo)] = True
        if not y[fixed_open].all() or y[fixed_closed].any():
            continue
        cols = [position[j] for j in combo]
        reduced_value = float((rw * red.instance.travel[:, cols].min(axis=1)).sum())
        assert reduced_value == pytest.approx(pm.total_cost(prob.cost, y), rel=1e-9)


def test_zones_with_the_same_site_order_merge():
    # four zones, two site orders: two groups
    cost = np.array([[1.0, 5.0, 9.0], [2.0, 6.0, 7.0], [9.0, 1.0, 5.0], [8.0, 2.0, 3.0]])
    inst = Instance.p_median(cost, 2)
    prob = pm.problem_of(inst)
    red = pm.reduced_instance(inst, prob, np.zeros(3, bool), np.zeros(3, bool))
    assert red.groups == 2 and red.zones == 4


# ---- reporting ---------------------------------------------------------------------------

def test_p_median_results_report_what_a_p_median_user_reads(optima):
    dist, p = read_pmed(PMED / "pmed2.txt")
    sol = solve_instance(Instance.p_median(dist, p, solver=SolverSettings(mip_gap=0.0)))
    m = sol.metrics
    for absent in ("patients_finding_no_free_bed_per_year", "mean_occupancy", "max_blocking_probability",
                   "annual_cost_gbp", "physical_beds"):
        assert absent not in m
    minutes = dist[:, [int(s) - 1 for s in sol.tables.units["site_id"]]].min(axis=1)
    assert m["weighted_travel"] == pytest.approx(optima["pmed2"])
    assert m["mean_travel_minutes"] == pytest.approx(minutes.mean())
    assert m["max_travel_minutes"] == pytest.approx(minutes.max())
    assert m["open_sites"] == p
    summary = sol.summary()
    assert summary["mode"] == "p_median" and summary["optimality_gap"] == 0.0


def test_cli_quick_p_median_says_what_it_did(tmp_path, capsys):
    from optimiser.cli import main

    out = tmp_path / "quick"
    assert main(["solve", str(CUSTOM / "p_median.yaml"), "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "quick answer" in text and "interchange" in text and "no solver was run" in text
    assert "free bed" not in text and "occupancy" not in text.lower()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "p_median"
    assert summary["solver"] == "p-median interchange (quick)"
    assert {"mean_travel_minutes", "max_travel_minutes", "open_sites", "weighted_travel"} <= set(summary["metrics"])
    assert summary["optimality_gap"] is not None
    zones = set(pd.read_csv(CUSTOM / "travel_long.csv")["zone_code"])
    assert set(pd.read_csv(out / "assignment.csv")["zone_code"]) == zones


def test_cli_full_p_median_solve(tmp_path, capsys):
    from optimiser.cli import main

    out = tmp_path / "full"
    assert main(["solve", str(CUSTOM / "p_median.yaml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sites opened" in text and "mean travel" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "p_median" and summary["status"] == "optimal"
    assert len(pd.read_csv(out / "open_sites.csv")) == 2


# ---- the reader ---------------------------------------------------------------------------

def old_read_travel(path: Path) -> pd.DataFrame:
    """Zones x sites minutes from a long or wide CSV; errors name file, row and column."""
    if not path.exists():
        raise InputError("travel file not found", file=path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({type(exc).__name__})", file=path) from None
    if raw.empty:
        raise InputError("no rows", file=path)
    cols = [c.strip().lower() for c in raw.columns]
    if {"zone_code", "site_id", "minutes"} <= set(cols):
        raw.columns = cols
        minutes = pd.to_numeric(raw["minutes"], errors="coerce")
        bad = minutes.isna() | (minutes < 0)
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"travel time {raw['minutes'].iat[k]!r} is not a number of minutes >= 0", file=path,
                             row=k + 2, column="minutes")
        dup = raw.duplicated(["zone_code", "site_id"])
        if dup.any():
            k = int(np.flatnonzero(dup.to_numpy())[0])
            raise InputError(f"pair {raw['zone_code'].iat[k]} -> {raw['site_id'].iat[k]} appears twice", file=path,
                             row=k + 2, column="zone_code")
        wide = raw.assign(minutes=minutes).pivot(index="zone_code", columns="site_id", values="minutes")
        if wide.isna().any().any():
            z, s = np.argwhere(wide.isna().to_numpy())[0]
            raise InputError(f"no travel time for zone {wide.index[z]} to site {wide.columns[s]}", file=path,
                             expected="every zone-site pair")
        return wide
    if len(raw.columns) < 2:
        raise InputError("expected columns zone_code, site_id, minutes (long) or zone codes then one "
                         "column per site (wide)", file=path, column=raw.columns[0])
    wide = raw.set_index(raw.columns[0])
    values = wide.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise InputError(f"travel time {wide.iat[r, c]!r} is not a number of minutes >= 0", file=path, row=int(r) + 2,
                         column=str(wide.columns[c]))
    if wide.index.duplicated().any():
        k = int(np.flatnonzero(wide.index.duplicated())[0])
        raise InputError(f"zone {wide.index[k]} appears twice", file=path, row=k + 2, column=raw.columns[0])
    return values


def test_long_and_wide_files_read_the_same():
    long = read_travel(CUSTOM / "travel_long.csv").to_frame()
    wide = read_travel(CUSTOM / "travel_wide.csv").to_frame()
    pd.testing.assert_frame_equal(long, wide, check_names=False)


def test_new_reader_matches_the_old_one(tmp_path):
    """The one-pass reader gives the old reader's matrix on a small file with rows out of
    order (the old one pivoted: zones and sites sorted by code)."""
    rng = np.random.default_rng(5)
    rows = [(f"Z{i:02d}", f"S{j}", round(float(rng.uniform(1, 90)), 1)) for i in range(30) for j in range(7)]
    rng.shuffle(rows)
    f = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["zone_code", "site_id", "minutes"]).to_csv(f, index=False)
    old = old_read_travel(f)
    new = read_travel(f)
    assert list(new.zone_ids) == list(old.index) and list(new.site_ids) == list(old.columns)
    np.testing.assert_array_equal(new.minutes, old.to_numpy(float))
    w = tmp_path / "wide.csv"
    old.rename_axis("zone_code").to_csv(w)
    np.testing.assert_array_equal(read_travel(w).minutes, old_read_travel(w).to_numpy(float))


def test_zone_weights_follow_the_matrix_order(tmp_path):
    f = tmp_path / "z.csv"
    f.write_text("zone_code,demand\n B ,2\nA,1.5\nC,0\n")
    np.testing.assert_array_equal(read_zones(f, np.array(["A", "B", "C"], object)), [1.5, 2.0, 0.0])


@pytest.mark.parametrize("text, words, row, column", [
    ("zone_code,site_id,minutes\nA,s1,3\nA,s2,minus five\n", "'minus five' is not a number", 3, "minutes"),
    ("zone_code,site_id,minutes\nA,s1,3\nA,s2,-4\n", "'-4' is not a number of minutes >= 0", 3, "minutes"),
    ("zone_code,site_id,minutes\nA,s1,3\nA,s2,\n", "'' is not a number", 3, "minutes"),
    ("zone_code,site_id,minutes\nA,s1,3\nA,s1,4\n", "pair A -> s1 appears twice", 3, "zone_code"),
    ("zone_code,site_id,minutes\nA,s1,3\nB,s2,4\n", "no travel time for zone A to site s2", None, None),
    ("zone,s1,s2\nA,3,4\nB,5,x\n", "'x' is not a number", 3, "s2"),
    ("zone,s1,s2\nA,3,4\nA,5,6\n", "zone A appears twice", 3, "zone"),
    ("zone,s1,s1\nA,3,4\n", "column 's1' appears twice", None, "s1"),
    ("zone_code\nA\n", "expected columns zone_code, site_id, minutes", None, "zone_code"),
    ("", "no rows", None, None),
    ("zone_code,site_id,minutes\n", "no rows", None, None),
])
def test_bad_travel_files_are_named(tmp_path, text, words, row, column):
    f = tmp_path / "travel.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=words) as err:
        read_travel(f)
    assert "travel.csv" in str(err.value)
    assert err.value.row == row
    assert err.value.column == column


@pytest.mark.parametrize("text, words, row", [
    ("zone_code,weight\nA,1\n", "missing column 'demand'", None),
    ("zone_code,demand\nA,1\nB,lots\n", "demand 'lots' is not a number", 3),
    ("zone_code,demand\nA,1\nB,-2\n", "demand '-2' is not a number >= 0", 3),
    ("zone_code,demand\nA,1\nA,2\n", "zone A appears twice", 3),
    ("zone_code,demand\nA,1\n", "zone B of the travel matrix has no demand row", None),
    ("zone_code,demand\nA,1\nB,1\nQ,1\n", "zone Q is not in the travel matrix", 4),
])
def test_bad_zone_files_are_named(tmp_path, text, words, row):
    f = tmp_path / "zones.csv"
    f.write_text(text)
    with pytest.raises(InputError, match=words) as err:
        read_zones(f, np.array(["A", "B"], object))
    assert "zones.csv" in str(err.value) and err.value.row == row
