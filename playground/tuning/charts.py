"""The Tune page's chart: a job's training loss per step (plotly loads only when it is drawn)."""

from __future__ import annotations

from playground.core.charting import Chart, ChartNote, ColourMap, style
from playground.core.safe_text import chart_text
from playground.tuning.service import TuningJob


def loss_chart(job: TuningJob) -> Chart | ChartNote:
    """The training loss the provider reported per step (its metrics events' `train_loss`), or one line
    saying there is none yet."""
    points = job.losses
    key = f"loss-{job.id}"
    if not points:
        return ChartNote(key, f"No training loss reported yet (the job is {job.state}).")
    import plotly.graph_objects as go

    name = job.saved.model_key
    figure = go.Figure()
    figure.add_scatter(
        x=[p.step for p in points],
        y=[p.train_loss for p in points],
        mode="lines+markers",
        name=chart_text(name),  # a model key may hold markup plotly would render
        line={"color": ColourMap.of([name]).colour(name)},
    )
    figure.update_layout(xaxis={"title": "step"}, yaxis={"title": "training loss"})
    caption = (
        f"Training loss per step of job {job.id} ({len(points)} step(s)); source: the provider's metrics "
        "events (data.train_loss), as last followed."
    )
    return Chart(key, style(figure, "Training loss"), caption)
