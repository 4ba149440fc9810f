"""Saved evaluations keep their meaning now that `exact_match` is strict (HELM's names).

Before this revision `exact_match` ignored case, ASCII punctuation and extra whitespace. That metric is
now called `quasi_exact_match` (which also drops the articles a, an, the by default), and `exact_match`
compares the texts as written. So every saved evaluation's `exact_match` becomes `quasi_exact_match` with
the option `strip_articles: false`: its summaries name the normalisation its scores were computed with,
and a resumed evaluation scores its missing cells the same way.
- evals.setup: each metric of the list, an old bare name or a {"name", "options"} object, is renamed (a
  bare name becomes an object, the shape the code reads).
- eval_cells.scores: the score saved under "exact_match" moves to "quasi_exact_match".
The JSON is rewritten in Python, one evaluation at a time, the same way on SQLite and PostgreSQL.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD, NEW = "exact_match", "quasi_exact_match"
# The old exact_match's steps: quasi_exact_match's, without dropping articles.
OLD_OPTIONS = {"strip_articles": False}

evals = sa.table("evals", sa.column("id", sa.String), sa.column("setup", sa.JSON))
cells = sa.table(
    "eval_cells", sa.column("id", sa.Integer), sa.column("eval_id", sa.String), sa.column("scores", sa.JSON)
)


def _upgraded_metric(metric: Any) -> Any:
    name = metric if isinstance(metric, str) else metric.get("name")
    options = {} if isinstance(metric, str) else dict(metric.get("options") or {})
    if name != OLD:
        return {"name": name, "options": options} if isinstance(metric, str) else metric
    return {"name": NEW, "options": {**OLD_OPTIONS, **options}}


def _downgraded_metric(metric: Any) -> Any:
    if not isinstance(metric, dict) or metric.get("name") != NEW:
        return metric
    options = {k: v for k, v in (metric.get("options") or {}).items() if k not in OLD_OPTIONS}
    return {"name": OLD, "options": options}


def _rename(
    metric_of: Callable[[Any], Any], source: str, target: str, skip_if_target_present: bool = False
) -> None:
    """Rewrite every evaluation that has metric `source`: its setup (metric_of each entry) and its cells."""
    bind = op.get_bind()
    for eval_id, setup in bind.execute(sa.select(evals.c.id, evals.c.setup)).all():
        metrics = (setup or {}).get("metrics") or []
        names = [m if isinstance(m, str) else m.get("name") for m in metrics]
        if source not in names or (skip_if_target_present and target in names):
            continue
        new_setup = {**setup, "metrics": [metric_of(m) for m in metrics]}
        bind.execute(sa.update(evals).where(evals.c.id == eval_id).values(setup=new_setup))
        rows = bind.execute(sa.select(cells.c.id, cells.c.scores).where(cells.c.eval_id == eval_id)).all()
        for cell_id, scores in rows:
            if scores and source in scores:
                moved = {(target if k == source else k): v for k, v in scores.items()}
                bind.execute(sa.update(cells).where(cells.c.id == cell_id).values(scores=moved))


def upgrade() -> None:
    _rename(_upgraded_metric, OLD, NEW)


def downgrade() -> None:
    # Older code knows one exact_match, the normalised one: quasi_exact_match goes back to that name,
    # except in an evaluation that also has a strict exact_match (one name cannot hold both); there it
    # stays, and older code reports it as an unknown metric rather than mixing two meanings.
    _rename(_downgraded_metric, NEW, OLD, skip_if_target_present=True)
