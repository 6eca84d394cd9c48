"""Classification metrics through ``evaluate``, loaded from the modules kept in this repository."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import evaluate

METRIC_SCRIPTS = Path(__file__).resolve().parent / "metric_scripts"


@cache
def load_metric(name: str) -> evaluate.EvaluationModule:
    """One of accuracy, precision, recall, f1, confusion_matrix, loaded by path (no network)."""
    return evaluate.load(str(METRIC_SCRIPTS / name))


def selection_metric(label_names: list[str]) -> str:
    """The key that picks the best epoch: the positive class's F1 for binary tasks (label 1,
    e.g. spam), macro F1 otherwise."""
    return f"f1_{label_names[1]}" if len(label_names) == 2 else "f1_macro"


def classification_metrics(
    predictions: list[int], references: list[int], label_names: list[str]
) -> dict[str, float]:
    """Accuracy, macro and per-class precision/recall/F1, keyed like ``f1_macro``, ``f1_spam``."""
    labels = list(range(len(label_names)))
    scores = {
        "accuracy": load_metric("accuracy").compute(predictions=predictions, references=references)[
            "accuracy"
        ]
    }
    for name in ("precision", "recall", "f1"):
        metric = load_metric(name)
        scores[f"{name}_macro"] = metric.compute(
            predictions=predictions, references=references, labels=labels, average="macro"
        )[name]
        per_class = metric.compute(
            predictions=predictions, references=references, labels=labels, average=None
        )[name]
        scores.update(
            {f"{name}_{label}": value for label, value in zip(label_names, per_class, strict=True)}
        )
    return scores


def confusion(predictions: list[int], references: list[int], n_labels: int) -> list[list[int]]:
    """Counts: row = true class, column = predicted class."""
    return load_metric("confusion_matrix").compute(
        predictions=predictions, references=references, labels=list(range(n_labels))
    )["confusion_matrix"]
