"""What drives the answer: a tornado, a waterfall and per-site robustness.

* **Tornado** (:func:`tornado`): each uncertain figure at its low and at its high (its 80%
  range; or each named variant), every other figure central, the scenario optimised again ->
  the change in total beds, cost and the hospitals keeping beds. The central bar is the point
  answer itself (the same solve with every figure central).
* **Waterfall** (:func:`waterfall`): from today's beds to the recommendation in five steps,
  each a stated simplification computed with the model's own pieces (no solve):
  demographic growth (today's beds grown with the calibrated demand), length of stay (the
  change in stays between today and the horizon: none in a scenario that keeps today's
  stays), the home-based shift (suitable patients whom today's home-based beds turn away,
  and who take hospital beds today, cared for at home instead), the queueing target (today's
  units resized from today's occupancy to the occupancy the blocking target allows at their
  size), and consolidation (the rest: fewer, larger units, ward steps and minimum sizes, and
  the optimiser's cost and travel trade-offs). The bars add up to the recommendation.
* **Per-site robustness** (:func:`site_robustness`): the scenario optimised in each of many
  futures drawn from the ranges (beds chosen on groups of small areas, as the quick answer
  does): the share of futures in which each hospital keeps beds, and its beds at the 10th,
  50th and 90th percentiles; and pairs of hospitals that swap places ("Melton versus Rutland
  is a coin flip").

Every solve runs on Dask (:mod:`optimiser.parallel`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.errors import OptimiserError
from optimiser.futures import (
    FutureCompiler,
    UncertainFigure,
    figure_label,
    sample_futures,
    uncertain_figures,
)
from optimiser.instance import Instance
from optimiser.queueing import max_load
from optimiser.scenario import Scenario
from optimiser.solution import Solution

Progress = Callable[[int, int], None]
TORNADO_MEASURES = ("total_beds", "physical_beds", "virtual_beds", "annual_cost_gbp", "open_sites")


# ---------------------------------------------------------------------------------------
# the tornado
# ---------------------------------------------------------------------------------------

def _answer_record(sol: Solution | None, error: str = "") -> dict:
    if sol is None:
        return {"status": "no configuration", "error": error,
                **{k: float("nan") for k in TORNADO_MEASURES}, "sites_keeping_beds": ""}
    m = sol.metrics
    sites = sol.sites
    keeping = sites.loc[sites["beds"] > 0, "site_id"].astype(str).tolist()
    return {"status": sol.status, "error": "", "total_beds": float(m["physical_beds"] + m["virtual_beds"]),
            "physical_beds": float(m["physical_beds"]), "virtual_beds": float(m["virtual_beds"]),
            "annual_cost_gbp": float(m["annual_cost_gbp"]), "open_sites": float(m["open_sites"]),
            "sites_keeping_beds": " ".join(keeping),
            "beds_by_site": {str(s): int(b) for s, b in zip(sites["site_id"], sites["beds"], strict=True)}}


class SolveJob:
    """Optimise the scenario with some figures changed (quick answer, or the full solve)."""

    def __init__(self, scenario: Scenario, dataset: Dataset, best: bool, integer_keys: set[str]) -> None:
        self.scenario_yaml = scenario.to_yaml()
        self.base_dir = scenario.base_dir
        self.dataset = dataset
        self.best = best
        self.integer_keys = integer_keys

    def scenario(self) -> Scenario:
        import yaml

        from optimiser.scenario import scenario_from_dict

        data = yaml.safe_load(self.scenario_yaml)
        data["base_dir"] = self.base_dir
        return scenario_from_dict(data)

    def run(self, items: list[tuple[str, dict[str, float]]]) -> list[tuple[str, dict]]:
        from optimiser import api

        base = self.scenario()
        out = []
        for label, values in items:
            changes = {k: (int(round(v)) if k in self.integer_keys else float(v)) for k, v in values.items()}
            try:
                sc = base.with_changes(**changes) if changes else base
                sol = api.solve(sc, self.dataset) if self.best else api.quick_solve(sc, self.dataset)
                out.append((label, _answer_record(sol)))
            except OptimiserError as exc:
                out.append((label, _answer_record(None, str(exc).splitlines()[0])))
        return out


def _solve_chunk(job: SolveJob, items: list) -> list:
    return job.run(items)


@dataclass(frozen=True)
class Tornado:
    central: dict
    table: pd.DataFrame          # one row per figure: low/high values and the answer at each
    best: bool

    def plot(self, measure: str = "total_beds"):
        """A matplotlib figure of the tornado for one measure."""
        return tornado_figure(self, measure)


def tornado(scenario: Scenario, dataset: Dataset, *, best: bool = False, scheduler: str | None = None,
            workers: int | None = None, client=None, progress: Progress | None = None) -> Tornado:
    """Each uncertain figure at its low and high (others central), optimised again; the
    central bar is the point answer (the quick answer, or with ``best`` the full solve)."""
    from optimiser.parallel import chunked, dask_client, map_chunks

    figures = uncertain_figures(scenario)
    if not figures:
        raise OptimiserError("the scenario gives no figure a range (low/high) or variants: nothing to vary")
    items: list[tuple[str, dict[str, float]]] = [("central", {})]
    for f in figures:
        ends = ([("low", f.low), ("high", f.high)] if f.has_range else [(name, v) for name, v in f.variants])
        for end, value in ends:
            items.append((f"{f.key}|{end}", {f.key: value}))
    job = SolveJob(scenario, dataset, best, {f.key for f in figures if f.integer})
    with dask_client(scheduler, workers, client) as c:
        chunks = chunked(items, max(len(items), 1))   # one solve per task: they take seconds each
        parts = map_chunks(_solve_chunk, job, chunks, c, progress=progress, weights=[len(ch) for ch in chunks])
    answers = dict(a for part in parts for a in part)
    central = answers["central"]
    rows = []
    for f in figures:
        ends = ([("low", f.low), ("high", f.high)] if f.has_range else [(name, v) for name, v in f.variants])
        for end, value in ends:
            a = answers[f"{f.key}|{end}"]
            rows.append({"figure": f.key, "label": f.label(), "end": end, "value": value, "central_value": f.value,
                         "status": a["status"], "note": a["error"],
                         **{k: a[k] for k in TORNADO_MEASURES},
                         **{f"change_{k}": a[k] - central[k] for k in TORNADO_MEASURES},
                         "sites_keeping_beds": a["sites_keeping_beds"],
                         "sites_changed": _sites_changed(central, a)})
    table = pd.DataFrame(rows)
    swing = table.groupby("figure")["change_total_beds"].agg(lambda s: np.nanmax(np.abs(s)) if s.notna().any() else -1)
    table["swing_total_beds"] = table["figure"].map(swing)
    table = table.sort_values(["swing_total_beds", "figure", "end"], ascending=[False, True, True]).reset_index(drop=True)
    return Tornado(central, table, best)


def _sites_changed(central: dict, answer: dict) -> str:
    if "beds_by_site" not in answer or "beds_by_site" not in central:
        return ""
    a, c = answer["beds_by_site"], central["beds_by_site"]
    out = []
    for site in c:
        if (a.get(site, 0) > 0) != (c[site] > 0):
            out.append(f"{site} {'keeps' if a.get(site, 0) > 0 else 'loses'} beds")
    return "; ".join(out)


def tornado_figure(t: Tornado, measure: str = "total_beds"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = t.table
    figs = list(dict.fromkeys(table["figure"]))
    labels = [table.loc[table["figure"] == f, "label"].iloc[0] for f in figs]
    base = float(t.central[measure])
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(figs) + 1.5))
    for y, f in enumerate(figs):
        rows = table[table["figure"] == f]
        for _, r in rows.iterrows():
            v = r[measure]
            if not np.isfinite(v):
                continue
            colour = "#1f77b4" if r["end"] == "low" else "#d62728" if r["end"] == "high" else "#7f7f7f"
            ax.barh(y, v - base, left=base, color=colour, alpha=0.85)
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(range(len(figs)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(f"{measure.replace('_', ' ')} (central answer {base:,.0f}; blue: figure at its low, red: at its high)")
    ax.set_title("What moves the answer: each figure at the ends of its 80% range, the rest central")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------
# the waterfall
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Waterfall:
    steps: pd.DataFrame          # step, label, change_beds, beds_after, explanation
    today: float
    recommendation: float

    def plot(self):
        return waterfall_figure(self)


def waterfall(scenario: Scenario, dataset: Dataset, recommendation: Solution, central: Instance | None = None) -> Waterfall:
    """From today's beds (hospital and home-based) to ``recommendation`` (see the module
    docstring); the bars add up to the recommendation's beds."""
    from optimiser import api
    from optimiser.flow import patient_flow
    from optimiser.instance import _base_year

    inst = central if central is not None else api.instance_for(scenario, dataset)
    base_year = int(_base_year(dataset, scenario))
    base = api.instance_for(scenario.with_changes(horizon_year=base_year), dataset)
    opt = inst.bed_choices
    units_today = opt.unit_current.astype(int)
    hubs_today = (inst.districts.current_virtual_beds if inst.districts.current_virtual_beds is not None
                  else np.zeros(len(inst.districts.ids), int)).astype(int)
    p0, v0 = float(units_today.sum()), float(hubs_today.sum())
    today = p0 + v0

    def demand(i: Instance) -> float:
        return float(i.hospital_load.sum() + i.virtual_load.sum())

    growth = demand(inst) / demand(base)
    b1 = today * growth
    # length of stay: the same stays today and at the horizon (the calibration uses them)
    b2 = b1
    # home-based shift: patients suited to home-based beds whom today's hubs turn away
    flow = patient_flow(base, units_today, hubs_today)
    occ_hospital = float(flow.unit_carried.sum() / max(p0, 1e-9))
    carried_home = float((flow.hub_offered * (1 - flow.hub_blocking)).sum())
    occ_home = carried_home / v0 if v0 > 0 else 1.0
    refused = base.virtual_admissions * flow.hub_blocking[base.zones.district][:, None]
    refused_hospital = float((refused * base.pathways.los_days[None, :] / 365.0).sum()) * growth
    refused_home = float((refused * base.pathways.virtual_los_days[None, :] / 365.0).sum()) * growth
    shift = -refused_hospital / max(occ_hospital, 1e-9) + refused_home / max(occ_home, 1e-9)
    b3 = b2 + shift
    # queueing target: each of today's units and hubs, scaled to b3, at the occupancy the
    # blocking target allows at its size instead of today's occupancy
    target, vtarget = inst.rules.utilisation_target, inst.rules.virtual_target
    hosp_beds = max(p0 * growth - refused_hospital / max(occ_hospital, 1e-9), 0.0)
    home_beds = max(v0 * growth + refused_home / max(occ_home, 1e-9), 0.0)

    def occupancy_at_target(sizes: np.ndarray, total: float, b: float) -> float:
        sizes = sizes[sizes > 0].astype(float)
        if not len(sizes) or total <= 0:
            return 1.0
        scaled = np.maximum(np.round(sizes * total / sizes.sum()), 1).astype(int)
        carried = np.array([max_load(int(c), b) * (1 - b) for c in scaled])
        return float(carried.sum() / scaled.sum())

    occ_target_h = occupancy_at_target(units_today, hosp_beds, target)
    occ_target_v = occupancy_at_target(hubs_today, home_beds, vtarget)
    b4 = hosp_beds * occ_hospital / occ_target_h + home_beds * occ_home / occ_target_v
    recommended = float(recommendation.metrics["physical_beds"] + recommendation.metrics["virtual_beds"])
    steps = [
        ("today", "Beds today", today, today,
         f"{p0:.0f} hospital beds and {v0:.0f} home-based beds in the dataset"),
        ("growth", "Demographic growth", b1 - today, b1,
         f"demand grows by {growth - 1:+.1%} from {base_year} to {scenario.horizon_year} (the calibrated demand, "
         "population projections by age); today's beds grown in proportion"),
        ("length_of_stay", "Length of stay", b2 - b1, b2,
         "none: the scenario keeps today's stays (the same figures calibrate today's demand and size the future); "
         "the tornado shows how much the answer depends on them"),
        ("home_based_shift", "Home-based shift", b3 - b2, b3,
         f"patients suited to a home-based bed whom today's home-based beds turn away ({refused_hospital:.1f} beds' "
         "worth in hospital at the horizon) cared for at home instead, at today's occupancies"),
        ("queueing_target", "Queueing target", b4 - b3, b4,
         f"today's units resized from today's occupancy ({occ_hospital:.0%} in hospital, {occ_home:.0%} at home) to "
         f"what a {target:.0%} chance of finding no free bed allows at their size ({occ_target_h:.0%} and "
         f"{occ_target_v:.0%})"),
        ("consolidation", "Consolidation and the rest", recommended - b4, recommended,
         "fewer, larger units (which run fuller at the same target), ward steps and minimum sizes, and the "
         "optimiser's cost and travel trade-offs"),
    ]
    table = pd.DataFrame(steps, columns=["step", "label", "change_beds", "beds_after", "explanation"])
    return Waterfall(table, today, recommended)


def waterfall_figure(w: Waterfall):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = w.steps
    fig, ax = plt.subplots(figsize=(9, 4.5))
    level = 0.0
    for i, r in t.iterrows():
        if r["step"] == "today":
            ax.bar(i, r["beds_after"], color="#7f7f7f")
            level = r["beds_after"]
            continue
        change = r["change_beds"]
        ax.bar(i, change, bottom=level, color="#d62728" if change > 0 else "#2ca02c")
        level += change
        ax.text(i, max(level, level - change) + 3, f"{change:+.0f}", ha="center", fontsize=9)
    ax.bar(len(t), w.recommendation, color="#1f77b4")
    ax.text(len(t), w.recommendation + 3, f"{w.recommendation:.0f}", ha="center", fontsize=9)
    ax.set_xticks(range(len(t) + 1), list(t["label"]) + ["Recommendation"], rotation=20, ha="right")
    ax.set_ylabel("beds (hospital and home-based)")
    ax.set_title("From today's beds to the recommendation")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------
# per-site robustness
# ---------------------------------------------------------------------------------------

class GroupedSolveJob:
    """Optimise futures of a scenario on groups of small areas (the quick answer's beds)."""

    def __init__(self, compiler: FutureCompiler) -> None:
        self.compiler = compiler

    def run(self, rows: list[tuple[int, dict[str, float]]]) -> list[tuple[int, dict | None]]:
        from dataclasses import replace

        from optimiser.errors import InfeasibleError, SolveError
        from optimiser.model.quick import QUICK_MIP_GAP, aggregate_zones
        from optimiser.model.solve import solve_once

        out = []
        for i, values in rows:
            inst = aggregate_zones(self.compiler.compile(values))
            inst = replace(inst, solver=replace(inst.solver, mip_gap=max(inst.solver.mip_gap, QUICK_MIP_GAP)))
            try:
                sol = solve_once(inst, f"future {i}", explain_infeasible=False)
            except (InfeasibleError, SolveError):
                out.append((i, None))
                continue
            sites = sol.sites
            out.append((i, {"beds": {str(s): int(b) for s, b in zip(sites["site_id"], sites["beds"], strict=True)},
                            "virtual_beds": float(sol.metrics["virtual_beds"]),
                            "annual_cost_gbp": float(sol.metrics["annual_cost_gbp"]),
                            "unmet_admissions_per_year": float(sol.metrics["unmet_admissions_per_year"])}))
        return out


def _grouped_chunk(job: GroupedSolveJob, rows: list) -> list:
    return job.run(rows)


@dataclass(frozen=True)
class SiteRobustness:
    futures: pd.DataFrame        # one row per future: drawn figures, beds per site, cost
    sites: pd.DataFrame          # per site: share keeping beds, beds p10/p50/p90
    swaps: pd.DataFrame          # pairs of sites that swap places
    words: list[str] = field(default_factory=list)


def site_robustness(scenario: Scenario, dataset: Dataset, *, samples: int = 50, seed: int = 1,
                    compiler: FutureCompiler | None = None, scheduler: str | None = None, workers: int | None = None,
                    client=None, progress: Progress | None = None) -> SiteRobustness:
    """The scenario optimised in each of ``samples`` futures (see the module docstring)."""
    from optimiser.parallel import chunked, dask_client, map_chunks, warm_up, worker_count

    figures = uncertain_figures(scenario)
    if not figures:
        raise OptimiserError("the scenario gives no figure a range (low/high) or variants: nothing to vary")
    drawn = sample_futures(figures, samples, seed)
    rows = [(int(i), {k: float(v) for k, v in r.items()}) for i, r in drawn.iterrows()]
    with dask_client(scheduler, workers, client) as c:
        warming = warm_up(c)
        compiler = compiler or FutureCompiler(dataset, scenario)
        c.gather(warming)
        chunks = chunked(rows, worker_count(c) * 4)
        parts = map_chunks(_grouped_chunk, GroupedSolveJob(compiler), chunks, c, progress=progress,
                           weights=[len(ch) for ch in chunks])
    answers = dict(a for part in parts for a in part)
    inst = compiler.central
    site_ids = [str(s) for s in inst.sites.ids]
    names = dict(zip(site_ids, inst.sites.names, strict=True))
    beds = pd.DataFrame([[answers[i]["beds"].get(s, 0) if answers[i] else np.nan for s in site_ids]
                         for i in drawn.index], index=drawn.index, columns=site_ids)
    extra = pd.DataFrame([{k: (answers[i][k] if answers[i] else np.nan)
                           for k in ("virtual_beds", "annual_cost_gbp", "unmet_admissions_per_year")}
                          for i in drawn.index], index=drawn.index)
    solved = beds.notna().all(axis=1)
    futures = pd.concat([drawn, beds.add_prefix("beds_"), extra], axis=1)
    futures["solved"] = solved
    ok = beds[solved]
    n = int(solved.sum())
    table = []
    for s in site_ids:
        col = ok[s]
        keeps = float((col > 0).mean()) if n else float("nan")
        open_beds = col[col > 0]
        p10, p50, p90 = (np.quantile(open_beds, [0.1, 0.5, 0.9]) if len(open_beds) else (np.nan,) * 3)
        table.append({"site_id": s, "site_name": names[s], "share_of_futures_keeping_beds": keeps,
                      "beds_p10_when_open": p10, "beds_p50_when_open": p50, "beds_p90_when_open": p90,
                      "beds_p10": np.quantile(col, 0.1) if n else np.nan,
                      "beds_p50": np.quantile(col, 0.5) if n else np.nan,
                      "beds_p90": np.quantile(col, 0.9) if n else np.nan})
    sites = pd.DataFrame(table)
    swaps = []
    for a_i, a in enumerate(site_ids):
        for b in site_ids[a_i + 1:]:
            a_only = float(((ok[a] > 0) & (ok[b] == 0)).mean()) if n else 0.0
            b_only = float(((ok[b] > 0) & (ok[a] == 0)).mean()) if n else 0.0
            if a_only > 0 and b_only > 0:
                swaps.append({"site_a": a, "site_b": b, "share_only_a_keeps_beds": a_only,
                              "share_only_b_keeps_beds": b_only,
                              "balance": min(a_only, b_only) / max(a_only, b_only)})
    swaps = pd.DataFrame(swaps, columns=["site_a", "site_b", "share_only_a_keeps_beds", "share_only_b_keeps_beds",
                                         "balance"]).sort_values("balance", ascending=False).reset_index(drop=True)
    words = _robustness_words(sites, swaps, names, n, samples)
    return SiteRobustness(futures, sites, swaps, words)


def _robustness_words(sites: pd.DataFrame, swaps: pd.DataFrame, names: dict, n: int, samples: int) -> list[str]:
    from optimiser.uncertainty import out_of_ten

    def short(site: str) -> str:
        return str(names[site]).split(",")[0]

    words = []
    if n < samples:
        words.append(f"In {samples - n} of the {samples} futures no configuration meets every rule; the figures "
                     f"below are over the other {n}.")
    for r in sites.itertuples():
        share = r.share_of_futures_keeping_beds
        if not np.isfinite(share):
            continue
        if share >= 0.999:
            words.append(f"{short(r.site_id)} keeps beds in every future; it needs {r.beds_p10:.0f} to "
                         f"{r.beds_p90:.0f} beds in 8 out of 10 futures.")
        elif share <= 0.001:
            words.append(f"{short(r.site_id)} has no beds in any future.")
        else:
            words.append(f"{short(r.site_id)} keeps beds in {out_of_ten(share, n)}"
                         + (f" (when it does: {r.beds_p10_when_open:.0f} to {r.beds_p90_when_open:.0f} beds in 8 out "
                            "of 10)" if math.isfinite(r.beds_p10_when_open) else "") + ".")
    for r in swaps.itertuples():
        if r.balance >= 0.5:
            words.append(f"{short(r.site_a)} versus {short(r.site_b)} is close to a coin flip: in "
                         f"{r.share_only_a_keeps_beds:.0%} of futures only {short(r.site_a)} keeps beds, in "
                         f"{r.share_only_b_keeps_beds:.0%} only {short(r.site_b)}.")
    return words


def uncertain_figure_table(figures: tuple[UncertainFigure, ...]) -> pd.DataFrame:
    return pd.DataFrame([{"figure": f.key, "label": figure_label(f.key), "value": f.value, "low": f.low,
                          "high": f.high, "variants": "; ".join(f"{k}: {v:g}" for k, v in f.variants)}
                         for f in figures])


def write_sensitivity(out, tornado_result: Tornado | None, waterfall_result: Waterfall | None,
                      robustness: SiteRobustness | None, extra: dict | None = None) -> dict:
    """Write what was computed to ``out``: tornado.csv/png/pdf, waterfall.csv/png/pdf,
    site_robustness.csv, site_swaps.csv, futures_solved.csv and summary.json (atomically)."""
    import io
    import json
    from pathlib import Path

    import matplotlib.pyplot as plt

    from optimiser.dataset.store import atomic_path, atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = dict(extra or {})

    def save(fig, name: str) -> None:
        for ext in ("png", "pdf"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=ext, dpi=150)
            with atomic_path(out / f"{name}.{ext}") as tmp:
                Path(tmp).write_bytes(buffer.getvalue())
        plt.close(fig)

    if tornado_result is not None:
        atomic_write_text(out / "tornado.csv", tornado_result.table.to_csv(index=False))
        save(tornado_result.plot(), "tornado")
        c = tornado_result.central
        summary["tornado"] = {"central": {k: c[k] for k in TORNADO_MEASURES},
                              "central_sites_keeping_beds": c["sites_keeping_beds"],
                              "mode": "best (full solve)" if tornado_result.best else "quick answer",
                              "largest_swings": tornado_result.table.drop_duplicates("figure").head(5)[
                                  ["figure", "label", "swing_total_beds"]].to_dict("records")}
    if waterfall_result is not None:
        atomic_write_text(out / "waterfall.csv", waterfall_result.steps.to_csv(index=False))
        save(waterfall_result.plot(), "waterfall")
        summary["waterfall"] = waterfall_result.steps.to_dict("records")
    if robustness is not None:
        atomic_write_text(out / "site_robustness.csv", robustness.sites.to_csv(index=False))
        atomic_write_text(out / "site_swaps.csv", robustness.swaps.to_csv(index=False))
        atomic_write_text(out / "futures_solved.csv", robustness.futures.to_csv())
        summary["site_robustness"] = {"sites": robustness.sites.to_dict("records"),
                                      "swaps": robustness.swaps.to_dict("records"),
                                      "in_plain_words": robustness.words}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=_plain))
    return summary


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
