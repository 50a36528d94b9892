"""What drives the answer: the tornado (its central bar is the point answer), the waterfall
from today's beds (its bars add up to the recommendation), per-site robustness over futures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from optimiser import api
from optimiser.scenario import scenario_from_dict
from optimiser.sensitivity import site_robustness, tornado, waterfall, write_sensitivity

KEEP = ("pathways.rehab.length_of_stay_days", "growth_scale")


def _only(sc, keep):
    """The scenario with ranges left only on the figures in ``keep``."""
    data = yaml.safe_load(sc.to_yaml())

    def walk(node, path):
        if isinstance(node, dict):
            if "value" in node and "low" in node and path not in keep:
                node.pop("low")
                node.pop("high")
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)

    walk(data, "")
    data["base_dir"] = sc.base_dir
    return scenario_from_dict(data)


@pytest.fixture(scope="module")
def two_figures(llr_scenario):
    return _only(llr_scenario, KEEP)


@pytest.fixture(scope="module")
def cluster():
    import logging

    from distributed import Client, LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=logging.ERROR)
    client = Client(local)
    yield client
    client.close()
    local.close()


def test_tornado_central_bar_is_the_point_answer(two_figures, llr_dataset, cluster, tmp_path):
    t = tornado(two_figures, llr_dataset, client=cluster)
    point = api.quick_solve(two_figures, llr_dataset)
    m = point.metrics
    assert t.central["total_beds"] == m["physical_beds"] + m["virtual_beds"]
    assert t.central["annual_cost_gbp"] == pytest.approx(m["annual_cost_gbp"])
    assert t.central["open_sites"] == m["open_sites"]
    assert set(t.table["figure"]) == set(KEEP) and len(t.table) == 4
    los = t.table.set_index(["figure", "end"]).loc["pathways.rehab.length_of_stay_days"]
    assert los.loc["low", "value"] == 20 and los.loc["high", "value"] == 32
    growth = t.table.set_index(["figure", "end"]).loc["growth_scale"]
    # more growth needs at least as many beds (or none fits the estate at all)
    assert growth.loc["high", "total_beds"] >= growth.loc["low", "total_beds"] or np.isnan(growth.loc["high", "total_beds"])
    w = waterfall(two_figures, llr_dataset, point)
    assert w.steps["change_beds"].iloc[1:].sum() + w.steps["beds_after"].iloc[0] == pytest.approx(w.recommendation)
    assert w.steps.loc[0, "beds_after"] == 369          # 247 hospital beds and 122 home-based today
    assert w.steps.set_index("step").loc["length_of_stay", "change_beds"] == 0
    summary = write_sensitivity(tmp_path / "S", t, w, None)
    for name in ("tornado.csv", "tornado.png", "tornado.pdf", "waterfall.csv", "waterfall.png", "waterfall.pdf"):
        assert (tmp_path / "S" / name).stat().st_size > 0
    assert json.loads((tmp_path / "S" / "summary.json").read_text())["tornado"]["central"]["total_beds"] == \
        summary["tornado"]["central"]["total_beds"]


def test_site_robustness_over_futures(two_figures, llr_dataset, cluster):
    rb = site_robustness(two_figures, llr_dataset, samples=6, seed=2, client=cluster)
    assert len(rb.futures) == 6
    solved = rb.futures[rb.futures["solved"]]
    assert len(solved) >= 1
    sites = rb.sites.set_index("site_id")
    assert set(sites.index) == set(llr_dataset.sites.index)
    for s in sites.index:
        share = sites.loc[s, "share_of_futures_keeping_beds"]
        assert share == pytest.approx((solved[f"beds_{s}"] > 0).mean())
        if share > 0:
            assert sites.loc[s, "beds_p10_when_open"] <= sites.loc[s, "beds_p90_when_open"]
    assert rb.words and any("beds" in w for w in rb.words)
    # the same seed gives the same futures and answers
    again = site_robustness(two_figures, llr_dataset, samples=6, seed=2, client=cluster)
    assert again.futures.equals(rb.futures)


@pytest.mark.slow
def test_cli_sensitivity_writes_tornado_waterfall_and_robustness(two_figures, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    data = yaml.safe_load(two_figures.to_yaml())
    data["dataset"] = str(repo / "data" / "llr_default.gpkg")
    scenario = tmp_path / "two.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "S"
    run = subprocess.run([sys.executable, "-m", "optimiser", "sensitivity", str(scenario), "--samples", "4",
                          "--workers", "2", "--out", str(out)], capture_output=True, text=True, cwd=repo, timeout=3000)
    assert run.returncode == 0, run.stderr
    assert "What drives the answer" in run.stdout and "from today's beds to the recommendation" in run.stdout
    for name in ("tornado.csv", "tornado.png", "waterfall.csv", "waterfall.pdf", "site_robustness.csv",
                 "site_swaps.csv", "futures_solved.csv", "summary.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["site_robustness"]["in_plain_words"]
