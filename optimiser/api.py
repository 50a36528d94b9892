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

__all__ = ["appraisal", "compare_table", "dataset_for", "evaluate", "excel_bytes", "geopackage_bytes",
           "instance_for", "load_dataset", "quick_solve", "load_option", "load_scenario", "option_from_solution",
           "OptionLibrary", "shipped_options", "solve", "write_results"]


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


def solve(scenario: Scenario, dataset: Dataset | None = None) -> Solution:
    """Optimise the scenario. Raises InfeasibleError with a plain-English explanation when no
    configuration meets every hard limit."""
    from optimiser.model.solve import solve_instance

    return solve_instance(instance_for(scenario, dataset), scenario.name)


def evaluate(scenario: Scenario, option: Option, dataset: Dataset | None = None) -> Solution:
    """Measure a fixed configuration (an option) on the scenario's yardstick: the same
    metrics as :func:`solve`, with ``breaks`` listing the scenario rules it does not meet."""
    from optimiser.model.evaluate import evaluate_option

    ds = dataset if dataset is not None else dataset_for(scenario)
    inst = instance_for(scenario, ds)
    current = ds.districts["current_virtual_beds"] if "current_virtual_beds" in ds.districts else None
    return evaluate_option(inst, option, current)


def quick_solve(scenario: Scenario, dataset: Dataset | None = None, previous: Solution | None = None) -> Solution:
    """A good answer in about a second for workshops: beds chosen on grouped areas, or the
    linear relaxation rounded up, whichever is better once every area is routed exactly; the
    gap is bounded by the relaxation. ``previous``: the last answer, from which the search
    starts (a workshop moves one setting at a time). Falls back to :func:`solve` (which also
    explains an infeasible scenario) when neither configuration meets the rules at full
    resolution, and for single assignment, lexicographic objectives or no capacity rules. For
    the classical p-median it is greedy and fast interchange with the Lagrangian bound's gap
    (no solver run; :func:`solve` proves the answer)."""
    from optimiser.model import pmedian
    from optimiser.model.quick import quick_solve as _quick
    from optimiser.model.solve import Configuration, solve_instance

    inst = instance_for(scenario, dataset)     # read and compiled once, whichever path follows
    if pmedian.applies(inst):
        return pmedian.quick_p_median(inst, scenario.name)
    if inst.rules.single_assignment or not inst.rules.capacity_limits or inst.weights.lexicographic:
        return solve_instance(inst, scenario.name)
    start = Configuration.of(previous) if previous is not None else None
    sol = _quick(inst, scenario.name, start)
    return sol if sol is not None else solve_instance(inst, scenario.name)
