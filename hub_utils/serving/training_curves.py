"""Read the TensorBoard scalars a model folder carries in ``runs/``, for plotting in the app.

Both training commands log with tags like ``train/loss`` or ``validation/f1_spam``: the part
before the slash is the split, the rest the metric, so one chart can show a metric for every
split (training and validation loss together).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

COLUMNS = ["run", "split", "metric", "step", "value"]


def read_scalars(folder: str | Path) -> pd.DataFrame:
    """Every scalar under ``folder/runs``, one row per logged value, with ``COLUMNS``.

    The run is the event file's folder relative to ``runs/``. Text, histograms and hparams
    records are skipped; a folder without ``runs/`` gives an empty table.
    """
    runs = Path(folder) / "runs"
    rows = []
    for path in sorted(runs.rglob("events.out.tfevents.*")):
        run = path.parent.relative_to(runs).as_posix()
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue
                split, _, metric = value.tag.rpartition("/")
                number = float(tensor_util.make_ndarray(value.tensor))
                rows.append((run, split or "all", metric, int(event.step), number))
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(
        ["run", "split", "metric", "step"], ignore_index=True
    )


def metrics(scalars: pd.DataFrame) -> list[str]:
    """Metric names, the losses first, then in alphabetical order."""
    names = sorted(set(scalars["metric"]))
    return sorted(names, key=lambda name: (name != "loss", name))


def metric_curves(scalars: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of one metric, with a ``series`` column naming the split (and run if several)."""
    curves = scalars[scalars["metric"] == metric].copy()
    several_runs = curves["run"].nunique() > 1
    curves["series"] = (
        (curves["split"] + " · " + curves["run"]) if several_runs else curves["split"]
    )
    return curves.reset_index(drop=True)
