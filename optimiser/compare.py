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


def appraisal(items: Sequence, criteria: Mapping[str, tuple[float, str]]) -> pd.DataFrame:
    """Weighted-score options appraisal. ``criteria``: metric key -> (weight, "lower" or
    "higher" is better). Each criterion is scored 0–10 across the options being compared
    (best = 10, worst = 0, linear between; all equal = 10); the total is the weight-averaged
    score. Returns one row per option: the criterion scores, then ``weighted_score``."""
    if not criteria:
        raise InputError("choose at least one criterion for the appraisal")
    table = compare_table(items, list(criteria))
    scores = pd.DataFrame(index=table.columns)
    total_w = 0.0
    weighted = np.zeros(len(table.columns))
    for key, (weight, better) in criteria.items():
        if weight < 0:
            raise InputError(f"criterion '{key}' has a negative weight", column=key)
        if better not in ("lower", "higher"):
            raise InputError(f"criterion '{key}': say whether lower or higher is better", column=key)
        vals = pd.to_numeric(table.loc[key], errors="coerce").to_numpy(float)
        lo, hi = np.nanmin(vals), np.nanmax(vals)
        if hi - lo <= 1e-12 * max(1.0, abs(hi)):
            s = np.full(len(vals), 10.0)
        else:
            s = 10 * (vals - lo) / (hi - lo)
            if better == "lower":
                s = 10 - s
        s = np.nan_to_num(s, nan=0.0)
        scores[metric_label(key)] = s
        weighted += weight * s
        total_w += weight
    scores["weighted_score"] = weighted / total_w if total_w > 0 else 0.0
    # no "-0.0" from rounding noise
    num = scores.columns.drop("weighted_score").tolist() + ["weighted_score"]
    scores[num] = scores[num].round(9) + 0.0
    scores["rank"] = scores["weighted_score"].rank(ascending=False, method="min").astype(int)
    scores.index.name = "option"
    return scores


DEFAULT_CRITERIA: dict[str, tuple[float, str]] = {
    "annual_cost_gbp": (30.0, "lower"),
    "share_within_30_minutes_65_plus": (25.0, "higher"),
    "worst_district_mean_travel_minutes": (15.0, "lower"),
    "patients_finding_no_free_bed_per_year": (15.0, "lower"),
    "unmet_admissions_per_year": (15.0, "lower"),
}
"""A starting point only (an assumption): the papers say the criteria and weights are
co-designed with Healthwatch and the Citizens' Panel, so the group sets its own."""


def read_summary(folder: str | Path) -> dict:
    """A result folder's summary.json, with a clear error if it is missing or damaged."""
    path = Path(folder) / "summary.json"
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
