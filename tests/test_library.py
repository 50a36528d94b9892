"""The options library on a database, against SQLite (the default) and a real PostgreSQL:
versions, author and time, settings and answer kept, archive, export/import, migrations,
two servers saving at once, bad input refused with a plain message."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa
import yaml

from optimiser.errors import InputError
from optimiser.library import SCHEMA_VERSION, OptionStore, migrate, schema_version
from optimiser.library.store import _driver_url, database_url, default_store
from optimiser.options import option_from_dict, parse_option

PLAN = {"name": "Workshop A: 40 min, Melton kept", "description": "From the workshop",
        "beds": {"melton": {"general": 20}, "loughborough": {"general": 40}}, "virtual_beds": {"E07000133": 12}}


def _plan(beds: int = 20, name: str = PLAN["name"]):
    return option_from_dict({**PLAN, "name": name, "beds": {**PLAN["beds"], "melton": {"general": beds}}})


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'options.sqlite'}"
    base = request.getfixturevalue("postgres_url")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(_driver_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def test_the_database_is_the_kind_asked_for(db_url):
    store = OptionStore(db_url)
    assert store.engine.dialect.name == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    with store.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_saving_keeps_settings_answer_author_time_and_each_version(db_url):
    store = OptionStore(db_url)
    first = store.save(_plan(20), author="Dr Patel", settings_yaml="horizon_year: 2035\n",
                       answer={"status": "quick", "metrics": {"annual_cost_gbp": 46.2e6}})
    assert (first.version, first.new_name) == (1, True)
    assert "version 1" in first.message()
    second = store.save(_plan(32), author="Cllr Jones", settings_yaml="horizon_year: 2040\n")
    assert (second.version, second.new_name) == (2, False)
    assert "already in the library: saved as version 2" in second.message()
    assert "earlier version is kept" in second.message()
    assert store.load(PLAN["name"]).beds.set_index("site_id").loc["melton", "beds"] == 32   # latest
    assert store.load(PLAN["name"], version=1).beds.set_index("site_id").loc["melton", "beds"] == 20
    history = store.history(PLAN["name"])
    assert [h.version for h in history] == [2, 1]
    assert [h.author for h in history] == ["Cllr Jones", "Dr Patel"]
    assert history[1].settings_yaml == "horizon_year: 2035\n"
    assert history[1].answer["metrics"]["annual_cost_gbp"] == 46.2e6
    assert history[0].saved_at >= history[1].saved_at and history[0].saved_at.tzinfo is not None
    assert store.names() == [PLAN["name"]]                # one option, two versions


def test_archive_hides_an_option_and_saving_it_again_brings_it_back(db_url):
    store = OptionStore(db_url)
    store.save(_plan(20))
    store.save(_plan(10, "Plan B"))
    store.archive("Plan B")
    assert store.names() == [PLAN["name"]]
    assert store.names(include_archived=True) == [PLAN["name"], "Plan B"]
    assert store.record("Plan B").archived
    store.archive("Plan B", archived=False)
    assert "Plan B" in store.names()
    store.archive("Plan B")
    assert store.save(_plan(12, "Plan B")).version == 2
    assert "Plan B" in store.names()
    with pytest.raises(InputError, match="no saved option called 'Nope'"):
        store.archive("Nope")


def test_export_and_import_as_an_option_file(db_url, tmp_path):
    store = OptionStore(db_url)
    store.save(_plan(20), author="Dr Patel")
    store.save(_plan(24), author="Dr Patel")
    exported = store.export_yaml(PLAN["name"], version=1)
    assert exported.startswith(b"# Option 'Workshop A: 40 min, Melton kept', version 1, saved ")
    assert b"by Dr Patel" in exported
    again = parse_option(exported, "export.yaml")                # a valid option file
    assert again.beds.set_index("site_id").loc["melton", "beds"] == 20
    other = OptionStore(f"sqlite:///{tmp_path / 'other.sqlite'}")
    saved = other.import_yaml(exported, "export.yaml", author="Board secretary")
    assert (saved.name, saved.version) == (PLAN["name"], 1)
    assert other.record(PLAN["name"]).author == "Board secretary"
    with pytest.raises(InputError, match="bomb.yaml"):
        other.import_yaml(b"a: &a [1, 2]\nb: *a\n", "bomb.yaml")   # aliases refused, file named
    with pytest.raises(InputError, match="unknown key"):
        other.import_yaml(yaml.safe_dump({**PLAN, "colour": "red"}).encode(), "x.yaml")
    assert other.names() == [PLAN["name"]]


def test_bad_input_is_refused_with_a_message(db_url):
    store = OptionStore(db_url)
    with pytest.raises(InputError, match="characters long"):
        store.save(_plan(20, "x" * 201))
    with pytest.raises(InputError, match="author"):
        store.save(_plan(20), author="y" * 101)
    with pytest.raises(InputError, match="no saved option"):
        store.load("never saved")
    with pytest.raises(InputError, match="no version 3"):
        store.save(_plan(20))
        store.load(PLAN["name"], version=3)
    assert [h.version for h in store.history(PLAN["name"])] == [1]


def test_two_servers_saving_the_same_name_at_once_lose_nothing(db_url):
    stores = [OptionStore(db_url), OptionStore(db_url)]
    results, errors = [], []

    def work(k: int) -> None:
        try:
            for i in range(5):
                results.append(stores[k % 2].save(_plan(10 + i + 10 * k), author=f"user {k}").version)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == list(range(1, 21))                # 20 saves, 20 distinct versions
    assert len(stores[0].history(PLAN["name"])) == 20


def test_comparisons_keep_their_weights(db_url):
    store = OptionStore(db_url)
    payload = {"options": ["Status quo", PLAN["name"]],
               "criteria": {"annual_cost_gbp": {"weight": 30, "score_0_at": 60e6, "score_10_at": 40e6}}}
    assert store.save_comparison("Board, March", payload, author="Chair").version == 1
    payload["criteria"]["annual_cost_gbp"]["weight"] = 50
    assert store.save_comparison("Board, March", payload).version == 2
    kept = store.comparisons()["Board, March"]
    assert kept["version"] == 2 and kept["payload"]["criteria"]["annual_cost_gbp"]["weight"] == 50


def test_a_version_1_database_is_migrated_without_losing_options(db_url):
    engine = sa.create_engine(_driver_url(db_url))
    assert migrate(engine, upto=1) == 0
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO options (name, created_at) VALUES ('Old plan', CURRENT_TIMESTAMP)"))
        oid = conn.execute(sa.text("SELECT id FROM options WHERE name = 'Old plan'")).scalar()
        conn.execute(sa.text("INSERT INTO option_versions (option_id, version, option_yaml, author, saved_at) "
                             "VALUES (:o, 1, :y, 'Before', CURRENT_TIMESTAMP)"),
                     {"o": oid, "y": _plan(17, "Old plan").to_yaml()})
        assert schema_version(conn) == 1
    engine.dispose()
    store = OptionStore(db_url)                      # opening it migrates
    with store.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION
    rec = store.record("Old plan")
    assert (rec.version, rec.author, rec.archived) == (1, "Before", False)
    assert rec.option.beds.set_index("site_id").loc["melton", "beds"] == 17
    assert store.save_comparison("after migration", {"options": []}).version == 1
    assert migrate(store.engine) == SCHEMA_VERSION                # already there: nothing to do


def test_a_database_newer_than_the_software_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'future.sqlite'}"
    engine = sa.create_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO library_schema (version) VALUES (99)"))
    with pytest.raises(InputError, match="schema version 99, newer than this software"):
        migrate(engine)


def test_default_is_a_sqlite_file_that_takes_in_the_old_option_files(tmp_path, monkeypatch):
    monkeypatch.delenv("OPTIONS_DATABASE_URL", raising=False)
    monkeypatch.setenv("LLR_OPTIONS_DIR", str(tmp_path / "lib"))
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.yaml").write_text(yaml.safe_dump({**PLAN, "name": "From a file"}))
    (tmp_path / "lib" / "broken.yaml").write_text("name: [unclosed\n")
    assert database_url() == f"sqlite:///{tmp_path / 'lib' / 'options.sqlite'}"
    store = default_store()
    assert store.engine.dialect.name == "sqlite"
    assert store.names() == ["From a file"]
    assert store.record("From a file").author == "imported from the option files"
    default_store()                                          # a second start imports nothing again
    assert [h.version for h in store.history("From a file")] == [1]
    monkeypatch.setenv("OPTIONS_DATABASE_URL", "postgresql://u:secret@db.example/llr")
    assert database_url() == "postgresql://u:secret@db.example/llr"


def test_an_unreachable_database_gets_a_plain_message(tmp_path):
    with pytest.raises(InputError, match="cannot open the options database") as info:
        OptionStore("postgresql://someone:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value)
