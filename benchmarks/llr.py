"""LLR default at LSOA level: compile, build and solve seconds for both backends (wall and
this process's CPU seconds, which the machine's load disturbs less), a workshop-style
re-solve (one setting changed), the quick answer, the whole `solve --quick` process, and
evaluate mode. Prints medians of several runs, the proven gap and the branch-and-bound's
node count ("Best" is solved by optimiser.model.exact on grouped relaxations).

    python benchmarks/llr.py [--runs 3] [--backends ortools,pulp] [--quick-only] [--no-near-ties]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from optimiser import api
from optimiser.checker import check
from optimiser.model.formulation import build
from optimiser.model.solve import solve_instance
from optimiser.options import shipped_options
from optimiser.scenario import default_scenario

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def timed_cpu(fn):
    """(wall seconds, CPU seconds of this process and its threads, result)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def load_note() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    except OSError:
        return "load unknown"


def cli_quick_process(runs: int) -> None:
    """The whole `python -m optimiser solve --quick --out D` process: import, load, compile,
    solve, write. Python may keep compiled bytecode (as an installed package does: pip
    compiles it at install), so one run first writes it and is not counted; a session that
    sets PYTHONDONTWRITEBYTECODE would otherwise compile the package's sources on every run
    (about 0.5 s of CPU here). Wall and the child's CPU seconds (user + system)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    walls, cpus = [], []
    for k in range(runs + 1):
        with tempfile.TemporaryDirectory() as out:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "optimiser", "solve", "--quick", "--out", str(Path(out) / "r")],
                           check=True, capture_output=True, env=env)
            wall = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if k:   # the first run writes the bytecode
            walls.append(wall)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(f"  whole `solve --quick --out` process: median {statistics.median(walls):.2f} s wall "
          f"(min {min(walls):.2f}), {statistics.median(cpus):.2f} s CPU over {runs} runs; {load_note()}", flush=True)


def time_quick(sc, ds, backend: str, runs: int) -> None:
    """The quick answer from scratch, then a workshop's sequence of one-setting moves, each
    re-solved from the previous answer."""
    api.quick_solve(sc, ds)     # the first in a process also calibrates (kept for later compiles)
    quick, quick_cpu = [], []
    for _ in range(runs):
        secs, cpu, sol = timed_cpu(lambda: api.quick_solve(sc, ds))
        quick.append(secs)
        quick_cpu.append(cpu)
    print(f"  {backend:8s} quick answer from scratch (api.quick_solve, compiled afresh): median "
          f"{statistics.median(quick):.2f} s wall, {statistics.median(quick_cpu):.2f} s CPU over {runs} runs "
          f"(min {min(quick):.2f} s wall); objective £{sol.objective:,.0f}; proven gap <= {sol.optimality_gap:.2%}; "
          f"{sol.solver}; {load_note()}", flush=True)
    moves = [{"travel.max_minutes": 40}, {"travel.max_minutes": 50}, {"travel.max_minutes": 45},
             {"travel.standard.share": 0.90}, {"travel.standard.share": 0.97}, {"travel.standard.share": 0.95},
             {"utilisation.blocking_target": 0.02}, {"utilisation.blocking_target": 0.05},
             {"min_beds_per_open_site": 20}, {"min_beds_per_open_site": 16}]
    resolve, resolve_cpu, gaps = [], [], []
    for _ in range(runs):
        settings = {}
        for move in moves:
            settings.update(move)
            s = sc.with_changes(**settings)
            # no start from the previous answer: the same settings must give the same answer
            secs, cpu, answer = timed_cpu(lambda s=s: api.quick_solve(s, ds))
            resolve.append(secs)
            resolve_cpu.append(cpu)
            gaps.append(answer.optimality_gap or 0.0)
    print(f"  {backend:8s} workshop re-solve (quick, one setting moved, from scratch): median "
          f"{statistics.median(resolve):.2f} s wall, {statistics.median(resolve_cpu):.2f} s CPU over "
          f"{len(resolve)} re-solves (min {min(resolve):.2f}, max {max(resolve):.2f} s wall); proven gap median "
          f"{statistics.median(gaps):.2%}, max {max(gaps):.2%}; {load_note()}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backends", default="ortools,pulp")
    ap.add_argument("--quick-only", action="store_true", help="time only the quick answer and evaluate")
    ap.add_argument("--no-near-ties", action="store_true",
                    help="skip the api.solve rows (Best with its near-tie search: minutes each)")
    args = ap.parse_args()
    ds = api.load_dataset()
    sc = default_scenario()
    compile_s = [timed(lambda: api.instance_for(sc, ds))[0] for _ in range(args.runs)]
    inst = api.instance_for(sc, ds)
    build_s = [timed(lambda: build(inst))[0] for _ in range(args.runs)]
    f = build(inst)
    prog = f.lp.freeze(inst.weights.as_dict())
    print(f"LLR default: {inst.n_zones} zones x {inst.n_sites} sites; {prog.matrix.shape[1]:,} columns, "
          f"{prog.matrix.shape[0]:,} rows, {prog.matrix.nnz:,} non-zeros")
    print(f"  compile (calibration cached after the first): median {statistics.median(compile_s):.2f} s; "
          f"build: median {statistics.median(build_s):.3f} s over {args.runs} runs; {load_note()}")
    for backend in ([] if args.quick_only else args.backends.split(",")):
        s = sc.with_changes(**{"solver.backend": backend})
        b_inst = api.instance_for(s, ds)
        walls, cpus, gaps = [], [], []
        for _ in range(args.runs):
            wall, cpu, sol = timed_cpu(lambda b_inst=b_inst, s=s: solve_instance(b_inst, s.name))
            walls.append(wall)
            cpus.append(cpu)
            gaps.append(sol.optimality_gap or 0.0)
        print(f"  {backend:8s} Best (solve only, compiled instance): median {statistics.median(walls):.2f} s wall, "
              f"{statistics.median(cpus):.2f} s CPU; proven gap <= {max(gaps):.2%}; objective £{sol.objective:,.0f}; "
              f"{sol.solver}; checker {'ok' if check(sol).ok else 'FAILED'}", flush=True)
    rows = []
    for backend in ([] if args.quick_only or args.no_near_ties else args.backends.split(",")):
        for label, changes in (("default", {}), ("workshop change: max travel 40 min", {"travel.max_minutes": 40}),
                               ("workshop change: 90% within 30 min", {"travel.standard.share": 0.90})):
            s = sc.with_changes(**{"solver.backend": backend, **changes})
            times, gaps, objs = [], [], []
            for _ in range(args.runs):
                secs, sol = timed(lambda s=s: api.solve(s, ds))
                times.append(secs)
                gaps.append(sol.optimality_gap or 0.0)
                objs.append(sol.objective)
            rows.append((backend, label, statistics.median(times), min(times), max(times), max(gaps), objs[0]))
            print(f"  {backend:8s} {label:40s} median {statistics.median(times):6.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}); gap <= {max(gaps):.2%}; objective £{objs[0]:,.0f}",
                  flush=True)
    for backend in args.backends.split(","):
        time_quick(sc.with_changes(**{"solver.backend": backend}), ds, backend, args.runs)
    cli_quick_process(args.runs)
    ev = []
    for _ in range(args.runs):
        for o in shipped_options().values():
            ev.append(timed(lambda o=o: api.evaluate(sc, o, ds))[0])
    print(f"  evaluate an option: median {statistics.median(ev):.2f} s over {len(ev)} runs")
    if not rows:     # the api.solve rows were skipped: keep the last full run's table
        return
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "llr.csv", "w") as fh:
        fh.write("backend,case,median_s,min_s,max_s,max_gap,objective\n")
        for r in rows:
            fh.write(",".join(str(v) for v in r) + "\n")


if __name__ == "__main__":
    main()
