"""The data page: which dataset is loaded, its provenance and assumptions; import of files."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import streamlit as st

from optimiser.errors import DataWarning, OptimiserError
from optimiser.ui import state

COLUMNS = {"key": "Figure", "description": "What it is", "value": "Value", "unit": "Unit", "kind": "Kind",
           "source": "Source", "vintage": "Date of the figures", "licence": "Licence", "citation": "Citation",
           "note": "Note"}


def page() -> None:
    st.title("Data")
    ds = state.active_dataset()
    s = ds.summary()
    st.subheader(s["name"])
    c = st.columns(4)
    c[0].metric("Small areas (LSOAs)", f"{s['zones']:,}")
    c[1].metric("Districts", s["districts"])
    c[2].metric("Community hospitals (sites)", s["sites"])
    c[3].metric("Population (people)", f"{s['population_total']:,}")
    c = st.columns(4)
    c[0].metric("Aged 65+ (people)", f"{s['population_65_plus']:,}")
    c[1].metric("Aged 85+ (people)", f"{s['population_85_plus']:,}")
    c[2].metric("Community hospital beds today (beds)", s["current_physical_beds"])
    c[3].metric("Home-based beds today (beds)", s["current_virtual_beds"])
    st.caption(f"**Data:** {ds.data_line()}.")
    md = ds.metadata
    if "travel_fit_mae_minutes" in md:
        st.info(f"Travel times: {md.get('travel_method', '')}. Mean absolute error "
                f"{float(md['travel_fit_mae_minutes']):.2f} minutes against road times "
                f"({100 * float(md.get('travel_fit_mape', 0)):.1f}%).")
    st.subheader("Today, as the model sees it")
    st.caption("Demand is calibrated so that today's beds run at their stated occupancy in the patient-flow "
               "model (patients who find their hospital full go on to the next within reach). The "
               "catchment rate compares each hospital's implied rate of use with the area's.")
    try:
        cal = state.calibration_table()
        shown = cal.assign(ward=cal["ward"].str.replace("_", " "))[
            ["site_name", "ward", "beds_today", "beds_today_source", "calibration_occupancy", "model_occupancy",
             "chance_no_free_bed", "admissions_per_year", "catchment_rate_vs_area"]]
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            "site_name": "Hospital", "ward": "Ward", "beds_today": "Beds today", "beds_today_source": "Figure is",
            "calibration_occupancy": st.column_config.NumberColumn("Occupancy assumed", format="percent"),
            "model_occupancy": st.column_config.NumberColumn("Occupancy in the model", format="percent"),
            "chance_no_free_bed": st.column_config.NumberColumn("Chance no free bed there", format="percent"),
            "admissions_per_year": st.column_config.NumberColumn("Admitted a year", format="%.0f"),
            "catchment_rate_vs_area": st.column_config.NumberColumn("Catchment rate vs area", format="%.2f")})
    except OptimiserError as exc:
        state.show_error(exc)
    st.subheader("Figures that are assumptions (check or replace them)")
    st.dataframe(ds.assumptions[["key", "description", "value", "unit", "source", "note"]].rename(columns=COLUMNS),
                 hide_index=True, width="stretch")
    if len(ds.user_supplied):
        st.subheader("Figures supplied by the user (not checked against a published source)")
        st.dataframe(ds.user_supplied[["key", "description", "value", "unit", "source"]].rename(columns=COLUMNS),
                     hide_index=True, width="stretch")
    with st.expander("Full provenance: every figure's source, vintage and licence"):
        st.dataframe(ds.provenance.rename(columns=COLUMNS), hide_index=True, width="stretch")

    st.subheader("Import official data")
    st.caption("ONS small-area population estimates (CSV or spreadsheet), boundaries (GeoJSON, GeoPackage "
               "or zipped shapefile), a sites CSV, and optionally a travel-time matrix. Problems are "
               "reported with the file, row and column; nothing is replaced unless the import succeeds.")
    with st.form("import_form"):
        pop = st.file_uploader("Population (CSV or XLSX)", type=["csv", "xlsx"], key="imp_pop")
        bnd = st.file_uploader("Boundaries (GeoJSON, GeoPackage or zipped shapefile)",
                               type=["geojson", "json", "gpkg", "zip"], key="imp_bnd")
        sites = st.file_uploader("Sites (CSV)", type=["csv"], key="imp_sites")
        travel = st.file_uploader("Travel times (CSV, optional: estimated from distance if absent)", type=["csv"],
                                  key="imp_travel")
        proj = st.file_uploader("Population projections (ONS SNPP CSV, optional)", type=["csv"], key="imp_proj")
        keep = st.checkbox("Copy today's beds, home-based beds and projections from the loaded dataset where "
                           "the codes match", value=True, key="imp_beds_from")
        go = st.form_submit_button("Import and check")
    if go:
        if not (pop and bnd and sites):
            st.error("Population, boundaries and sites files are all needed.")
            return
        from optimiser.dataset.importers import import_dataset

        work = Path(tempfile.mkdtemp(prefix="llr-import-"))
        paths = {}
        for key, f in (("population", pop), ("boundaries", bnd), ("sites", sites), ("travel", travel),
                       ("projections", proj)):
            if f is not None:
                p = work / f.name
                p.write_bytes(f.getvalue())
                paths[key] = p
        out = work / "imported.gpkg"
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DataWarning)
                import_dataset(population=paths["population"], boundaries=paths["boundaries"],
                               sites=paths["sites"], travel=paths.get("travel"),
                               projections=paths.get("projections"), beds_from=ds if keep else None, out=out)
        except OptimiserError as exc:
            st.error(f"Import failed (the loaded dataset is unchanged): {exc}")
            return
        from optimiser.dataset.importers import today_warnings
        from optimiser.dataset.store import load_dataset

        for w in caught:
            st.warning(str(w.message))
        for message in today_warnings(load_dataset(out)):
            st.warning(message)
        st.session_state["dataset_path"] = str(out)
        st.success("Imported and checked. The app now uses this dataset.")
        st.download_button("Download the dataset (GeoPackage)", out.read_bytes(), "imported.gpkg")
    if st.session_state.get("dataset_path") and st.button("Go back to the embedded LLR default"):
        del st.session_state["dataset_path"]
        st.rerun()
