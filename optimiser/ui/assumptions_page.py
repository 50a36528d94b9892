"""Assumptions: every setting in force, its meaning and whether it is an assumption; printable."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from optimiser.scenario import parameter_table
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


def page() -> None:
    st.title("Assumptions")
    st.caption("Every setting of the current scenario, what it means, and whether it is an assumption "
               "for the steering group to confirm. Print this page (Ctrl+P) or download it.")
    sc = state.scenario()
    rows = []
    for r in parameter_table():
        rows.append({"Setting": r["key"], "Value in use": str(_current(sc, r["key"])), "Unit": r["unit"],
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
