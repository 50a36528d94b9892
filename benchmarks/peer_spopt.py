"""Side by side with a peer: OR-Library pmed instances solved by this project (OR-Tools by
default) and by spopt 0.6.1's ``PMedian`` with CBC (PuLP's bundled solver), on the same
distance matrix in the same process. Prints both tools' seconds, their objectives and the
ratio per instance. Each tool solves one warm-up instance first (imports and solver start-up
are not what is compared; the whole-process figures are ``benchmarks/pmed.py``'s).

spopt is not a dependency of this project: it lives in its own virtual environment,

    python3.11 -m venv .venv-peer && .venv-peer/bin/pip install -e . spopt==0.6.1
    .venv-peer/bin/python benchmarks/peer_spopt.py [--only pmed1,pmed2] [--runs 3] [--backend ortools]

and writes benchmarks/results/peer_spopt.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from optimiser.instance import Instance, SolverSettings
from optimiser.model.solve import solve_instance
from optimiser.orlib import read_optima, read_pmed

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "benchmarks" / "orlib-pmed"


def _cpu() -> float:
    """CPU seconds of this process and its finished children (CBC runs as a child)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def spopt_seconds(dist: np.ndarray, p: int) -> tuple[float, float]:
    """spopt's p-median from the cost matrix, solved by CBC: (seconds, objective)."""
    import pulp
    from spopt.locate import PMedian

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PMedian.from_cost_matrix(dist, np.ones(len(dist)), p_facilities=p)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    seconds = time.perf_counter() - started
    return seconds, float(pulp.value(model.problem.objective))


def our_seconds(dist: np.ndarray, p: int, backend: str) -> tuple[float, float, str]:
    started = time.perf_counter()
    sol = solve_instance(Instance.p_median(dist, p, solver=SolverSettings(backend=backend, mip_gap=0.0,
                                                                         time_limit_seconds=600)))
    return time.perf_counter() - started, float(sol.objective), sol.status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(f"pmed{k}" for k in range(1, 16)))
    ap.add_argument("--runs", type=int, default=3, help="runs per tool and instance (the median is printed)")
    ap.add_argument("--backend", default="ortools", choices=["ortools", "pulp"])
    ap.add_argument("--data", default=str(DATA))
    args = ap.parse_args()
    try:
        import spopt
    except ImportError:
        sys.exit("spopt is not installed here: python3.11 -m venv .venv-peer && "
                 ".venv-peer/bin/pip install -e . spopt==0.6.1, then run this with .venv-peer/bin/python")
    data = Path(args.data)
    optima = read_optima(data / "pmedopt.txt")
    load = os.getloadavg()[0]
    print(f"spopt {spopt.__version__} (CBC) vs this project ({args.backend}); load average {load:.2f}; "
          f"median of {args.runs} runs", flush=True)
    warm, warm_p = read_pmed(data / "pmed1.txt")
    spopt_seconds(warm, warm_p)
    our_seconds(warm, warm_p, args.backend)
    print(f"{'instance':9s} {'n':>4s} {'p':>3s} {'optimum':>8s} {'spopt s':>9s} {'spopt obj':>10s} "
          f"{'ours s':>8s} {'ours obj':>9s} {'ratio':>7s} {'CPU ratio':>9s}", flush=True)
    rows = []
    for name in args.only.split(","):
        dist, p = read_pmed(data / f"{name}.txt")
        theirs, ours, theirs_cpu, ours_cpu = [], [], [], []
        for _ in range(args.runs):
            c = _cpu()
            s_sec, s_obj = spopt_seconds(dist, p)
            theirs_cpu.append(_cpu() - c)
            c = _cpu()
            o_sec, o_obj, status = our_seconds(dist, p, args.backend)
            ours_cpu.append(_cpu() - c)
            theirs.append(s_sec)
            ours.append(o_sec)
        s_med, o_med = statistics.median(theirs), statistics.median(ours)
        ratio = s_med / o_med
        cpu_ratio = statistics.median(theirs_cpu) / max(statistics.median(ours_cpu), 1e-9)
        rows.append([name, len(dist), p, optima[name], round(s_med, 3), s_obj, round(o_med, 3), o_obj, status,
                     round(ratio, 1), round(cpu_ratio, 1)])
        flag = "" if abs(o_obj - optima[name]) < 0.5 and abs(s_obj - optima[name]) < 0.5 else "  OBJECTIVES DIFFER"
        print(f"{name:9s} {len(dist):4d} {p:3d} {optima[name]:8.0f} {s_med:9.2f} {s_obj:10.0f} {o_med:8.3f} "
              f"{o_obj:9.0f} {ratio:6.1f}x {cpu_ratio:6.1f}x{flag}", flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    with open(out / "peer_spopt.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["instance", "n", "p", "optimum", "spopt_seconds", "spopt_objective", "our_seconds",
                    "our_objective", "our_status", "ratio", "cpu_ratio"])
        w.writerows(rows)
    print(f"smallest ratio {min(r[-2] for r in rows):.1f}x (CPU time: {min(r[-1] for r in rows):.1f}x); "
          f"load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
