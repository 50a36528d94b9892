"""The data page: which dataset is loaded, its provenance and assumptions; import of files."""

from __future__ import annotations

import warnings

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
    _travel_section(ds)
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
        year = st.number_input("Year of the population figures (mid-year estimates; leave blank if the "
                               "file names it, e.g. a 'Mid-2020' sheet)", min_value=1990, max_value=2100,
                               value=None, step=1, key="imp_year")
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
        _import(ds, {"population": pop, "boundaries": bnd, "sites": sites, "travel": travel, "projections": proj},
                year, keep)
    if st.session_state.get("dataset_path") and st.button("Go back to the embedded LLR default"):
        from optimiser.site_match import match_scenario_sites

        imported = state.active_dataset()
        sc = state.scenario()
        del st.session_state["dataset_path"]
        # the workshop's hospitals, from the imported dataset's ids back to the default's
        state.set_scenario(match_scenario_sites(sc, state.active_dataset(), imported)[0])
        st.rerun()


# What each upload may be (the server names the stored file after its purpose, never after
# the name the browser sent: see optimiser.uploads).
SUFFIXES = {"population": (".csv", ".xlsx"), "boundaries": (".geojson", ".json", ".gpkg", ".zip"),
            "sites": (".csv",), "travel": (".csv",), "projections": (".csv",)}


def _travel_section(ds) -> None:
    """The travel matrices the answers are measured with: the main one, and a second one (e.g.
    public transport) when the dataset has it."""
    st.subheader("Travel times")
    table = ds.travel_by_site()
    columns = {"site_name": "Hospital",
               "median_minutes": st.column_config.NumberColumn("Median journey, main matrix (minutes)",
                                                               format="%.0f")}
    second = ds.second_travel_label
    if second:
        st.caption(f"Two travel matrices: the main one (the rules and the optimiser use it) and **{second}** "
                   "(the Impact page and district packs show journeys by it too). Medians over residents "
                   "aged 65+; a blank in the second matrix means no route.")
        columns["median_minutes_second"] = st.column_config.NumberColumn(
            f"Median journey, {second} (minutes)", format="%.0f")
        columns["share_65_plus_with_route_second"] = st.column_config.NumberColumn(
            f"Residents 65+ with a route by {second}", format="percent")
    else:
        st.caption("One travel matrix. A second one (e.g. public transport minutes) can be added "
                   "with `python -m optimiser data add-travel --matrix FILE.csv "
                   "--label \"public transport\" --out NEW.gpkg`; the Impact page then shows both.")
    st.dataframe(table[[c for c in columns]], hide_index=True, width="stretch", column_config=columns)


def _import(ds, files: dict, year, keep: bool) -> None:
    from optimiser.dataset.importers import import_dataset
    from optimiser.uploads import UploadFolder

    with UploadFolder(prefix="llr-import-") as folder:
        try:
            paths = {kind: folder.store(kind, f.name, f.getvalue(), SUFFIXES[kind])
                     for kind, f in files.items() if f is not None}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DataWarning)
                imported = import_dataset(population=paths["population"], boundaries=paths["boundaries"],
                                          sites=paths["sites"], travel=paths.get("travel"),
                                          projections=paths.get("projections"), beds_from=ds if keep else None,
                                          population_year=int(year) if year is not None else None)
            imported = folder.relabel_dataset(imported)
            path = state.keep_dataset(imported, f"{folder.digest}-{int(keep)}-{year}")
        except OptimiserError as exc:
            st.error(f"Import failed (the loaded dataset is unchanged): {folder.relabel(str(exc))}")
            return
        messages = [folder.relabel(str(w.message)) for w in caught]
    from optimiser.dataset.importers import today_warnings

    messages += today_warnings(imported)
    for message in messages:
        st.warning(message)
    st.session_state["dataset_path"] = str(path)
    st.success("Imported and checked. The app now uses this dataset.")
    state.scenario()                      # the workshop's hospitals, matched to the new dataset
    for note in state.site_notes():
        st.info(note)
    st.download_button("Download the dataset (GeoPackage)", path.read_bytes(), "imported.gpkg")
