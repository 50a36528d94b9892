"""LLR bed-configuration optimiser: community hospital and home-based (virtual) beds.

Public API (imported on first use, so ``import optimiser`` stays light)::

    from optimiser import load_dataset, load_scenario, solve, evaluate
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.2.0"

_EXPORTS = {
    "dataset_for": "optimiser.api", "instance_for": "optimiser.api", "load_dataset": "optimiser.api",
    "solve": "optimiser.api", "quick_solve": "optimiser.api", "evaluate": "optimiser.api",
    "InfeasibleError": "optimiser.errors", "InputError": "optimiser.errors", "OptimiserError": "optimiser.errors",
    "ScenarioError": "optimiser.errors", "SolveError": "optimiser.errors",
    "Scenario": "optimiser.scenario", "default_scenario": "optimiser.scenario", "load_scenario": "optimiser.scenario",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'optimiser' has no attribute {name!r}")
