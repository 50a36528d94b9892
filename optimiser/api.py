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

__all__ = ["appraisal", "calibration", "compare_table", "dataset_for", "evaluate", "excel_bytes", "geopackage_bytes",
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

        return instance_from_custom_inputs(scenario, dataset)
    return compile_instance(dataset if dataset is not None else dataset_for(scenario), scenario)


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
    from optimiser.model.solve import solve_instance

    ds = _dataset_or_none(scenario, dataset)
    inst = instance_for(scenario, ds)
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
           seed: int = 1, check_samples: int | None = None, resolution: str = "grouped", point: Solution | None = None,
           scheduler: str | None = None, workers: int | None = None, client=None, progress=None):
    """A robust configuration: beds keeping the blocking target in at least ``reliability`` of
    ``samples`` futures drawn from the scenario's ranges, at the lowest expected cost, with its
    reliability on independent futures beside the point answer's (an
    :class:`optimiser.robust.RobustResult`)."""
    from optimiser.robust import robust_solve

    ds = dataset if dataset is not None else dataset_for(scenario)
    return robust_solve(scenario, ds, samples=samples, reliability=reliability, seed=seed,
                        check_samples=check_samples, resolution=resolution, point=point, scheduler=scheduler,
                        workers=workers, client=client, progress=progress)


def quick_solve(scenario: Scenario, dataset: Dataset | None = None) -> Solution:
    """A good answer in seconds for workshops: beds chosen on grouped areas, or the linear
    relaxation rounded up, whichever is better once every area is routed exactly; the gap is
    bounded by the relaxation. The answer depends on the settings alone (no start from an
    earlier answer, which could tip a near-tie one way or the other). Falls back to
    :func:`solve` (which also explains an infeasible scenario) when neither configuration meets
    the rules at full resolution, and for single assignment, lexicographic objectives or no
    capacity rules."""
    from optimiser.model.quick import quick_solve as _quick

    ds = _dataset_or_none(scenario, dataset)
    inst = instance_for(scenario, ds)
    if inst.rules.single_assignment or not inst.rules.capacity_limits or inst.weights.lexicographic:
        return solve(scenario, ds)
    sol = _quick(inst, scenario.name)
    return with_provenance(sol, scenario, ds) if sol is not None else solve(scenario, ds)
