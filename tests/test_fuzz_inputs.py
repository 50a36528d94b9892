"""Fuzzing the doors files come in by (issue 11): the importers, the scenario loader and the
option loaders, fed valid files broken in random ways and random bytes.

For every input: either a result, or an InputError/ScenarioError that names the file;
never another exception, never more than a few seconds (hypothesis's deadline, 10 s, against
about 0.1 s an input takes here: generous, as the machine is shared), and nothing written
anywhere but the output path."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimiser.dataset.importers import import_dataset
from optimiser.errors import DataWarning, InputError, ScenarioError
from optimiser.options import OptionLibrary, load_option
from optimiser.scenario import DEFAULT_SCENARIO_PATH, load_scenario

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "bad_input"
VALID = {"population": FIXTURES / "valid_population.csv", "boundaries": FIXTURES / "valid_boundaries.geojson",
         "sites": FIXTURES / "valid_sites.csv", "travel": FIXTURES / "valid_travel_long.csv",
         "projections": FIXTURES / "valid_projections.csv"}
WATCHED = [ROOT / "data", FIXTURES, ROOT / "seeds"]
FUZZ = settings(max_examples=40, deadline=timedelta(seconds=10), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NASTY = st.sampled_from(["", " ", "-1", "1e30", "-1e30", "nan", "inf", "1,000", "0x10", "=1+1", "@SUM(A1)",
                         "\x00", "\u00e4\u00df\u2013", "\ufeff", "'", '"', '"unclosed', "NULL", "9" * 400,
                         "2020", "E01000001", "E06000016", "alpha", "yes", "maybe", "52.6", "-1.1",
                         "*a", "&a x", "!!python/object:os.system ls", "{", "[", "- x", "~", "a: b: c"])


@st.composite
def broken(draw, text: str, separator: str = ",") -> bytes:
    """``text`` with a few random edits (cells replaced, lines dropped, doubled or cut), in a
    random encoding; or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=3000))
    lines = text.splitlines()
    for op in draw(st.lists(st.sampled_from(["cell", "cell", "drop", "double", "cut", "insert"]), min_size=1,
                            max_size=4)):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if op == "cell":
            cells = lines[i].split(separator)
            cells[draw(st.integers(0, len(cells) - 1))] = draw(NASTY)
            lines[i] = separator.join(cells)
        elif op == "drop":
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][:draw(st.integers(0, len(lines[i])))]
            lines = lines[:i + 1]
        else:
            lines.insert(i, draw(NASTY))
    out = "\n".join(lines) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "cp1252", "utf-16", "latin-1"]))
    return out.encode(encoding, errors="replace")


def _snapshot(folders) -> dict[str, tuple[int, int]]:
    found = {}
    for folder in folders:
        for p in Path(folder).rglob("*"):
            if p.is_file():
                st_ = p.stat()
                found[str(p)] = (st_.st_size, st_.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A temporary folder for the process (so nothing can land in the shared /tmp unseen)."""
    base = tmp_path_factory.mktemp("fuzz")
    private = base / "tmp"
    private.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(private)
    # warm up (imports, projections) so the deadline measures the work, not the first import
    import_dataset(**VALID, population_year=2020)
    yield base
    tempfile.tempdir = old


def _check(call, file: Path, out: Path | None, sandbox: Path) -> None:
    """Run ``call``; it may succeed or raise InputError/ScenarioError naming ``file``; nothing
    may change outside ``out``."""
    watched = [*WATCHED, file.parent, sandbox / "tmp"]
    before = _snapshot(watched)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            call()
    except (InputError, ScenarioError) as exc:
        assert exc.file is not None, str(exc)
        assert Path(exc.file).name == file.name or file.name in str(exc), str(exc)
        assert len(str(exc)) <= 1_100
    after = _snapshot(watched)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    if out is not None:
        changed = {p for p in changed if not p.startswith(str(out))}
    changed.discard(str(file))
    assert changed == set(), f"written outside the output: {sorted(changed)[:5]}"


def _example_folder(sandbox: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=sandbox, prefix="case-"))


@pytest.mark.parametrize("kind", ["population", "sites", "travel", "projections"])
def test_importers_survive_broken_tables(kind, sandbox):
    text = VALID[kind].read_text(encoding="utf-8")

    @FUZZ
    @given(content=broken(text))
    def run(content):
        folder = _example_folder(sandbox)
        try:
            path = folder / f"fuzzed_{kind}.csv"
            path.write_bytes(content)
            out = folder / "out" / "dataset.gpkg"
            _check(lambda: import_dataset(**{**VALID, kind: path}, population_year=2020, out=out),
                   path, out.parent, sandbox)
        finally:
            shutil.rmtree(folder)

    run()


def test_importers_survive_broken_boundaries(sandbox):
    text = VALID["boundaries"].read_text(encoding="utf-8")

    @FUZZ
    @given(content=broken(text, separator=" "))
    def run(content):
        folder = _example_folder(sandbox)
        try:
            path = folder / "fuzzed_boundaries.geojson"
            path.write_bytes(content)
            out = folder / "out" / "dataset.gpkg"
            _check(lambda: import_dataset(**{**VALID, "boundaries": path}, population_year=2020, out=out),
                   path, out.parent, sandbox)
        finally:
            shutil.rmtree(folder)

    run()


def test_the_scenario_loader_survives_broken_scenarios(sandbox):
    text = DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8")

    @FUZZ
    @given(content=broken(text, separator=": "))
    def run(content):
        folder = _example_folder(sandbox)
        try:
            path = folder / "fuzzed_scenario.yaml"
            path.write_bytes(content)
            _check(lambda: load_scenario(path), path, None, sandbox)
        finally:
            shutil.rmtree(folder)

    run()


def test_the_option_loaders_survive_broken_options(sandbox):
    text = (ROOT / "data" / "options" / "west_leicestershire_proposal.yaml").read_text(encoding="utf-8")

    @FUZZ
    @given(content=broken(text, separator=": "))
    def run(content):
        folder = _example_folder(sandbox)
        try:
            path = folder / "fuzzed_option.yaml"
            path.write_bytes(content)
            _check(lambda: load_option(path), path, None, sandbox)
            library = folder / "library"
            _check(lambda: OptionLibrary(library).import_file(content, path.name), path, library, sandbox)
        finally:
            shutil.rmtree(folder)

    run()
