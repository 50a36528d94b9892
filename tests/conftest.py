"""Shared fixtures: small instances built directly (for exact, hand-checkable optima) and one
real solve of the LLR default scenario (reused by several test files)."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.instance import (
    BedOptions,
    Districts,
    Instance,
    Pathways,
    Rules,
    Sites,
    SolverSettings,
    Weights,
    Zones,
)
from optimiser.queueing import capacity_steps


def make_instance(travel, admissions, *, los_days=36.5, steps=(0, 5, 10), fixed_cost=100.0,
                  cost_per_bed=10.0, max_travel=np.inf, rules: Rules | None = None,
                  weights: Weights | None = None, backend="ortools", status=None,
                  blocking=0.05, population_65=None, district=None, name="tiny") -> Instance:
    """A one-pathway instance: zones x sites travel minutes, admissions per zone per year,
    the same bed steps at every site (capacity from the Erlang loss model)."""
    travel = np.asarray(travel, float)
    n, m = travel.shape
    adm = np.asarray(admissions, float)
    district = np.zeros(n, int) if district is None else np.asarray(district, int)
    n_d = int(district.max()) + 1
    pop = adm * 100.0
    zones = Zones(np.array([f"Z{i}" for i in range(n)], object), np.array([f"Zone {i}" for i in range(n)], object),
                  district, pop, pop if population_65 is None else np.asarray(population_65, float))
    sites = Sites(np.array([f"S{j}" for j in range(m)], object), np.array([f"Site {j}" for j in range(m)], object),
                  np.zeros(m, np.int8) if status is None else np.asarray(status, np.int8),
                  np.full(m, float(fixed_cost)), np.full(m, float(cost_per_bed)), np.full(m, max(steps)),
                  np.zeros(m, int))
    pathways = Pathways(("care",), ("Care",), np.zeros(1, int), np.array([float(los_days)]),
                        np.array([float(los_days)]), np.ones((1, m), bool), np.array([float(max_travel)]))
    caps = capacity_steps(steps, "erlang", blocking)
    k = len(steps)
    options = BedOptions(np.arange(m), np.zeros(m, int), np.zeros(m, int), np.repeat(np.arange(m), k),
                         np.tile(np.asarray(steps, int), m), np.tile(caps, m), np.zeros(k * m))
    districts = Districts(np.array([f"D{d}" for d in range(n_d)], object), np.array([f"District {d}" for d in range(n_d)], object))
    return Instance(
        name=name, zones=zones, districts=districts, sites=sites, pathways=pathways, wards=("ward",),
        travel=travel, hospital_admissions=adm[:, None].copy(), virtual_admissions=np.zeros((n, 1)),
        district_site_travel=np.zeros((n_d, m)), options=options, virtual=None,
        rules=rules or Rules(single_assignment=False, utilisation_target=blocking),
        weights=weights or Weights(cost=1.0, travel=1.0, unmet=1000.0),
        solver=SolverSettings(backend=backend, time_limit_seconds=60, mip_gap=0.0))


@pytest.fixture(scope="session")
def llr_dataset():
    from optimiser import api

    return api.load_dataset()


@pytest.fixture(scope="session")
def llr_scenario():
    from optimiser.scenario import default_scenario

    return default_scenario()


@pytest.fixture(scope="session")
def llr_solution(llr_dataset, llr_scenario):
    """The default scenario, solved once for the whole session (about 15 s)."""
    from optimiser import api

    return api.solve(llr_scenario, llr_dataset)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL database: ``LLR_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and
    sets it), or a private server started here. Never skipped: without PostgreSQL the
    tests that need it fail, saying how to install it."""
    import os

    url = os.environ.get("LLR_TEST_POSTGRES_URL", "").strip()
    if url:
        yield url
        return
    from postgres_server import PostgresServer

    try:
        server = PostgresServer()
        url = server.start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is the test's failure
        pytest.fail(f"could not start PostgreSQL for the options library tests: {exc}")
    try:
        yield url
    finally:
        server.stop()
