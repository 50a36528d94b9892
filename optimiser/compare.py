"""Side-by-side comparison of options and the steering group's options appraisal.

Both work on metric dictionaries (``Solution.metrics`` or a ``summary.json`` read back from
disk), so a comparison can mix fresh solves with saved results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.errors import InputError


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str
    better: str      # "lower" | "higher" | "" (neither)
    fmt: str         # "gbp" | "int" | "pct" | "min" | "num" | "prob"


METRICS: dict[str, MetricInfo] = {
    "annual_cost_gbp": MetricInfo("Annual cost", "£ a year", "lower", "gbp"),
    "physical_beds": MetricInfo("Community hospital beds", "beds", "", "int"),
    "virtual_beds": MetricInfo("Home-based (virtual) beds", "beds", "", "int"),
    "total_beds": MetricInfo("All beds", "beds", "", "int"),
    "open_sites": MetricInfo("Hospitals with inpatient beds", "sites", "", "int"),
    "smallest_open_site_beds": MetricInfo("Smallest open site", "beds", "higher", "int"),
    "mean_travel_minutes_all": MetricInfo("Mean travel to hospital, all residents", "minutes", "lower", "min"),
    "mean_travel_minutes_65_plus": MetricInfo("Mean travel to hospital, residents 65+", "minutes", "lower", "min"),
    "p95_travel_minutes_all": MetricInfo("95th percentile travel, all residents", "minutes", "lower", "min"),
    "p95_travel_minutes_65_plus": MetricInfo("95th percentile travel, residents 65+", "minutes", "lower", "min"),
    "share_within_20_minutes_all": MetricInfo("Residents within 20 minutes", "%", "higher", "pct"),
    "share_within_30_minutes_all": MetricInfo("Residents within 30 minutes", "%", "higher", "pct"),
    "share_within_45_minutes_all": MetricInfo("Residents within 45 minutes", "%", "higher", "pct"),
    "share_within_20_minutes_65_plus": MetricInfo("Residents 65+ within 20 minutes", "%", "higher", "pct"),
    "share_within_30_minutes_65_plus": MetricInfo("Residents 65+ within 30 minutes", "%", "higher", "pct"),
    "share_within_45_minutes_65_plus": MetricInfo("Residents 65+ within 45 minutes", "%", "higher", "pct"),
    "max_travel_minutes": MetricInfo("Longest journey to the assigned hospital", "minutes", "lower", "min"),
    "worst_district_mean_travel_minutes": MetricInfo("Worst district's mean travel", "minutes", "lower", "min"),
    "mean_travel_minutes_most_deprived": MetricInfo("Mean travel to hospital, most deprived areas (IMD deciles 1-2 unless set)", "minutes", "lower", "min"),
    "mean_travel_minutes_least_deprived": MetricInfo("Mean travel to hospital, least deprived areas (IMD deciles 9-10 unless set)", "minutes", "", "min"),
    "deprivation_gap_minutes": MetricInfo("Deprivation gap: most minus least deprived areas' mean travel", "minutes", "lower", "min"),
    "mean_travel_minutes_65_plus_second_matrix": MetricInfo("Mean travel to hospital by the second matrix (e.g. public transport), residents 65+", "minutes", "lower", "min"),
    "share_within_30_minutes_65_plus_second_matrix": MetricInfo("Residents 65+ within 30 minutes by the second matrix", "%", "higher", "pct"),
    "share_within_45_minutes_65_plus_second_matrix": MetricInfo("Residents 65+ within 45 minutes by the second matrix", "%", "higher", "pct"),
    "share_within_60_minutes_65_plus_second_matrix": MetricInfo("Residents 65+ within 60 minutes by the second matrix", "%", "higher", "pct"),
    "share_no_route_65_plus_second_matrix": MetricInfo("Residents 65+ with no route to their hospital by the second matrix", "%", "lower", "pct"),
    "mean_occupancy": MetricInfo("Mean bed occupancy", "%", "", "pct"),
    "max_blocking_probability": MetricInfo("Highest chance a patient finds no free bed at a hospital", "%", "lower", "pct"),
    "patients_finding_no_free_bed_per_year": MetricInfo("Patients finding no free bed anywhere within reach", "a year", "lower", "num"),
    "share_of_patients_finding_no_free_bed": MetricInfo("Share of patients finding no free bed anywhere within reach", "%", "lower", "pct"),
    "patients_redirected_per_year": MetricInfo("Patients sent on because their first choice was full", "a year", "lower", "num"),
    "virtual_patients_finding_no_free_bed_per_year": MetricInfo("Patients the home-based service had no bed for (sent to hospital)", "a year", "lower", "num"),
    "unmet_admissions_per_year": MetricInfo("Admissions the plan cannot place within the limits", "a year", "lower", "num"),
    "demand_admissions_per_year": MetricInfo("Demand", "admissions a year", "", "num"),
    "hospital_admissions_per_year": MetricInfo("Admissions to hospital beds", "a year", "", "num"),
    "virtual_admissions_per_year": MetricInfo("Admissions to home-based beds", "a year", "", "num"),
    "new_ward_capital_gbp": MetricInfo("One-off capital for new wards", "£", "lower", "gbp"),
}


def metric_label(key: str) -> str:
    info = METRICS.get(key)
    return f"{info.label} ({info.unit})" if info else key.replace("_", " ")


def format_value(key: str, value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    fmt = METRICS[key].fmt if key in METRICS else "num"
    if fmt == "gbp":
        return f"£{value:,.0f}"
    if fmt == "int":
        return f"{value:,.0f}"
    if fmt == "pct":
        return f"{100 * value:.1f}%"
    if fmt == "min":
        return f"{value:.1f}"
    return f"{value:,.1f}"


def _metrics_of(item) -> tuple[str, Mapping]:
    if isinstance(item, tuple):
        return item[0], item[1]
    if isinstance(item, Mapping):
        return str(item.get("name", "option")), item.get("metrics", item)
    return item.name, item.metrics


def compare_table(items: Sequence, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows: metrics (labelled with units); columns: option names; values: numbers.
    ``items`` are Solutions, summary dicts, or (name, metrics) pairs."""
    if keys is None:   # every known metric, but not those no item has (e.g. no second travel matrix)
        have = set().union(*(_metrics_of(item)[1].keys() for item in items)) if items else set()
        keys = [k for k in METRICS if k in have or not k.endswith("_second_matrix")]
    keys = list(keys)
    cols = {}
    for item in items:
        name, m = _metrics_of(item)
        base, k = name, 2
        while name in cols:
            name, k = f"{base} ({k})", k + 1
        cols[name] = [m.get(key, np.nan) for key in keys]
    out = pd.DataFrame(cols, index=pd.Index(keys, name="metric"))
    return out


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table formatted for people: labels with units, formatted numbers."""
    out = table.copy().astype(object)
    for key in table.index:
        out.loc[key] = [format_value(key, v) for v in table.loc[key]]
    out.index = [metric_label(k) for k in table.index]
    out.index.name = "Measure"
    return out


def differences(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Each option minus the baseline column (numbers), for highlighting."""
    num = table.apply(pd.to_numeric, errors="coerce")
    return num.sub(num[baseline], axis=0)


@dataclass(frozen=True)
class Criterion:
    """One appraisal criterion: its weight and a fixed, stated scale: the value that scores 0
    and the value that scores 10 (in the measure's own unit, e.g. £ a year or a share 0-1);
    linear between, and held at 0 or 10 beyond. Whether lower or higher is better follows
    from the scale."""

    key: str
    weight: float
    score_0_at: float
    score_10_at: float

    @property
    def better(self) -> str:
        return "lower" if self.score_10_at < self.score_0_at else "higher"

    def score(self, value: float) -> float:
        if value is None or not np.isfinite(value):
            return 0.0
        s = 10 * (float(value) - self.score_0_at) / (self.score_10_at - self.score_0_at)
        return float(min(10.0, max(0.0, s)))

    def scale_text(self) -> str:
        return f"0 at {format_value(self.key, self.score_0_at)}, 10 at {format_value(self.key, self.score_10_at)}"


# Fixed scales (an assumption for the group to set): the value scoring 0, the value scoring 10.
DEFAULT_SCALES: dict[str, tuple[float, float]] = {
    "annual_cost_gbp": (60e6, 40e6),
    "share_within_20_minutes_65_plus": (0.6, 1.0), "share_within_30_minutes_65_plus": (0.8, 1.0),
    "share_within_45_minutes_65_plus": (0.9, 1.0), "share_within_20_minutes_all": (0.6, 1.0),
    "share_within_30_minutes_all": (0.8, 1.0), "share_within_45_minutes_all": (0.9, 1.0),
    "worst_district_mean_travel_minutes": (45.0, 15.0),
    "patients_finding_no_free_bed_per_year": (500.0, 0.0),
    "unmet_admissions_per_year": (500.0, 0.0),
    "smallest_open_site_beds": (0.0, 40.0),
    "new_ward_capital_gbp": (20e6, 0.0),
}


def default_scale(key: str) -> tuple[float, float]:
    """The stated scale a criterion starts with (0 at the first value, 10 at the second)."""
    if key in DEFAULT_SCALES:
        return DEFAULT_SCALES[key]
    info = METRICS.get(key)
    if info is None:
        raise InputError(f"'{key}' is not a measure the appraisal knows", column=key)
    if info.fmt == "pct":
        return (0.0, 1.0) if info.better == "higher" else (1.0, 0.0)
    if info.fmt == "min":
        return (60.0, 0.0) if info.better == "lower" else (0.0, 60.0)
    if info.fmt == "gbp":
        return (60e6, 0.0) if info.better == "lower" else (0.0, 60e6)
    return (1000.0, 0.0) if info.better == "lower" else (0.0, 1000.0)


def criteria_from(spec: Mapping) -> list[Criterion]:
    """Criteria from ``key -> (weight, better)`` (the default scale, turned to suit), ``key ->
    (weight, score_0_at, score_10_at)`` or ``key -> {"weight", "score_0_at", "score_10_at"}``."""
    if not isinstance(spec, Mapping):
        return [c if isinstance(c, Criterion) else Criterion(*c) for c in spec]
    out = []
    for key, value in spec.items():
        if isinstance(value, Mapping):
            weight, zero, ten = value.get("weight"), value.get("score_0_at"), value.get("score_10_at")
        elif len(value) == 2:
            weight, better = value
            if better not in ("lower", "higher"):
                raise InputError(f"criterion '{key}': say whether lower or higher is better", column=key)
            zero, ten = default_scale(key)
            if (better == "lower") != (ten < zero):
                zero, ten = ten, zero
        else:
            weight, zero, ten = value
        try:
            weight, zero, ten = float(weight), float(zero), float(ten)
        except (TypeError, ValueError):
            raise InputError(f"criterion '{key}' needs a weight and the values that score 0 and 10",
                             column=key) from None
        if not all(np.isfinite([weight, zero, ten])):
            raise InputError(f"criterion '{key}' has a value that is not a number", column=key)
        if weight < 0:
            raise InputError(f"criterion '{key}' has a negative weight", column=key)
        if zero == ten:
            raise InputError(f"criterion '{key}': the values scoring 0 and 10 must differ", column=key)
        out.append(Criterion(key, weight, zero, ten))
    return out


def appraisal(items: Sequence, criteria: Mapping, breaks: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Weighted-score options appraisal on fixed, stated scales (see :class:`Criterion`): a
    score does not depend on which other options are shown. ``criteria``: see
    :func:`criteria_from`. ``breaks``: option name -> how many rules of the settings it breaks;
    options that meet every rule are ranked first, the others after them and marked.

    Returns one row per option: each criterion's score (0-10), ``weighted_score``,
    ``rules_broken`` and ``rank``."""
    crits = criteria_from(criteria)
    if not crits:
        raise InputError("choose at least one criterion for the appraisal")
    table = compare_table(items, [c.key for c in crits])
    scores = pd.DataFrame(index=table.columns)
    total_w = sum(c.weight for c in crits)
    weighted = np.zeros(len(table.columns))
    for c in crits:
        vals = pd.to_numeric(table.loc[c.key], errors="coerce").to_numpy(float)
        s = np.array([c.score(v) for v in vals])
        scores[metric_label(c.key)] = s
        weighted += c.weight * s
    scores["weighted_score"] = weighted / total_w if total_w > 0 else 0.0
    num = scores.columns.tolist()
    scores[num] = scores[num].round(9) + 0.0          # no "-0.0" from rounding noise
    broken = pd.Series({name: int((breaks or {}).get(name, 0)) for name in scores.index}, dtype=int)
    scores["rules_broken"] = broken.reindex(scores.index).fillna(0).astype(int)
    # meeting every rule comes first; then the weighted score
    order = (scores["rules_broken"] > 0).astype(float) * 1e6 - scores["weighted_score"]
    scores["rank"] = order.rank(method="min").astype(int)
    scores.index.name = "option"
    return scores


DEFAULT_CRITERIA: dict[str, tuple[float, float, float]] = {
    key: (weight, *DEFAULT_SCALES[key]) for key, weight in (
        ("annual_cost_gbp", 30.0), ("share_within_30_minutes_65_plus", 25.0),
        ("worst_district_mean_travel_minutes", 15.0), ("patients_finding_no_free_bed_per_year", 15.0),
        ("unmet_admissions_per_year", 15.0))}
"""A starting point only (an assumption): the papers say the criteria and weights are
co-designed with Healthwatch and the Citizens' Panel, so the group sets its own weights and
scales. Each: (weight, value scoring 0, value scoring 10)."""


def read_summary(folder: str | Path) -> dict:
    """A result folder's summary.json, with a clear error if it is missing or damaged."""
    from optimiser.outputs import check_manifest

    path = Path(folder) / "summary.json"
    if path.exists():
        check_manifest(folder)
    if not path.exists():
        raise InputError("no summary.json here: is this a folder written by 'solve' or 'evaluate'?",
                         file=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"damaged JSON ({exc.msg})", file=str(path), row=exc.lineno) from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise InputError("summary.json has no 'metrics'", file=str(path), column="metrics")
    return data
