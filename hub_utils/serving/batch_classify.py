"""The classifier tab's file mode: classify every message of an uploaded CSV/TSV/TXT file and
give a summary, a preview table and a CSV of every row."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

import pandas as pd

from hub_utils.errors import BadRequestError
from hub_utils.models.protocols import ServedClassifier
from hub_utils.serving.batch_files import read_messages, write_results_csv
from hub_utils.serving.batch_scores import RESULT_COLUMNS, classify_rows
from hub_utils.serving.loading import LoadedModel, require
from hub_utils.serving.runtime import run_model

FILE_CHUNK = 128  # rows per model call: progress steps, and turns for other requests
TABLE_PREVIEW_ROWS = 1_000  # rows shown on the page; the CSV has them all
# Result files kept for download; older ones are deleted, so a long-running Space's disk does
# not fill. Gradio copies a returned file into its own cache at once, so this is plenty.
RESULTS_KEPT = 32


def classify_file(
    loaded: LoadedModel[ServedClassifier],
    path: str | None,
    column: str | None = None,
    progress: Callable[..., Any] | None = None,
) -> tuple[str, pd.DataFrame, str]:
    """``/classify_batch``: classify every message of an uploaded CSV/TSV/TXT file.

    Returns a summary, the first rows as a table and the path of a CSV with every row's
    ``label`` and ``probability`` (of that label); empty rows get a note instead. A file that
    cannot be read raises ``BadRequestError`` (``BatchFileError``) saying why.
    """
    classifier = require(loaded, "classifier")
    if not path:
        raise BadRequestError("No file: upload a .csv, .tsv or .txt file of messages first.")
    texts, source_column = read_messages(path, (column or "").strip() or None)
    table = classify_messages(classifier, texts, progress)
    output = results_dir() / uuid.uuid4().hex / f"{Path(path).stem}-classified.csv"
    output.parent.mkdir()
    write_results_csv(table, output)
    prune_results(results_dir(), RESULTS_KEPT)
    return summarize(table, source_column), table.head(TABLE_PREVIEW_ROWS), str(output)


@cache
def results_dir() -> Path:
    """This process's folder of result files (one sub-folder each, so names never clash)."""
    return Path(tempfile.mkdtemp(prefix="classified-"))


def prune_results(folder: Path, kept: int) -> None:
    """Delete all but the ``kept`` newest result files (and their sub-folders)."""
    results = sorted(folder.glob("*/*"), key=lambda path: path.stat().st_mtime_ns)
    for old in results[: max(0, len(results) - kept)]:
        old.unlink(missing_ok=True)
        old.parent.rmdir()


def classify_messages(
    classifier: ServedClassifier, texts: list[str], progress: Callable[..., Any] | None = None
) -> pd.DataFrame:
    """One row per text, in order, with ``RESULT_COLUMNS``; ``progress(fraction, desc=...)``
    is called after each chunk. The rows are the file scorer's (``classify_rows``)."""
    rows: list[list[Any]] = []
    predict = partial(run_model, classifier.predict)
    for start in range(0, len(texts), FILE_CHUNK):
        chunk = texts[start : start + FILE_CHUNK]
        for row in classify_rows(classifier, chunk, start + 1, predict):
            rows.append(row[: len(RESULT_COLUMNS)])
        if progress is not None:
            done = min(start + FILE_CHUNK, len(texts))
            progress(done / len(texts), desc=f"{done:,} of {len(texts):,} messages")
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def summarize(table: pd.DataFrame, source_column: str | None) -> str:
    """One paragraph: how many messages got each label, how many were empty, what is shown."""
    counts = table.loc[table["label"] != "", "label"].value_counts()
    classified, empty = int(counts.sum()), len(table) - int(counts.sum())
    origin = f"column `{source_column}`" if source_column else "lines"
    summary = f"Classified {classified:,} of {len(table):,} messages (from the file's {origin})"
    if classified:
        summary += ": " + ", ".join(f"{count:,} {label}" for label, count in counts.items())
    summary += "."
    if empty:
        summary += f" {empty:,} empty {'row was' if empty == 1 else 'rows were'} skipped."
    if len(table) > TABLE_PREVIEW_ROWS:
        summary += f" The table shows the first {TABLE_PREVIEW_ROWS:,} rows; the CSV has all."
    return summary
