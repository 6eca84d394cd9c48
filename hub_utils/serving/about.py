"""The About tab and the training-curves introductions: which models are served, from where,
with which metrics, and how to call the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub_utils.hub.defaults import SPACE_REPO
from hub_utils.models.classifier import ONNX_BACKEND
from hub_utils.models.files import CLASSIFIER_ONNX_RESULTS
from hub_utils.serving.loading import LoadedModel, Models, load_problem

# Not quality measures a reader compares: losses and the export self-checks.
HIDDEN_METRICS = {"loss", "round_trip_max_abs_diff", "onnx_max_abs_diff"}

API_HELP = """
## Use it from Python

Every tab is an API endpoint (see also "Use via API" at the bottom of the page):

```python
from gradio_client import Client, handle_file

client = Client("{space}")  # or the URL of a running app, e.g. "http://127.0.0.1:7860/"
label, note = client.predict("WINNER! Claim your free prize now", api_name="/classify")
words = client.predict("WINNER! Claim your free prize now", api_name="/explain")
summary, table, csv_file = client.predict(handle_file("messages.csv"), "",
                                          api_name="/classify_batch")
chart, description, topics = client.predict("stocks fall as oil prices climb",
                                            api_name="/topics")
words = client.predict(0, api_name="/topic_words")
```

`/classify` batches concurrent requests into one forward pass. Bad input is never silent:
`/classify` returns no label and a note saying why; the other endpoints raise
`gradio_client.exceptions.AppError` with the reason.

Or plain JSON, one POST each, in the Hugging Face Inference API's format:

```python
from huggingface_hub import InferenceClient

client = InferenceClient(model="<this app's URL>/v1/text-classification")
client.text_classification("WINNER! Claim your free prize now")  # [{{label, score}}, ...]
# POST <URL>/v1/topics {{"inputs": ["stocks fall as oil prices climb"]}} gives the topics
```
"""


def curves_intro(loaded: LoadedModel[Any], what: str) -> str:
    """Where a model's curves come from: how many values its ``runs/`` logged, in which runs,
    and a link to the Hub's TensorBoard tab for a Hub model."""
    if not loaded.ok:
        return load_problem(loaded, what)
    text = f"### {what.capitalize()}: `{loaded.source.name}`\n\n"
    if loaded.scalars.empty:
        text += "This model carries no TensorBoard logs (`runs/`)."
    else:
        text += (
            f"{len(loaded.scalars):,} values logged in `runs/` "
            f"({', '.join(sorted(set(loaded.scalars['run'])))})."
        )
    if loaded.tensorboard_url:
        text += f" Explore them in the Hub's [TensorBoard tab]({loaded.tensorboard_url})."
    return text


def about_markdown(models: Models) -> str:
    """Which models are loaded (repo, revision, commit), their metrics, and how to call the API."""
    parts = [
        "## Models\n",
        "| model | source | revision | loaded in | status |",
        "|---|---|---|---|---|",
    ]
    served: tuple[tuple[str, LoadedModel[Any]], ...] = (
        ("classifier", models.classifier),
        ("topic model", models.topics),
    )
    for what, loaded in served:
        source = (
            f"[`{loaded.source.name}`]({loaded.hub_url})"
            if loaded.hub_url
            else f"`{loaded.source.name}` (local folder)"
        )
        revision = loaded.source.revision or ("main" if loaded.hub_url else "—")
        if loaded.commit:
            revision += f" (commit `{loaded.commit[:10]}`)"
        status = "loaded" if loaded.ok else f"**not loaded**: {loaded.error}"
        parts.append(f"| {what} | {source} | {revision} | {loaded.load_seconds:.1f} s | {status} |")
    parts.append(metrics_markdown(models))
    parts.append(API_HELP.format(space=SPACE_REPO))
    return "\n".join(parts)


def metrics_markdown(models: Models) -> str:
    """Each loaded model's metrics: from ``eval_results.json``, else from its card."""
    lines = []
    classifier, topics = models.classifier, models.topics
    if classifier.model is not None:
        served = classifier.model.backend == ONNX_BACKEND and classifier.metrics.get(
            CLASSIFIER_ONNX_RESULTS
        )
        lines += metrics_table(
            "Classifier test metrics" + (" (the int8 ONNX export, as served)" if served else ""),
            served or classifier.metrics.get("test") or classifier.card.metrics,
        )
        labels = ", ".join(f"`{label}`" for label in classifier.model.labels)
        lines.append(
            f"\nLabels {labels}; texts are read up to {classifier.model.max_length} tokens; "
            f"served with {classifier.model.backend}."
        )
    if topics.model is not None:
        lines += metrics_table(
            "Topic model metrics (training corpus)", topics.metrics or topics.card.metrics
        )
        config = topics.model.config
        # None: trained on a local encoder folder, whose path is never published.
        encoder = f"`{config['encoder']}`" if config["encoder"] else "not recorded (a local folder)"
        lines.append(
            f"\n{config['n_topics']} topics over a {config['vocab_size']:,}-word vocabulary; "
            f"encoder {encoder}; served with {topics.model.backend}."
        )
    return "\n".join(lines)


def metrics_table(title: str, values: Mapping[str, Any]) -> list[str]:
    """A one-row Markdown table of the numeric metrics (not losses or self-checks)."""
    shown = {
        name: value
        for name, value in values.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and name not in HIDDEN_METRICS
    }
    if not shown:
        return [
            f"\n### {title}\n",
            "No metrics: the model has no `eval_results.json` and its card reports none.",
        ]
    return [
        f"\n### {title}\n",
        "| " + " | ".join(shown) + " |",
        "|---" * len(shown) + "|",
        "| " + " | ".join(f"{value:.4f}" for value in shown.values()) + " |",
    ]
