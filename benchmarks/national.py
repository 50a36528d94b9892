"""A synthetic national-scale instance (default 33,000 zones x 150 sites), built through the
same Instance -> formulation path as LLR, solved to within 1% of optimal with both backends.
Prints build seconds, solve seconds, gap and peak memory.

    python benchmarks/national.py [--zones 33000] [--sites 150] [--time-limit 600] [--backends ortools,pulp]
    python benchmarks/national.py --quick-only --runs 3 [--from-quick]   # the quick answer only
    python benchmarks/national.py --p-median 30,60,100 [--gap 0.01]      # the same zones as a p-median

Zones cluster around towns (seeded, reproducible); travel minutes = 8 + 1.2 x km; each site
has bed options 0, 12, 16, ..., 64 with Erlang capacity at 5% blocking; fixed and per-bed
costs; a travel standard of 90% of the 65+ population that any site can reach within 30
minutes; longest journey 60 minutes.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace

import numpy as np

from optimiser.checker import check
from optimiser.instance import (
    CoverageRule,
    Instance,
    Rules,
    SolverSettings,
    Weights,
)
from optimiser.model.formulation import build
from optimiser.model.solve import solve_instance


def synthetic_instance(n_zones: int, n_sites: int, seed: int = 2026, backend: str = "ortools",
                       time_limit: float = 600.0, gap: float = 0.01) -> Instance:
    rng = np.random.default_rng(seed)
    towns = rng.uniform([0, 0], [450_000, 600_000], size=(n_sites * 2, 2))
    town_of = rng.integers(0, len(towns), n_zones)
    xy = towns[town_of] + rng.normal(0, 9_000, size=(n_zones, 2))
    site_xy = towns[rng.choice(len(towns), n_sites, replace=False)] + rng.normal(0, 2_000, size=(n_sites, 2))
    km = np.hypot(xy[:, None, 0] - site_xy[None, :, 0], xy[:, None, 1] - site_xy[None, :, 1]) / 1000
    travel = 8 + 1.2 * km
    pop = rng.gamma(6, 280, n_zones)
    pop65 = pop * rng.uniform(0.12, 0.28, n_zones)
    reach = (travel <= 60).any(axis=1)
    adm = np.where(reach, pop65 * 0.012, 0.0)                  # admissions a year
    # travel standard: 90% of what is reachable at all within 30 minutes (always feasible)
    has = adm > 0
    share30 = 0.9 * pop65[has & (travel <= 30).any(axis=1)].sum() / pop65[has].sum()
    n_d = 40
    district = np.minimum((xy[:, 0] // (450_000 / 8)).astype(int) * 5 + (xy[:, 1] // (600_000 / 5)).astype(int), n_d - 1)
    district = np.clip(district, 0, n_d - 1)
    inst = Instance.from_arrays(
        travel, adm, bed_steps=[0] + list(range(12, 65, 4)), los_days=25.0, fixed_cost=750_000.0,
        cost_per_bed=110_000.0, max_beds=np.full(n_sites, 64), max_travel=60.0, population=pop, population_65=pop65,
        district=district, zone_ids=[f"Z{i:05d}" for i in range(n_zones)],
        site_ids=[f"S{j:03d}" for j in range(n_sites)], name=f"synthetic {n_zones} x {n_sites}", ward="general",
        rules=Rules(single_assignment=False,
                    coverage=(CoverageRule(pathway=0, threshold_minutes=30.0, share=share30, population="65_plus"),)),
        weights=Weights(cost=1.0, travel=5.0, unmet=5000.0),
        solver=SolverSettings(backend=backend, time_limit_seconds=time_limit, mip_gap=gap))
    return replace(inst, pathways=replace(inst.pathways, ids=("rehab",), labels=("Rehabilitation",)),
                   districts=replace(inst.districts, ids=np.array([f"D{d}" for d in range(n_d)], object),
                                     names=np.array([f"District {d}" for d in range(n_d)], object)),
                   district_site_travel=np.zeros((n_d, n_sites)))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_quick(args, backend: str) -> None:
    """The quick answer (median of ``args.runs``), then optionally the full model from it."""
    from optimiser.configuration import Configuration
    from optimiser.model.quick import quick_solve

    inst = synthetic_instance(args.zones, args.sites, backend=backend, time_limit=args.time_limit)
    times, sol = [], None
    for run in range(args.runs):
        t = time.perf_counter()
        sol = quick_solve(inst)
        times.append(time.perf_counter() - t)
        if sol is None:
            print(f"  {backend:8s} quick answer not found at full resolution", flush=True)
            return
        how = next((n for n in sol.notes if n.startswith("quick answer:")), "")
        how = how.removeprefix("quick answer: ").split(", then")[0]
        print(f"  {backend:8s} quick answer run {run + 1}: £{sol.objective:,.0f}, proven within "
              f"{sol.optimality_gap:.2%} by the LP bound ({how}); {times[-1]:.1f} s; "
              f"peak memory {peak_rss_mb():,.0f} MB", flush=True)
    print(f"  {backend:8s} quick answer: median {np.median(times):.1f} s over {len(times)} runs "
          f"(min {min(times):.1f}, max {max(times):.1f})", flush=True)
    report = check(sol)
    print(f"  {backend:8s} checker on the quick answer: {'every constraint and the objective hold' if report.ok else report.summary()}",
          flush=True)
    if args.from_quick:
        t = time.perf_counter()
        full = solve_instance(inst, start=Configuration.of(sol))
        print(f"  {backend:8s} full model started from the quick answer: {full.status}, £{full.objective:,.0f}, "
              f"gap {(full.optimality_gap or 0):.2%}, {time.perf_counter() - t:.1f} s", flush=True)


def time_p_median(args, backend: str) -> None:
    """The synthetic zones and sites as a classical p-median (admissions as weights, every site
    a candidate, no travel limit), solved by the p-median path for each p."""
    base = synthetic_instance(args.zones, args.sites)
    for p in [int(x) for x in args.p_median.split(",")]:
        t = time.perf_counter()
        inst = Instance.p_median(base.travel, p, base.hospital_admissions[:, 0], name=f"{base.name} p-median p={p}",
                                 zone_ids=base.zones.ids, site_ids=base.sites.ids,
                                 solver=SolverSettings(backend=backend, time_limit_seconds=args.time_limit,
                                                       mip_gap=args.gap))
        sol = solve_instance(inst)
        secs = time.perf_counter() - t
        report = check(sol)
        print(f"  {backend:8s} p={p:<4d} {sol.status:9s} objective {sol.objective:,.1f}  gap {(sol.optimality_gap or 0):.3%}  "
              f"mean {sol.metrics['mean_travel_minutes']:.2f} min  {secs:.1f} s  peak memory {peak_rss_mb():,.0f} MB  "
              f"checker {'ok' if report.ok else report.summary()}", flush=True)
        print(f"           {sol.notes[-1] if len(sol.notes) else ''}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zones", type=int, default=33_000)
    ap.add_argument("--sites", type=int, default=150)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--backends", default="ortools,pulp")
    ap.add_argument("--quick", action="store_true",
                    help="time the quick answer (grouped areas or the rounded LP relaxation, exact "
                         "routing, LP-bound gap) with each backend before the full model")
    ap.add_argument("--quick-only", action="store_true", help="the quick answer only, not the full model")
    ap.add_argument("--runs", type=int, default=1, help="quick answer runs (the median is printed)")
    ap.add_argument("--from-quick", action="store_true",
                    help="also solve the full model starting from the quick answer (OR-Tools uses the start)")
    ap.add_argument("--p-median", default="", help="solve the same zones and sites as a p-median for these p")
    ap.add_argument("--gap", type=float, default=0.01, help="the p-median's gap tolerance")
    args = ap.parse_args()
    if args.p_median:
        for backend in [b for b in args.backends.split(",") if b]:
            time_p_median(args, backend)
        return
    for backend in [b for b in args.backends.split(",") if b]:
        t = time.perf_counter()
        inst = synthetic_instance(args.zones, args.sites, backend=backend, time_limit=args.time_limit)
        t_inst = time.perf_counter() - t
        t = time.perf_counter()
        f = build(inst)
        prog = f.lp.freeze(inst.weights.as_dict())
        t_build = time.perf_counter() - t
        print(f"{inst.name}: {prog.shape[1]:,} columns, {prog.shape[0]:,} rows, {prog.matrix.nnz:,} non-zeros; "
              f"instance {t_inst:.1f} s, model build {t_build:.2f} s", flush=True)
        if args.quick or args.quick_only:
            time_quick(args, backend)
        if args.quick_only:
            continue
        t = time.perf_counter()
        try:
            sol = solve_instance(inst)
            secs = time.perf_counter() - t
            print(f"  {backend:8s} {sol.status:9s} objective £{sol.objective:,.0f}  gap "
                  f"{(sol.optimality_gap or 0):.2%}  total {secs:.1f} s  peak memory {peak_rss_mb():,.0f} MB", flush=True)
        except Exception as exc:  # noqa: BLE001 - report every outcome
            print(f"  {backend:8s} failed after {time.perf_counter() - t:.1f} s: {exc}", flush=True)


if __name__ == "__main__":
    main()
