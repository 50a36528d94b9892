"""What every rule family knows about itself (see :mod:`optimiser.rules`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optimiser.instance import Instance
    from optimiser.model.formulation import Formulation

class Probe:
    """What the infeasibility explanation lets a rule ask while it looks for the nearest
    setting that works: whether an instance has any configuration, and the least value an
    objective term can take on it (both solved with the same model)."""

    def __init__(self, feasible: Callable[[Instance], bool], least: Callable[[Instance, str], float | None]):
        self.feasible = feasible
        self.least = least


@dataclass(frozen=True)
class Violation:
    rule: str          # rule family, as named in the formulation
    where: str         # the site, zone, district ... it concerns
    amount: float      # by how much (in the rule's own unit)
    message: str       # plain English


@dataclass(frozen=True)
class Suggestion:
    """The nearest setting that would make an infeasible scenario work."""

    key: str           # the scenario setting (dotted key)
    text: str          # plain English, e.g. "lower the travel standard to 91.2% of ..."
    value: float


@dataclass(frozen=True, kw_only=True)
class RawSolution:
    """A configuration and its routing as plain arrays on an instance: what the checker and
    the rules' violation checks read (built from a solution's tables by the checker)."""

    unit_beds: np.ndarray        # (U,) beds on each unit
    site_beds: np.ndarray        # (S,) beds on each site
    virtual_beds: np.ndarray     # (D,) home-based beds per district
    assignment: np.ndarray       # (Z, S, P) share of each zone's hospital patients first sent to each site
    unmet: np.ndarray            # (Z, P) share the plan places nowhere
    overflow: np.ndarray         # (D, S, P) virtual-suitable admissions a year sent to hospital
    virtual_unmet: np.ndarray    # (D, P) virtual-suitable admissions a year placed nowhere
    planned_first: np.ndarray    # (U,) erlangs the plan sends to each unit first
    onward_sent: np.ndarray      # (U,) erlangs the plan sends onward from each unit (incl. turned away)
    onward_received: np.ndarray  # (U,) erlangs the plan sends onward into each unit
    unit_offered: np.ndarray     # (U,) erlangs the patient-flow model offers each unit (as reported)
    hub_offered: np.ndarray      # (D,) erlangs offered to each district's hub (as reported)
    annual_cost: float           # as the checker recomputes it
    travel_term: float           # admission-minutes a year, as the checker recomputes them

    @property
    def open_sites(self) -> np.ndarray:
        return self.site_beds > 0


class Rule:
    """A family of rules: its rows in the formulation, its violation on a solution, its
    wording and relaxation for the infeasibility explanation, and whether an option that is
    only measured is held to it (then its violations are listed as the option's breaks).

    Subclasses set ``name`` (the formulation's family name) and ``label`` (how a person
    names it: "the travel standard"), and override what applies."""

    name: str = ""
    label: str = ""
    #: a scenario rule a drafted option is measured against (its breaks), not a physical fact
    measured: bool = True
    #: the infeasibility explanation may drop it to see whether the rest can be met
    relaxable: bool = False

    def active(self, inst: Instance) -> bool:
        return True

    def add_rows(self, f: Formulation) -> None:
        """Add the family's columns and rows to the formulation."""

    def violations(self, inst: Instance, raw: RawSolution) -> list[Violation]:
        """The family's rules a solution breaks, recomputed from the raw arrays."""
        return []

    def describe(self, inst: Instance) -> list[str]:
        """Plain phrases for the rules in force (for an explanation's headline)."""
        return []

    def relax(self, inst: Instance) -> Instance:
        """The instance without this family's rules."""
        return inst

    def nearest(self, inst: Instance, probe: Probe) -> Suggestion | None:
        """The nearest setting of this family that would work with the others as they are."""
        return None

    def repair(self, inst: Instance, unit_beds: np.ndarray) -> np.ndarray:
        """Bring a rounded configuration within this family's rules where it can (used when
        the quick answer rounds the relaxation up); the default leaves it."""
        return unit_beds
