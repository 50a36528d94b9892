"""A scenario pointing at its own zones and travel matrix: the classical p-median."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser import api
from optimiser.errors import InputError, ScenarioError
from optimiser.scenario import load_scenario

HERE = Path(__file__).resolve().parent / "fixtures" / "custom"


def brute_force(travel: pd.DataFrame, weights: np.ndarray, p: int) -> float:
    t = travel.to_numpy(float)
    return min((weights * t[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(t.shape[1]), p))


@pytest.mark.parametrize("backend", ["ortools", "pulp"])
@pytest.mark.parametrize("travel", ["travel_long.csv", "travel_wide.csv"])
def test_custom_files_solve_to_the_enumerated_optimum(backend, travel):
    sc = load_scenario(HERE / "p_median.yaml").with_changes(**{"solver.backend": backend,
                                                               "inputs.travel_file": travel})
    sol = api.solve(sc)
    long = pd.read_csv(HERE / "travel_long.csv").pivot(index="zone_code", columns="site_id", values="minutes")
    w = pd.read_csv(HERE / "zones.csv").set_index("zone_code")["demand"].reindex(long.index).to_numpy(float)
    assert sol.objective == pytest.approx(brute_force(long, w, 2), rel=1e-9)
    assert sol.metrics["open_sites"] == 2


def test_orlib_file_as_the_travel_matrix(tmp_path):
    pmed = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "orlib-pmed" / "pmed1.txt"
    f = tmp_path / "s.yaml"
    f.write_text(f"name: pmed1\nmode: p_median\nopen_sites: {{exactly: 5}}\ninputs: {{travel_file: {pmed}}}\n"
                 "solver: {mip_gap: 0.0}\n")
    assert api.solve(load_scenario(f)).objective == pytest.approx(5819)


def test_bad_custom_travel_file_is_named():
    sc = load_scenario(HERE / "p_median.yaml").with_changes(**{"inputs.travel_file": "bad_travel.csv"})
    with pytest.raises(InputError) as err:
        api.solve(sc)
    msg = str(err.value)
    assert "bad_travel.csv" in msg and "row 3" in msg and "minutes" in msg and "minus five" in msg


def test_zones_file_must_cover_the_matrix(tmp_path):
    (tmp_path / "zones.csv").write_text("zone_code,demand\nA,1\nB,2\n")
    (tmp_path / "t.csv").write_text((HERE / "travel_long.csv").read_text())
    (tmp_path / "s.yaml").write_text("name: x\nmode: p_median\nopen_sites: {exactly: 2}\n"
                                     "inputs: {zones_file: zones.csv, travel_file: t.csv}\n")
    with pytest.raises(InputError, match="zone C of the travel matrix has no demand row"):
        api.solve(load_scenario(tmp_path / "s.yaml"))


def test_custom_files_need_the_p_median_mode():
    sc = load_scenario(HERE / "p_median.yaml").with_changes(**{"mode": "capacitated"})
    with pytest.raises(ScenarioError, match="import a dataset"):
        api.solve(sc)
