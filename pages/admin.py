"""Admin (hosted mode, PLAYGROUND_ADMINS only): spend per user, model and day, calls and errors, limits."""

from __future__ import annotations

import streamlit as st

from pages.common.ui import current_user, database_answers, hosted_policy, page_shell, shared_store
from playground.core import plain
from playground.hosting import MONEY_COLUMNS, effective_limits, usage_report

page_shell("pages/admin.py")

policy = hosted_policy()
if not policy.enabled or not policy.is_admin(current_user()):
    # app.py lists this page only for admins; a direct link from anyone else gets nothing.
    st.error("This page is for the administrators of a hosted instance (PLAYGROUND_ADMINS).")
    st.stop()


def table(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows for st.dataframe: money as its exact decimal text (Arrow would round or refuse mixed scales)."""
    return [{k: str(v) if k in MONEY_COLUMNS else v for k, v in row.items()} for row in rows]


st.title("Admin")
days = st.number_input("Days to report (UTC, today included)", 1, 366, 30, key="admin-days")
with database_answers():
    report = usage_report(shared_store(), int(days))
st.caption(
    plain(
        f"Source: the usage ledger (every call, recorded when it is saved) since {report.since:%Y-%m-%d}. "
        f"Known spend: {report.total_usd} USD over {len(report.records)} calls. Calls of unknown price count "
        "as 0 and are listed."
    )
)
if report.over_admission_usd:
    st.warning(
        plain(
            f"Over-admission: calls cost {report.over_admission_usd} USD more than their pre-run estimate, "
            "the maximum the daily limits reserved for them (see the 'over-admission (USD)' columns). Their "
            "servers reported more tokens than estimated: more input than counted here (a chat template, a "
            "system prompt the server adds), or output past max tokens. That money was spent past what the "
            "budgets held back."
        )
    )

if report.records:
    from playground.hosting import charts as admin_charts  # plotly only once there is something to chart

    st.plotly_chart(
        admin_charts.spend_per_day_figure(report.spend_by("day", "owner")), key="admin-chart", theme=None
    )
    st.caption(admin_charts.SPEND_CAPTION)
    left, right = st.columns(2)
    left.markdown("**Spend per user**")
    left.dataframe(table(report.spend_by("owner")), hide_index=True, key="admin-users")
    right.markdown("**Calls, errors and spend per model**")
    right.dataframe(table(report.spend_by("model")), hide_index=True, key="admin-models")
    st.markdown("**Spend per day**")
    st.dataframe(table(report.spend_by("day")), hide_index=True, key="admin-days-table")
else:
    st.info("No calls in this period.")

st.subheader("Effective limits")
st.dataframe(
    effective_limits(policy, st.get_option("server.maxUploadSize")), hide_index=True, key="admin-limits"
)
