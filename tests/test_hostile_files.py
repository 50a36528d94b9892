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
    big.write_text(yaml.safe_dump(SMALL_OPTION) + "description: " + "x" * 6_000_000 + "\n")
    with pytest.raises(InputError, match=r"big_option.yaml.*6,000,\d+ bytes; the most accepted is 5,000,000"):
        load_option(big)
    with pytest.raises(InputError, match="the most accepted"):
        OptionLibrary(tmp_path / "lib").import_file(big.read_bytes(), "big_option.yaml")
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
