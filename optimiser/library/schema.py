"""The library's tables and their migrations (a small, tested scheme in place of Alembic).

Each migration is a numbered function that moves the schema one step on, run in one
transaction that also records the new number in ``library_schema``; :func:`migrate` applies
those a database has not had yet, in order, and is safe when two servers start at once
(PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE``). A migration, once released, is
never edited: a later change is a new migration. Tables are written out in each migration
(not imported from the current model) so that old steps stay what they were.

Version 1: ``options`` (one row per name) and ``option_versions`` (every save: the option as
YAML, the settings it was found with, its answer as JSON, author, time).
Version 2: ``options.archived``, and ``comparisons`` (a saved comparison: the options chosen,
the appraisal's weights and scales, versioned by name like options).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

SCHEMA_VERSION = 2
_ADVISORY_LOCK_ID = 0x11A5_0B7D    # any constant: one migration at a time per PostgreSQL database


def _v1(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table("options", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(200), nullable=False, unique=True),
             sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    sa.Table("option_versions", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("option_id", sa.Integer, sa.ForeignKey("options.id"), nullable=False, index=True),
             sa.Column("version", sa.Integer, nullable=False),
             sa.Column("option_yaml", sa.Text, nullable=False),
             sa.Column("settings_yaml", sa.Text, nullable=False, server_default=""),
             sa.Column("answer_json", sa.Text, nullable=False, server_default="{}"),
             sa.Column("author", sa.String(200), nullable=False, server_default=""),
             sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
             sa.UniqueConstraint("option_id", "version", name="uq_option_version"))
    md.create_all(conn)


def _v2(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE options ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE"))
    md = sa.MetaData()
    sa.Table("comparisons", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("name", sa.String(200), nullable=False),
             sa.Column("version", sa.Integer, nullable=False),
             sa.Column("payload_json", sa.Text, nullable=False),
             sa.Column("author", sa.String(200), nullable=False, server_default=""),
             sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
             sa.UniqueConstraint("name", "version", name="uq_comparison_version"))
    md.create_all(conn)


MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {1: _v1, 2: _v2}
assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def schema_version(conn: sa.Connection) -> int:
    """The version a database is at (0: empty)."""
    if not sa.inspect(conn).has_table("library_schema"):
        return 0
    return int(conn.execute(sa.text("SELECT max(version) FROM library_schema")).scalar() or 0)


def migrate(engine: sa.Engine, upto: int = SCHEMA_VERSION) -> int:
    """Bring the database to version ``upto`` (default: the latest); returns the version it
    was at before. A database newer than this software is left alone and refused."""
    from optimiser.errors import InputError

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_ID})
        if not sa.inspect(conn).has_table("library_schema"):
            conn.execute(sa.text("CREATE TABLE library_schema (version INTEGER NOT NULL)"))
        before = schema_version(conn)
        if before > SCHEMA_VERSION:
            raise InputError(f"the options database is at schema version {before}, newer than this "
                             f"software knows ({SCHEMA_VERSION}): update the software",
                             file=engine.url.render_as_string(hide_password=True))
        for number in range(before + 1, upto + 1):
            MIGRATIONS[number](conn)
            conn.execute(sa.text("INSERT INTO library_schema (version) VALUES (:v)"), {"v": number})
    return before
