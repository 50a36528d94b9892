"""One home per rule family.

Every family of rules — the allowed bed counts, site statuses, minimum beds, estate limits,
serving every patient, home-based beds, capacity with onward flow, the travel standard, the
worst district's travel, the number of open sites, the budget, the most units of a ward
type — is one object (:class:`~optimiser.rules.base.Rule`) in one module that knows all its
faces: its rows in the formulation, its violation on a solution's raw arrays (for the
independent checker), its wording and relaxation (for the infeasibility explanation), and
whether an option that is only measured is held to it. The formulation's ``build``, the
checker, the explanation and the breaks of a measured option all iterate :data:`REGISTRY`,
in this order. A new rule is one module here, one line below, and its test (README,
"Adding a rule").
"""

from __future__ import annotations

from optimiser.rules.assignment import Assignment, StrongLinks
from optimiser.rules.base import Probe, RawSolution, Rule, Suggestion, Violation
from optimiser.rules.bed_options import BedChoices
from optimiser.rules.budget import Budget
from optimiser.rules.capacity import Capacity
from optimiser.rules.deprivation import DeprivationEquity
from optimiser.rules.equity import WorstDistrictTravel
from optimiser.rules.estate import EstateLimit
from optimiser.rules.min_beds import MinBedsOpenSite
from optimiser.rules.open_counts import OpenSiteCounts
from optimiser.rules.site_status import SiteStatus
from optimiser.rules.travel_standard import TravelStandard
from optimiser.rules.unit_counts import UnitsPerWardType
from optimiser.rules.virtual_beds import VirtualBeds

REGISTRY: tuple[Rule, ...] = (
    BedChoices(),
    SiteStatus(),
    MinBedsOpenSite(),
    EstateLimit(),
    UnitsPerWardType(),
    Assignment(),
    VirtualBeds(),
    Capacity(),
    StrongLinks(),
    TravelStandard(),
    WorstDistrictTravel(),
    DeprivationEquity(),
    OpenSiteCounts(),
    Budget(),
)

__all__ = ["REGISTRY", "Probe", "RawSolution", "Rule", "Suggestion", "Violation"]
