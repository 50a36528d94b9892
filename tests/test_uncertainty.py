"""How sure are we: ranges on the default scenario's figures, futures drawn from them and
compiled fast (equal to a full compile), an option measured in each future with the same
patient-flow model as evaluate, on a Dask cluster, reproducible by seed whatever the workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from optimiser import api
from optimiser.errors import OptimiserError, ScenarioError
from optimiser.futures import (
    FutureCompiler,
    OptionKernel,
    offered_for_occupancy_array,
    sample_futures,
    uncertain_figures,
)
from optimiser.scenario import default_scenario, scenario_from_dict
from optimiser.uncertainty import FUTURE_RESULTS

REPO = Path(__file__).resolve().parents[1]
STATUS_QUO = REPO / "data" / "options" / "status_quo.yaml"
# Settings that are choices for the steering group, not uncertain facts about the world: they
# carry no range (see the header of data/scenarios/llr_default.yaml).
CHOICES = ("horizon_year", "travel.", "utilisation.", "wards.", "min_beds_per_open_site", "objective.",
           "solver.", "virtual.max_beds", "virtual.step", "virtual.staff_travel_limit_minutes",
           "pathways.stroke.max_travel_minutes", "pathways.palliative.virtual_share",
           "pathways.rehab.demand.relative_rates.65-74", "site_defaults.ward_size_for_capital",
           "site_defaults.capital_annualisation_years")


@pytest.fixture(scope="module")
def default():
    sc = default_scenario()
    return sc, api.dataset_for(sc)


@pytest.fixture(scope="module")
def compiler(default):
    sc, ds = default
    return FutureCompiler(ds, sc)


@pytest.fixture(scope="module")
def cluster():
    """A Dask LocalCluster of two worker processes, shared by the tests of this module."""
    import logging

    from distributed import Client, LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR)
    client = Client(local)
    yield client
    client.close()
    local.close()


def test_every_assumed_figure_about_the_world_has_an_80_percent_range(default):
    sc, _ = default
    ranged = {f.key for f in uncertain_figures(sc)}
    for key, note in sc.figures.items():
        if note.is_assumption and not key.startswith(CHOICES):
            assert key in ranged, f"{key} is an assumption about the world but has no range"
            assert note.low < note.value < note.high or note.low <= note.value <= note.high
            assert "range" in note.assumption.lower(), f"{key}: the range is not justified in its note"
    # the central values are unchanged by the ranges
    assert sc.pathways["rehab"].length_of_stay_days == 25
    assert sc.pathways["rehab"].demand.calibration_occupancy == 0.92
    assert sc.pathways["rehab"].virtual_share == 0.40
    assert sc.beds_today == {"evington": 48} and sc.growth_scale == 1.0
    assert {"growth_scale", "beds_today.evington", "pathways.rehab.length_of_stay_days"} <= ranged


def test_draws_follow_the_ranges_and_the_seed(default):
    sc, _ = default
    figs = uncertain_figures(sc)
    a = sample_futures(figs, 400, seed=7)
    b = sample_futures(figs, 400, seed=7)
    c = sample_futures(figs, 400, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    los = a["pathways.rehab.length_of_stay_days"]
    assert abs(los.median() - 25) < 0.3                       # the value is the median
    assert abs(los.quantile(0.1) - 20) < 0.5 and abs(los.quantile(0.9) - 32) < 0.6
    assert (a["beds_today.evington"] == a["beds_today.evington"].round()).all()   # whole beds
    occ = a["pathways.rehab.demand.calibration_occupancy"]
    # held within the 5th and 95th percentiles: 0.92 -/+ 1.645 x (0.07 or 0.03) / 1.2816
    assert occ.min() == pytest.approx(0.92 - 1.6448536 * 0.07 / 1.2815516, abs=1e-6)
    assert occ.max() == pytest.approx(0.92 + 1.6448536 * 0.03 / 1.2815516, abs=1e-6)


def test_a_future_compiled_fast_equals_a_full_compile(compiler, default):
    sc, _ = default
    figs = uncertain_figures(sc)
    draws = sample_futures(figs, 40, seed=3)
    lows = {f.key: f.low for f in figs}
    highs = {f.key: f.high for f in figs}
    for values in (draws.iloc[0].to_dict(), draws.iloc[17].to_dict(), lows, highs):
        fast = compiler.compile(values)
        full = compiler.full_compile(values)
        for name in ("hospital_admissions", "virtual_admissions", "district_site_travel"):
            a, b = getattr(fast, name), getattr(full, name)
            assert np.abs(a - b).max() <= 1e-9 * np.abs(b).max(), name
        for a, b in ((fast.bed_choices.option_capital, full.bed_choices.option_capital),
                     (fast.bed_choices.unit_current, full.bed_choices.unit_current),
                     (fast.sites.fixed_cost, full.sites.fixed_cost), (fast.sites.cost_per_bed, full.sites.cost_per_bed),
                     (fast.sites.current_beds, full.sites.current_beds),
                     (fast.pathways.los_days, full.pathways.los_days),
                     (fast.virtual.anchor_capacity, full.virtual.anchor_capacity),
                     (fast.virtual.slope, full.virtual.slope)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)
        assert fast.virtual.cost_per_bed == full.virtual.cost_per_bed
        assert fast.weights == full.weights


def test_offered_load_for_an_occupancy_matches_the_calibration_bisection():
    from optimiser.calibration import offered_for_occupancy

    beds = np.array([1, 13, 20, 48, 0])
    occ = np.array([0.85, 0.92, 0.95, 0.7, 0.9])
    fast = offered_for_occupancy_array(beds, occ)
    exact = [offered_for_occupancy(int(c), float(o)) for c, o in zip(beds, occ, strict=True)]
    np.testing.assert_allclose(fast, exact, rtol=1e-11, atol=0)


def test_measuring_an_option_in_a_future_equals_evaluate(compiler, default):
    sc, ds = default
    from optimiser.evaluate import evaluate_option

    option = api.load_option(STATUS_QUO)
    kernel = OptionKernel(compiler.central, option)
    values = sample_futures(uncertain_figures(sc), 5, seed=11).iloc[2].to_dict()
    for inst in (compiler.central, compiler.compile(values)):
        measured = kernel.measure(inst).metrics
        sol = evaluate_option(inst, option)
        for key in FUTURE_RESULTS:
            if key in sol.metrics:
                assert measured[key] == pytest.approx(sol.metrics[key], rel=1e-9, abs=1e-9), key
        units = sol.units
        m = kernel.measure(inst)
        np.testing.assert_allclose(m.unit_occupancy, units["occupancy"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(m.unit_blocking, units["blocking_probability"], rtol=1e-9, atol=1e-12)


def test_an_option_with_its_own_routing_is_measured_with_it(compiler):
    """A configuration saved with its routing (as the optimiser's answers are) is measured
    with the flow model's own code in every future."""
    from optimiser.evaluate import evaluate_option
    from optimiser.options import option_from_solution

    sol = api.evaluate(compiler.scenario, api.load_option(STATUS_QUO), compiler.dataset)
    planned = option_from_solution(sol, "status quo, routed", with_assignment=True)
    kernel = OptionKernel(compiler.central, planned)
    assert kernel.planned
    measured = kernel.measure(compiler.central).metrics
    reference = evaluate_option(compiler.central, planned).metrics
    for key in ("patients_finding_no_free_bed_per_year", "mean_occupancy", "annual_cost_gbp",
                "hospital_admissions_per_year"):
        assert measured[key] == pytest.approx(reference[key], rel=1e-9), key


def _zero_width(sc):
    """The scenario with every range collapsed onto its value."""
    data = yaml.safe_load(sc.to_yaml())

    def walk(node):
        if isinstance(node, dict):
            if "value" in node and "low" in node:
                node["low"] = node["high"] = node["value"]
            for v in node.values():
                walk(v)

    walk(data)
    data["base_dir"] = sc.base_dir
    return scenario_from_dict(data)


def test_a_zero_width_range_reproduces_evaluate_exactly(default, cluster):
    sc, ds = default
    narrow = _zero_width(sc)
    option = api.load_option(STATUS_QUO)
    result = api.uncertainty(narrow, option, ds, samples=4, seed=5, client=cluster)
    reference = api.evaluate(narrow, option, ds).metrics
    for key in FUTURE_RESULTS:
        if key in reference:
            np.testing.assert_allclose(result.futures[key], reference[key], rtol=1e-9, atol=1e-9, err_msg=key)
    q = result.quantiles.set_index(["level", "code", "measure"])
    assert q.loc[("area", "all", "annual_cost_gbp"), "p10"] == pytest.approx(reference["annual_cost_gbp"])


def test_same_seed_same_futures_whatever_the_number_of_workers(default, cluster, tmp_path):
    sc, ds = default
    option = api.load_option(STATUS_QUO)
    two = api.uncertainty(sc, option, ds, samples=24, seed=3, client=cluster)
    assert two.summary["workers"] == 2
    one = api.uncertainty(sc, option, ds, samples=24, seed=3, workers=1)
    assert one.summary["workers"] == 1
    a = (two.write(tmp_path / "two") / "futures.csv").read_bytes()
    b = (one.write(tmp_path / "one") / "futures.csv").read_bytes()
    assert a == b
    other = api.uncertainty(sc, option, ds, samples=24, seed=4, client=cluster)
    assert not other.futures.equals(two.futures)
    # the drawn figures and the key results are in the table, one row per future
    assert len(two.futures) == 24 and "pathways.rehab.length_of_stay_days" in two.futures
    assert two.futures["demand_admissions_per_year"].nunique() == 24
    # the quantiles are ordered and cover every site and district
    q = two.quantiles
    assert (q["p10"] <= q["p50"] + 1e-9).all() and (q["p50"] <= q["p90"] + 1e-9).all()
    assert set(q.loc[q["level"] == "site", "code"]) == set(ds.sites.index)
    assert set(q.loc[q["level"] == "district", "code"]) == set(ds.districts.index)


def test_an_existing_cluster_named_by_the_environment(default, cluster, monkeypatch):
    """LLR_DASK_SCHEDULER names an existing Dask cluster: the sweep runs on its workers."""
    sc, ds = default
    monkeypatch.setenv("LLR_DASK_SCHEDULER", cluster.scheduler.address)
    result = api.uncertainty(sc, api.load_option(STATUS_QUO), ds, samples=6, seed=3)
    assert result.summary["workers"] == 2 and len(result.futures) == 6
    monkeypatch.setenv("LLR_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    with pytest.raises(OptimiserError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        api.uncertainty(sc, api.load_option(STATUS_QUO), ds, samples=6, seed=3)


def test_a_scenario_without_ranges_says_there_is_nothing_to_sample(default):
    sc, ds = default
    data = yaml.safe_load(sc.to_yaml())

    def strip(node):
        if isinstance(node, dict):
            for k in ("low", "high", "variants"):
                node.pop(k, None)
            for v in node.values():
                strip(v)

    strip(data)
    data["base_dir"] = sc.base_dir
    with pytest.raises(ScenarioError, match="nothing uncertain to sample"):
        api.uncertainty(scenario_from_dict(data), api.load_option(STATUS_QUO), ds, samples=3, workers=1)


def test_growth_scale_and_beds_today_change_the_model(compiler):
    base = compiler.central
    none = compiler.full_compile({"growth_scale": 0.0})
    flat = compiler.full_compile({})   # central: the projection in full
    assert none.hospital_admissions.sum() < flat.hospital_admissions.sum()
    fewer = compiler.full_compile({"beds_today.evington": 36})
    ev = list(base.sites.ids).index("evington")
    assert fewer.sites.current_beds[ev] == 36 and base.sites.current_beds[ev] == 48
    table = fewer.calibration
    u = list(table.unit).index(int(np.flatnonzero(base.bed_choices.unit_site == ev)[0]))
    assert table.beds_today[u] == 36
    with pytest.raises(ScenarioError, match="beds_today.nowhere"):
        compiler.full_compile({"beds_today.nowhere": 10})


@pytest.mark.slow
def test_cli_uncertainty_writes_the_files(tmp_path):
    out = tmp_path / "D"
    run = subprocess.run([sys.executable, "-m", "optimiser", "uncertainty", "--option", str(STATUS_QUO),
                          "--samples", "200", "--seed", "1", "--workers", "2", "--out", str(out)],
                         capture_output=True, text=True, cwd=REPO, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "futures" in run.stdout and "200/200" in run.stderr     # the progress bar
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples"] == 200 and summary["seed"] == 1
    for key in ("probability_every_hospital_meets_blocking_target", "probability_unserved_demand"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["annual_cost_gbp"]["p10"] < summary["annual_cost_gbp"]["p90"]
    assert summary["in_plain_words"] and summary["provenance"]["scenario_sha256"]
    q = pd.read_csv(out / "quantiles.csv")
    assert list(q.columns) == ["level", "code", "name", "measure", "p10", "p50", "p90", "mean", "central"]
    assert len(pd.read_csv(out / "futures.csv")) == 200
    bad = subprocess.run([sys.executable, "-m", "optimiser", "uncertainty", "--option", str(STATUS_QUO),
                          "--samples", "0", "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "--samples must be at least 1" in bad.stderr and "Traceback" not in bad.stderr
