"""Scenario: every parameter of a run, validated once into an immutable object.

A scenario is a small YAML file that names a dataset and sets the parameters below. Unknown
keys, wrong types and out-of-range values raise :class:`~optimiser.errors.ScenarioError`
naming the dotted key (``pathways.rehab.length_of_stay_days``). Every field carries a
description and a unit; :func:`parameter_table` turns them into the data dictionary used by
the docs, the assumptions page and the app's help text.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from optimiser.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_MIP_GAP,
    DEFAULT_ORTOOLS_SOLVER,
    DEFAULT_TIME_LIMIT_SECONDS,
)
from optimiser.errors import ScenarioError, short_repr, shorten
from optimiser.figures import (
    FigureNote,
    FigureNoteError,
    carried_notes,
    frozen,
    insert_notes,
    strip_notes,
)

AgeBand = Literal["0-64", "65-74", "75-84", "85+"]
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO_PATH = REPO_ROOT / "data" / "scenarios" / "llr_default.yaml"


def _f(default, description: str, unit: str = "", assumption: bool = False, **kw):
    """A field with a description and unit kept for the data dictionary."""
    extra = {"unit": unit, "assumption": assumption}
    return Field(default, description=description, json_schema_extra=extra, **kw)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DemandSpec(_Strict):
    method: Literal["calibrated", "rates"] = _f(
        "calibrated",
        "How demand is set: 'calibrated' scales the zone weights so that today's beds run at "
        "calibration_occupancy; 'rates' uses admissions_per_1000 directly.")
    weights: Literal["age", "stroke_admissions"] = _f(
        "age", "What spreads demand over zones: population by age band x relative_rates, or "
        "the dataset's stroke admissions per zone")
    relative_rates: dict[AgeBand, Annotated[float, Field(ge=0)]] = _f(
        {"0-64": 0.02, "65-74": 1.0, "75-84": 3.0, "85+": 8.0},
        "Relative use of beds per resident by age band (0-64, 65-74, 75-84, 85+; 65-74 = 1)", "ratio", assumption=True)
    calibration_occupancy: float = _f(
        0.92, "Occupancy today's beds of this pathway are taken to run at (calibration)",
        "share", assumption=True, gt=0, le=1)
    include_current_virtual_beds: float = _f(
        0.0, "Share of today's virtual beds counted as this pathway's demand in calibration",
        "share", assumption=True, ge=0, le=1)
    admissions_per_1000: dict[AgeBand, Annotated[float, Field(ge=0)]] = _f(
        {}, "Admissions per 1,000 residents per year by age band (method 'rates')",
        "admissions/1000/year", assumption=True)

    @model_validator(mode="after")
    def _rates_given(self):
        if self.method == "rates" and not self.admissions_per_1000:
            raise ValueError("method 'rates' needs admissions_per_1000 for each age band")
        return self


class PathwaySpec(_Strict):
    label: str = _f("", "Name shown to users")
    length_of_stay_days: float = _f(25.0, "Mean length of stay in a hospital bed", "days",
                                    assumption=True, gt=0, le=365)
    virtual_length_of_stay_days: float | None = _f(
        None, "Mean length of stay on a virtual (home-based) bed; blank = same as hospital",
        "days", assumption=True, gt=0, le=365)
    virtual_share: float = _f(0.0, "Share of patients clinically suitable for a home-based bed",
                              "share", assumption=True, ge=0, le=1)
    ward: str = _f("general", "Ward type the pathway's beds belong to (pathways sharing a ward "
                   "share its beds)")
    sites: Literal["all"] | list[str] = _f("all", "Sites that may host this pathway")
    max_travel_minutes: float | None = _f(None, "Override of travel.max_minutes for this "
                                          "pathway", "minutes", gt=0)
    fallback_ward: str | None = _f(
        None, "Ward type a patient of this pathway is placed on when every reachable unit of its "
        "own ward is full (e.g. stroke rehabilitation on a general community ward); blank = none: "
        "such a patient is turned away")
    demand: DemandSpec = Field(default_factory=DemandSpec)


class WardSpec(_Strict):
    label: str = _f("", "Name shown to users")
    bed_options: list[Annotated[int, Field(ge=0)]] | None = _f(
        None, "Allowed ward sizes (beds) on a site; blank = smallest, smallest+step, ... up to "
        "the site's estate limit", "beds")
    smallest: int = _f(12, "Smallest ward that may open", "beds", assumption=True, ge=1)
    step: int = _f(4, "Step between allowed ward sizes", "beds", assumption=True, ge=1)
    largest: int | None = _f(None, "Largest ward size (blank = estate limit)", "beds", ge=1)
    max_units: int | None = _f(None, "Most sites that may run a unit of this ward type (e.g. at most two "
                               "stroke rehabilitation units); blank = no limit", "units", ge=0)


class SiteSpec(_Strict):
    status: Literal["free", "keep_open", "close"] = _f(
        "free", "free: the optimiser decides; keep_open: must keep beds; close: no beds")
    fixed_cost_per_year: float | None = _f(None, "Annual cost of keeping inpatient beds on the "
                                           "site (estate, on-site cover)", "GBP/year", ge=0)
    cost_per_bed_per_year: float | None = _f(None, "Annual cost per staffed bed", "GBP/year", ge=0)
    new_ward_cost: float | None = _f(None, "One-off cost of adding a ward", "GBP", ge=0)
    max_beds: int | None = _f(None, "Estate limit on beds (blank = dataset value)", "beds", ge=0)


class SiteDefaults(_Strict):
    fixed_cost_per_year: float = _f(750_000.0, "Annual cost of keeping inpatient beds on a site",
                                    "GBP/year", assumption=True, ge=0)
    cost_per_bed_per_year: float = _f(110_000.0, "Annual cost per staffed community bed",
                                      "GBP/year", assumption=True, ge=0)
    new_ward_cost: float = _f(3_000_000.0, "One-off cost of adding a ward", "GBP",
                              assumption=True, ge=0)
    ward_size_for_capital: int = _f(16, "Beds per added ward when costing new wards", "beds",
                                    assumption=True, ge=1)
    capital_annualisation_years: float = _f(25.0, "Years over which one-off costs are spread in "
                                            "the annual cost", "years", assumption=True, gt=0)


class VirtualSpec(_Strict):
    enabled: bool = _f(True, "Plan home-based (virtual) beds")
    cost_per_bed_per_year: float = _f(45_000.0, "Annual cost per virtual bed (home visits, "
                                      "kit, hub staff)", "GBP/year", assumption=True, ge=0)
    min_beds: dict[str, Annotated[int, Field(ge=0)]] = _f(
        {}, "Minimum virtual beds per district (district code or 'default')", "beds")
    max_beds: dict[str, Annotated[int, Field(ge=0)]] = _f(
        {"default": 80}, "Maximum virtual beds per district (hub staffing)", "beds",
        assumption=True)
    step: int = _f(2, "Step between allowed virtual bed counts", "beds", ge=1)
    staff_travel_limit_minutes: float = _f(
        60.0, "Longest drive from a district's hub base to a patient's home for the hub to take "
        "them (part of the 2-hour crisis response)", "minutes", assumption=True, gt=0)
    hub_locations: dict[str, tuple[float, float]] = _f(
        {}, "Hub base per district as (lat, lon); blank = the district's population-weighted "
        "centre", "degrees", assumption=True)


class TravelStandard(_Strict):
    threshold_minutes: float = _f(30.0, "Travel threshold", "minutes", gt=0)
    share: float = _f(0.95, "Share of the population that must be within the threshold of "
                      "its hospital", "share", ge=0, le=1)
    population: Literal["65_plus", "all"] = _f("65_plus", "Which population the share counts")
    pathways: list[str] = _f(["rehab"], "Pathways the standard applies to")
    travel_matrix: Literal["main", "second"] = _f(
        "main", "Which travel times the standard is measured on: main (the dataset's travel times, by "
        "road) or second (the dataset's second matrix, e.g. public transport; add one with "
        "'python -m optimiser data add-travel')")


class TravelSpec(_Strict):
    max_minutes: float = _f(45.0, "Longest patient journey to the assigned hospital", "minutes",
                            gt=0)
    standard: TravelStandard | None = Field(default_factory=TravelStandard)
    assignment: Literal["single", "split"] = _f(
        "split", "split: a zone's patients may be shared between hospitals (maps show each "
        "zone's main hospital; solves in seconds); single: each zone goes to exactly one "
        "hospital per pathway (clean catchments; a much harder problem, allow minutes)")


class UtilisationSpec(_Strict):
    rule: Literal["erlang", "occupancy"] = _f(
        "erlang", "erlang: size beds so the chance an arriving patient finds no free bed stays "
        "below blocking_target; occupancy: keep mean occupancy below occupancy_target")
    blocking_target: float = _f(0.05, "Largest acceptable chance that a patient finds no free "
                                "bed", "probability", gt=0, lt=1)
    occupancy_target: float = _f(0.85, "Largest acceptable mean bed occupancy", "share", gt=0,
                                 le=1)
    virtual_blocking_target: float | None = _f(None, "Blocking target for virtual beds (blank = "
                                               "same)", "probability", gt=0, lt=1)
    onward_flow: bool = _f(
        True, "Patients who find no free bed go on to another hospital (or, for home-based beds, "
        "to hospital) as bed managers arrange, and the beds they take there are planned for; off: "
        "they are turned away (erlang rule only)")


class CalibrationSpec(_Strict):
    scope: Literal["site", "county"] = _f(
        "site", "site: scale each hospital's catchment so that today's beds run at their pathways' "
        "calibration_occupancy in the patient-flow model (patients refused by a full hospital go "
        "on to the next), at the population base year; county: one demand rate per pathway for "
        "the whole area (today's beds then run at whatever the flow model gives)")


class ObjectiveSpec(_Strict):
    cost_weight: float = _f(1.0, "Weight on annual cost", "per GBP", ge=0)
    travel_weight: float = _f(5.0, "Value of one patient-minute of one-way travel (covers visits "
                              "during the stay)", "GBP per admission-minute", assumption=True,
                              ge=0)
    unmet_weight: float = _f(5_000.0, "Penalty per bed-day of demand left unmet", "GBP per "
                             "bed-day", assumption=True, ge=0)
    equity_weight: float = _f(50_000.0, "Weight on the worst district's mean travel", "GBP per "
                              "minute", assumption=True, ge=0)
    lexicographic: list[Literal["unmet", "cost", "travel", "equity"]] | None = _f(
        None, "Solve objectives in this order instead of a weighted sum, keeping each optimum "
        "within lexicographic_tolerance")
    lexicographic_tolerance: float = _f(0.001, "Relative slack allowed on earlier objectives",
                                        "share", ge=0, le=0.5)


class DeprivationEquitySpec(_Strict):
    most_deprived_deciles: list[Annotated[int, Field(ge=1, le=10)]] = _f(
        [1, 2], "IMD 2019 deciles of the most deprived group (1 = the most deprived tenth of areas in "
        "England; 1, 2 = the most deprived fifth)")
    least_deprived_deciles: list[Annotated[int, Field(ge=1, le=10)]] = _f(
        [9, 10], "IMD 2019 deciles of the least deprived group it is compared with")
    population: Literal["65_plus", "all"] = _f("65_plus", "Whose mean travel is compared")
    pathway: str | None = _f(None, "Pathway whose travel is compared (blank = the travel standard's "
                             "first pathway, else the first pathway)")
    max_gap_minutes: float | None = _f(
        None, "Most the most deprived group's mean travel may exceed the least deprived's (blank = no "
        "limit; the gap is still reported)", "minutes", ge=-120, le=120)
    max_worsening_minutes: float | None = _f(
        None, "Most the most deprived group's mean travel may rise against the baseline option (blank = "
        "no limit)", "minutes", ge=0, le=120)
    baseline_option: str = _f(
        "status_quo", "Option the worsening is measured against: a shipped option (file name without "
        ".yaml, e.g. status_quo) or an option file, relative to the scenario file")

    @model_validator(mode="after")
    def _groups(self):
        if not self.most_deprived_deciles or not self.least_deprived_deciles:
            raise ValueError("most_deprived_deciles and least_deprived_deciles each need at least one decile")
        both = sorted(set(self.most_deprived_deciles) & set(self.least_deprived_deciles))
        if both:
            raise ValueError(f"decile(s) {', '.join(map(str, both))} are in both groups")
        return self


class EquitySpec(_Strict):
    deprivation: DeprivationEquitySpec | None = Field(
        None, description="A limit on how much further the most deprived areas travel than the least "
        "deprived (and/or than under a baseline option); blank = no limit (the gap is still reported "
        "with the most and least deprived fifths)")


class OpenSitesSpec(_Strict):
    exactly: int | None = _f(None, "Number of sites with beds (blank = free)", "sites", ge=0)
    at_least: int | None = _f(None, "Fewest sites with beds", "sites", ge=0)
    at_most: int | None = _f(None, "Most sites with beds", "sites", ge=0)


class SolverSpec(_Strict):
    backend: Literal["ortools", "pulp"] = _f(DEFAULT_BACKEND, "ortools (HiGHS, bundled) or pulp (CBC, "
                                             "bundled)")
    ortools_solver: Literal["highs", "scip", "sat"] = _f(DEFAULT_ORTOOLS_SOLVER, "Solver used through OR-Tools")
    time_limit_seconds: float = _f(
        DEFAULT_TIME_LIMIT_SECONDS, "Safety net: stop after this long with the best answer found so far. A solve "
        "normally ends on mip_gap; an answer the time limit cut short is reported as such "
        "(stopped_by_time_limit) and never cached as the answer", "seconds", gt=0)
    mip_gap: float = _f(DEFAULT_MIP_GAP, "Stop when within this relative gap of optimal", "share", ge=0,
                        lt=1)
    alternatives: int = _f(0, "Also find this many next-best distinct configurations",
                           "count", ge=0, le=20)
    strong_linking: Literal["auto", "on", "off"] = _f(
        "auto", "Add x <= open links for every zone-site pair (tighter, larger model); auto: only "
        "up to 50,000 pairs (at 116,000 pairs they made the relaxation 25 times slower for a "
        "0.07% tighter bound)")
    assignment_form: Literal["auto", "shares"] = _f(
        "auto", "How the assignment is written: auto uses the compact radius form where it is "
        "exact (no capacity, travel standard, equity or virtual beds: the p-median), shares "
        "always writes one share per zone-site pair")


class NearTiesSpec(_Strict):
    margin: float = _f(0.01, "Report materially different configurations (another set of hospitals "
                       "keeping beds, or a site more than one ward step different) whose objective is "
                       "within this share of the best (at least the solve's own mip_gap)", "share",
                       ge=0, le=0.2)
    max_count: int = _f(3, "Most near-ties to look for (0 = do not search)", "count", ge=0, le=10)


class CustomInputs(_Strict):
    zones_file: str | None = _f(None, "CSV of zones (zone_code, demand, optional district_code, "
                                "population_65_plus) replacing the dataset's zones")
    travel_file: str | None = _f(None, "CSV travel matrix (long or wide) replacing the dataset's")
    sites_file: str | None = _f(None, "CSV of candidate sites (site_id, optional site_name); "
                                "blank = the travel matrix's columns")


class Scenario(_Strict):
    """A validated, immutable scenario."""

    name: str = _f("Unnamed scenario", "Name shown in results")
    description: str = _f("", "What this scenario represents")
    dataset: str = _f("default", "Dataset file (.gpkg), relative to the scenario file, or "
                      "'default'")
    citations: list[str] = _f([], "Entries of seeds/ this scenario relies on")
    horizon_year: int = _f(2030, "Year the plan is for", "year", ge=2000, le=2100)
    growth: Literal["dataset"] | float = _f(
        "dataset", "Demand growth to the horizon: 'dataset' uses the population projections; a "
        "number is a flat percentage increase", "percent")
    growth_scale: float = _f(
        1.0, "How much of the projected population growth from the base year to the horizon "
        "happens: each growth factor is raised to this power (1 = the projection; 0.5 = about half "
        "the growth; 0 = none)", "ratio", assumption=True, ge=0, le=3)
    beds_today: dict[str, Annotated[int, Field(ge=0)]] = _f(
        {}, "Beds a site has today (all its wards), replacing the dataset's figure and split over "
        "the site's pathways as the dataset splits them; used to calibrate demand and to cost new "
        "wards", "beds", assumption=True)
    mode: Literal["capacitated", "p_median"] = _f(
        "capacitated", "capacitated: beds, costs and queueing limits; p_median: drop capacity "
        "and cost and minimise travel alone (needs open_sites.exactly)")
    pathways: dict[str, PathwaySpec] = Field(default_factory=lambda: {"rehab": PathwaySpec()})
    wards: dict[str, WardSpec] = Field(default_factory=lambda: {"general": WardSpec()})
    min_beds_per_open_site: int = _f(0, "Fewest beds on a site that keeps beds (isolated small "
                                     "units are a clinical risk)", "beds", ge=0)
    site_defaults: SiteDefaults = Field(default_factory=SiteDefaults)
    sites: dict[str, SiteSpec] = Field(default_factory=dict)
    virtual: VirtualSpec = Field(default_factory=VirtualSpec)
    travel: TravelSpec = Field(default_factory=TravelSpec)
    utilisation: UtilisationSpec = Field(default_factory=UtilisationSpec)
    calibration: CalibrationSpec = Field(default_factory=CalibrationSpec)
    budget_per_year: float | None = _f(None, "Most the configuration may cost per year (blank = "
                                       "no limit)", "GBP/year", gt=0)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    open_sites: OpenSitesSpec = Field(default_factory=OpenSitesSpec)
    equity: EquitySpec = Field(default_factory=EquitySpec)
    solver: SolverSpec = Field(default_factory=SolverSpec)
    near_ties: NearTiesSpec = Field(default_factory=NearTiesSpec)
    inputs: CustomInputs = Field(default_factory=CustomInputs)
    base_dir: str = Field("", exclude=True, description="Folder relative paths resolve from")
    _figures: Mapping[str, FigureNote] = PrivateAttr(default_factory=lambda: frozen({}))

    @field_validator("growth", mode="before")
    @classmethod
    def _growth(cls, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not -50 <= value <= 200:
            raise ValueError("a flat growth percentage must be between -50 and 200")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if not self.pathways:
            raise ValueError("at least one pathway is needed")
        for pid, p in self.pathways.items():
            if p.ward not in self.wards:
                raise ValueError(f"pathways.{pid}.ward: ward '{p.ward}' is not defined under wards "
                                 f"(defined: {', '.join(self.wards)})")
            if p.fallback_ward is not None and p.fallback_ward not in self.wards:
                raise ValueError(f"pathways.{pid}.fallback_ward: ward '{p.fallback_ward}' is not defined "
                                 f"under wards (defined: {', '.join(self.wards)})")
        dep = self.equity.deprivation
        if dep is not None and dep.pathway is not None and dep.pathway not in self.pathways:
            raise ValueError(f"equity.deprivation.pathway: '{dep.pathway}' is not a pathway")
        if self.travel.standard is not None:
            for pid in self.travel.standard.pathways:
                if pid not in self.pathways:
                    raise ValueError(f"travel.standard.pathways: '{pid}' is not a pathway")
        o = self.open_sites
        if o.at_least is not None and o.at_most is not None and o.at_least > o.at_most:
            raise ValueError(f"open_sites: at_least ({o.at_least}) is more than at_most ({o.at_most})")
        if self.mode == "p_median" and self.open_sites.exactly is None:
            raise ValueError("mode p_median needs open_sites.exactly (the p of the p-median)")
        for key, lo in self.virtual.min_beds.items():
            hi = self.virtual.max_beds.get(key, self.virtual.max_beds.get("default"))
            if hi is not None and lo > hi:
                raise ValueError(f"virtual.min_beds.{key} ({lo}) is more than virtual.max_beds ({hi})")
        return self

    # ---- helpers ---------------------------------------------------------------------
    @property
    def figures(self) -> Mapping[str, FigureNote]:
        """Where each figure comes from: the notes written inline in the scenario file,
        keyed by the setting's dotted path (read-only). A setting changed since it was read
        (``with_changes``) loses its note: its value is then the user's."""
        return self._figures

    def resolve_path(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else Path(self.base_dir or ".") / path

    def with_changes(self, **changes: Any) -> Scenario:
        """A new validated scenario with dotted-key changes, e.g.
        ``with_changes(**{"travel.max_minutes": 40})``."""
        data = self.model_dump(mode="python")
        for dotted, value in changes.items():
            _set_dotted(data, dotted, value)
        data["base_dir"] = self.base_dir
        changed = scenario_from_dict(data)
        changed._figures = frozen(carried_notes(changed.model_dump(mode="json"), self._figures))
        return changed

    def to_yaml(self) -> str:
        """The scenario as YAML, with each figure's note written back inline."""
        data = insert_notes(self.model_dump(mode="json", exclude={"base_dir"}), self._figures)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """A stable hash of every setting, used to cache solves."""
        import hashlib

        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        if node.get(k) is None:
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value


def _format_errors(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = ".".join(shorten(p, 40) for p in err["loc"] if not str(p).startswith("function-after"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling; see the data dictionary)"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] not in ("extra_forbidden",) and "input" in err and not isinstance(err["input"], dict):
            msg += f" (got {short_repr(err['input'])})"
        out.append((loc, msg))
    return out


def scenario_from_dict(data: dict, *, file: str | Path | None = None) -> Scenario:
    """Validate a parsed scenario; inline figure notes (see :mod:`optimiser.figures`) are
    taken out first and kept on the scenario's ``figures``."""
    try:
        data, notes = strip_notes(data)
    except FigureNoteError as exc:
        raise ScenarioError(exc.problem, key=exc.path, file=file) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = _format_errors(exc)
        key, msg = errors[0]
        if len(errors) > 1:
            msg += f"; and {len(errors) - 1} more problem(s): " + "; ".join(
                f"{k or 'scenario'}: {m}" for k, m in errors[1:4])
        raise ScenarioError(msg, key=key or None, file=file) from None
    dumped = scenario.model_dump(mode="json")
    for path, note in notes.items():
        if note.path not in carried_notes(dumped, {path: note}):
            raise ScenarioError("a figure note is only allowed on a number the scenario keeps",
                                key=path, file=file)
    scenario._figures = frozen(notes)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    from optimiser.safe_yaml import MAX_SCENARIO_BYTES, load_yaml

    path = Path(path)
    if not path.exists():
        raise ScenarioError("scenario file not found", file=path)

    def refused(problem: str, line: int | None) -> ScenarioError:
        return ScenarioError(problem + (f" at line {line}" if line else ""), file=path)

    data = load_yaml(path, max_bytes=MAX_SCENARIO_BYTES, error=refused)
    if not isinstance(data, dict):
        raise ScenarioError("must be a mapping of settings (key: value)", file=path)
    data["base_dir"] = str(path.resolve().parent)
    return scenario_from_dict(data, file=path)


def default_scenario() -> Scenario:
    return load_scenario(DEFAULT_SCENARIO_PATH)


def parameter_table() -> list[dict[str, str]]:
    """The data dictionary: one row per scenario setting (key, type, unit, default,
    assumption flag, description)."""
    rows: list[dict[str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if name == "base_dir":
                continue
            key = f"{prefix}{name}"
            ann = field.annotation
            sub = _submodel(ann)
            if sub is not None:
                walk(sub, key + ".")
                continue
            # (typing aliases compare equal but are not identical objects: use ==, not is)
            if ann in (dict[str, PathwaySpec], dict[str, WardSpec], dict[str, SiteSpec]):
                inner = {dict[str, PathwaySpec]: (PathwaySpec, "<pathway>"),
                         dict[str, WardSpec]: (WardSpec, "<ward>"),
                         dict[str, SiteSpec]: (SiteSpec, "<site>")}[ann]
                walk(inner[0], f"{key}.{inner[1]}.")
                continue
            extra = field.json_schema_extra or {}
            default = field.get_default(call_default_factory=True)
            rows.append({
                "key": key,
                "type": _type_name(ann),
                "unit": str(extra.get("unit", "")),
                "default": "" if default is None else str(default),
                "assumption": "yes" if extra.get("assumption") else "",
                "description": field.description or "",
            })

    walk(Scenario, "")
    return rows


def _submodel(ann):
    import types
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        for a in typing.get_args(ann):
            if isinstance(a, type) and issubclass(a, BaseModel):
                return a
    return None


def _type_name(ann) -> str:
    text = str(ann).replace("typing.", "")
    return text.replace("<class '", "").replace("'>", "")


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_format(v)}" for k, v in value.items()) or "none"
    return str(value)


def setting_rows(scenario: Scenario) -> list[dict[str, str]]:
    """Every setting of ``scenario`` with its value there, the schema default, unit and
    meaning, and its figure note (source, assumption, 80% range, variants). Settings of each
    pathway, ward and site the scenario defines get one row each (grouped by pathway, ward,
    site); a mapping setting whose entries are numbers (``relative_rates``,
    ``virtual.max_beds``) gets a row per entry. ``status`` says what backs the value:
    ``source``, ``assumption``, ``source and assumption``, ``default`` (the schema's, no note)
    or ``no note`` (a number set without a source or assumption)."""
    dump = scenario.model_dump(mode="json")
    notes = scenario.figures
    table = parameter_table()
    defaults = _raw_defaults()
    tops = list(dict.fromkeys(r["key"].split(".")[0] for r in table))
    found_rows: list[tuple[tuple, dict[str, str]]] = []

    def add(order: tuple, key: str, value, default, row: dict) -> None:
        note = notes.get(key)
        if note is not None:
            status = " and ".join(w for w, on in (("source", note.source),
                                                  ("assumption", note.assumption)) if on)
        elif _is_figure(value) and value != default:
            status = "no note"
        else:
            status = "default" if value == default else ""
        found_rows.append((order, {
            "key": key, "value": _format(value), "default": _format(default), "unit": row["unit"],
            "meaning": row["description"], "status": status,
            "source": note.source if note else "",
            "assumption": note.assumption if note else "",
            "low": _format(note.low) if note else "", "high": _format(note.high) if note else "",
            "variants": "; ".join(f"{k}: {_format(v)}" for k, v in note.variants) if note else "",
            "default_is_assumption": row["assumption"],
        }))

    for t_index, row in enumerate(table):
        key = row["key"]
        for concrete in _concrete_keys(key, dump):
            present, value = _lookup(dump, concrete)
            if not present:
                continue
            entity = concrete.split(".")[1] if "<" in key else ""
            entity_index = (list(dump[key.split(".")[0]]).index(entity) if entity else 0)
            order = (tops.index(key.split(".")[0]), entity_index, t_index)
            default = defaults.get(key)
            if isinstance(value, dict) and value and all(_is_figure(v) for v in value.values()):
                for e_index, (entry, sub) in enumerate(value.items()):
                    add(order + (e_index,), f"{concrete}.{entry}", sub,
                        default.get(entry) if isinstance(default, dict) else None, row)
            else:
                add(order + (0,), concrete, value, default, row)
    return [r for _, r in sorted(found_rows, key=lambda item: item[0])]


def _is_figure(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _concrete_keys(template: str, dump: dict) -> list[str]:
    """'pathways.<pathway>.ward' -> ['pathways.rehab.ward', 'pathways.stroke.ward', ...]."""
    parts = template.split(".")
    keys = [""]
    for part in parts:
        if part.startswith("<") and part.endswith(">"):
            grown = []
            for k in keys:
                found, node = _lookup(dump, k)
                if found and isinstance(node, dict):
                    grown += [f"{k}.{entry}" for entry in node]
            keys = grown
        else:
            keys = [f"{k}.{part}" if k else part for k in keys]
    return keys


def _lookup(dump: dict, key: str):
    node = dump
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _raw_defaults() -> dict[str, Any]:
    """The schema default of every data-dictionary key (templates keep <pathway> etc.)."""
    out: dict[str, Any] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}{name}"
            sub = _submodel(field.annotation)
            if sub is not None:
                walk(sub, key + ".")
                continue
            inner = {dict[str, PathwaySpec]: (PathwaySpec, "<pathway>"),
                     dict[str, WardSpec]: (WardSpec, "<ward>"),
                     dict[str, SiteSpec]: (SiteSpec, "<site>")}
            if field.annotation in inner:
                spec, tag = inner[field.annotation]
                walk(spec, f"{key}.{tag}.")
                continue
            default = field.get_default(call_default_factory=True)
            out[key] = default.model_dump(mode="json") if isinstance(default, BaseModel) else default

    walk(Scenario, "")
    return out
