"""The database: one SQLAlchemy Base, Alembic migrations applied at start, runs and evaluations."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "Store": "runs",
        "StoredRun": "runs",
        "default_db_url": "runs",
        "migrate": "runs",
        "TableBase": "runs",
        "ArenaStore": "arena",
        "ArenaError": "arena",
        "StoreUnavailableError": "runs",
        "EvalStore": "evals",
        "StoredEval": "evals",
        "Cell": "evals",
        "KeptRun": "media",
        "StoredMedia": "media",
        "TuningStore": "tuning",
        "StoredTuningJob": "tuning",
        "NewTuningJob": "tuning",
        "DeploymentStore": "deployments",
        "StoredDeployment": "deployments",
    },
)
