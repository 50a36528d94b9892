"""The app's answers as the server keeps them: the default answer is found as the server
starts (before any browser asks), the Workshop opens on that very answer, settings asked for
twice at once are solved once, and coming back to the default's settings by the controls
shows the default's answer again. Real solves throughout; no timings (see
benchmarks/browser_timings.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300


@pytest.fixture(autouse=True)
def option_library(tmp_path, monkeypatch):
    monkeypatch.setenv("LLR_OPTIONS_DIR", str(tmp_path / "options"))


def _workshop() -> AppTest:
    return AppTest.from_string("from optimiser.ui import workshop\nworkshop.page()\n", default_timeout=TIMEOUT)


def test_the_workshop_opens_on_the_answer_prepared_before_anyone_asked():
    from optimiser.ui import state, workshop

    assert workshop.prepare_default_answer()
    default, _notes = state.scenario_on(None, None)
    assert state.has_answer(default, quick=True)
    prepared, err = state.solve_on(default, None, quick=True, notice=state.QUIET)
    assert err is None and prepared.metrics["annual_cost_gbp"] > 0
    ds = state.dataset(None)
    prepared_map = workshop.answer_map(prepared, ds)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    shown, shown_settings, _text = at.session_state["last_run"]
    assert shown is prepared, "the page shows the prepared answer, not one it solved again"
    assert shown_settings is default
    assert workshop.answer_map(shown, ds) is prepared_map, "and its map as prepared"
    assert at.session_state[workshop.MAP_DRAWN]


def test_settings_asked_for_twice_at_once_are_solved_once(monkeypatch):
    from optimiser import api
    from optimiser.ui import state

    # settings nobody has asked for in this process
    sc = state.base_scenario().with_changes(**{"travel.standard.share": 0.93, "min_beds_per_open_site": 2})
    assert not state.has_answer(sc, quick=True)
    solves = []
    real = api.quick_solve

    def counted(*args, **kwargs):
        solves.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "quick_solve", counted)
    answers: dict = {}

    def ask(who: str) -> None:
        answers[who] = state.solve_on(sc, None, quick=True, notice=state.QUIET)

    threads = [threading.Thread(target=ask, args=(f"session {k}",), name=f"session {k}") for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert len(solves) == 1, f"solved {len(solves)} times: {solves}"
    found = {id(sol) for sol, err in answers.values()}
    assert len(answers) == 3 and len(found) == 1 and all(err is None for _s, err in answers.values())
    assert state.has_answer(sc, quick=True)


def test_back_at_the_default_settings_by_the_controls_shows_the_default_answer(monkeypatch):
    from optimiser import api
    from optimiser.ui import state

    at = _workshop().run()
    first = at.session_state["last_run"][0]
    at.sidebar.slider(key="coverage_share").set_value(94)
    at.sidebar.button(key="find").click().run()
    assert not at.exception
    assert at.session_state["last_run"][0] is not first
    solves = []
    real = api.quick_solve
    monkeypatch.setattr(api, "quick_solve", lambda *a, **k: solves.append(1) or real(*a, **k))
    at.sidebar.slider(key="coverage_share").set_value(95)
    at.sidebar.button(key="find").click().run()
    assert not at.exception
    assert not solves, "the default's own answer, not the same settings solved again"
    again, settings, _text = at.session_state["last_run"]
    assert again is first
    assert state.scenario_text(settings) == state.scenario_text(state.base_scenario())
    assert settings.figures, "the default's figure notes are kept with its settings"
    assert any("94% → 95%" in m.value for m in at.markdown)


@pytest.mark.slow
def test_make_run_has_the_default_answer_ready_before_a_browser_asks(tmp_path):
    """``python -m optimiser app`` (what ``make run`` runs) says when the default answer is
    ready: with no browser ever connected, so it was found as the server started."""
    from optimiser.ui.serve import READY_LINE
    from tests.served_app import free_port

    port = free_port()
    env = dict(os.environ, LLR_OPTIONS_DIR=str(tmp_path / "options"))
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "optimiser", "app", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while READY_LINE not in log.read_text(errors="replace"):
            assert proc.poll() is None, f"the server stopped: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, f"no ready line: {log.read_text(errors='replace')[-2000:]}"
            time.sleep(0.5)
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10).read() == b"ok"
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and "preparing the default answer failed" not in text
    finally:
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_saving_an_option_keeps_the_answer_on_screen_without_solving_again(monkeypatch):
    """Saving reruns the save form (a fragment): the answer and its figures stay, nothing is solved."""
    from optimiser import api
    from optimiser.ui import state

    at = _workshop().run()
    shown = at.session_state["last_run"][0]
    figures = [(m.label, m.value) for m in at.metric]
    solves = []
    real = api.quick_solve
    monkeypatch.setattr(api, "quick_solve", lambda *a, **k: solves.append(1) or real(*a, **k))
    at.text_input(key="save_name").input("Workshop B: kept answer")
    at.text_input(key="save_author").input("A. Clinician")
    at.button(key="save_option").click().run()
    assert not at.exception
    assert any("Workshop B: kept answer" in s.value for s in at.success)
    assert not solves
    assert at.session_state["last_run"][0] is shown
    assert [(m.label, m.value) for m in at.metric] == figures
    saved, _bad = state.library().load_all()
    assert [e.name for e in saved] == ["Workshop B: kept answer"]
