"""Assumptions: every setting in force, its meaning and whether it is an assumption; printable."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from pydantic import BaseModel

from optimiser.scenario import PathwaySpec, SiteSpec, WardSpec, parameter_table
from optimiser.seeds import resolve
from optimiser.ui import state


def _current(sc, key: str):
    value = sc.model_dump()
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return "–"
    return value


def _show(value) -> str:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items()) or "none"
    return "–" if value is None else str(value)


def _spec_rows(spec: type[BaseModel], value: dict, prefix: str) -> list[dict]:
    """One row per setting inside a named entry (a pathway, a ward, a site), described by
    its schema class."""
    rows = []
    for name, field in spec.model_fields.items():
        if name not in value:
            continue
        sub = field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel) \
            else None
        if sub is not None and isinstance(value[name], dict):
            rows += _spec_rows(sub, value[name], f"{prefix}.{name}")
            continue
        extra = field.json_schema_extra or {}
        rows.append({"Setting": f"{prefix}.{name}", "Value in use": _show(value[name]), "Unit": extra.get("unit", ""),
                     "Meaning": field.description or "", "Assumption": "yes" if extra.get("assumption") else ""})
    return rows


SPECS = {"pathways": PathwaySpec, "wards": WardSpec, "sites": SiteSpec}


def page() -> None:
    st.title("Assumptions")
    st.caption("Every setting of the current scenario, what it means, and whether it is an assumption "
               "for the steering group to confirm. Print this page (Ctrl+P) or download it.")
    sc = state.scenario()
    rows = []
    expanded: set[str] = set()
    for r in parameter_table():
        top = r["key"].split(".")[0]
        if top in SPECS:
            # The data dictionary has template rows (pathways.<pathway>.…): show one row per
            # setting of each pathway / ward / site actually in the scenario instead.
            if top not in expanded:
                expanded.add(top)
                for entry, settings in (_current(sc, top) or {}).items():
                    rows += _spec_rows(SPECS[top], settings, f"{top}.{entry}")
            continue
        value = _current(sc, r["key"])
        rows.append({"Setting": r["key"], "Value in use": _show(value), "Unit": r["unit"],
                     "Meaning": r["description"], "Assumption": "yes" if r["assumption"] else ""})
    table = pd.DataFrame(rows)
    st.subheader(f"Scenario: {sc.name}")
    st.table(table)
    st.download_button("Download (CSV)", table.to_csv(index=False).encode("utf-8"), "assumptions.csv", "text/csv")
    st.subheader("Evidence cited from the review papers")
    cites = []
    for c in sc.citations:
        try:
            f = resolve(c)
            cites.append({"Reference": c, "Value": f"{f.value} {f.unit}", "What": f.what, "Where": f.where})
        except Exception as exc:  # a missing entry is shown, not hidden
            cites.append({"Reference": c, "Value": "", "What": f"not found: {exc}", "Where": ""})
    st.table(pd.DataFrame(cites))
    st.subheader("Dataset figures that are assumptions")
    ds = state.active_dataset()
    st.table(ds.assumptions[["key", "description", "value", "unit"]])
