"""Access measured on the dataset's second travel matrix (e.g. public transport), reported
with every answer beside the road-time measures when the dataset has one.

The measures mirror the road ones in :func:`optimiser.solution.compute_metrics` (the
reference pathway's catchments, weighted by residents and the plan's shares), on the second
matrix's minutes; a zone with no route to its hospital by this means counts as beyond every
threshold and is left out of the mean (the share with no route is reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from optimiser.instance import Instance
    from optimiser.solution import Tables

SECOND_THRESHOLDS = (30, 45, 60)
SUFFIX = "_second_matrix"


def second_matrix_metrics(inst: Instance, tables: Tables) -> dict[str, float]:
    """Mean minutes, shares within 30/45/60 minutes and the share with no route, for
    residents aged 65+ and all residents, on the second matrix (empty without one)."""
    if inst.second_travel is None:
        return {}
    from optimiser.solution import reference_pathway

    a = tables.assignment
    pid = inst.pathways.ids[reference_pathway(inst)]
    a = a[a["pathway"] == pid] if len(a) else a
    zi = pd.Index(inst.zones.ids).get_indexer(a["zone_code"]) if len(a) else np.zeros(0, int)
    si = pd.Index(inst.sites.ids).get_indexer(a["site_id"]) if len(a) else np.zeros(0, int)
    share = a["share"].to_numpy(float) if len(a) else np.zeros(0)
    minutes = inst.second_travel[zi, si] if len(a) else np.zeros(0)
    route = np.isfinite(minutes)
    m: dict[str, float] = {}
    for label, pop in (("65_plus", inst.zones.population_65), ("all", inst.zones.population)):
        w = pop[zi] * share
        total = pop.sum()
        m[f"mean_travel_minutes_{label}{SUFFIX}"] = (float((w[route] * minutes[route]).sum() / w[route].sum())
                                                    if w[route].sum() > 0 else float("nan"))
        for t in SECOND_THRESHOLDS:
            m[f"share_within_{t}_minutes_{label}{SUFFIX}"] = (float(w[route & (minutes <= t + 1e-9)].sum() / total)
                                                             if total > 0 else float("nan"))
        m[f"share_no_route_{label}{SUFFIX}"] = float(w[~route].sum() / total) if total > 0 else float("nan")
    return m
