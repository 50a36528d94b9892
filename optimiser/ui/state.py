"""Shared state for the pages: the cached dataset, cached solves, the option library and the
current scenario. Every figure shown comes from the package's public API."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from optimiser import api
from optimiser.errors import InfeasibleError, OptimiserError
from optimiser.options import Option, OptionLibrary
from optimiser.scenario import Scenario, default_scenario, scenario_from_dict

SCENARIO_KEY = "scenario_yaml"


@st.cache_resource(show_spinner=False)
def dataset(path: str | None = None):
    return api.load_dataset(path) if path else api.load_dataset()


def active_dataset():
    return dataset(st.session_state.get("dataset_path"))


@st.cache_resource(show_spinner=False)
def _answers() -> dict:
    """One cache of answers for every page and every user, keyed by the settings (scenario,
    dataset, quick or best). An answer the time limit cut short is never stored: the same
    settings must always show the same answer."""
    return {}


def _solve_now(scenario_yaml: str, dataset_path: str | None, quick: bool):
    import yaml

    sc = scenario_from_dict(yaml.safe_load(scenario_yaml))
    try:
        if quick:
            return api.quick_solve(sc, dataset(dataset_path)), None
        return api.solve(sc, dataset(dataset_path)), None
    except InfeasibleError as exc:
        return None, exc
    except OptimiserError as exc:
        return None, exc


def solve(scenario: Scenario, quick: bool = False):
    """(solution, error): error is an OptimiserError with a plain-English message. ``quick``:
    the workshop's answer in seconds (see :func:`optimiser.api.quick_solve`). The answer
    depends on the settings alone."""
    key = (scenario.to_yaml(), st.session_state.get("dataset_path"), bool(quick))
    cache = _answers()
    if key in cache:
        return cache[key]
    answer = _solve_now(*key)
    sol = answer[0]
    if sol is None or not sol.stopped_by_time_limit:
        if len(cache) >= 64:
            cache.pop(next(iter(cache)))
        cache[key] = answer
    return answer


@st.cache_resource(show_spinner=False, max_entries=128)
def _evaluate_cached(scenario_yaml: str, option_yaml: str, dataset_path: str | None):
    import yaml

    from optimiser.options import option_from_dict

    sc = scenario_from_dict(yaml.safe_load(scenario_yaml))
    option = option_from_dict(yaml.safe_load(option_yaml), "option")
    try:
        return api.evaluate(sc, option, dataset(dataset_path)), None
    except OptimiserError as exc:
        return None, exc


def evaluate(scenario: Scenario, option: Option):
    import yaml

    return _evaluate_cached(scenario.to_yaml(), yaml.safe_dump(option.to_dict(), sort_keys=False),
                            st.session_state.get("dataset_path"))


def calibration_table():
    """The calibration of the current scenario against the active dataset."""
    return api.calibration(scenario(), active_dataset())


def scenario() -> Scenario:
    """The scenario the workshop has set (the LLR default until someone changes it)."""
    import yaml

    text = st.session_state.get(SCENARIO_KEY)
    if text is None:
        return base_scenario()
    return scenario_from_dict(yaml.safe_load(text))


def set_scenario(sc: Scenario) -> None:
    st.session_state[SCENARIO_KEY] = sc.to_yaml()


@st.cache_resource(show_spinner=False)
def base_scenario() -> Scenario:
    sc = default_scenario()
    # The app starts from the default scenario file with an interactive time limit.
    return sc.with_changes(**{"solver.time_limit_seconds": min(sc.solver.time_limit_seconds, 60)})


def library() -> OptionLibrary:
    folder = os.environ.get("LLR_OPTIONS_DIR") or str(Path.home() / ".llr-optimiser" / "options")
    return OptionLibrary(folder)


def all_options() -> tuple[dict[str, Option], list[str]]:
    """Shipped options, then saved ones; and messages for damaged saved files."""
    shipped = api.shipped_options()
    saved, bad = library().load_all()
    out = dict(shipped)
    for name, o in saved.items():
        out[name if name not in shipped else f"{name} (saved)"] = o
    return out, [str(e) for e in bad]


def show_error(err: Exception) -> None:
    """An error as people should see it: the plain-English message, never a traceback."""
    if isinstance(err, InfeasibleError):
        ex = err.explanation
        st.error(ex.headline)
        for f in ex.findings:
            st.markdown(f"- {f}")
        if ex.suggestions:
            st.markdown("**Nearest settings that would work:**")
            for s in ex.suggestions:
                st.markdown(f"- {s}")
    else:
        st.error(str(err))


BEST = "Best configuration (current settings)"


def solution_for(name: str, options: dict, sc):
    """(solution, error) for an option name, or the optimiser's answer for ``BEST``."""
    if name == BEST:
        return solve(sc)
    return evaluate(sc, options[name])
