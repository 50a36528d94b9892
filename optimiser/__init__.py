"""LLR bed-configuration optimiser: community hospital and home-based (virtual) beds.

Public API::

    from optimiser import load_dataset, load_scenario, solve, evaluate, compare
"""

from optimiser.api import dataset_for, instance_for, load_dataset, solve
from optimiser.errors import InfeasibleError, InputError, OptimiserError, ScenarioError, SolveError
from optimiser.scenario import Scenario, default_scenario, load_scenario

__all__ = [
    "InfeasibleError", "InputError", "OptimiserError", "Scenario", "ScenarioError", "SolveError",
    "dataset_for", "default_scenario", "instance_for", "load_dataset", "load_scenario", "solve",
]
__version__ = "0.1.0"
