"""Shared state for the pages: the cached dataset, cached solves, the option library and the
current scenario. Every figure shown comes from the package's public API."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from optimiser import api
from optimiser.errors import InfeasibleError, OptimiserError
from optimiser.library import OptionStore, database_url
from optimiser.options import Option
from optimiser.scenario import Scenario, default_scenario, scenario_from_dict
from optimiser.solve_queue import solve_queue

SCENARIO_KEY = "scenario_yaml"


@st.cache_resource(show_spinner=False)
def dataset(path: str | None = None):
    return api.load_dataset(path) if path else api.load_dataset()


def active_dataset():
    return dataset(st.session_state.get("dataset_path"))


@st.cache_resource(show_spinner=False)
def _imported_folder() -> Path:
    """Where this server keeps the datasets people import (removed when it stops)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="llr-datasets-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def keep_dataset(ds, key: str) -> Path:
    """Save an imported dataset for this server's sessions under a name made from ``key``
    (what was imported), so the same import is kept once."""
    import hashlib

    from optimiser.dataset.store import save_dataset

    path = _imported_folder() / f"imported-{hashlib.sha256(key.encode()).hexdigest()[:24]}.gpkg"
    if not path.exists():
        save_dataset(ds, path)
    return path


class _Answers:
    """Answers shared by every session of the server, by their settings (least recently used
    dropped first). Only answers that do not depend on the clock are kept: a time limit that
    cut a solve short gives an answer that belongs to that moment, not to those settings."""

    def __init__(self, max_entries: int = 192) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()
        self.max_entries = max_entries

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        sol, err = value
        if sol is not None and getattr(sol, "stopped_by_time_limit", False):
            return
        if err is not None and not isinstance(err, InfeasibleError):
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items


class _InFlight:
    """The answers being found now, so that a second request for the same settings (another
    session, or the first browser while the server prepares the default answer) waits for
    that answer instead of solving again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict = {}

    def claim(self, key) -> threading.Event | None:
        """None: this caller finds the answer (and must call :meth:`done`); else the event
        that is set when the one finding it is done."""
        with self._lock:
            if key in self._events:
                return self._events[key]
            self._events[key] = threading.Event()
            return None

    def done(self, key) -> None:
        with self._lock:
            event = self._events.pop(key, None)
        if event is not None:
            event.set()


_IN_FLIGHT = _InFlight()


class _Quiet:
    """A notice that shows nothing (for answers found outside a page, e.g. as the server starts)."""

    def empty(self, *args, **kwargs) -> None:
        pass

    info = caption = empty


QUIET = _Quiet()


@st.cache_resource(show_spinner=False)
def _answers() -> _Answers:
    return _Answers()


def _answer(key: tuple, compute, notice=None):
    """(solution, error) for ``key``: from the shared answers, or computed in turn through the
    process's solve queue (at most one solver per core), showing the queue place meanwhile in
    ``notice`` (a placeholder; a new one where this is called if not given)."""
    answers = _answers()
    hit = answers.get(key)
    if hit is not None:
        return hit
    other = _IN_FLIGHT.claim(key)
    if other is not None:               # being found now (another session, or the server's warm-up)
        other.wait()
        hit = answers.get(key)
        if hit is not None:
            return hit
        return _answer_now(key, compute, notice)
    try:
        return _answer_now(key, compute, notice)
    finally:
        _IN_FLIGHT.done(key)


def _answer_now(key: tuple, compute, notice=None):
    answers = _answers()
    notice = notice if notice is not None else st.empty()

    def waiting(place: int) -> None:
        notice.info(f"Waiting for a free solver: your request is number {place} in the queue "
                    f"({solve_queue().running} solving now). It starts by itself.",
                    icon=":material/hourglass_top:")

    with solve_queue().turn(on_wait=waiting) as turn:
        notice.empty()
        hit = answers.get(key)          # someone may have solved these settings meanwhile
        if hit is not None:
            return hit
        try:
            value = compute(), None
        except InfeasibleError as exc:
            value = None, exc
        except OptimiserError as exc:
            value = None, exc
    if turn.waited_seconds >= 1:
        notice.caption(f"This request waited {turn.waited_seconds:.0f} s for a free solver "
                       f"({turn.ahead_at_start} ahead of it).")
    answers.put(key, value)
    return value


class _Texts:
    """Scenarios' YAML texts, kept with the (frozen) scenario objects: a page redraw asked for
    them five times, and writing and reading YAML took about 0.9 s of every rerun."""

    def __init__(self, max_entries: int = 256) -> None:
        self._lock = threading.Lock()
        self._texts: OrderedDict = OrderedDict()          # id(scenario) -> (scenario, text)
        self._parsed: OrderedDict = OrderedDict()         # (text, dataset path) -> (scenario, notes)
        self._parsing = threading.Lock()
        self.max_entries = max_entries

    def _keep(self, table: OrderedDict, key, value) -> None:
        with self._lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self.max_entries:
                table.popitem(last=False)

    def text(self, sc: Scenario) -> str:
        hit = self._texts.get(id(sc))
        if hit is not None and hit[0] is sc:
            return hit[1]
        text = sc.to_yaml()
        self.remember(sc, text)
        return text

    def remember(self, sc: Scenario, text: str) -> None:
        """``text`` is ``sc.to_yaml()`` (known without writing it again)."""
        self._keep(self._texts, id(sc), (sc, text))

    def parsed(self, text: str, path, make):
        hit = self._parsed.get((text, path))
        if hit is None:
            with self._parsing:       # read once, if two sessions ask at once
                hit = self._parsed.get((text, path))
                if hit is None:
                    hit = make()
                    self._keep(self._parsed, (text, path), hit)
        return hit


@st.cache_resource(show_spinner=False)
def _texts() -> _Texts:
    return _Texts()


def scenario_text(sc: Scenario) -> str:
    """``sc.to_yaml()``, written once per scenario object."""
    return _texts().text(sc)


def solve(scenario: Scenario, quick: bool = False, notice=None):
    """(solution, error): error is an OptimiserError with a plain-English message. ``quick``:
    the workshop's answer in seconds (see :func:`optimiser.api.quick_solve`). The answer
    depends on the settings alone, and every page shows the same one for the same settings."""
    return solve_on(scenario, st.session_state.get("dataset_path"), quick, notice)


def answer_key(scenario: Scenario, quick: bool, path: str | None) -> tuple:
    """What an answer is kept under: its kind, its settings (as YAML) and its dataset."""
    return ("quick" if quick else "best", scenario_text(scenario), path)


def solve_on(scenario: Scenario, path: str | None, quick: bool = False, notice=None):
    """:func:`solve` on the dataset at ``path`` (None: the embedded LLR dataset), outside a
    page too (``notice`` then given)."""
    ds = dataset(path)
    compute = (lambda: api.quick_solve(scenario, ds)) if quick else (lambda: api.solve(scenario, ds))
    return _answer(answer_key(scenario, quick, path), compute, notice)


def has_answer(scenario: Scenario, quick: bool, path: str | None = None) -> bool:
    """True when the answer for these settings is kept (found before, by anyone)."""
    return answer_key(scenario, quick, path) in _answers()


def evaluate(scenario: Scenario, option: Option):
    path = st.session_state.get("dataset_path")
    key = ("evaluate", scenario_text(scenario), option.fingerprint(), path)
    return _answer(key, lambda: api.evaluate(scenario, option, dataset(path)))


def calibration_table():
    """The calibration of the current scenario against the active dataset."""
    return api.calibration(scenario(), active_dataset())


def scenario() -> Scenario:
    """The scenario the workshop has set (the LLR default until someone changes it), its
    hospitals matched to the loaded dataset's (see :func:`site_notes`)."""
    sc, notes = scenario_on(st.session_state.get(SCENARIO_KEY), st.session_state.get("dataset_path"))
    st.session_state["site_notes"] = list(notes)
    return sc


def scenario_on(text: str | None, path: str | None) -> tuple[Scenario, list[str]]:
    """(the scenario of the YAML ``text`` (None: the default), matched to the dataset at
    ``path``; notes on the matching), read once per text and dataset."""
    import yaml

    def make():
        from optimiser.site_match import match_scenario_sites

        read = base_scenario() if text is None else scenario_from_dict(yaml.safe_load(text))
        sc, notes = match_scenario_sites(read, dataset(path), dataset(None))
        if text is not None and sc is read:
            _texts().remember(sc, text)       # its YAML is the text it was read from
        return sc, notes

    return _texts().parsed(text, path, make)


def site_notes() -> list[str]:
    """How the scenario's hospitals were matched to an imported dataset's, in words."""
    return list(st.session_state.get("site_notes", []))


def set_scenario(sc: Scenario) -> None:
    st.session_state[SCENARIO_KEY] = scenario_text(sc)


@st.cache_resource(show_spinner=False)
def base_scenario() -> Scenario:
    sc = default_scenario()
    # The app starts from the default scenario file with an interactive time limit.
    return sc.with_changes(**{"solver.time_limit_seconds": min(sc.solver.time_limit_seconds, 60)})


@st.cache_resource(show_spinner=False)
def _store(url: str) -> OptionStore:
    from optimiser.library import default_store

    return default_store() if url == database_url() else OptionStore(url)


def library() -> OptionStore:
    """The options library (a database: see :mod:`optimiser.library`), one per server."""
    return _store(database_url())


def all_options() -> tuple[dict[str, Option], list[str]]:
    """Shipped options, then saved ones (latest versions, not archived); and messages for
    saved options that could not be read."""
    shipped = api.shipped_options()
    try:
        saved, bad = library().load_all()
    except OptimiserError as exc:
        return dict(shipped), [str(exc)]
    out = dict(shipped)
    for entry in saved:
        out[entry.name if entry.name not in shipped else f"{entry.name} (saved)"] = entry.option
    return out, [*library().import_problems, *(str(e) for e in bad)]


# ---- figures and tables made from an answer, kept with it ------------------------------------
class _Derived:
    """Figures, maps and tables made from an answer, kept while the answer is (a page redraw
    does not rebuild them). Keyed by the answer object, which the shared answers keep."""

    def __init__(self, max_answers: int = 48) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()
        self._making: dict = {}
        self.max_answers = max_answers

    def _hit(self, key, owner, also):
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] is owner and hit[1] is also:
                self._items.move_to_end(key)
                return hit
        return None

    def get(self, owner, name: str, make, also=None):
        key = (id(owner), name, id(also))
        hit = self._hit(key, owner, also)
        if hit is not None:
            return hit[2]
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:          # made once, if two sessions (or the server's warm-up) ask at once
            hit = self._hit(key, owner, also)
            if hit is not None:
                return hit[2]
            try:
                value = make()
            except BaseException:
                with self._lock:
                    self._making.pop(key, None)
                raise
            with self._lock:
                self._items[key] = (owner, also, value)
                self._making.pop(key, None)
                while len(self._items) > 8 * self.max_answers:
                    self._items.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def _derived() -> _Derived:
    return _Derived()


def derived(owner, name: str, make, also=None):
    """``make()``, computed once per answer object ``owner``, ``name`` and (if given) the
    object ``also`` (e.g. the previous answer a change is measured from)."""
    return _derived().get(owner, name, make, also)


# ---- the workshop's controls and the page's query string --------------------------------------
CONTROLS_READY = "controls_ready"
URL_PROBLEMS = "url_problems"


def init_controls(ds) -> dict:
    """Give every workshop control its value before it is drawn: on a session's first page,
    from the link's query string (and the answer follows it at once); otherwise from the
    settings in force. Returns the controls' values."""
    from optimiser.ui import settings

    ids = list(ds.sites.index)
    current = scenario()
    mode = st.session_state.get("answer_mode", "quick")
    values = settings.from_scenario(current, ids, mode)
    if not st.session_state.get(CONTROLS_READY):
        st.session_state[CONTROLS_READY] = True
        query = {k: st.query_params.get(k) for k in st.query_params.keys()}
        if query:
            values, problems = settings.from_query(query, values, ids)
            st.session_state[URL_PROBLEMS] = problems
            try:
                set_scenario(current.with_changes(**settings.to_changes(values, ids, "stroke" in current.pathways)))
            except OptimiserError as exc:
                st.session_state[URL_PROBLEMS] = [*problems, f"The link's settings could not be used: {exc}"]
                values = settings.from_scenario(current, ids, mode)
            for key, value in values.items():
                st.session_state[key] = value
    for key, value in values.items():
        st.session_state.setdefault(key, value)
    if "stroke_sites" in st.session_state:
        st.session_state["stroke_sites"] = [s for s in st.session_state["stroke_sites"] if s in set(ids)]
    return {key: st.session_state[key] for key in values}


def reset_controls(ds) -> None:
    """Back to the default settings: the controls, the answer and the link (a callback, so
    the controls take the values before they are drawn)."""
    from optimiser.ui import settings

    st.session_state.pop(SCENARIO_KEY, None)
    for key in ("last_run", "previous_run", URL_PROBLEMS):
        st.session_state.pop(key, None)
    values = settings.from_scenario(scenario(), list(ds.sites.index), st.session_state.get("answer_mode", "quick"))
    for key, value in values.items():
        st.session_state[key] = value
    st.query_params.clear()


def sync_query(values: dict, ds) -> None:
    """Write the controls' values into the page's query string (reload keeps them; the link
    reproduces the answer)."""
    from optimiser.ui import settings

    q = settings.to_query(values, list(ds.sites.index))
    if {k: st.query_params.get(k) for k in st.query_params.keys()} != q:
        st.query_params.from_dict(q)


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


BEST = "Workshop answer (current settings)"


def solution_for(name: str, options: dict, sc):
    """(solution, error) for an option name, or for ``BEST`` the optimiser's answer in the
    Workshop's mode (quick or best): every page shows the one answer for the settings."""
    if name == BEST:
        return solve(sc, quick=st.session_state.get("answer_mode", "quick") == "quick")
    return evaluate(sc, options[name])
