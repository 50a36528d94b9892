"""A bed configuration, and fixing one in an instance.

One type for "a configuration" wherever it comes from — an optimiser's answer, an option
drafted by hand, a quick answer's candidate, a warm start: beds per unit (site and ward type)
and home-based beds per district, keyed by ids so that it carries over between instances.
:func:`fix` puts it into an instance under an explicit policy:

* ``Policy.KEEP_RULES``: the scenario's rules stay (the quick answer routes a candidate at
  full resolution and must still meet them): each unit keeps only the chosen option, sites
  with beds must stay open and the others close, home-based beds are fixed;
* ``Policy.MEASURE``: an option is only measured (evaluate mode): the chosen beds need not
  be on the scenario's steps (their capacity and capital are worked out for them), the
  scenario's limits are not imposed (a measured option's breaks list them), and every
  suitable patient of a district with home-based beds is offered one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType

import numpy as np

from optimiser.instance import BedChoices, Instance, Rules, VirtualSizing
from optimiser.queueing import capacity_steps


class Policy(StrEnum):
    KEEP_RULES = "keep_rules"
    MEASURE = "measure"


@dataclass(frozen=True, kw_only=True)
class Configuration:
    """Beds per (site id, ward type) and home-based beds per district code."""

    unit_beds: Mapping[tuple[str, str], int]
    """Beds on each unit; units not listed have none."""
    virtual_beds: Mapping[str, int] | None = None
    """Home-based beds per district; ``None``: today's (the instance's)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit_beds", MappingProxyType(dict(self.unit_beds)))
        if self.virtual_beds is not None:
            object.__setattr__(self, "virtual_beds", MappingProxyType(dict(self.virtual_beds)))

    @classmethod
    def of(cls, solution) -> Configuration:
        """The configuration of a solution (an answer or a measured option)."""
        units, vb = solution.tables.units, solution.tables.virtual_beds
        return cls(unit_beds={(str(r.site_id), str(r.ward)): int(r.beds) for r in units.itertuples(index=False)},
                   virtual_beds={str(r.district_code): int(r.beds) for r in vb.itertuples(index=False)})

    @classmethod
    def of_arrays(cls, inst: Instance, unit_beds, virtual_beds=None) -> Configuration:
        opt = inst.bed_choices
        beds = {(str(inst.sites.ids[s]), str(inst.wards[w])): int(b)
                for s, w, b in zip(opt.unit_site, opt.unit_ward, np.asarray(unit_beds), strict=True)}
        virtual = (None if virtual_beds is None else
                   {str(d): int(b) for d, b in zip(inst.districts.ids, np.asarray(virtual_beds), strict=True)})
        return cls(unit_beds=beds, virtual_beds=virtual)

    def arrays(self, inst: Instance) -> tuple[np.ndarray, np.ndarray | None]:
        """(beds per unit of ``inst``, home-based beds per district or ``None`` where the
        instance plans none)."""
        opt = inst.bed_choices
        beds = np.array([self.unit_beds.get((str(inst.sites.ids[s]), str(inst.wards[w])), 0)
                         for s, w in zip(opt.unit_site, opt.unit_ward, strict=True)], int)
        if inst.virtual is None:
            return beds, None
        if self.virtual_beds is None:
            today = inst.districts.current_virtual_beds
            return beds, (np.zeros(len(inst.districts.ids), int) if today is None else np.asarray(today, int))
        return beds, np.array([self.virtual_beds.get(str(d), 0) for d in inst.districts.ids], int)


def fix(inst: Instance, config: Configuration, policy: Policy, *, name: str | None = None) -> Instance:
    """``inst`` with ``config``'s beds fixed under ``policy`` (see the module docstring)."""
    beds, virtual = config.arrays(inst)
    return fix_arrays(inst, beds, virtual, policy, name=name)


def fix_arrays(inst: Instance, unit_beds: np.ndarray, virtual_beds: np.ndarray | None, policy: Policy, *,
               name: str | None = None) -> Instance:
    """:func:`fix` with the configuration as arrays on ``inst``'s units and districts."""
    opt = inst.bed_choices
    unit_beds = np.asarray(unit_beds, int)
    site_beds = np.bincount(opt.unit_site, weights=unit_beds, minlength=inst.n_sites)
    status = np.where(site_beds > 0, 1, -1).astype(np.int8)
    if policy == Policy.KEEP_RULES:
        keep = opt.option_beds == unit_beds[opt.option_unit]
        options = BedChoices(unit_site=opt.unit_site, unit_ward=opt.unit_ward, unit_current=opt.unit_current,
                             option_unit=opt.option_unit[keep], option_beds=opt.option_beds[keep],
                             option_capacity=opt.option_capacity[keep], option_capital=opt.option_capital[keep])
        virtual = inst.virtual
        if virtual is not None and virtual_beds is not None:
            vb = np.asarray(virtual_beds, int)
            virtual = replace(virtual, lo=vb, hi=vb, must_run=vb > 0)
        return replace(inst, name=name or inst.name, sites=replace(inst.sites, status=status), bed_choices=options,
                       virtual=virtual, solver=replace(inst.solver, alternatives=0))
    # Policy.MEASURE: any bed count; capital for new beds above today's at the scenario's
    # new-ward cost (that of the nearest listed option at or above the count).
    rule, target = inst.rules.utilisation_rule, inst.rules.utilisation_target
    capital = np.zeros(len(unit_beds))
    for u in range(len(unit_beds)):
        mine = np.flatnonzero(opt.option_unit == u)
        above = mine[opt.option_beds[mine] >= unit_beds[u]]
        pick = above[np.argmin(opt.option_beds[above])] if len(above) else mine[np.argmax(opt.option_beds[mine])]
        capital[u] = opt.option_capital[pick] if unit_beds[u] > opt.unit_current[u] else 0.0
    options = BedChoices(unit_site=opt.unit_site, unit_ward=opt.unit_ward, unit_current=opt.unit_current,
                         option_unit=np.arange(len(unit_beds)), option_beds=unit_beds,
                         option_capacity=capacity_steps(unit_beds, rule, target), option_capital=capital)
    sites = replace(inst.sites, status=status, max_beds=np.maximum(inst.sites.max_beds, site_beds.astype(int)))
    virtual = inst.virtual
    if virtual is not None:
        vb = np.zeros(len(inst.districts.ids), int) if virtual_beds is None else np.asarray(virtual_beds, int)
        virtual = VirtualSizing(lo=vb, hi=vb, step=1, anchor=vb, anchor_capacity=np.full(len(vb), 1e6),
                                slope=np.zeros(len(vb)), must_run=vb > 0, cost_per_bed=virtual.cost_per_bed)
    rules = Rules(single_assignment=inst.rules.single_assignment, capacity_limits=False, utilisation_rule=rule,
                  utilisation_target=target, virtual_target=inst.rules.virtual_target,
                  onward_flow=inst.rules.onward_flow, deprivation=inst.rules.deprivation)
    return replace(inst, name=name or inst.name, sites=sites, bed_choices=options, virtual=virtual, rules=rules,
                   weights=replace(inst.weights, lexicographic=None))
