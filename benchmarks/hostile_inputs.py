"""Figures for the defences of issue 11: how long refusing a YAML bomb takes, adding and
re-reading a large option in the library, writing a whole result folder, and how many
solves run at once through the app's queue.

    python benchmarks/hostile_inputs.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(call, runs: int = 3) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def bomb(levels: int) -> bytes:
    lines = ["name: Bomb", "beds: {melton: {general: 20}}", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", '
             '"lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return ("\n".join([*lines, f"description: *l{levels - 1}"]) + "\n").encode()


def main() -> None:
    from optimiser import api
    from optimiser.errors import InputError
    from optimiser.options import OptionLibrary, shipped_options
    from optimiser.outputs import write_results
    from optimiser.scenario import default_scenario

    folder = Path(tempfile.mkdtemp(prefix="llr-bench-"))
    data = bomb(9)

    def refuse():
        try:
            OptionLibrary(folder / "bomb").import_file(data, "bomb.yaml")
        except InputError:
            return
        raise AssertionError("the bomb was accepted")

    med, _ = timed(refuse, 5)
    print(f"YAML bomb ({len(data)} bytes, 9 levels of aliases = 387 million strings): refused in {med * 1000:.2f} ms")

    rows = [[f"E0{1_000_000 + i}", "melton", "rehab", 0.5] for i in range(22_000)]
    big = yaml.safe_dump({"name": "Large", "beds": {"melton": {"general": 20}}, "virtual_beds": "current",
                          "assignment": rows}).encode()
    library = OptionLibrary(folder / "library")
    start = time.perf_counter()
    library.import_file(big, "large.yaml", replace=True)
    added = time.perf_counter() - start
    start = time.perf_counter()
    library.load_all()
    first = time.perf_counter() - start
    med, _ = timed(library.load_all, 5)
    print(f"option of {len(big) / 1e6:.2f} MB (22,000 routing rows; the library's cap is 1 MB): added in "
          f"{added:.1f} s, first library load after it {first * 1000:.0f} ms, later loads {med * 1000:.2f} ms "
          "(parsed once)")

    ds = api.load_dataset()
    sol = api.evaluate(default_scenario(), shipped_options()["Status quo"], ds)
    med, times = timed(lambda: write_results(sol, ds, folder / "out"), 3)
    print(f"whole result folder (6 files, manifest last, swapped in): median {med:.2f} s "
          f"({', '.join(f'{t:.2f}' for t in times)})")

    from optimiser.solve_queue import SLOTS
    print(f"solves at once through the app's queue on this machine: {SLOTS}")


if __name__ == "__main__":
    main()
