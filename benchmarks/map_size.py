"""How heavy the Workshop map is for a browser: points drawn and figure JSON bytes, per trace
kind, for the default LLR answer (status quo evaluated, so no solve is needed). Not a test:
prints figures. .venv/bin/python benchmarks/map_size.py"""

from __future__ import annotations

import time

from optimiser import api, maps
from optimiser.scenario import default_scenario


def main() -> None:
    ds = api.load_dataset()
    sol = api.evaluate(default_scenario(), api.shipped_options()["Status quo"], ds)
    t0 = time.perf_counter()
    layers = maps.map_layers(ds, sol)
    t1 = time.perf_counter()
    fig = maps.plotly_map(layers, height=640)
    t2 = time.perf_counter()
    js = fig.to_json()
    t3 = time.perf_counter()
    source = sum(len(r.coords) for g in ds.zones.geometry for p in getattr(g, "geoms", [g])
                 for r in [p.exterior, *p.interiors])
    areas = sum(len(t.x) - list(t.x).count(None) for t in fig.data if t.fill == "toself")
    lines = sum(len(t.x) - list(t.x).count(None) for t in fig.data
                if t.mode == "lines" and t.fill != "toself" and t.name != "areas")
    print(f"small-area outline points: source {source}, drawn {areas}")
    print(f"boundary/catchment line points drawn: {lines}")
    print(f"traces: {len(fig.data)}; figure JSON: {len(js):,} bytes")
    print(f"map_layers {t1 - t0:.3f} s, plotly_map {t2 - t1:.3f} s, to_json {t3 - t2:.3f} s")


if __name__ == "__main__":
    main()
