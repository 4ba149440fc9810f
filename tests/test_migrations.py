"""Alembic manages the schema: a fresh database gets exactly the models' schema, and a history file made
by the code before migrations (tests/fixtures/history-4ae08a8.db) upgrades in place with everything kept."""

from __future__ import annotations

import json
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


def schema_differences(store: Store) -> list:
    """What the migrated database and the models disagree on (what SQLAlchemy cannot read left out)."""
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), all_tables())
    if store.engine.dialect.name == "sqlite":
        # SQLAlchemy reads a column's own REFERENCES clause in SQLite without its name and ON DELETE (0010
        # adds runs.parent_id so; the cascade itself is checked in test_conversations).
        differences = [d for d in differences if not _runs_parent_reference(d)]
    return differences


def test_a_fresh_database_gets_the_models_schema_by_migrations(db_url: str):
    store = Store(db_url)
    assert revision(store) == head()
    differences = schema_differences(store)
    if CollectionStore(store).problem():  # a PostgreSQL without pgvector keeps vectors as bytea, by design
        differences = [
            d
            for d in differences
            if not (d[0][0] == "modify_type" and d[0][2:4] == ("chunk_vectors", "embedding"))
        ]
    assert differences == []  # the migrations and the models say the same thing


def _runs_parent_reference(difference: tuple) -> bool:
    kind, constraint = difference[0], difference[1]
    return (
        kind in ("add_fk", "remove_fk")
        and constraint.table.name == "runs"
        and [c.name for c in constraint.columns] == ["parent_id"]
    )


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
    # As the store did for a while, queue_wait_s included; runs without parent_id (0010), whose reference to
    # runs itself SQLite cannot drop afterwards.
    tables = all_tables()
    runs = tables.tables["runs"]
    older = sqlalchemy.Table(
        "runs",
        sqlalchemy.MetaData(),
        *(
            sqlalchemy.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, index=c.index)
            for c in runs.columns
            if c.name != "parent_id"
        ),
    )
    older.create(engine)
    tables.create_all(engine, tables=[t for t in tables.sorted_tables if t.name != "runs"])
    with engine.begin() as connection:  # ... but before owners, the usage ledger (0003) and progress (0004)
        for statement in (
            "DROP TABLE IF EXISTS deployments",  # deployments (0017): newer than create_all
            "DROP TABLE IF EXISTS tuning_jobs",  # fine-tuning jobs (0016)
            "DROP TABLE IF EXISTS run_media",  # kept files (0015)
            "DROP TABLE IF EXISTS admissions",  # shared admissions (0014), arenas (0012), the queue (0006)
            "DROP TABLE IF EXISTS admission_holders",  # and retrieval (0008): newer than create_all
            "ALTER TABLE results DROP COLUMN max_cost_usd",
            "DROP TABLE IF EXISTS arena_votes",
            "DROP TABLE IF EXISTS arena_turns",
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


# --- 0011: exact_match became strict; saved evaluations keep their meaning -------------------------------
def _alembic(store: Store) -> tuple[Config, str]:
    """A config on the store's migrations, and the revision just before 0011 (whatever it is chained to)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config, ScriptDirectory.from_config(config).get_revision("0011").down_revision


def _old_evaluation(connection: sqlalchemy.Connection, eval_id: str, metrics: list, answers: list) -> None:
    """An evaluation as the code before 0011 saved it, its cells scored by the normalising exact_match."""
    from datetime import UTC, datetime

    from playground.evals.metrics import Normalisation
    from playground.storage.evals import EvalCellRow, EvalRow

    old = Normalisation(strip_articles=False)  # what exact_match did then: case, punctuation, spacing
    setup = {"models": ["m"], "metrics": metrics, "template": "{q}"}
    rows = [{"q": answer, "expected": expected} for answer, expected in answers]
    connection.execute(
        sqlalchemy.insert(EvalRow.__table__).values(
            id=eval_id, created_at=datetime.now(UTC), name=eval_id, setup=setup,
            dataset={"name": "d", "columns": ["q", "expected"], "rows": rows}, owner="local",
        )
    )  # fmt: skip
    for index, (answer, expected) in enumerate(answers):
        same = old.apply(answer) == old.apply(expected)
        score = {"value": float(same), "passed": same, "detail": "", "error": None}
        connection.execute(
            sqlalchemy.insert(EvalCellRow.__table__).values(
                eval_id=eval_id, row_index=index, model="m", shots=0, prompt=answer, expected=expected,
                result=RunResult(model="m", text=answer).to_json(), scores={"exact_match": score, "bleu": score},
            )
        )  # fmt: skip


def test_saved_exact_match_evaluations_become_quasi_exact_match_with_their_meaning(db_url: str):
    from alembic import command

    from playground.evals import metric_choices, normalisation_notes
    from playground.evals.metrics import score_answer

    store = Store(db_url)
    config, before = _alembic(store)
    answers = [("Positive.", "positive"), ("The answer is Paris", "answer is paris"), ("no", "yes")]
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, before)
        _old_evaluation(
            connection, "objects", [{"name": "exact_match", "options": {"ignore_case": True}}], answers
        )
        _old_evaluation(connection, "bare", ["exact_match", "bleu"], answers)  # the oldest shape: names
        _old_evaluation(connection, "other", [{"name": "bleu", "options": {}}], answers)
        command.upgrade(config, "head")
    evals = EvalStore(store)
    for eval_id in ("objects", "bare"):
        saved = evals.get(eval_id)
        choice = metric_choices(saved)[0]
        assert choice.name == "quasi_exact_match" and choice.options["strip_articles"] is False
        assert all("exact_match" not in c.scores and "quasi_exact_match" in c.scores for c in saved.cells)
        # the same meaning: scoring the saved answers again with the saved choice gives the saved scores
        again = [score_answer(choice, c.result.text, c.expected).passed for c in saved.cells]
        assert again == [c.scores["quasi_exact_match"].passed for c in saved.cells] == [True, False, False]
        notes = normalisation_notes(saved)
        assert notes == ["quasi_exact_match: case, ASCII punctuation and extra whitespace ignored"]
    assert metric_choices(evals.get("objects"))[0].options == {"strip_articles": False, "ignore_case": True}
    assert [c.name for c in metric_choices(evals.get("bare"))] == ["quasi_exact_match", "bleu"]
    assert metric_choices(evals.get("other"))[0].name == "bleu"  # untouched
    with store.engine.begin() as connection:  # and back: older code reads its one exact_match again
        config.attributes["connection"] = connection
        command.downgrade(config, before)
        setup = connection.execute(sqlalchemy.text("SELECT setup FROM evals WHERE id = 'bare'")).scalar()
        setup = json.loads(setup) if isinstance(setup, str) else setup
        assert setup["metrics"][0] == {"name": "exact_match", "options": {}}
        command.upgrade(config, "head")
    assert metric_choices(EvalStore(Store(db_url)).get("bare"))[0].options == {"strip_articles": False}


def test_the_history_file_from_before_migrations_keeps_its_exact_match_meaning(tmp_path: Path):
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    evals = EvalStore(Store(f"sqlite:///{path}"))
    saved = evals.get(evals.list()[0].id)
    assert saved.setup["metrics"] == [{"name": "quasi_exact_match", "options": {"strip_articles": False}}]
    assert (
        list(saved.cells[0].scores) == ["quasi_exact_match"]
        and saved.cells[0].scores["quasi_exact_match"].passed
    )
