"""Population to demand: admissions per year per zone and pathway, at the horizon year.

Demand is carried as *admissions per year*; a pathway's mean length of stay turns it into
offered load (beds' worth, erlangs): ``load = admissions x LOS / 365``.

Two methods, per pathway:

* ``calibrated`` (default): spread the pathway's base-year load over zones by a weight
  (population by age band x relative rates, or stroke admissions), with the total set so
  that *today's* beds run at ``calibration_occupancy``; then grow each zone to the horizon.
* ``rates``: admissions per 1,000 residents per year by age band, grown to the horizon.

Growth comes from the dataset's projections (per district and band, compound interpolation
between the years given, the end rates carried beyond them) or a flat percentage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.errors import InputError, ScenarioError
from optimiser.scenario import PathwaySpec, Scenario

BAND_COLUMNS = {"65-74": "pop_65_74", "75-84": "pop_75_84", "85+": "pop_85_plus"}
# Which projection band drives each population band's growth.
PROJECTION_FOR_BAND = {"0-64": "all_ages", "65-74": "65_plus", "75-84": "65_plus", "85+": "85_plus"}


def band_populations(zones: pd.DataFrame) -> pd.DataFrame:
    """Zone x age band (0-64, 65-74, 75-84, 85+)."""
    out = pd.DataFrame(index=zones.index)
    over = zones[list(BAND_COLUMNS.values())].sum(axis=1)
    out["0-64"] = (zones["pop_total"] - over).clip(lower=0)
    for band, col in BAND_COLUMNS.items():
        out[band] = zones[col]
    return out


def _index_at(years: np.ndarray, index: np.ndarray, year: float) -> float:
    """Compound interpolation of a projection index; end rates carried beyond the table."""
    order = np.argsort(years)
    years, logs = years[order].astype(float), np.log(index[order].astype(float))
    if len(years) == 1:
        return float(index[0])
    if year <= years[0]:
        rate = (logs[1] - logs[0]) / (years[1] - years[0])
        return float(np.exp(logs[0] + rate * (year - years[0])))
    if year >= years[-1]:
        rate = (logs[-1] - logs[-2]) / (years[-1] - years[-2])
        return float(np.exp(logs[-1] + rate * (year - years[-1])))
    return float(np.exp(np.interp(year, years, logs)))


def growth_factors(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Zone x age band factor from the population base year to the horizon year (each raised
    to the scenario's ``growth_scale``)."""
    table = _growth_table(dataset, scenario)
    return table if scenario.growth_scale == 1.0 else table ** float(scenario.growth_scale)


def current_beds(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Beds today as a site x pathway table: the dataset's, with the scenario's ``beds_today``
    overrides (a site's total, split over its pathways as the dataset splits them, largest
    remainder; a site with none today puts them on its first pathway)."""
    return with_beds_today(dataset.current_beds(), scenario.beds_today)


def with_beds_today(table: pd.DataFrame, beds_today) -> pd.DataFrame:
    """A site x pathway table of beds today with each site's total replaced (see
    :func:`current_beds`)."""
    if not beds_today:
        return table
    table = table.copy()
    for site, total in beds_today.items():
        if site not in table.index:
            raise ScenarioError(f"site '{site}' is not in the dataset (sites: {', '.join(table.index)})",
                                key=f"beds_today.{site}")
        row = table.loc[site].to_numpy(float)
        weights = row / row.sum() if row.sum() > 0 else np.eye(len(row))[0]
        exact = weights * int(total)
        parts = np.floor(exact).astype(int)
        parts[np.argsort(-(exact - parts), kind="stable")[:int(total) - parts.sum()]] += 1
        table.loc[site] = parts
    return table


def _growth_table(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    bands = list(PROJECTION_FOR_BAND)
    zones = dataset.zones
    if scenario.growth != "dataset":
        return pd.DataFrame(1.0 + float(scenario.growth) / 100.0, index=zones.index, columns=bands)
    proj = dataset.projections
    try:
        base_year = float(dataset.metadata.get("population_base_year", scenario.horizon_year))
    except (TypeError, ValueError):   # e.g. "unknown": never guessed
        if len(proj):
            raise InputError("the dataset does not record which year its population figures are "
                             "for, so its projections cannot grow demand to the horizon year: "
                             "import it again giving the year, or set a flat growth percentage",
                             file=dataset.name, column="population_base_year") from None
        base_year = float(scenario.horizon_year)
    # each (district, projection band)'s years and index, in the table's order
    series = {key: (rows["year"].to_numpy(), rows["index"].to_numpy())
              for key, rows in proj.groupby(["district_code", "band"], sort=False, observed=True)}
    by_district = {}
    for district in dataset.districts.index:
        factors = {}
        for band in bands:
            y, i = series.get((district, PROJECTION_FOR_BAND[band]), (np.zeros(0), np.zeros(0)))
            if len(y) < 2:
                factors[band] = 1.0
                continue
            factors[band] = _index_at(y, i, scenario.horizon_year) / _index_at(y, i, base_year)
        by_district[district] = factors
    table = pd.DataFrame.from_dict(by_district, orient="index")[bands]
    return table.loc[zones["district_code"]].set_axis(zones.index)


@dataclass(frozen=True)
class PathwayDemand:
    """Admissions per year per zone for one pathway, at the horizon year."""

    pathway: str
    admissions: pd.Series  # zone -> admissions/year at the horizon year
    base_admissions: pd.Series  # zone -> admissions/year at the population base year
    length_of_stay_days: float
    virtual_length_of_stay_days: float
    virtual_share: float
    calibration_note: str

    @property
    def load(self) -> pd.Series:
        return self.admissions * self.length_of_stay_days / 365.0


def _weights(dataset: Dataset, spec: PathwaySpec, pid: str, growth: pd.DataFrame,
             bands: pd.DataFrame) -> tuple[pd.Series, pd.Series, str]:
    """(base-year weight, horizon weight) per zone, and what the weights were."""
    label = f"{spec.demand.weights} weights"
    if spec.demand.weights == "stroke_admissions":
        stroke = dataset.zones["stroke_admissions"]
        if stroke.notna().all() and stroke.sum() > 0:
            over65 = bands[["65-74", "75-84", "85+"]]
            g65 = (over65 * growth[["65-74", "75-84", "85+"]]).sum(axis=1) / over65.sum(axis=1).where(lambda s: s > 0, 1)
            g65 = g65.where(over65.sum(axis=1) > 0, 1.0)
            return stroke, stroke * g65, label
        label = ("age weights instead of stroke_admissions (the dataset has no stroke admissions "
                 "for every zone)")
    rates = pd.Series({b: spec.demand.relative_rates.get(b, 0.0) for b in bands.columns})
    base = (bands * rates).sum(axis=1)
    horizon = (bands * growth[bands.columns] * rates).sum(axis=1)
    if base.sum() <= 0:
        raise ScenarioError("relative rates give zero demand", key=f"pathways.{pid}.demand.relative_rates")
    return base, horizon, label


def pathway_demand(dataset: Dataset, scenario: Scenario) -> dict[str, PathwayDemand]:
    """Demand per pathway at the horizon year."""
    growth = growth_factors(dataset, scenario)
    bands = band_populations(dataset.zones)
    current = current_beds(dataset, scenario)
    virtual_today = float(dataset.districts["current_virtual_beds"].sum())
    out = {}
    for pid, spec in scenario.pathways.items():
        los = spec.length_of_stay_days
        vlos = spec.virtual_length_of_stay_days or los
        if spec.demand.method == "rates":
            rates = pd.Series({b: spec.demand.admissions_per_1000.get(b, 0.0) for b in bands.columns})
            admissions = (bands * growth[bands.columns] * rates).sum(axis=1) / 1000.0
            base = (bands * rates).sum(axis=1) / 1000.0
            note = "admissions per 1,000 residents by age band (scenario rates)"
        else:
            beds_today = float(current[pid].sum()) if pid in current.columns else 0.0
            beds_today += spec.demand.include_current_virtual_beds * virtual_today
            if beds_today <= 0:
                raise ScenarioError(
                    f"cannot calibrate pathway '{pid}': the dataset has no current beds for it "
                    "(add a beds_" + pid + " column to the sites, or use method: rates)",
                    key=f"pathways.{pid}.demand.method")
            base_load = spec.demand.calibration_occupancy * beds_today
            base_w, horizon_w, weights = _weights(dataset, spec, pid, growth, bands)
            admissions = base_load * horizon_w / base_w.sum() * 365.0 / los
            base = base_load * base_w / base_w.sum() * 365.0 / los
            note = (f"calibrated: {beds_today:g} beds today at "
                    f"{spec.demand.calibration_occupancy:.0%} occupancy = {base_load:.1f} beds' "
                    f"worth of demand in the base year, spread by {weights}")
        out[pid] = PathwayDemand(pid, admissions.astype(float), base.astype(float), los, vlos,
                                 spec.virtual_share, note)
    return out
