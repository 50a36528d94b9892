"""OR-Library pmed1-40: solve each to proven optimality with both backends and compare with
the published optimum. Prints a table (seconds per solve, from the distance matrix), the total
per backend, the slowest instance, PuLP/CBC's time as a multiple of OR-Tools', and the whole
process's seconds and peak memory; writes benchmarks/results/pmed.csv.

    python benchmarks/pmed.py [--only pmed1,pmed2] [--backends ortools,pulp] [--time-limit 600]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import time
from pathlib import Path

PROCESS_STARTED = time.perf_counter()

from optimiser.instance import Instance, SolverSettings  # noqa: E402
from optimiser.model.solve import solve_instance  # noqa: E402
from optimiser.orlib import read_optima, read_pmed  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "benchmarks" / "orlib-pmed"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (CBC runs as a child): on a shared,
    busy machine a fairer yardstick than the wall clock."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--backends", default="ortools,pulp")
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    data = Path(args.data)
    optima = read_optima(data / "pmedopt.txt")
    names = args.only.split(",") if args.only else [f"pmed{k}" for k in range(1, 41)]
    out = HERE / "results"
    suffix = "" if args.backends == "ortools,pulp" else "_" + args.backends.replace(",", "_")
    suffix += "_subset" if args.only else ""        # a re-run of a few never overwrites all 40
    out.mkdir(exist_ok=True)
    rows = []
    print(f"{'instance':9s} {'n':>4s} {'p':>3s} {'optimum':>8s} {'backend':8s} {'objective':>10s} "
          f"{'seconds':>8s} {'status':10s} match {'cpu s':>7s}", flush=True)
    for name in names:
        dist, p = read_pmed(data / f"{name}.txt")
        for backend in args.backends.split(","):
            inst = Instance.p_median(dist, p, name=name, solver=SolverSettings(
                backend=backend, time_limit_seconds=args.time_limit, mip_gap=0.0))
            t, cpu = time.perf_counter(), _cpu()
            try:
                sol = solve_instance(inst)
                obj, status = sol.objective, sol.status
            except Exception as exc:  # noqa: BLE001 - a benchmark reports every outcome
                obj, status = float("nan"), type(exc).__name__
            secs = time.perf_counter() - t
            cpu = _cpu() - cpu
            match = abs(obj - optima[name]) < 0.5 and status == "optimal"
            rows.append([name, len(dist), p, optima[name], backend, obj, round(secs, 2), status, match, round(cpu, 2)])
            print(f"{name:9s} {len(dist):4d} {p:3d} {optima[name]:8.0f} {backend:8s} {obj:10.1f} {secs:8.2f} "
                  f"{status:10s} {'yes' if match else 'NO':5s} {cpu:7.2f}", flush=True)
    backends = args.backends.split(",")
    for backend in backends:
        mine = [r for r in rows if r[4] == backend]
        slowest = max(mine, key=lambda r: r[6])
        print(f"{backend}: {sum(r[8] for r in mine)} of {len(mine)} proven optimal and equal to the optimum; "
              f"{sum(r[6] for r in mine):.1f} s in all (CPU {sum(r[9] for r in mine):.1f} s); slowest {slowest[0]} "
              f"{slowest[6]:.1f} s", flush=True)
    if len(backends) == 2:
        by = {(r[0], r[4]): r[6] for r in rows}
        ratios = [(by[(n, backends[1])] / max(by[(n, backends[0])], 1e-9), n) for n in names]
        worst = max(ratios)
        print(f"{backends[1]} / {backends[0]} time: at most {worst[0]:.1f}x ({worst[1]})", flush=True)
    print(f"whole process {time.perf_counter() - PROCESS_STARTED:.1f} s; peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; load average {os.getloadavg()[0]:.2f}")
    with open(out / f"pmed{suffix}.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instance", "n", "p", "optimum", "backend", "objective", "seconds", "status", "match", "cpu_seconds"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
