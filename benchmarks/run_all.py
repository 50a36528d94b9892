"""Run every benchmark script in turn (each prints its own figures).

    python benchmarks/run_all.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {"llr.py": [], "pmed.py": [], "hostile_inputs.py": [],
           "national.py": ["--quick", "--runs", "3", "--time-limit", "300"], "uncertainty.py": []}

if __name__ == "__main__":
    failed = 0
    for name, extra in SCRIPTS.items():
        path = HERE / name
        if not path.exists():
            print(f"== {name}: missing", flush=True)
            failed += 1
            continue
        print(f"== {name}", flush=True)
        failed += subprocess.call([sys.executable, str(path), *extra]) != 0
    sys.exit(1 if failed else 0)
