"""How sure are we: speed of the uncertainty sweep and the robust configuration on the LLR
default. Prints medians (not a test: the machine's load changes the figures).

    python benchmarks/uncertainty.py [--runs 3] [--futures 500] [--workers 1,2]
                                     [--robust-futures 100] [--skip-robust]

* the fast path per future: compiling a future from the central instance vs a full compile,
  and measuring an option in it (milliseconds, medians over 50 futures);
* 500 futures of the status quo on a Dask LocalCluster of 1 and 2 workers: wall time in all
  (cluster start, compile, draws, evaluation) and after the workers are up;
* the robust configuration planned for 100 futures at 90%: seconds, rounds, proven gap, and
  its out-of-sample reliability beside the point answer's.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def per_future(sc, ds, n: int = 50) -> None:
    from optimiser import api
    from optimiser.futures import FutureCompiler, OptionKernel, sample_futures, uncertain_figures

    compiler = FutureCompiler(ds, sc)
    kernel = OptionKernel(compiler.central, api.load_option(REPO / "data" / "options" / "status_quo.yaml"))
    drawn = sample_futures(uncertain_figures(sc), n, 1)
    fast, full, measure = [], [], []
    for i, (_, row) in enumerate(drawn.iterrows()):
        values = row.to_dict()
        t = time.perf_counter()
        inst = compiler.compile(values)
        fast.append(time.perf_counter() - t)
        t = time.perf_counter()
        kernel.measure(inst)
        measure.append(time.perf_counter() - t)
        if i < 5:
            t = time.perf_counter()
            compiler.full_compile(values)
            full.append(time.perf_counter() - t)
    print(f"  one future: fast compile median {1000 * statistics.median(fast):.1f} ms (full compile "
          f"{1000 * statistics.median(full):.0f} ms), measuring the status quo {1000 * statistics.median(measure):.1f} ms",
          flush=True)


def sweep(sc, ds, futures: int, workers: int, runs: int) -> None:
    from distributed import Client, LocalCluster

    from optimiser import api

    option = api.load_option(REPO / "data" / "options" / "status_quo.yaml")
    total, after = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
        t1 = time.perf_counter()
        result = api.uncertainty(sc, option, ds, samples=futures, seed=1, client=client)
        t2 = time.perf_counter()
        client.close()
        cluster.close()
        total.append(t2 - t0)
        after.append(t2 - t1)
    s = result.summary
    print(f"  {futures} futures, {workers} worker(s): median {statistics.median(total):.1f} s in all "
          f"(min {min(total):.1f}), {statistics.median(after):.1f} s once the cluster is up; "
          f"P(every hospital within target) {s['probability_every_hospital_meets_blocking_target']:.2f}, "
          f"cost p10-p90 £{s['annual_cost_gbp']['p10'] / 1e6:.1f}m-£{s['annual_cost_gbp']['p90'] / 1e6:.1f}m",
          flush=True)


def robust(sc, ds, futures: int, workers: int) -> None:
    from optimiser import api

    t = time.perf_counter()
    point = api.quick_solve(sc, ds)
    r = api.robust(sc, ds, samples=futures, reliability=0.9, seed=1, point=point, workers=workers)
    s = r.summary
    print(f"  robust, {futures} futures at 90%: {s['solve_seconds']:.0f} s to plan ({len(s['rounds'])} rounds, "
          f"{s['rounds'][-1]['futures_in_model']} futures in the last programme), proven gap "
          f"{s['proven_gap']:.2%}{' (STOPPED BY THE TIME LIMIT)' if s['stopped_by_time_limit'] else ''}; "
          f"{time.perf_counter() - t:.0f} s in all with the point answer and {s['out_of_sample']['futures']} "
          f"independent futures checked", flush=True)
    for v in s["validation"]["rounds"]:
        print(f"    validation round {v['round']}: planned for {v['futures_planned_for']} futures, met "
              f"{v['met']} of {v['validation_futures']} fresh ones, 95% lower bound {v['lower_bound']:.1%} "
              f"({v['plan_seconds']:.0f} s to plan)", flush=True)
    print(f"    in-sample {s['in_sample_reliability']:.0%}; out of sample: robust "
          f"{s['out_of_sample']['robust_reliability']:.0%}, point {s['out_of_sample']['point_reliability']:.0%}; "
          f"robust {s['robust']['physical_beds']:.0f} + {s['robust']['virtual_beds']:.0f} beds, point "
          f"{s['point']['physical_beds']:.0f} + {s['point']['virtual_beds']:.0f}", flush=True)
    for note in s["notes"]:
        print(f"    note: {note}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--futures", type=int, default=500)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--robust-futures", type=int, default=100)
    ap.add_argument("--skip-robust", action="store_true")
    args = ap.parse_args()
    from optimiser import api
    from optimiser.scenario import default_scenario

    sc = default_scenario()
    ds = api.dataset_for(sc)
    print("How sure are we? (LLR default)", flush=True)
    per_future(sc, ds)
    for w in (int(x) for x in args.workers.split(",")):
        sweep(sc, ds, args.futures, w, args.runs)
    if not args.skip_robust:
        robust(sc, ds, args.robust_futures, max(int(x) for x in args.workers.split(",")))


if __name__ == "__main__":
    main()
