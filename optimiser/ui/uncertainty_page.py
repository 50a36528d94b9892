"""How sure are we? An option (or the current answer) in many futures drawn from the 80%
ranges of the scenario's figures; what drives the answer; a robust configuration."""

from __future__ import annotations

import io
import os

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from optimiser import api
from optimiser.errors import OptimiserError
from optimiser.futures import uncertain_figures
from optimiser.options import option_from_solution
from optimiser.ui import state

CURRENT = "The current answer (quick answer for the current settings)"
PNG, PDF, CSV = "image/png", "application/pdf", "text/csv"
SITE_MEASURES = {"occupancy": "Mean occupancy", "chance_no_free_bed": "Chance a patient finds no free bed",
                 "admissions_per_year": "Patients admitted a year"}
DISTRICT_MEASURES = {"demand_admissions_per_year": "Patients needing a bed a year",
                     "patients_finding_no_free_bed_per_year": "Patients finding no bed within reach a year",
                     "home_based_chance_no_free_bed": "Chance a home-based bed is not free"}


class _Workers:
    """Holds the app's Dask client (Streamlit will not cache an awaitable object itself)."""

    def __init__(self, client) -> None:
        self.client = client


@st.cache_resource(show_spinner=False)
def _workers() -> _Workers:
    import logging

    from distributed import Client, LocalCluster

    from optimiser.parallel import SCHEDULER_ENV, machine_workers

    address = os.environ.get(SCHEDULER_ENV)
    if address:
        return _Workers(Client(address, timeout="15s"))
    return _Workers(Client(LocalCluster(n_workers=machine_workers(), threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)))


def dask_client():
    """The app's Dask client: the cluster named by LLR_DASK_SCHEDULER, else a local cluster
    sized to the machine, started once and shared by every user."""
    return _workers().client


def _results() -> dict:
    return st.session_state.setdefault("uncertainty_results", {})


def _option(name: str, options: dict, sc):
    if name != CURRENT:
        return options[name], None
    sol, err = state.solve(sc, quick=True)
    if err is not None:
        return None, err
    return option_from_solution(sol, "The current answer", with_assignment=True), None


def _interval_chart(q: pd.DataFrame, level: str, measure: str, title: str, percent: bool) -> go.Figure:
    rows = q[(q["level"] == level) & (q["measure"] == measure)].dropna(subset=["p50"])
    rows = rows.iloc[::-1]
    scale = 100.0 if percent else 1.0
    fig = go.Figure()
    fig.add_trace(go.Bar(y=rows["name"], x=(rows["p90"] - rows["p10"]) * scale, base=rows["p10"] * scale,
                         orientation="h", marker_color="#56B4E9", name="8 in 10 futures (10th to 90th percentile)",
                         hovertemplate="%{y}: %{base:.1f} to %{x:.1f} wide<extra></extra>"))
    fig.add_trace(go.Scatter(y=rows["name"], x=rows["p50"] * scale, mode="markers", marker_color="#0072B2",
                             marker_symbol="line-ns-open", marker_size=18, name="middle future"))
    fig.add_trace(go.Scatter(y=rows["name"], x=rows["central"] * scale, mode="markers", marker_color="#D55E00",
                             marker_symbol="diamond", name="every figure at its central value"))
    fig.update_layout(title=title, height=90 + 34 * len(rows), margin=dict(l=10, r=10, t=50, b=10),
                      xaxis_title="%" if percent else "", legend=dict(orientation="h", y=-0.15))
    return fig


def _interval_image(q: pd.DataFrame, fmt: str) -> bytes:
    """Sites' occupancy and chance of no free bed, 8 in 10 futures, as a PNG or PDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, measure, label in ((axes[0], "occupancy", "mean occupancy (%)"),
                               (axes[1], "chance_no_free_bed", "chance a patient finds no free bed (%)")):
        rows = q[(q["level"] == "site") & (q["measure"] == measure)].dropna(subset=["p50"])
        y = range(len(rows))
        ax.barh(list(y), (rows["p90"] - rows["p10"]) * 100, left=rows["p10"] * 100, color="#56B4E9",
                label="8 in 10 futures")
        ax.plot(rows["p50"] * 100, list(y), "|", color="#0072B2", markersize=14, label="middle future")
        ax.plot(rows["central"] * 100, list(y), "D", color="#D55E00", label="central figures")
        ax.set_yticks(list(y), [str(n).split(",")[0] for n in rows["name"]])
        ax.set_xlabel(label)
        ax.invert_yaxis()
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("How sure are we? Each hospital in 8 out of 10 futures")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150)
    plt.close(fig)
    return buffer.getvalue()


def _figure_bytes(fig, fmt: str) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150)
    plt.close(fig)
    return buffer.getvalue()


def page() -> None:
    st.title("How sure are we?")
    st.caption("Many figures the answer rests on are assumptions (lengths of stay, the share of patients suited to a "
               "home-based bed, how full today's beds are, growth to the horizon, the Evington Centre's beds, "
               "costs). Each carries a range: one chance in ten below it, one in ten above. Here an option is "
               "measured in many futures drawn from those ranges, with the same patient-flow model as everywhere "
               "else in the tool.")
    sc = state.scenario()
    ds = state.active_dataset()
    options, _ = state.all_options()
    figures = uncertain_figures(sc)
    if not figures:
        st.warning("The current scenario gives no figure a range, so there is nothing uncertain to sample.")
        return
    with st.expander(f"The {len(figures)} uncertain figures and their ranges"):
        from optimiser.sensitivity import uncertain_figure_table

        st.dataframe(uncertain_figure_table(figures), hide_index=True)
    c1, c2, c3 = st.columns([3, 1, 1])
    name = c1.selectbox("Option", [CURRENT, *options], key="unc_option")
    samples = int(c2.number_input("Futures", 20, 2000, 200, 20, key="unc_samples"))
    seed = int(c3.number_input("Seed", 0, 10_000, 1, 1, key="unc_seed",
                               help="the same seed always draws the same futures"))
    option, err = _option(name, options, sc)
    if err is not None:
        state.show_error(err)
        return
    key = (sc.to_yaml(), name, samples, seed, st.session_state.get("dataset_path"))
    results = _results()
    if st.button("Measure it in these futures", key="unc_run", type="primary"):
        bar = st.progress(0.0, text="Starting the workers…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"{done} of {total} futures")

        try:
            results[key] = api.uncertainty(sc, option, ds, samples=samples, seed=seed, client=dask_client(),
                                           progress=progress)
        except OptimiserError as exc:
            state.show_error(exc)
            return
        bar.empty()
    result = results.get(key)
    if result is None:
        st.info("Choose an option and press the button: 200 futures take about half a minute.")
        return
    s = result.summary
    st.subheader(f"{option.name}: in {s['samples']} futures")
    for line in s["in_plain_words"]:
        st.markdown(f"- {line}")
    c = st.columns(3)
    c[0].metric("Every hospital within the target", f"{100 * s['probability_every_hospital_meets_blocking_target']:.0f}% of futures")
    c[1].metric("Some patients find no bed within reach", f"{100 * s['probability_unserved_demand']:.0f}% of futures")
    cost = s["annual_cost_gbp"]
    c[2].metric("Cost a year, 8 in 10 futures", f"£{cost['p10'] / 1e6:,.1f}m – £{cost['p90'] / 1e6:,.1f}m")
    q = result.quantiles
    st.subheader("Each hospital and district, 8 out of 10 futures")
    st.caption("The bar spans the 10th to the 90th percentile over the futures; the line marks the middle future, "
               "the diamond the answer with every figure at its central value.")
    measure = st.radio("Hospitals", list(SITE_MEASURES), format_func=SITE_MEASURES.get, horizontal=True,
                       key="unc_site_measure")
    st.plotly_chart(_interval_chart(q, "site", measure, SITE_MEASURES[measure],
                                    measure in ("occupancy", "chance_no_free_bed")), key="unc_sites")
    dmeasure = st.radio("Districts", list(DISTRICT_MEASURES), format_func=DISTRICT_MEASURES.get, horizontal=True,
                        key="unc_district_measure")
    st.plotly_chart(_interval_chart(q, "district", dmeasure, DISTRICT_MEASURES[dmeasure],
                                    dmeasure == "home_based_chance_no_free_bed"), key="unc_districts")
    d = st.columns(4)
    d[0].download_button("Futures (CSV)", result.futures.to_csv(), "futures.csv", CSV, key="unc_dl_futures",
                         icon=":material/download:")
    d[1].download_button("Ranges per hospital and district (CSV)", q.to_csv(index=False), "quantiles.csv", CSV,
                         key="unc_dl_quantiles", icon=":material/download:")
    d[2].download_button("Chart (PNG)", lambda: _interval_image(q, "png"), "how_sure_are_we.png", PNG,
                         key="unc_dl_png", on_click="ignore", icon=":material/download:")
    d[3].download_button("Chart (PDF)", lambda: _interval_image(q, "pdf"), "how_sure_are_we.pdf", PDF,
                         key="unc_dl_pdf", on_click="ignore", icon=":material/download:")
    _drivers(sc, ds)
    _site_robustness(sc, ds)
    _robust(sc, ds)


def _site_robustness(sc, ds) -> None:
    from optimiser.sensitivity import site_robustness

    st.subheader("Which hospitals keep beds in which futures")
    st.caption("The scenario optimised again in each of many futures (beds chosen on groups of small areas, as the "
               "quick answer does): how often each hospital keeps beds, and how many it needs.")
    samples = int(st.number_input("Futures to optimise", 10, 500, 40, 10, key="unc_site_samples"))
    results = _results()
    key = ("sites", sc.to_yaml(), samples, st.session_state.get("dataset_path"))
    if key not in results and st.button("Optimise in each future", key="unc_site_run"):
        bar = st.progress(0.0, text="Optimising…")
        try:
            results[key] = site_robustness(sc, ds, samples=samples, client=dask_client(),
                                           progress=lambda d_, t_: bar.progress(d_ / max(t_, 1),
                                                                                text=f"{d_} of {t_} futures"))
        except OptimiserError as exc:
            state.show_error(exc)
            return
        bar.empty()
    rb = results.get(key)
    if rb is None:
        return
    for line in rb.words:
        st.markdown(f"- {line}")
    table = rb.sites.rename(columns={"site_name": "Hospital", "share_of_futures_keeping_beds": "Futures keeping beds",
                                     "beds_p10_when_open": "Beds (10th percentile, when open)",
                                     "beds_p50_when_open": "Beds (middle)", "beds_p90_when_open": "Beds (90th)"})
    table["Futures keeping beds"] = table["Futures keeping beds"].map(lambda v: f"{100 * v:.0f}%")
    st.dataframe(table[["Hospital", "Futures keeping beds", "Beds (10th percentile, when open)", "Beds (middle)",
                        "Beds (90th)"]], hide_index=True)
    st.download_button("Beds per hospital in each future (CSV)", rb.futures.to_csv(), "futures_optimised.csv", CSV,
                       key="unc_dl_sites", icon=":material/download:")


def _drivers(sc, ds) -> None:
    from optimiser.sensitivity import tornado, waterfall

    st.header("What drives the answer")
    results = _results()
    point, err = state.solve(sc, quick=True)
    if err is not None:
        state.show_error(err)
        return
    wkey = ("waterfall", sc.to_yaml(), st.session_state.get("dataset_path"))
    if wkey not in results:
        with st.spinner("Working out the steps from today's beds…"):
            results[wkey] = waterfall(sc, ds, point)
    w = results[wkey]
    st.subheader("From today's beds to the recommendation")
    steps = w.steps
    fig = go.Figure(go.Waterfall(
        x=list(steps["label"]) + ["Recommendation"], measure=["absolute"] + ["relative"] * (len(steps) - 1) + ["total"],
        y=list(steps["change_beds"].where(steps["step"] != "today", steps["beds_after"])) + [0],
        text=[f"{v:+.0f}" if i else f"{v:.0f}" for i, v in enumerate(steps["change_beds"].where(
            steps["step"] != "today", steps["beds_after"]))] + [f"{w.recommendation:.0f}"],
        connector={"line": {"color": "#999"}}))
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="beds (hospital and home-based)")
    st.plotly_chart(fig, key="unc_waterfall")
    for r in steps.itertuples():
        amount = f"{r.beds_after:.0f} beds" if r.step == "today" else f"{r.change_beds:+.0f} beds"
        st.markdown(f"- **{r.label}** ({amount}): {r.explanation}")
    d = st.columns(3)
    d[0].download_button("Waterfall (CSV)", steps.to_csv(index=False), "waterfall.csv", CSV, key="unc_dl_wf_csv",
                         icon=":material/download:")
    d[1].download_button("Waterfall (PNG)", lambda: _figure_bytes(w.plot(), "png"), "waterfall.png", PNG,
                         key="unc_dl_wf_png", on_click="ignore", icon=":material/download:")
    d[2].download_button("Waterfall (PDF)", lambda: _figure_bytes(w.plot(), "pdf"), "waterfall.pdf", PDF,
                         key="unc_dl_wf_pdf", on_click="ignore", icon=":material/download:")
    st.subheader("Which assumption would change the answer")
    tkey = ("tornado", sc.to_yaml(), st.session_state.get("dataset_path"))
    if tkey not in results:
        st.caption("Each uncertain figure at the low and the high end of its range, the rest central, and the "
                   "scenario optimised again (two quick answers per figure: a few minutes).")
        if st.button("Work out the tornado", key="unc_tornado"):
            bar = st.progress(0.0, text="Optimising…")
            results[tkey] = tornado(sc, ds, client=dask_client(),
                                    progress=lambda d_, t_: bar.progress(d_ / max(t_, 1), text=f"{d_} of {t_} solves"))
            bar.empty()
    t = results.get(tkey)
    if t is not None:
        table = t.table
        base = t.central["total_beds"]
        fig = go.Figure()
        for end, colour in (("low", "#0072B2"), ("high", "#D55E00")):
            rows = table[table["end"] == end]
            fig.add_trace(go.Bar(y=rows["label"], x=rows["change_total_beds"], base=base, orientation="h",
                                 name=f"figure at its {end}", marker_color=colour))
        fig.update_layout(barmode="overlay", height=120 + 30 * table["figure"].nunique(),
                          xaxis_title=f"total beds (central answer {base:.0f})", yaxis=dict(autorange="reversed"),
                          margin=dict(l=10, r=10, t=30, b=10))
        st.plotly_chart(fig, key="unc_tornado_chart")
        shown = table[["label", "end", "value", "total_beds", "annual_cost_gbp", "open_sites", "sites_changed"]]
        st.dataframe(shown, hide_index=True)
        d = st.columns(3)
        d[0].download_button("Tornado (CSV)", table.to_csv(index=False), "tornado.csv", CSV, key="unc_dl_t_csv",
                             icon=":material/download:")
        d[1].download_button("Tornado (PNG)", lambda: _figure_bytes(t.plot(), "png"), "tornado.png", PNG,
                             key="unc_dl_t_png", on_click="ignore", icon=":material/download:")
        d[2].download_button("Tornado (PDF)", lambda: _figure_bytes(t.plot(), "pdf"), "tornado.pdf", PDF,
                             key="unc_dl_t_pdf", on_click="ignore", icon=":material/download:")


def _robust(sc, ds) -> None:
    st.header("A configuration that holds in most futures")
    st.caption("Beds chosen so that every hospital keeps the chance of finding no free bed within the target in at "
               "least the share of futures you ask for, at the lowest expected cost. Each plan is tried on fresh "
               "futures; if it fails too many, the ones it fails are added and it plans again. It is then checked "
               "on futures it was never planned for, beside the current answer. This takes several minutes.")
    c1, c2 = st.columns(2)
    reliability = c1.select_slider("Share of futures", [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95], 0.9,
                                   format_func=lambda v: f"{v:.0%}", key="unc_reliability")
    samples = int(c2.number_input("Futures planned for", 5, 200, 20, 5, key="unc_robust_samples"))
    results = _results()
    key = ("robust", sc.to_yaml(), reliability, samples, st.session_state.get("dataset_path"))
    if key not in results and st.button("Find a robust configuration", key="unc_robust_run"):
        point, err = state.solve(sc, quick=True)
        if err is not None:
            state.show_error(err)
            return
        bar = st.progress(0.0, text="Planning for the futures (the longest step)…")
        try:
            results[key] = api.robust(sc, ds, samples=samples, reliability=reliability, point=point,
                                      client=dask_client(),
                                      progress=lambda d_, t_: bar.progress(d_ / max(t_, 1),
                                                                           text=f"checking: {d_} of {t_} futures"))
        except OptimiserError as exc:
            state.show_error(exc)
            return
        bar.empty()
    r = results.get(key)
    if r is None:
        return
    s = r.summary
    for line in s["in_plain_words"]:
        st.markdown(f"- {line}")
    gap = s["proven_gap"]
    st.caption(f"Proven within {gap:.1%} of the cheapest configuration meeting the target in that share of the "
               f"futures planned for." if gap is not None else "")
    sites = pd.DataFrame({"Point answer": s["point"]["beds_by_site"], "Robust": s["robust"]["beds_by_site"]})
    sites["Extra beds"] = sites["Robust"] - sites["Point answer"]
    st.dataframe(sites)
    st.download_button("Futures checked (CSV)", r.check.to_csv(), "out_of_sample.csv", CSV, key="unc_dl_robust",
                       icon=":material/download:")
