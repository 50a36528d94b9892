"""Shared fixtures: small instances built directly (for exact, hand-checkable optima) and one
real solve of the LLR default scenario (reused by several test files)."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.instance import Instance, Rules, SolverSettings, Weights


def make_instance(travel, admissions, *, los_days=36.5, steps=(0, 5, 10), fixed_cost=100.0,
                  cost_per_bed=10.0, max_travel=np.inf, rules: Rules | None = None,
                  weights: Weights | None = None, backend="ortools", status=None,
                  blocking=0.05, population_65=None, district=None, name="tiny") -> Instance:
    """A one-pathway instance: zones x sites travel minutes, admissions per zone per year,
    the same bed steps at every site (capacity from the Erlang loss model)."""
    adm = np.asarray(admissions, float)
    return Instance.from_arrays(
        travel, adm, bed_steps=steps, los_days=los_days, fixed_cost=fixed_cost, cost_per_bed=cost_per_bed,
        max_travel=max_travel, status=status, population=adm * 100.0, population_65=population_65,
        district=district, name=name, blocking=blocking,
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
    """The default scenario, solved once for the whole session (about 35 s on an idle 2-core
    machine). The machine is shared: the time limit here is only a safety net, so that the
    tests check the answer at the scenario's gap, not whatever the clock allowed."""
    from optimiser import api

    return api.solve(llr_scenario.with_changes(**{"solver.time_limit_seconds": 900}), llr_dataset)


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


# ---- the fast inner loop: `make test-fast` runs what is not marked slow ----------------------
SLOW_FIXTURES = {"llr_dataset", "llr_scenario", "llr_solution", "postgres_url", "evaluated_options", "app_url",
                 "running_app"}
SLOW_MODULES = {"test_browser", "test_app", "test_app_security", "test_llr_model", "test_import_reference",
                "test_import_real_user", "test_pmed", "test_hostile_imports", "test_fuzz_inputs", "test_library",
                "test_compare_report", "test_impact_page", "test_uncertainty_page"}


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a browser test module (Playwright's sync API allows one
    driver at a time); screenshots go to artifacts/screenshots/."""
    from playwright.sync_api import sync_playwright

    from tests.served_app import CHROMIUM, CHROMIUM_ARGS, SHOTS, require_chromium

    require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def pytest_collection_modifyitems(config, items):
    """Mark as slow every test that uses the real LLR data, a server, a browser or a long
    solve, so that ``make test-fast`` (``-m "not slow"``) is the quick inner loop."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
