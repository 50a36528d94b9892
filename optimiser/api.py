"""The public API: load a dataset and a scenario, solve, evaluate an option, compare."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from optimiser.compare import appraisal, compare_table  # noqa: F401  (public API)
from optimiser.dataset.core import Dataset
from optimiser.dataset.default import DEFAULT_DATASET_PATH
from optimiser.dataset.store import load_dataset as _load_dataset
from optimiser.errors import ScenarioError
from optimiser.instance import Instance, compile_instance
from optimiser.options import (  # noqa: F401
    Option,
    OptionLibrary,
    load_option,
    option_from_solution,
    shipped_options,
)
from optimiser.outputs import excel_bytes, geopackage_bytes, write_results  # noqa: F401
from optimiser.scenario import Scenario, load_scenario
from optimiser.solution import Solution

__all__ = ["appraisal", "calibration", "impact", "scenario_settings", "compare_table", "dataset_for", "evaluate", "excel_bytes", "geopackage_bytes",
           "instance_for", "with_provenance", "load_dataset", "quick_solve", "load_option", "load_scenario", "option_from_solution",
           "OptionLibrary", "robust", "shipped_options", "solve", "uncertainty", "write_results"]


@lru_cache(maxsize=8)
def _cached_dataset(path: str, mtime: float) -> Dataset:
    return _load_dataset(path)


def load_dataset(path: str | Path = DEFAULT_DATASET_PATH) -> Dataset:
    """Load (and cache, keyed on path and modification time) a dataset GeoPackage."""
    path = Path(path).resolve()
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _cached_dataset(str(path), mtime)


def dataset_for(scenario: Scenario) -> Dataset:
    if scenario.dataset in ("default", ""):
        return load_dataset(DEFAULT_DATASET_PATH)
    path = scenario.resolve_path(scenario.dataset)
    if not path.exists():
        raise ScenarioError(f"dataset file '{path}' not found", key="dataset")
    return load_dataset(path)


def instance_for(scenario: Scenario, dataset: Dataset | None = None) -> Instance:
    """Compile the scenario against its dataset (or custom zone/travel files)."""
    if scenario.inputs.zones_file or scenario.inputs.travel_file:
        from optimiser.custom_inputs import instance_from_custom_inputs

        if scenario.equity.deprivation is not None:
            raise ScenarioError("custom zone and travel files carry no deprivation deciles: the deprivation "
                                "equity limit needs a dataset (python -m optimiser data import --deprivation)",
                                key="equity.deprivation")
        return instance_from_custom_inputs(scenario, dataset)
    inst = compile_instance(dataset if dataset is not None else dataset_for(scenario), scenario)
    return with_deprivation_baseline(inst, scenario)


def baseline_option(scenario: Scenario) -> Option:
    """The option the deprivation rule's worsening is measured against
    (``equity.deprivation.baseline_option``): a shipped option by file name or name, or an
    option file relative to the scenario."""
    from optimiser.options import SHIPPED_OPTIONS_DIR

    spec = scenario.equity.deprivation
    name = spec.baseline_option if spec is not None else "status_quo"
    shipped = SHIPPED_OPTIONS_DIR / f"{name}.yaml"
    if shipped.exists():
        return load_option(shipped)
    by_name = shipped_options()
    if name in by_name:
        return by_name[name]
    path = scenario.resolve_path(name)
    if path.exists():
        return load_option(path)
    raise ScenarioError(f"baseline option '{name}' is neither a shipped option ("
                        + ", ".join(p.stem for p in sorted(SHIPPED_OPTIONS_DIR.glob("*.yaml")))
                        + ") nor an option file", key="equity.deprivation.baseline_option")


def with_deprivation_baseline(inst: Instance, scenario: Scenario) -> Instance:
    """The instance with the deprivation rule's baseline filled in: the most deprived group's
    mean travel under the baseline option, measured in the patient-flow model with the same
    scenario (only when ``equity.deprivation.max_worsening_minutes`` is set)."""
    from dataclasses import replace

    from optimiser.evaluate import evaluate_option

    rule = inst.rules.deprivation
    if rule is None or rule.max_worsening_minutes is None:
        return inst
    option = baseline_option(scenario)
    plain = inst.with_rules(deprivation=replace(rule, max_gap_minutes=None, max_worsening_minutes=None))
    measured = evaluate_option(plain, option)
    mean = float(measured.metrics["mean_travel_minutes_most_deprived"])
    return inst.with_rules(deprivation=replace(rule, baseline_mean_minutes=mean, baseline_name=option.name))


def _dataset_or_none(scenario: Scenario, dataset: Dataset | None) -> Dataset | None:
    if dataset is not None:
        return dataset
    if scenario.inputs.zones_file or scenario.inputs.travel_file:
        return None
    return dataset_for(scenario)


def with_provenance(solution: Solution, scenario: Scenario, dataset: Dataset | None,
                    option: Option | None = None) -> Solution:
    """The solution (and its alternatives) with its provenance record attached: dataset and
    scenario with their SHA-256, what the data is, software, solver, date and how many
    figures used are assumptions (see :mod:`optimiser.provenance`)."""
    from dataclasses import replace

    from optimiser.provenance import result_provenance

    if scenario.inputs.zones_file or scenario.inputs.travel_file:
        dataset = None   # the custom files are the data

    def attach(sol: Solution) -> Solution:
        record = result_provenance(dataset, scenario, solver=sol.solver, option=option)
        return replace(sol, provenance=record, alternatives=tuple(attach(a) for a in sol.alternatives))

    return attach(solution)


def solve(scenario: Scenario, dataset: Dataset | None = None) -> Solution:
    """Optimise the scenario. Raises InfeasibleError with a plain-English explanation when no
    configuration meets every hard limit."""

    ds = _dataset_or_none(scenario, dataset)
    return _solved(instance_for(scenario, ds), scenario, ds)


def _solved(inst: Instance, scenario: Scenario, ds: Dataset | None) -> Solution:
    """The full solve of a compiled scenario, with its near-ties and provenance."""
    from optimiser.model.solve import solve_instance

    return with_provenance(with_near_ties(inst, solve_instance(inst, scenario.name), scenario), scenario, ds)


def with_near_ties(inst: Instance, best: Solution, scenario: Scenario) -> Solution:
    """``best`` with the near-tie search's findings attached (see
    :mod:`optimiser.model.near_ties`): none is searched for an answer the time limit cut short,
    a lexicographic objective, or when the scenario asks for none."""
    from dataclasses import replace

    from optimiser.model.near_ties import find_near_ties

    spec = scenario.near_ties
    if best.stopped_by_time_limit or best.mode != "optimise" or spec.max_count == 0 or best.status != "optimal":
        return best
    margin = max(spec.margin, inst.solver.mip_gap)
    search = find_near_ties(inst, best, margin, spec.max_count)
    return replace(best, near_ties=search.ties, near_tie_note=search.note)


def evaluate(scenario: Scenario, option: Option, dataset: Dataset | None = None) -> Solution:
    """Measure a fixed configuration (an option) on the scenario's yardstick: the same
    metrics as :func:`solve`, with ``breaks`` listing the scenario rules it does not meet."""
    from optimiser.evaluate import evaluate_option

    ds = dataset if dataset is not None else dataset_for(scenario)
    inst = instance_for(scenario, ds)
    current = ds.districts["current_virtual_beds"] if "current_virtual_beds" in ds.districts else None
    return with_provenance(evaluate_option(inst, option, current), scenario, ds, option)


def calibration(scenario: Scenario, dataset: Dataset | None = None):
    """How the scenario's demand was matched to today's beds: per unit with beds today, the
    occupancy assumed and the one the patient-flow model reproduces at the base year (a
    DataFrame; see :mod:`optimiser.calibration`)."""
    from optimiser.solution import calibration_table

    return calibration_table(instance_for(scenario, dataset))


def uncertainty(scenario: Scenario, option: Option, dataset: Dataset | None = None, *, samples: int = 200,
                seed: int = 1, method: str = "lhs", scheduler: str | None = None, workers: int | None = None,
                client=None, progress=None):
    """How sure are we? ``option`` measured in ``samples`` futures drawn from the 80% ranges of
    the scenario's figures, on Dask (a local cluster sized to the machine, or the scheduler
    given); returns an :class:`optimiser.uncertainty.UncertaintyResult` (futures, quantiles,
    summary). The same seed gives the same futures whatever the number of workers."""
    from optimiser.uncertainty import uncertainty as _uncertainty

    ds = dataset if dataset is not None else dataset_for(scenario)
    return _uncertainty(scenario, option, ds, samples=samples, seed=seed, method=method, scheduler=scheduler,
                        workers=workers, client=client, progress=progress)


def robust(scenario: Scenario, dataset: Dataset | None = None, *, samples: int = 50, reliability: float = 0.9,
           seed: int = 1, check_samples: int | None = None, validation_samples: int | None = None,
           validation_rounds: int | None = None, resolution: str = "grouped", point: Solution | None = None,
           scheduler: str | None = None, workers: int | None = None, client=None, progress=None):
    """A robust configuration: beds keeping the blocking target in at least ``reliability`` of
    ``samples`` futures drawn from the scenario's ranges, at the lowest expected cost,
    validated on fresh futures (re-planned with the failures added until the reliability's
    95% lower bound reaches ``reliability``, at most ``validation_rounds`` plans), with its
    reliability on independent futures beside the point answer's (an
    :class:`optimiser.robust.RobustResult`)."""
    from optimiser.robust import VALIDATION_ROUNDS, robust_solve

    ds = dataset if dataset is not None else dataset_for(scenario)
    return robust_solve(scenario, ds, samples=samples, reliability=reliability, seed=seed,
                        check_samples=check_samples, validation_samples=validation_samples,
                        validation_rounds=validation_rounds or VALIDATION_ROUNDS, resolution=resolution, point=point, scheduler=scheduler,
                        workers=workers, client=client, progress=progress)


def quick_solve(scenario: Scenario, dataset: Dataset | None = None) -> Solution:
    """A good answer in seconds for workshops: beds chosen on grouped areas, or the linear
    relaxation rounded up, whichever is better once every area is routed exactly; the gap is
    bounded by the relaxation. The answer depends on the settings alone (no start from an
    earlier answer, which could tip a near-tie one way or the other). Falls back to
    :func:`solve` (which also explains an infeasible scenario) when neither configuration meets
    the rules at full resolution, and for single assignment, lexicographic objectives or no
    capacity rules. For the classical p-median it is greedy and fast interchange with the
    Lagrangian bound's gap (no solver run; :func:`solve` proves the answer)."""
    from optimiser.model import pmedian
    from optimiser.model.quick import quick_solve as _quick

    ds = _dataset_or_none(scenario, dataset)
    inst = instance_for(scenario, ds)     # read and compiled once, whichever path follows
    if pmedian.applies(inst):
        return with_provenance(pmedian.quick_p_median(inst, scenario.name), scenario, ds)
    if inst.rules.single_assignment or not inst.rules.capacity_limits or inst.weights.lexicographic:
        return _solved(inst, scenario, ds)
    sol = _quick(inst, scenario.name)
    return with_provenance(sol, scenario, ds) if sol is not None else _solved(inst, scenario, ds)


def scenario_settings(scenario: Scenario) -> tuple[str, ...]:
    """The settings an impact is read with, in words (for the district packs)."""
    out = [f"Plan for {scenario.horizon_year}; longest journey allowed {scenario.travel.max_minutes:g} minutes; "
           f"beds sized so that at most {scenario.utilisation.blocking_target:.0%} of patients find no free bed "
           f"({scenario.utilisation.rule} rule)."]
    st = scenario.travel.standard
    if st is not None:
        who = "residents aged 65+" if st.population == "65_plus" else "residents"
        by = " by the second travel matrix" if st.travel_matrix == "second" else " by road"
        out.append(f"Travel standard: {st.share:.0%} of {who} within {st.threshold_minutes:g} minutes{by}.")
    dep = scenario.equity.deprivation
    if dep is not None and (dep.max_gap_minutes is not None or dep.max_worsening_minutes is not None):
        limits = []
        if dep.max_gap_minutes is not None:
            limits.append(f"at most {dep.max_gap_minutes:g} minutes above the least deprived")
        if dep.max_worsening_minutes is not None:
            limits.append(f"at most {dep.max_worsening_minutes:g} minutes worse than '{dep.baseline_option}'")
        out.append("Deprivation limit: the most deprived areas' mean travel " + " and ".join(limits) + ".")
    return tuple(out)


def impact(scenario: Scenario, option: Option | Solution, baseline: Option | Solution | None = None,
           dataset: Dataset | None = None):
    """Who is affected by ``option`` against ``baseline`` (default: the status quo), area by
    area, from the patient-flow model (see :mod:`optimiser.impact`). ``option`` and
    ``baseline`` are options (measured here with :func:`evaluate`) or solutions from
    :func:`solve`, :func:`quick_solve` or :func:`evaluate` on the same scenario and dataset."""
    from optimiser.impact import impact_of

    ds = dataset if dataset is not None else dataset_for(scenario)
    if baseline is None:
        baseline = shipped_options()["Status quo"]

    def measured(item):
        return evaluate(scenario, item, ds) if isinstance(item, Option) else item

    return impact_of(measured(baseline), measured(option), scenario_settings(scenario))
