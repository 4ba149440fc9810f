"""Alembic manages the schema: a fresh database gets exactly the models' schema, and a history file made
by the code before migrations (tests/fixtures/history-4ae08a8.db) upgrades in place with everything kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import playground.storage.evals  # noqa: F401 - the eval tables join the metadata
from playground.core.results import RunResult
from playground.storage.evals import EvalStore
from playground.storage.runs import MIGRATIONS, Store, all_tables
from playground.storage.vectors import CollectionStore

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "history-4ae08a8.db"


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_a_fresh_database_gets_the_models_schema_by_migrations(db_url: str):
    store = Store(db_url)
    assert revision(store) == head()
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), all_tables())
    if CollectionStore(store).problem():  # a PostgreSQL without pgvector keeps vectors as bytea, by design
        differences = [
            d
            for d in differences
            if not (d[0][0] == "modify_type" and d[0][2:4] == ("chunk_vectors", "embedding"))
        ]
    assert differences == []  # the migrations and the models say the same thing


def test_a_history_file_from_before_migrations_upgrades_in_place(tmp_path: Path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    store = Store(f"sqlite:///{path}")
    assert revision(store) == head()
    runs = store.list_runs()
    assert len(runs) == 1 and runs[0].prompt == "Name three colors" and runs[0].system == "Be brief."
    results = {r.model: r for r in runs[0].results}
    assert (
        results["smollm2-135m"].text == "Red, green, blue." and results["smollm2-135m"].queue_wait_s is None
    )
    assert results["gpt-4o-mini"].error.kind == "auth"
    assert str(results["gpt-4o-mini"].cost_usd) == "0.000012"
    evals = EvalStore(store).list()
    assert len(evals) == 1 and evals[0].name == "sentiment sample" and evals[0].done == 1
    store.add_result(runs[0].id, RunResult(model="new", text="x", run_id=runs[0].id, queue_wait_s=2.5))
    assert {r.model: r for r in store.get_run(runs[0].id).results}["new"].queue_wait_s == 2.5
    assert revision(Store(f"sqlite:///{path}")) == head()  # a second start changes nothing


def test_every_migration_goes_down_and_up_again(db_url: str):
    from alembic import command

    store = Store(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        assert set(sqlalchemy.inspect(connection).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")
    assert revision(store) == head()


def test_a_database_made_with_create_all_at_the_newest_schema_is_taken_as_it_is(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'create_all.db'}"
    engine = sqlalchemy.create_engine(url)
    all_tables().create_all(engine)  # as the store did for a while, queue_wait_s included
    with engine.begin() as connection:  # ... but before owners, the usage ledger (0003) and progress (0004)
        for statement in (
            "DROP TABLE IF EXISTS arena_votes",  # arenas (0010), the queue (0006) and retrieval (0008):
            "DROP TABLE IF EXISTS arena_turns",  # newer than create_all
            "DROP TABLE IF EXISTS arena_battles",
            "DROP TABLE IF EXISTS arena_participants",
            "DROP TABLE IF EXISTS arenas",
            "DROP TABLE IF EXISTS eval_jobs",
            "DROP TABLE IF EXISTS eval_workers",
            "DROP TABLE IF EXISTS chunk_vectors",
            "DROP TABLE IF EXISTS chunks",
            "DROP TABLE IF EXISTS documents",
            "DROP TABLE IF EXISTS collections",
            "DROP TABLE users",
            "ALTER TABLE results DROP COLUMN status",
            "ALTER TABLE runs DROP COLUMN finished_at",
            "ALTER TABLE runs DROP COLUMN heartbeat_at",
            "DROP TABLE usage",
            "DROP INDEX ix_runs_owner",
            "ALTER TABLE runs DROP COLUMN owner",
            "DROP INDEX ix_evals_owner",
            "ALTER TABLE evals DROP COLUMN owner",
        ):
            connection.exec_driver_sql(statement)
    engine.dispose()
    store = Store(url)
    assert revision(store) == head()
    run_id = store.create_run("p", ["m"], {})
    store.add_result(run_id, RunResult(model="m", text="t", run_id=run_id, queue_wait_s=0.5))
    assert store.get_run(run_id).results[0].queue_wait_s == 0.5


def test_an_empty_version_table_left_by_an_interrupted_start_is_recovered(tmp_path: Path):
    import sqlite3

    path = tmp_path / "interrupted.db"
    shutil.copy(FIXTURE, path)
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    store = Store(f"sqlite:///{path}")
    assert revision(store) == head()
    assert store.list_runs()[0].prompt == "Name three colors"
