"""The options library on a database (SQLAlchemy): SQLite by default, PostgreSQL when
``OPTIONS_DATABASE_URL`` is set.

* An option's name is its identity. Saving a name the library holds makes a **new version**
  (the earlier ones stay in its history, and the caller is told which version it made);
  nothing is ever overwritten or deleted by a save.
* Each version keeps the option (as the YAML an option file holds), the settings it was
  found with (the scenario as YAML), its answer (status, figures, near-ties, provenance, as
  JSON), who saved it and when.
* Options can be archived (hidden from the pages, kept, and brought back), exported as an
  option file and imported from one; a folder of option files (the library before this one)
  is imported the first time a database is made beside it.
* Every text a person gives is checked (:func:`optimiser.options.parse_option`): sizes are
  capped, YAML aliases refused; errors are :class:`~optimiser.errors.InputError`.
* Options are parsed once per version and kept (a page load does not parse the library).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from optimiser.errors import InputError, shorten
from optimiser.library.schema import migrate
from optimiser.options import (
    MAX_LIBRARY_OPTIONS,
    MAX_NAME_CHARACTERS,
    Option,
    parse_option,
)
from optimiser.safe_yaml import MAX_OPTION_BYTES

DATABASE_URL_ENV = "OPTIONS_DATABASE_URL"
MAX_VERSIONS_PER_OPTION = 500
MAX_AUTHOR_CHARACTERS = 100
MAX_SETTINGS_BYTES = 200_000
MAX_ANSWER_BYTES = 2_000_000
MAX_COMPARISONS = 500

_md = sa.MetaData()
OPTIONS = sa.Table("options", _md,
                   sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("name", sa.String(200)),
                   sa.Column("created_at", sa.DateTime(timezone=True)),
                   sa.Column("archived", sa.Boolean))
VERSIONS = sa.Table("option_versions", _md,
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("option_id", sa.Integer),
                    sa.Column("version", sa.Integer),
                    sa.Column("option_yaml", sa.Text),
                    sa.Column("settings_yaml", sa.Text),
                    sa.Column("answer_json", sa.Text),
                    sa.Column("author", sa.String(200)),
                    sa.Column("saved_at", sa.DateTime(timezone=True)))
COMPARISONS = sa.Table("comparisons", _md,
                       sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("name", sa.String(200)),
                       sa.Column("version", sa.Integer),
                       sa.Column("payload_json", sa.Text),
                       sa.Column("author", sa.String(200)),
                       sa.Column("saved_at", sa.DateTime(timezone=True)))


@dataclass(frozen=True)
class Saved:
    """What a save did: the option's name, the version it made, and whether that name was new."""

    name: str
    version: int
    new_name: bool

    def message(self) -> str:
        if self.new_name:
            return f"Saved '{self.name}' (version 1)."
        return (f"'{self.name}' was already in the library: saved as version {self.version}. "
                f"The earlier version{'s are' if self.version > 2 else ' is'} kept in its history.")


@dataclass(frozen=True)
class SavedVersion:
    """One saved version of an option, with what it was saved with."""

    name: str
    version: int
    option: Option
    settings_yaml: str
    answer: Mapping = field(default_factory=dict)
    author: str = ""
    saved_at: datetime | None = None
    archived: bool = False

    @property
    def saved_at_text(self) -> str:
        return self.saved_at.strftime("%d %b %Y %H:%M UTC") if self.saved_at else ""


def database_url(folder: str | Path | None = None) -> str:
    """``OPTIONS_DATABASE_URL`` if set (``postgresql://user:pass@host/db`` or any SQLAlchemy
    URL), else a SQLite file ``options.sqlite`` in ``LLR_OPTIONS_DIR`` (default
    ``~/.llr-optimiser/options``)."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    folder = Path(folder or os.environ.get("LLR_OPTIONS_DIR") or Path.home() / ".llr-optimiser" / "options")
    return f"sqlite:///{folder / 'options.sqlite'}"


def _driver_url(url: str) -> str:
    """PostgreSQL through psycopg 3 whatever the URL's scheme says."""
    for scheme in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clean_author(author: str | None) -> str:
    author = " ".join(str(author or "").split())
    if len(author) > MAX_AUTHOR_CHARACTERS:
        raise InputError(f"the author's name is {len(author)} characters long", column="author",
                         expected=f"at most {MAX_AUTHOR_CHARACTERS} characters")
    return author


def _make_engine(url: str) -> sa.Engine:
    url = _driver_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None          # transactions begun below, not by the driver
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")    # one writer at a time: versions never collide
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str) -> sa.Engine:
    """One engine (and migration check) per database per process."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _make_engine(url)
            try:
                migrate(engine)
            except OperationalError as exc:
                engine.dispose()
                raise InputError(f"cannot open the options database ({shorten(str(exc.orig), 200)})",
                                 file=sa.engine.make_url(_driver_url(url)).render_as_string(hide_password=True)
                                 ) from None
            _engines[url] = engine
        return engine


# Parsed options by (database, version row id): a version never changes once written.
_parsed: dict[tuple[str, int], Option] = {}
_parsed_lock = threading.Lock()


class OptionStore:
    """The options library in the database at ``url`` (see :func:`database_url`)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url()
        self.engine = _engine(self.url)
        self.import_problems: list[str] = []     # option files a folder import could not read

    @property
    def where(self) -> str:
        """The database, for messages (no password)."""
        return self.engine.url.render_as_string(hide_password=True)

    # ---- reading ------------------------------------------------------------------------
    def _option(self, row_id: int, text: str, name: str) -> Option:
        key = (self.url, int(row_id))
        with _parsed_lock:
            hit = _parsed.get(key)
        if hit is None:
            hit = parse_option(text, f"options library: '{shorten(name, 60)}'")
            with _parsed_lock:
                _parsed[key] = hit
                if len(_parsed) > 8 * MAX_LIBRARY_OPTIONS:
                    _parsed.pop(next(iter(_parsed)))
        return hit

    def _latest_rows(self, conn, *, include_archived: bool, name: str | None = None):
        latest = (sa.select(VERSIONS.c.option_id, sa.func.max(VERSIONS.c.version).label("v"))
                  .group_by(VERSIONS.c.option_id).subquery())
        q = (sa.select(OPTIONS.c.name, OPTIONS.c.archived, VERSIONS)
             .join(latest, latest.c.option_id == OPTIONS.c.id)
             .join(VERSIONS, sa.and_(VERSIONS.c.option_id == OPTIONS.c.id, VERSIONS.c.version == latest.c.v))
             .order_by(OPTIONS.c.created_at, OPTIONS.c.id))
        if not include_archived:
            q = q.where(OPTIONS.c.archived.is_(False))
        if name is not None:
            q = q.where(OPTIONS.c.name == name)
        return conn.execute(q).mappings().all()

    def _record(self, row, name: str, archived: bool) -> SavedVersion:
        try:
            answer = json.loads(row["answer_json"] or "{}")
        except json.JSONDecodeError:
            answer = {}
        return SavedVersion(name=name, version=int(row["version"]),
                            option=self._option(row["id"], row["option_yaml"], name),
                            settings_yaml=row["settings_yaml"] or "", answer=answer, author=row["author"] or "",
                            saved_at=_utc(row["saved_at"]), archived=bool(archived))

    def entries(self, *, include_archived: bool = False) -> list[SavedVersion]:
        """The latest version of every option, oldest name first; a version that cannot be
        read is left out (see :meth:`load_all` for the problems)."""
        return self.load_all(include_archived=include_archived)[0]

    def load_all(self, *, include_archived: bool = False) -> tuple[list[SavedVersion], list[InputError]]:
        with self.engine.connect() as conn:
            rows = self._latest_rows(conn, include_archived=include_archived)
        good, bad = [], []
        for row in rows:
            try:
                good.append(self._record(row, row["name"], row["archived"]))
            except InputError as exc:
                bad.append(exc)
        return good, bad

    def options(self, *, include_archived: bool = False) -> dict[str, Option]:
        """Name -> the latest version's option."""
        return {e.name: e.option for e in self.entries(include_archived=include_archived)}

    def names(self, *, include_archived: bool = False) -> list[str]:
        return [e.name for e in self.entries(include_archived=include_archived)]

    def record(self, name: str, version: int | None = None) -> SavedVersion:
        """One version (default: the latest) of the option called ``name``, archived or not."""
        with self.engine.connect() as conn:
            q = (sa.select(OPTIONS.c.name, OPTIONS.c.archived, VERSIONS)
                 .join(VERSIONS, VERSIONS.c.option_id == OPTIONS.c.id).where(OPTIONS.c.name == name)
                 .order_by(VERSIONS.c.version.desc()))
            if version is not None:
                q = q.where(VERSIONS.c.version == int(version))
            row = conn.execute(q.limit(1)).mappings().first()
        if row is None:
            what = f"no version {version} of" if version is not None else "no"
            raise InputError(f"{what} saved option called '{shorten(name)}'", file=self.where)
        return self._record(row, row["name"], row["archived"])

    def load(self, name: str, version: int | None = None) -> Option:
        return self.record(name, version).option

    def history(self, name: str) -> list[SavedVersion]:
        """Every version of ``name``, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(OPTIONS.c.name, OPTIONS.c.archived, VERSIONS)
                                .join(VERSIONS, VERSIONS.c.option_id == OPTIONS.c.id)
                                .where(OPTIONS.c.name == name).order_by(VERSIONS.c.version.desc())
                                ).mappings().all()
        if not rows:
            raise InputError(f"no saved option called '{shorten(name)}'", file=self.where)
        return [self._record(r, r["name"], r["archived"]) for r in rows]

    # ---- writing ------------------------------------------------------------------------
    def save(self, option: Option, *, author: str = "", settings_yaml: str = "",
             answer: Mapping | None = None) -> Saved:
        """Store ``option`` as a new version of its name (version 1 for a new name). An
        archived option saved again is brought back."""
        name = option.name.strip()
        if not name:
            raise InputError("the option needs a name", column="name")
        if len(name) > MAX_NAME_CHARACTERS:
            raise InputError(f"the option's name is {len(name):,} characters long", column="name",
                             expected=f"at most {MAX_NAME_CHARACTERS} characters")
        text = option.to_yaml()
        if len(text.encode()) > MAX_OPTION_BYTES:
            raise InputError(f"the option is {len(text.encode()):,} bytes as YAML", column="beds",
                             expected=f"at most {MAX_OPTION_BYTES:,} bytes")
        parse_option(text, f"option '{shorten(name, 60)}'")          # what is stored reads back
        settings_yaml = settings_yaml or ""
        if len(settings_yaml.encode()) > MAX_SETTINGS_BYTES:
            raise InputError("the settings are too large to keep with the option", column="settings",
                             expected=f"at most {MAX_SETTINGS_BYTES:,} bytes")
        answer_json = json.dumps(dict(answer or {}), default=_json_default, allow_nan=False, sort_keys=True)
        if len(answer_json) > MAX_ANSWER_BYTES:
            raise InputError("the answer is too large to keep with the option", column="answer",
                             expected=f"at most {MAX_ANSWER_BYTES:,} bytes")
        author = _clean_author(author)
        for _attempt in range(5):
            try:
                return self._insert_version(name, text, settings_yaml, answer_json, author)
            except IntegrityError:      # another server saved the same name at the same moment
                continue
        raise InputError(f"could not save '{shorten(name)}': the library was busy; try again", file=self.where)

    def _insert_version(self, name, text, settings_yaml, answer_json, author) -> Saved:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            q = sa.select(OPTIONS.c.id).where(OPTIONS.c.name == name)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            option_id = conn.execute(q).scalar()
            new_name = option_id is None
            if new_name:
                count = conn.execute(sa.select(sa.func.count()).select_from(OPTIONS)).scalar()
                if count >= MAX_LIBRARY_OPTIONS:
                    raise InputError(f"the library holds {count} options, the most it keeps: archive is not "
                                     "enough, ask the person running it to export and remove some",
                                     file=self.where)
                option_id = conn.execute(OPTIONS.insert().values(name=name, created_at=now, archived=False)
                                         ).inserted_primary_key[0]
                version = 1
            else:
                version = int(conn.execute(sa.select(sa.func.max(VERSIONS.c.version))
                                           .where(VERSIONS.c.option_id == option_id)).scalar() or 0) + 1
                if version > MAX_VERSIONS_PER_OPTION:
                    raise InputError(f"'{shorten(name)}' already has {version - 1} versions, the most kept: "
                                     "save under another name", column="name")
                conn.execute(OPTIONS.update().where(OPTIONS.c.id == option_id).values(archived=False))
            conn.execute(VERSIONS.insert().values(option_id=option_id, version=version, option_yaml=text,
                                                  settings_yaml=settings_yaml, answer_json=answer_json,
                                                  author=author, saved_at=now))
        return Saved(name, version, new_name)

    def archive(self, name: str, archived: bool = True) -> None:
        """Hide ``name`` from the pages (``archived=False`` brings it back); nothing is deleted."""
        with self.engine.begin() as conn:
            done = conn.execute(OPTIONS.update().where(OPTIONS.c.name == name).values(archived=bool(archived)))
        if done.rowcount == 0:
            raise InputError(f"no saved option called '{shorten(name)}'", file=self.where)

    # ---- files --------------------------------------------------------------------------
    def export_yaml(self, name: str, version: int | None = None) -> bytes:
        """The option as an option file (importable here or usable with ``evaluate --option``),
        with who saved it, when and from which settings as comments at the top."""
        rec = self.record(name, version)
        head = [f"# Option '{rec.name}', version {rec.version}, saved {rec.saved_at_text}"
                + (f" by {rec.author}" if rec.author else ""),
                "# exported from the LLR community bed optimiser's options library"]
        if rec.answer.get("answer_label"):
            head.append(f"# answer: {rec.answer['answer_label']}")
        return ("\n".join(h.replace("\n", " ") for h in head) + "\n" + rec.option.to_yaml()).encode("utf-8")

    def import_yaml(self, content: bytes, filename: str = "<upload>", *, author: str = "") -> Saved:
        """Validate an option file, then save it (as a new version if the name exists)."""
        option = parse_option(bytes(content), shorten(Path(filename).name or "<upload>", 100))
        return self.save(option, author=author)

    def import_folder(self, folder: str | Path, *, author: str = "imported from the option files") -> list[str]:
        """Import every option file of a folder (the library before the database); returns
        messages for files that could not be read (left untouched)."""
        from optimiser.options import OptionLibrary

        good, bad = OptionLibrary(folder).load_all()
        for option in good.values():
            self.save(option, author=author)
        return [str(e) for e in bad]

    # ---- comparisons --------------------------------------------------------------------
    def save_comparison(self, name: str, payload: Mapping, *, author: str = "") -> Saved:
        """A comparison (options chosen, the appraisal's weights and scales, ...) under a
        name; saving a name again makes a new version."""
        name = " ".join(str(name or "").split())
        if not name or len(name) > MAX_NAME_CHARACTERS:
            raise InputError("a comparison needs a name", column="name",
                             expected=f"1 to {MAX_NAME_CHARACTERS} characters")
        text = json.dumps(dict(payload), default=_json_default, allow_nan=False, sort_keys=True)
        if len(text) > MAX_SETTINGS_BYTES:
            raise InputError("the comparison is too large to keep", expected=f"at most {MAX_SETTINGS_BYTES:,} bytes")
        author = _clean_author(author)
        for _attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    last = conn.execute(sa.select(sa.func.max(COMPARISONS.c.version))
                                        .where(COMPARISONS.c.name == name)).scalar()
                    if last is None:
                        count = conn.execute(sa.select(sa.func.count(sa.distinct(COMPARISONS.c.name)))).scalar()
                        if count >= MAX_COMPARISONS:
                            raise InputError(f"the library holds {count} comparisons, the most it keeps",
                                             file=self.where)
                    version = int(last or 0) + 1
                    conn.execute(COMPARISONS.insert().values(name=name, version=version, payload_json=text,
                                                             author=author, saved_at=datetime.now(UTC)))
                return Saved(name, version, last is None)
            except IntegrityError:
                continue
        raise InputError(f"could not save the comparison '{shorten(name)}': try again", file=self.where)

    def comparisons(self) -> dict[str, dict]:
        """Name -> the latest version: ``{"version", "author", "saved_at", "payload"}``."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(COMPARISONS).order_by(COMPARISONS.c.name, COMPARISONS.c.version)
                                ).mappings().all()
        out = {}
        for r in rows:
            out[r["name"]] = {"version": int(r["version"]), "author": r["author"], "saved_at": _utc(r["saved_at"]),
                              "payload": json.loads(r["payload_json"])}
        return out


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__}")


_default_lock = threading.Lock()


def default_store() -> OptionStore:
    """The library the app uses (:func:`database_url`). A new SQLite file made beside a folder
    of option files (the library before the database) takes those options in once."""
    url = database_url()
    with _default_lock:
        fresh = url.startswith("sqlite") and not Path(sa.engine.make_url(url).database or "").exists()
        store = OptionStore(url)
        if fresh:
            folder = Path(sa.engine.make_url(url).database).parent
            if any(folder.glob("*.yaml")):
                store.import_problems = store.import_folder(folder)
    return store
