"""Who is affected: an option against a baseline, by area, district and deprivation, with the
district council packs to download. A thin page over :func:`optimiser.api.impact` and
:mod:`optimiser.impact_pack`."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from optimiser import api
from optimiser.impact_pack import (
    change_map_png,
    deprivation_table,
    district_pack_html,
    district_pack_pdf,
    district_table,
    impact_files,
    pack_name,
    packs_zip,
    site_lines,
)
from optimiser.ui import state

QUICK = "Quick answer (current settings)"
PDF, HTML, CSV, ZIP, JSON = "application/pdf", "text/html", "text/csv", "application/zip", "application/json"
COLUMNS = {  # the district and deprivation tables as people read them
    "population_65_plus": "Aged 65+", "people_longer_65_plus": "65+ with a longer journey",
    "people_shorter_65_plus": "65+ with a shorter journey", "mean_change_minutes_65_plus": "Mean change, 65+ (min)",
    "mean_minutes_after_65_plus": "Mean journey after, 65+ (min)",
    "people_pushed_over_30_minutes_65_plus": "65+ newly over 30 min",
    "people_pushed_over_45_minutes_65_plus": "65+ newly over 45 min",
    "admissions_changing_hospital_per_year": "Admissions a year to a different hospital",
}


def _answer(name: str, options: dict, sc):
    if name == QUICK:
        return state.solve(sc, quick=True)
    return state.solution_for(name, options, sc)


def _key(name: str, options: dict, sc) -> str:
    import yaml

    if name in (state.BEST, QUICK):
        return f"{name}\n{sc.to_yaml()}"
    return yaml.safe_dump(options[name].to_dict(), sort_keys=False) + "\n" + sc.to_yaml()


@st.cache_resource(show_spinner=False, max_entries=16)
def _impact(option_key: str, baseline_key: str, dataset_path: str | None, _scenario, _option, _baseline):
    return api.impact(_scenario, _option, _baseline, state.dataset(dataset_path))


@st.cache_data(show_spinner=False, max_entries=32)
def _map(option_key: str, baseline_key: str, dataset_path: str | None, code: str | None, _result) -> bytes:
    return change_map_png(state.dataset(dataset_path), _result, code)


def _download(col, label: str, make, file_name: str, mime: str, key: str) -> None:
    """A download whose file is made only when someone clicks (packs take seconds each)."""
    col.download_button(label, make, file_name, mime, key=key, on_click="ignore", icon=":material/download:")


def _people_table(frame: pd.DataFrame, first: dict[str, str]) -> pd.DataFrame:
    out = frame[list(first) + list(COLUMNS)].rename(columns={**first, **COLUMNS})
    return out.reset_index(drop=True)


def page() -> None:
    st.title("Who is affected")
    st.caption("An option against a baseline (the status quo unless you choose another), small area by small area, "
               "from the patient-flow model: where each area's patients get a bed (their first hospital, or the next "
               "within reach when it is full) and how far that is. A journey changes when it moves by a minute or "
               "more. Deprivation is the English Indices of Deprivation 2019 (1 = most deprived tenth of areas).")
    ds = state.active_dataset()
    sc = state.scenario()
    options, _ = state.all_options()
    names = [state.BEST, QUICK, *options]
    drafted = [n for n in options if n != "Status quo"]
    c1, c2 = st.columns(2)
    option_name = c1.selectbox("Option", names, index=names.index(drafted[0]) if drafted else 0, key="impact_option")
    baseline_name = c2.selectbox("Compared with", names,
                                 index=names.index("Status quo") if "Status quo" in names else 0, key="impact_baseline")
    with st.spinner("Measuring both in the patient-flow model…"):
        option, err1 = _answer(option_name, options, sc)
        baseline, err2 = _answer(baseline_name, options, sc)
    if err1 or err2:
        state.show_error(err1 or err2)
        return
    dataset_path = st.session_state.get("dataset_path")
    okey, bkey = _key(option_name, options, sc), _key(baseline_name, options, sc)
    result = _impact(okey, bkey, dataset_path, sc, option, baseline)
    for caveat in result.caveats:
        st.warning(caveat)
    labels = list(result.travel_labels)
    travel = st.radio("Travel times", labels, horizontal=True, key="impact_travel") if len(labels) > 1 else labels[0]

    overall = result.overall[result.overall["travel_times"] == travel].iloc[0]
    m0, m1 = result.baseline.metrics, result.option.metrics
    cols = st.columns(5)
    cols[0].metric("People 65+ with a longer journey", f"{overall['people_longer_65_plus']:,}")
    cols[1].metric("People 65+ with a shorter journey", f"{overall['people_shorter_65_plus']:,}")
    cols[2].metric("Mean change in journey, 65+", f"{overall['mean_change_minutes_65_plus']:+.1f} min")
    cols[3].metric("People 65+ newly over 30 minutes", f"{overall['people_pushed_over_30_minutes_65_plus']:,}")
    cols[4].metric("Deprivation gap (most − least deprived)", f"{m1['deprivation_gap_minutes']:+.1f} min",
                   f"{m1['deprivation_gap_minutes'] - m0['deprivation_gap_minutes']:+.1f} min", delta_color="inverse")
    for line in site_lines(result):
        st.markdown(f"- **{line}**")

    districts = ds.districts["district_name"]
    code = st.selectbox("District", [None, *districts.index], key="impact_district",
                        format_func=lambda c: "All districts" if c is None else districts[c])
    st.image(_map(okey, bkey, dataset_path, code, result),
             caption="Small areas shaded (and hatched, for black-and-white print) by the change in journey; arrows: "
                     "where a closed or shrunk hospital's patients go, in admissions a year.", width="stretch")

    if code is not None:
        name = districts[code]
        st.subheader(f"What '{result.option.name}' would mean for {name}")
        st.info(result.paragraphs[code])
        left, right = st.columns([3, 2])
        left.dataframe(district_table(result, code), hide_index=True, width="stretch", key="impact_district_table")
        right.dataframe(deprivation_table(result, code), hide_index=True, width="stretch", key="impact_district_imd")
        stem = pack_name(ds, code)
        d1, d2 = st.columns(2)
        _download(d1, f"{name} pack (PDF, A4)", partial(district_pack_pdf, ds, result, code), f"{stem}.pdf", PDF,
                  "dl_pack_pdf")
        _download(d2, f"{name} pack (HTML, opens offline)", partial(district_pack_html, ds, result, code),
                  f"{stem}.html", HTML, "dl_pack_html")

    st.subheader("By district")
    by_district = result.by_district[result.by_district["travel_times"] == travel]
    st.dataframe(_people_table(by_district, {"district_name": "District"}), hide_index=True, width="stretch",
                 key="impact_by_district")
    st.subheader("By deprivation (IMD 2019)")
    q = result.by_imd_quintile[result.by_imd_quintile["travel_times"] == travel]
    st.dataframe(_people_table(q, {"imd_quintile": "IMD quintile (1 = most deprived fifth)"}), hide_index=True,
                 width="stretch", key="impact_by_quintile")
    with st.expander("By IMD decile"):
        d = result.by_imd_decile[result.by_imd_decile["travel_times"] == travel]
        st.dataframe(_people_table(d, {"imd_decile": "IMD decile (1 = most deprived tenth)"}), hide_index=True,
                     width="stretch", key="impact_by_decile")
    st.subheader("The ten areas whose journeys lengthen most")
    if len(result.worst_areas):
        st.dataframe(result.worst_areas.rename(columns=lambda c: c.replace("_", " ").capitalize()), hide_index=True,
                     width="stretch", key="impact_worst")
    else:
        st.write("No area's journey lengthens.")

    st.subheader("Downloads")
    files = impact_files(result)
    d1, d2, d3, d4 = st.columns(4)
    _download(d1, "Every district's pack (zip of PDF and HTML)", partial(packs_zip, ds, result), "district_packs.zip",
              ZIP, "dl_packs_zip")
    _download(d2, "Impact by small area (CSV)", files["impact_by_lsoa.csv"].encode("utf-8"), "impact_by_lsoa.csv", CSV,
              "dl_lsoa")
    _download(d3, "Impact by district (CSV)", files["impact_by_district.csv"].encode("utf-8"), "impact_by_district.csv",
              CSV, "dl_district")
    _download(d4, "Summary (JSON)", files["summary.json"].encode("utf-8"), "summary.json", JSON, "dl_summary")
