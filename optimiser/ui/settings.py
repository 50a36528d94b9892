"""The workshop's settings: the controls' values, the scenario changes they make, and the
page's query string (so a reload keeps them and a link reproduces an answer).

Pure functions of plain values (no Streamlit): the Workshop draws its controls from
:data:`CONTROLS` keys, and :mod:`optimiser.ui.state` reads and writes the query string.
"""

from __future__ import annotations

from collections.abc import Mapping

from optimiser.scenario import Scenario

STATUSES = ("free", "keep_open", "close")
THRESHOLDS = (15, 20, 25, 30, 35, 40, 45, 60)
ANSWER_MODES = ("quick", "best")

# Simple controls: widget key -> (query parameter, allowed range or choices).
_INT_RANGES = {"max_travel": ("travel", 20, 90), "coverage_share": ("share", 50, 100),
               "blocking": ("blocking", 1, 20), "occupancy": ("occupancy", 70, 98),
               "min_beds": ("min_beds", 0, 40), "virtual_share": ("home_share", 0, 80),
               "horizon": ("year", 2022, 2040), "budget": ("budget", 0, 200_000_000)}
_CHOICES = {"coverage_threshold": ("threshold", THRESHOLDS), "assignment": ("catchments", ("split", "single")),
            "rule": ("rule", ("erlang", "occupancy")), "answer_mode": ("answer", ANSWER_MODES)}


def site_key(site_id: str) -> str:
    return f"status_{site_id}"


def from_scenario(sc: Scenario, site_ids, answer_mode: str = "quick") -> dict:
    """The controls' values that show scenario ``sc``."""
    std = sc.travel.standard
    stroke = sc.pathways.get("stroke")
    values = {
        "max_travel": int(sc.travel.max_minutes),
        "coverage_share": int(round(100 * (std.share if std else 0.95))),
        "coverage_threshold": int(std.threshold_minutes if std else 30),
        "assignment": sc.travel.assignment,
        "rule": sc.utilisation.rule,
        "blocking": int(round(100 * sc.utilisation.blocking_target)),
        "occupancy": int(round(100 * sc.utilisation.occupancy_target)),
        "min_beds": int(sc.min_beds_per_open_site),
        "virtual_share": int(round(100 * sc.pathways["rehab"].virtual_share)),
        "horizon": int(sc.horizon_year),
        "use_projections": sc.growth == "dataset",
        "flat_growth": 0.0 if sc.growth == "dataset" else float(sc.growth),
        "budget": int(sc.budget_per_year or 0),
        "answer_mode": answer_mode,
    }
    for sid in site_ids:
        values[site_key(sid)] = sc.sites[sid].status if sid in sc.sites else "free"
    if stroke is not None:
        values["stroke_sites"] = (list(site_ids) if stroke.sites == "all"
                                  else [s for s in stroke.sites if s in set(site_ids)])
    if values["coverage_threshold"] not in THRESHOLDS:
        values["coverage_threshold"] = min(THRESHOLDS, key=lambda t: abs(t - values["coverage_threshold"]))
    return values


def to_changes(values: Mapping, site_ids, has_stroke: bool) -> dict:
    """The scenario changes the controls ask for (for :meth:`Scenario.with_changes`)."""
    ch: dict = {
        "travel.max_minutes": float(values["max_travel"]),
        "travel.standard.share": values["coverage_share"] / 100,
        "travel.standard.threshold_minutes": float(values["coverage_threshold"]),
        "travel.assignment": values["assignment"],
        "utilisation.rule": values["rule"],
        "min_beds_per_open_site": int(values["min_beds"]),
        "pathways.rehab.virtual_share": values["virtual_share"] / 100,
        "horizon_year": int(values["horizon"]),
        "growth": "dataset" if values["use_projections"] else float(values["flat_growth"]),
        "budget_per_year": float(values["budget"]) if values["budget"] else None,
    }
    if values["rule"] == "erlang":
        ch["utilisation.blocking_target"] = values["blocking"] / 100
    else:
        ch["utilisation.occupancy_target"] = values["occupancy"] / 100
    ch["sites"] = {sid: {"status": values[site_key(sid)]} for sid in site_ids
                   if values.get(site_key(sid), "free") != "free"}
    if has_stroke and "stroke_sites" in values:
        ch["pathways.stroke.sites"] = list(values["stroke_sites"])
    return ch


def to_query(values: Mapping, site_ids) -> dict[str, str]:
    """The query string of the controls' values (every setting, so a link means the same
    answer even if the defaults change)."""
    q = {param: str(int(values[key])) for key, (param, _lo, _hi) in _INT_RANGES.items()}
    q.update({param: str(values[key]) for key, (param, _c) in _CHOICES.items()})
    q["projections"] = "1" if values["use_projections"] else "0"
    if not values["use_projections"]:
        q["growth"] = f"{float(values['flat_growth']):g}"
    for status, param in (("keep_open", "keep"), ("close", "close")):
        q[param] = ",".join(s for s in site_ids if values.get(site_key(s)) == status)
    if "stroke_sites" in values:
        q["stroke"] = ",".join(values["stroke_sites"])
    return q


def from_query(query: Mapping[str, str], defaults: Mapping, site_ids) -> tuple[dict, list[str]]:
    """The controls' values a query string asks for (others from ``defaults``), and a plain
    message for each parameter that could not be used (it is ignored)."""
    values = dict(defaults)
    problems: list[str] = []
    ids = list(site_ids)

    def bad(param: str, raw: str, expected: str) -> None:
        problems.append(f"The link's '{param}={raw[:40]}' was ignored: expected {expected}.")

    for key, (param, lo, hi) in _INT_RANGES.items():
        if param in query:
            raw = str(query[param])
            try:
                v = int(float(raw))
                if not lo <= v <= hi:
                    raise ValueError
                values[key] = v
            except ValueError:
                bad(param, raw, f"a whole number from {lo} to {hi:,}")
    for key, (param, choices) in _CHOICES.items():
        if param in query:
            raw = str(query[param])
            match = next((c for c in choices if str(c) == raw), None)
            if match is None:
                bad(param, raw, "one of " + ", ".join(map(str, choices)))
            else:
                values[key] = match
    if "projections" in query:
        values["use_projections"] = str(query["projections"]) != "0"
    if "growth" in query:
        raw = str(query["growth"])
        try:
            g = float(raw)
            if not -50 <= g <= 200:
                raise ValueError
            values["flat_growth"], values["use_projections"] = g, False
        except ValueError:
            bad("growth", raw, "a percentage from -50 to 200")
    if "keep" in query or "close" in query:
        for sid in ids:
            values[site_key(sid)] = "free"
        for status, param in (("keep_open", "keep"), ("close", "close")):
            for sid in filter(None, str(query.get(param, "")).split(",")):
                if sid in ids:
                    values[site_key(sid)] = status
                else:
                    bad(param, sid, "hospital ids of this dataset (" + ", ".join(ids) + ")")
    if "stroke" in query and "stroke_sites" in values:
        chosen = [s for s in str(query["stroke"]).split(",") if s]
        unknown = [s for s in chosen if s not in ids]
        if unknown:
            bad("stroke", ",".join(unknown), "hospital ids of this dataset")
        values["stroke_sites"] = [s for s in chosen if s in ids]
    return values, problems
