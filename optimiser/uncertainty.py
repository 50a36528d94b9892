"""How sure are we? An option measured in many futures drawn from the scenario's ranges.

:func:`uncertainty` draws ``samples`` futures from the 80% ranges (and variants) the scenario's
figure notes carry (:mod:`optimiser.futures`), measures the option in each with the same
patient-flow model as :func:`optimiser.api.evaluate` (a future with every figure at its
central value gives exactly what ``evaluate`` gives), in parallel on Dask
(:mod:`optimiser.parallel`), and summarises:

* ``futures.csv``: one row per future, the figures drawn and the key results;
* ``quantiles.csv``: per area, site and district and per measure, the 10th, 50th and 90th
  percentiles over the futures, the mean, and the value with every figure central;
* ``summary.json``: the chance that every hospital meets the blocking target, that some
  patients find no bed anywhere within reach, the cost range, and the same in plain words.

The futures are drawn before any is evaluated, from one seeded generator, and results are
kept in future order: the same seed gives the same ``futures.csv`` whatever the number of
workers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.errors import ScenarioError
from optimiser.futures import (
    FutureCompiler,
    FutureMeasure,
    OptionKernel,
    UncertainFigure,
    sample_futures,
    uncertain_figures,
)
from optimiser.instance import Instance
from optimiser.options import Option
from optimiser.scenario import Scenario

# The results written for every future (futures.csv), in this order.
FUTURE_RESULTS = (
    "annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites", "demand_admissions_per_year",
    "hospital_admissions_per_year", "virtual_admissions_per_year", "patients_finding_no_free_bed_per_year",
    "share_of_patients_finding_no_free_bed", "patients_redirected_per_year",
    "virtual_patients_finding_no_free_bed_per_year", "mean_occupancy", "max_blocking_probability",
    "max_home_based_blocking_probability", "mean_travel_minutes_hospital_patients",
    "every_hospital_meets_target", "every_hub_meets_target", "unserved_demand",
)
SITE_MEASURES = ("beds", "occupancy", "chance_no_free_bed", "admissions_per_year", "load_erlangs")
DISTRICT_MEASURES = ("demand_admissions_per_year", "patients_finding_no_free_bed_per_year",
                     "home_based_beds", "home_based_occupancy", "home_based_chance_no_free_bed")
QUANTILE_COLUMNS = ["level", "code", "name", "measure", "p10", "p50", "p90", "mean", "central"]
UNSERVED_THRESHOLD = 1.0   # patients a year refused everywhere within reach that count as unserved demand
Progress = Callable[[int, int], None]


# ---------------------------------------------------------------------------------------
# the work sent to each Dask worker
# ---------------------------------------------------------------------------------------

class SweepJob:
    """What a worker needs to measure an option in any future: the compiler (the central
    instance and the dataset's arrays) and the option's kernel."""

    def __init__(self, compiler: FutureCompiler, kernel: OptionKernel) -> None:
        self.compiler = compiler
        self.kernel = kernel

    def run(self, rows: list[tuple[int, dict[str, float]]]) -> list[tuple[int, FutureMeasure]]:
        return [(i, self.kernel.measure(self.compiler.compile(values))) for i, values in rows]


def _run_chunk(job: SweepJob, rows: list) -> list:
    return job.run(rows)


# ---------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UncertaintyResult:
    """An option's results over many futures (see the module docstring)."""

    option: str
    scenario: str
    figures: tuple[UncertainFigure, ...]
    futures: pd.DataFrame          # futures.csv
    quantiles: pd.DataFrame        # quantiles.csv
    summary: dict                  # summary.json
    site_values: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)      # measure -> futures x sites
    district_values: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)  # measure -> futures x districts

    def write(self, out: str | Path) -> Path:
        """Write futures.csv, quantiles.csv and summary.json to ``out`` (each atomically)."""
        from optimiser.dataset.store import atomic_write_text

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "futures.csv", self.futures.to_csv(float_format="%.17g"))
        atomic_write_text(out / "quantiles.csv", self.quantiles.to_csv(index=False, float_format="%.10g"))
        atomic_write_text(out / "summary.json", json.dumps(self.summary, indent=2, default=_plain))
        return out


def _plain(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------

def uncertainty(scenario: Scenario, option: Option, dataset: Dataset, *, samples: int = 200, seed: int = 1,
                method: str = "lhs", scheduler: str | None = None, workers: int | None = None, client=None,
                progress: Progress | None = None, compiler: FutureCompiler | None = None) -> UncertaintyResult:
    """Measure ``option`` in ``samples`` futures drawn from the scenario's ranges (see the
    module docstring). ``scheduler``/``workers``/``client``: where the futures are evaluated
    (:func:`optimiser.parallel.dask_client`); ``progress(done, total)`` as they finish."""
    from optimiser.parallel import chunked, dask_client, map_chunks, warm_up, worker_count

    started = time.perf_counter()
    figures = uncertain_figures(scenario)
    if not figures:
        raise ScenarioError("the scenario gives no figure a range (low/high) or variants, so there is "
                            "nothing uncertain to sample: add low/high to a figure's note")
    drawn = sample_futures(figures, samples, seed, method)
    rows = [(int(i), {k: float(v) for k, v in values.items()}) for i, values in drawn.iterrows()]
    with dask_client(scheduler, workers, client) as c:
        warming = warm_up(c)   # the workers import the package while this process compiles
        compiler = compiler or FutureCompiler(dataset, scenario)
        kernel = OptionKernel(compiler.central, option)
        central = kernel.measure(compiler.central)
        job = SweepJob(compiler, kernel)
        c.gather(warming)
        n_workers = worker_count(c)
        chunks = chunked(rows, n_workers * 4)
        parts = map_chunks(_run_chunk, job, chunks, c, progress=progress, weights=[len(ch) for ch in chunks])
    measures = [m for part in parts for _, m in part]
    return summarise(scenario, option, compiler.central, figures, drawn, measures, central,
                     seed=seed, method=method, workers=n_workers, seconds=time.perf_counter() - started,
                     dataset=dataset)


def summarise(scenario: Scenario, option: Option, inst: Instance, figures, drawn: pd.DataFrame,
              measures: list[FutureMeasure], central: FutureMeasure, *, seed: int, method: str, workers: int,
              seconds: float, dataset: Dataset | None = None) -> UncertaintyResult:
    """The tables and summary of a sweep (see :class:`UncertaintyResult`)."""
    results = pd.DataFrame([{k: m.metrics[k] for k in FUTURE_RESULTS} for m in measures], index=drawn.index)
    futures = pd.concat([drawn, results], axis=1)
    site_values = _site_values(inst, measures)
    central_sites = _site_values(inst, [central])
    district_values = _district_values(inst, measures)
    central_districts = _district_values(inst, [central])
    quantiles = _quantiles(inst, results, central.metrics, site_values, central_sites, district_values,
                           central_districts)
    summary = _summary(scenario, option, inst, figures, results, central, seed=seed, method=method,
                       workers=workers, seconds=seconds, dataset=dataset)
    return UncertaintyResult(option.name, scenario.name, figures, futures, quantiles, summary,
                             site_values, district_values)


def _site_values(inst: Instance, measures: list[FutureMeasure]) -> dict[str, pd.DataFrame]:
    """measure -> (futures x site ids) per site (a site's wards together)."""
    opt = inst.bed_choices
    n_s = inst.n_sites
    out: dict[str, list] = {k: [] for k in SITE_MEASURES}
    for m in measures:
        beds = np.bincount(opt.unit_site, weights=m.unit_beds, minlength=n_s)
        carried = np.bincount(opt.unit_site, weights=m.unit_occupancy * m.unit_beds, minlength=n_s)
        blocking = np.full(n_s, np.nan)
        open_units = m.unit_beds > 0
        np.fmax.at(blocking, opt.unit_site[open_units], m.unit_blocking[open_units])
        with np.errstate(divide="ignore", invalid="ignore"):
            out["occupancy"].append(np.where(beds > 0, carried / beds, np.nan))
        out["beds"].append(beds)
        out["chance_no_free_bed"].append(blocking)
        out["admissions_per_year"].append(np.bincount(opt.unit_site, weights=m.unit_admitted, minlength=n_s))
        out["load_erlangs"].append(np.bincount(opt.unit_site, weights=m.unit_offered, minlength=n_s))
    return {k: pd.DataFrame(np.array(v), columns=list(inst.sites.ids)) for k, v in out.items()}


def _district_values(inst: Instance, measures: list[FutureMeasure]) -> dict[str, pd.DataFrame]:
    out = {
        "demand_admissions_per_year": [m.district_demand for m in measures],
        "patients_finding_no_free_bed_per_year": [m.district_turned_away for m in measures],
        "home_based_beds": [m.hub_beds.astype(float) for m in measures],
        "home_based_occupancy": [np.where(m.hub_beds > 0, m.hub_occupancy, np.nan) for m in measures],
        "home_based_chance_no_free_bed": [np.where(m.hub_beds > 0, m.hub_blocking, np.nan) for m in measures],
    }
    return {k: pd.DataFrame(np.array(v), columns=list(inst.districts.ids)) for k, v in out.items()}


def _stats(values: np.ndarray) -> tuple[float, float, float, float]:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if not len(values):
        return (float("nan"),) * 4
    p10, p50, p90 = np.quantile(values, [0.1, 0.5, 0.9])
    return float(p10), float(p50), float(p90), float(values.mean())


def _quantiles(inst: Instance, results: pd.DataFrame, central: dict, site_values, central_sites,
               district_values, central_districts) -> pd.DataFrame:
    rows = []
    for key in FUTURE_RESULTS:
        rows.append(("area", "all", "All areas", key, *_stats(results[key]), float(central[key])))
    names = dict(zip(inst.sites.ids, inst.sites.names, strict=True))
    for key in SITE_MEASURES:
        for site in inst.sites.ids:
            rows.append(("site", site, names[site], key, *_stats(site_values[key][site]),
                         float(central_sites[key][site].iloc[0])))
    dnames = dict(zip(inst.districts.ids, inst.districts.names, strict=True))
    for key in DISTRICT_MEASURES:
        for d in inst.districts.ids:
            rows.append(("district", d, dnames[d], key, *_stats(district_values[key][d]),
                         float(central_districts[key][d].iloc[0])))
    return pd.DataFrame(rows, columns=QUANTILE_COLUMNS)


def out_of_ten(p: float, n: int) -> str:
    """How many of ``n`` futures a share ``p`` is, in plain words: 'none of the 200 futures',
    'all 200 futures', 'about 3 out of 10 futures (61 of 200)'."""
    m = int(round(p * n))
    if m <= 0:
        return f"none of the {n} futures"
    if m >= n:
        return f"all {n} futures"
    k = int(round(10 * p))
    share = ("fewer than 1 in 10" if k == 0 else "more than 9 in 10" if k == 10 else f"about {k} out of 10")
    return f"{share} futures ({m} of {n})"


def _money(v: float) -> str:
    return f"£{v / 1e6:,.1f}m"


def _summary(scenario: Scenario, option: Option, inst: Instance, figures, results: pd.DataFrame,
             central: FutureMeasure, *, seed: int, method: str, workers: int, seconds: float,
             dataset: Dataset | None) -> dict:
    from optimiser.provenance import result_provenance

    n = len(results)
    target = inst.rules.utilisation_target
    p_meet = float(results["every_hospital_meets_target"].mean())
    p_hubs = float(results["every_hub_meets_target"].mean())
    p_unserved = float(results["unserved_demand"].mean())
    cost = results["annual_cost_gbp"]
    c10, c50, c90, cmean = _stats(cost)
    t10, t50, t90, tmean = _stats(results["patients_finding_no_free_bed_per_year"])
    words = [
        f"In 8 out of 10 futures '{option.name}' costs between {_money(c10)} and {_money(c90)} a year "
        f"({_money(central.metrics['annual_cost_gbp'])} with every figure at its central value).",
        (f"Every hospital keeps the chance that a patient finds no free bed within {target:.0%} in "
         f"{out_of_ten(p_meet, n)}."),
        (f"At least one patient a year finds no bed at any hospital within reach in {out_of_ten(p_unserved, n)}; "
         f"in 8 out of 10 futures between {t10:,.0f} and {t90:,.0f} patients a year do "
         f"({central.metrics['patients_finding_no_free_bed_per_year']:,.0f} with every figure central)."),
    ]
    if central.metrics["virtual_beds"] > 0:
        words.append(f"Every district's home-based beds keep that chance within {inst.rules.virtual_target:.0%} in "
                     f"{out_of_ten(p_hubs, n)}.")
    summary = {
        "option": option.name,
        "scenario": scenario.name,
        "samples": n,
        "seed": int(seed),
        "sampling": "Latin hypercube" if method == "lhs" else "Monte Carlo",
        "workers": int(workers),
        "seconds": float(seconds),
        "blocking_target": float(target),
        "probability_every_hospital_meets_blocking_target": p_meet,
        "probability_every_home_based_hub_meets_target": p_hubs,
        "probability_unserved_demand": p_unserved,
        "annual_cost_gbp": {"p10": c10, "p50": c50, "p90": c90, "mean": cmean, "min": float(cost.min()),
                            "max": float(cost.max()), "central": float(central.metrics["annual_cost_gbp"])},
        "patients_finding_no_free_bed_per_year": {
            "p10": t10, "p50": t50, "p90": t90, "mean": tmean,
            "central": float(central.metrics["patients_finding_no_free_bed_per_year"])},
        "in_plain_words": words,
        "central": {k: float(central.metrics[k]) for k in FUTURE_RESULTS},
        "figures": [{"key": f.key, "label": f.label(), "value": f.value, "low": f.low, "high": f.high,
                     "variants": dict(f.variants), "note": f.note} for f in figures],
        "definitions": {
            "futures": "each future draws every figure with a range from a two-piece normal with its median at "
                       "the figure's value and 10th/90th percentiles at its low/high (held within its 5th and 95th "
                       "percentiles); figures with only variants take their value or a variant, equally likely",
            "every_hospital_meets_target": f"every unit with beds keeps the chance that an arriving patient finds "
                                           f"no free bed at or below {target:.0%} (the patient-flow model, "
                                           "patients going on to the next hospital when one is full)",
            "unserved_demand": f"at least {UNSERVED_THRESHOLD:g} patient a year finds no bed at any hospital "
                               "within reach",
        },
    }
    if dataset is not None or scenario.inputs.zones_file:
        summary["provenance"] = dict(result_provenance(dataset, scenario, solver="none (patient-flow model)",
                                                       option=option))
    return summary
