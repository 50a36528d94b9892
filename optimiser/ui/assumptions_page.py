"""Assumptions: every figure in force, its meaning and where it comes from (a source in the
review papers or a publication, or an assumption and why); printable."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from optimiser.scenario import setting_rows
from optimiser.seeds import resolve
from optimiser.ui import state

# Tables wrap their text in fixed-width columns so that no column is cut off, on screen or
# in print (Ctrl+P); the sidebar and toolbar are left out of the printout.
PRINTABLE_TABLES = """
<style>
div[data-testid="stTable"] { overflow: visible !important; }
div[data-testid="stTable"] table { table-layout: fixed; width: 100% !important; }
div[data-testid="stTable"] th, div[data-testid="stTable"] td,
div[data-testid="stTable"] th *, div[data-testid="stTable"] td * {
  white-space: normal !important; overflow-wrap: anywhere !important; word-break: break-word !important;
  vertical-align: top; overflow: visible !important; text-overflow: clip !important;
}
/* the figures table: Setting, Value in use, Unit, Meaning, Source, Assumption */
div[data-testid="stTable"] table:has(th:nth-child(6)) tr > *:nth-child(1) { width: 16%; }
div[data-testid="stTable"] table:has(th:nth-child(6)) tr > *:nth-child(2) { width: 7%; }
div[data-testid="stTable"] table:has(th:nth-child(6)) tr > *:nth-child(3) { width: 7%; }
div[data-testid="stTable"] table:has(th:nth-child(6)) tr > *:nth-child(4) { width: 19%; }
div[data-testid="stTable"] table:has(th:nth-child(6)) tr > *:nth-child(5) { width: 19%; }
div[data-testid="stTable"] table:has(th:nth-child(6)) tr > *:nth-child(6) { width: 32%; }
@media print {
  section[data-testid="stSidebar"], header[data-testid="stHeader"], div[data-testid="stToolbar"],
  div[data-testid="stDecoration"], button { display: none !important; }
  div[data-testid="stMainBlockContainer"], .block-container { max-width: 100% !important; padding: 0 !important; }
  div[data-testid="stTable"] table { font-size: 8pt; }
  div[data-testid="stTable"] tr { break-inside: avoid; }
}
</style>
"""
FIGURE_COLUMNS = ["Setting", "Value in use", "Unit", "Meaning", "Source", "Assumption"]


def _figure_rows(sc, base) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(figures with their notes, other settings) of the scenario in use. A figure changed in
    this session has lost its note; it says what it was changed from."""
    figures, others = [], []
    dump = sc.model_dump(mode="json")
    for r in setting_rows(sc):
        note = None
        old = base.figures.get(r["key"])
        if old is not None and r["key"] not in sc.figures and old.matches(_value(dump, r["key"])):
            r = {**r, "status": "noted", "source": old.source, "assumption": old.assumption}   # set back
            sc_note = old
        else:
            sc_note = sc.figures.get(r["key"])
        if r["status"] == "no note" or (r["status"] in ("", "default") and old is not None and sc_note is None):
            if old is not None:
                was = ", ".join(f"{v:g}" for v in old.value) if isinstance(old.value, tuple) else f"{old.value:g}"
                note = f"Changed in this session from {was} (the scenario file's note: {old.describe()})"
            else:
                note = "No source or assumption given for this figure"
        source = sc_note.source_text() if r["source"] and sc_note is not None else r["source"]
        row = {"Setting": r["key"], "Value in use": r["value"] or "–", "Unit": r["unit"],
               "Meaning": r["meaning"], "Source": source, "Assumption": note or r["assumption"]}
        if r["low"]:
            row["Assumption"] += f" (80% range {r['low']} to {r['high']})"
        if r["variants"]:
            row["Assumption"] += f" (variants: {r['variants']})"
        (figures if note or r["source"] or r["assumption"] else others).append(row)
    return pd.DataFrame(figures, columns=FIGURE_COLUMNS), pd.DataFrame(others, columns=FIGURE_COLUMNS[:4])


def _value(dump: dict, key: str):
    node = dump
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def page() -> None:
    st.title("Assumptions")
    st.caption("Every figure of the current scenario, what it means and where it comes from: a source "
               "(a review paper, cited from seeds/, or a publication) or an assumption for the steering "
               "group to confirm, with the reason. Print this page (Ctrl+P) or download it.")
    st.markdown(PRINTABLE_TABLES, unsafe_allow_html=True)
    sc = state.scenario()
    base = state.base_scenario()
    figures, others = _figure_rows(sc, base)
    st.subheader(f"Scenario: {sc.name}")
    sourced = int((figures["Source"] != "").sum())
    flagged = int(figures["Assumption"].str.len().gt(0).sum())
    changed = int(figures["Assumption"].str.startswith("Changed in this session").sum())
    st.markdown(f"{len(figures)} figures: {sourced} cite a source, {flagged} carry an assumption or a "
                f"change" + (f"; {changed} changed in this session" if changed else "") + ".")
    st.table(figures.set_index("Setting"))
    st.download_button("Download (CSV)", figures.to_csv(index=False).encode("utf-8"), "assumptions.csv",
                       "text/csv")
    with st.expander("Other settings (names, choices and lists)"):
        st.table(others.set_index("Setting"))
    st.subheader("Evidence cited from the review papers")
    cites = []
    for c in sc.citations:
        try:
            f = resolve(c)
            cites.append({"Reference": c, "Value": f"{f.value} {f.unit}", "What": f.what, "Where": f.where})
        except Exception as exc:  # a missing entry is shown, not hidden
            cites.append({"Reference": c, "Value": "", "What": f"not found: {exc}", "Where": ""})
    st.table(pd.DataFrame(cites).set_index("Reference"))
    st.subheader("Dataset figures that are assumptions")
    ds = state.active_dataset()
    st.caption(f"Data: {ds.data_line()} ({ds.name}).")
    st.table(ds.assumptions[["key", "description", "value", "unit", "note"]].set_index("key"))
