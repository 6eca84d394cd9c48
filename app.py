"""BERT Hub Kit demo: one tabbed Gradio app for the text classifier and the topic model.

    python app.py          # http://127.0.0.1:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

Models (each a Hub repo id or a local folder, loaded once at start-up):
SPAM_MODEL / SPAM_MODEL_REVISION and TOPIC_MODEL / TOPIC_MODEL_REVISION. By default the
folders the training commands write (models/spam, models/topics) when they exist, else the
published repos. A model that fails to load leaves its tab saying why; the other tabs work.

Every tab's logic is a plain function below (tested without the UI); ``build_demo`` wires them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from hub_utils.hub.defaults import SPACE_REPO, SPAM_MODEL_REPO, TOPIC_MODEL_REPO
from hub_utils.models.classifier import (
    ONNX_BACKEND,
    ONNX_RESULTS,
    Prediction,
    TextClassifier,
    clean_text,
)
from hub_utils.models.topic_onnx import load_topic_model
from hub_utils.serving.batch_files import MAX_ROWS, BatchFileError, read_messages
from hub_utils.serving.loading import LoadedModel, load_model, model_source
from hub_utils.serving.runtime import return_large_frees_to_the_system, run_model
from hub_utils.serving.topic_views import (
    distribution_table,
    known_words,
    topic_names,
    topic_words,
    topics_table,
)
from hub_utils.serving.training_curves import metric_curves, metrics

PROJECT_DIR = Path(__file__).resolve().parent
TITLE = "BERT Hub Kit demo"
MAX_BATCH_SIZE = 64  # concurrent /classify requests run as one forward pass of up to this many
FILE_CHUNK = 128  # batch-file rows per model call: progress steps, and turns for other requests
TABLE_PREVIEW_ROWS = 1_000  # rows shown on the page; the CSV has them all
MAX_FILE_SIZE = "20mb"
# Gradio keeps ~100 KB of per-session state for this page, and an HTTP API call without a
# session makes a new one: its default of 10,000 sessions would let memory grow by ~1 GB.
# The app keeps no session state of its own, so evicting old sessions loses nothing.
SESSIONS_KEPT = 100
SPLIT_COLORS = {
    "train": "#4c78a8",
    "validation": "#f58518",
    "test": "#54a24b",
}  # same in every chart
# Not quality measures a reader compares: losses and the export self-checks.
HIDDEN_METRICS = {"loss", "round_trip_max_abs_diff", "onnx_max_abs_diff"}
FILE_PROGRESS = gr.Progress()  # Gradio shows a progress bar for a parameter defaulting to this
HOW_TO_FIX = {
    "SPAM_MODEL": "train one with `python -m train classify --dataset "
    "../shared/data/sms_spam/spamdata_v2.csv --label-names ham,spam` (it writes "
    "`models/spam`, which the app loads by default), or set `SPAM_MODEL` to a "
    "classifier folder or Hub repo id (`SPAM_MODEL_REVISION` pins a revision)",
    "TOPIC_MODEL": "train one with `python -m train topics --dataset "
    "../shared/data/gnews/GoogleNews.txt` (it writes `models/topics`, which the "
    "app loads by default), or set `TOPIC_MODEL` to a topic model folder or Hub "
    "repo id (`TOPIC_MODEL_REVISION` pins a revision)",
}


@dataclass
class Models:
    """The two served models (either may hold a load error instead)."""

    classifier: LoadedModel
    topics: LoadedModel


def load_models(environ: Mapping[str, str] = os.environ) -> Models:
    """Load both models once, as configured by the environment (see the module docstring)."""
    spam = model_source("SPAM_MODEL", PROJECT_DIR / "models" / "spam", SPAM_MODEL_REPO, environ)
    topics = model_source(
        "TOPIC_MODEL", PROJECT_DIR / "models" / "topics", TOPIC_MODEL_REPO, environ
    )
    return Models(
        classifier=load_model(
            spam, TextClassifier.from_folder, warm_up=lambda model: model.predict(["warm up"])
        ),
        topics=load_model(
            topics, load_topic_model, warm_up=lambda model: model.predict(["warm up"])
        ),
    )


def load_problem(loaded: LoadedModel, what: str) -> str:
    """Markdown saying which model is missing, why, and how to fix it."""
    return (
        f"**The {what} is not available.** It could not be loaded from "
        f"`{loaded.source.name}`: {loaded.error}.\n\nTo fix: "
        f"{HOW_TO_FIX.get(loaded.source.env_var, 'check the model source')}, then restart "
        "the app."
    )


# --- Classifier tab ---------------------------------------------------------------------------


def classify_texts(loaded: LoadedModel, texts: list[str]) -> tuple[list[dict | None], list[str]]:
    """``/classify`` (batched): each text's label probabilities and a note on its input.

    Never raises, since one bad text must not fail the others in its batch: an empty text,
    or a missing model, gets no probabilities and a note saying why.
    """
    if not loaded.ok:
        return [None] * len(texts), [load_problem(loaded, "classifier")] * len(texts)
    texts = ["" if text is None else str(text) for text in texts]
    filled = [i for i, text in enumerate(texts) if text.strip()]
    predictions = dict(
        zip(filled, run_model(loaded.model.predict, [texts[i] for i in filled]), strict=True)
    )
    labels: list[dict | None] = []
    notes = []
    for i, text in enumerate(texts):
        if i not in predictions:
            labels.append(None)
            notes.append("Nothing to classify: the message is empty. Type or paste a message.")
            continue
        labels.append(predictions[i].probabilities)
        notes.append(input_note(text, predictions[i], loaded.model.max_length))
    return labels, notes


def input_note(text: str, prediction: Prediction, max_length: int) -> str:
    """What happened to the input before the model read it ('' when nothing did)."""
    notes = list(prediction.notes)
    if prediction.truncated:
        notes.append(
            f"the text is longer than the model's limit of {max_length} tokens: it read "
            f"the first {prediction.chars_read:,} of {len(text):,} characters and "
            "ignored the rest"
        )
    return "Note: " + "; ".join(notes) + "." if notes else ""


def explain_text(loaded: LoadedModel, text: str) -> list[tuple[str, float | None]]:
    """``/explain``: the text split into words, each scored by occlusion and scaled so that the
    strongest word is ±1 (positive: it pushed towards the predicted label)."""
    require(loaded, "classifier")
    if not text or not text.strip():
        raise problem("Nothing to explain: the message is empty. Type or paste a message.")
    segments = run_model(loaded.model.explain, text)
    strongest = max((abs(score) for _, score in segments if score is not None), default=0.0)
    scale = 1 / strongest if strongest > 0 else 0.0
    return [
        (segment, None if score is None else round(score * scale, 3)) for segment, score in segments
    ]


def classify_file(
    loaded: LoadedModel,
    path: str | None,
    column: str | None = None,
    progress: Callable[..., Any] | None = None,
) -> tuple[str, pd.DataFrame, str]:
    """``/classify_batch``: classify every message of an uploaded CSV/TSV/TXT file.

    Returns a summary, the first rows as a table and the path of a CSV with every row's
    ``label`` and ``probability`` (of that label); empty rows get a note instead.
    """
    require(loaded, "classifier")
    if not path:
        raise problem("No file: upload a .csv, .tsv or .txt file of messages first.")
    try:
        texts, source_column = read_messages(path, (column or "").strip() or None)
    except BatchFileError as err:
        raise problem(str(err)) from err
    classifier: TextClassifier = loaded.model
    labels: list[str] = []
    probabilities: list[float | None] = []
    notes: list[str] = []
    for start in range(0, len(texts), FILE_CHUNK):
        chunk = texts[start : start + FILE_CHUNK]
        predictions = run_model(classifier.predict, chunk)
        for text, prediction in zip(chunk, predictions, strict=True):
            if not text.strip():
                labels.append("")
                probabilities.append(None)
                notes.append("empty text")
                continue
            labels.append(prediction.label)
            probabilities.append(round(prediction.probabilities[prediction.label], 4))
            notes.append(
                f"truncated to {classifier.max_length} tokens" if prediction.truncated else ""
            )
        if progress is not None:
            done = min(start + FILE_CHUNK, len(texts))
            progress(done / len(texts), desc=f"{done:,} of {len(texts):,} messages")
    table = pd.DataFrame(
        {
            "row": range(1, len(texts) + 1),
            "text": texts,
            "label": labels,
            "probability": probabilities,
            "note": notes,
        }
    )
    output = Path(tempfile.mkdtemp(prefix="classified-")) / f"{Path(path).stem}-classified.csv"
    table.to_csv(output, index=False)
    counts = table.loc[table["label"] != "", "label"].value_counts()
    classified, empty = int(counts.sum()), len(texts) - int(counts.sum())
    origin = f"column `{source_column}`" if source_column else "lines"
    summary = f"Classified {classified:,} of {len(texts):,} messages (from the file's {origin})"
    if classified:
        summary += ": " + ", ".join(f"{count:,} {label}" for label, count in counts.items())
    summary += "."
    if empty:
        summary += f" {empty:,} empty {'row was' if empty == 1 else 'rows were'} skipped."
    if len(table) > TABLE_PREVIEW_ROWS:
        summary += f" The table shows the first {TABLE_PREVIEW_ROWS:,} rows; the CSV has all."
    return summary, table.head(TABLE_PREVIEW_ROWS), str(output)


# --- Topics tab -------------------------------------------------------------------------------


def find_topics(loaded: LoadedModel, text: str) -> tuple[pd.DataFrame, str, dict]:
    """``/topics``: the text's most probable topics (chart table), a description of the
    dominant one, and the same as JSON for programs."""
    require(loaded, "topic model")
    if not text or not text.strip():
        raise problem("Nothing to analyse: the text is empty. Type or paste a text.")
    model = loaded.model
    cleaned, notes = clean_text(text)
    n_tokens = model.encoder_token_count(cleaned)
    if n_tokens > model.encoder_max_tokens:
        notes.append(
            f"the sentence encoder read its first {model.encoder_max_tokens} of "
            f"{n_tokens} tokens; the word counts use the whole text"
        )
    known = known_words(model, cleaned)
    if not known:
        notes.append(
            "none of its words are in the model's vocabulary, so the topics come "
            "from the sentence embedding alone"
        )
    distribution = run_model(model.predict, [cleaned])[0]
    table = distribution_table(model, distribution)
    words = model.topics(10)
    top = table.iloc[0]
    summary = (
        f"**Dominant topic: {top['topic']}** ({top['probability']:.0%}) — "
        f"{', '.join(words[top['topic']])}"
    )
    if notes:
        summary += "\n\nNote: " + "; ".join(notes) + "."
    result = {
        "known_words": known,
        "topics": [
            {
                "topic": int(row.topic),
                "probability": round(float(row.probability), 4),
                "words": words[row.topic],
            }
            for row in table.itertuples()
        ],
    }
    return table, summary, result


def topic_word_chart(loaded: LoadedModel, topic: float | int | None) -> pd.DataFrame:
    """``/topic_words``: a topic's 15 most probable words and their weights."""
    require(loaded, "topic model")
    n_topics = loaded.model.n_topics
    if topic is None or not float(topic).is_integer() or not 0 <= topic < n_topics:
        raise problem(f"No topic {topic}: pick a whole number from 0 to {n_topics - 1}.")
    return topic_words(loaded.model, int(topic))


# --- Training curves and About ----------------------------------------------------------------


def curves_intro(loaded: LoadedModel, what: str) -> str:
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
    for what, loaded in (("classifier", models.classifier), ("topic model", models.topics)):
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
    if classifier.ok:
        served = classifier.model.backend == ONNX_BACKEND and classifier.metrics.get(ONNX_RESULTS)
        lines += metrics_table(
            "Classifier test metrics" + (" (the int8 ONNX export, as served)" if served else ""),
            served or classifier.metrics.get("test") or classifier.card.metrics,
        )
        labels = ", ".join(f"`{label}`" for label in classifier.model.labels)
        lines.append(
            f"\nLabels {labels}; texts are read up to {classifier.model.max_length} tokens; "
            f"served with {classifier.model.backend}."
        )
    if topics.ok:
        lines += metrics_table(
            "Topic model metrics (training corpus)", topics.metrics or topics.card.metrics
        )
        config = topics.model.config
        lines.append(
            f"\n{config['n_topics']} topics over a {config['vocab_size']:,}-word vocabulary; "
            f"encoder `{config['encoder']}`; served with {topics.model.backend}."
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
"""


def problem(message: str) -> gr.Error:
    """An error in the input or setup: the page shows it, ``gradio_client`` raises it as
    ``AppError``; it is the user's to fix, so the server log skips its traceback."""
    return gr.Error(message, print_exception=False)


def require(loaded: LoadedModel, what: str) -> None:
    """Raise a ``problem`` saying why the model is missing and how to fix it."""
    if not loaded.ok:
        raise problem(load_problem(loaded, what).replace("**", "").replace("`", ""))


# --- The app ----------------------------------------------------------------------------------


def build_demo(models: Models) -> gr.Blocks:
    """The Blocks app: a tab per concern; the UI only wires the functions above."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\nA fine-tuned BERT-family text classifier and a contextualized topic "
            "model, loaded from the Hugging Face Hub or local folders."
        )
        classifier_tab(models.classifier)
        topics_tab(models.topics)
        with gr.Tab("Training curves", id="curves"):
            curves_section(models.classifier, "classifier")
            curves_section(models.topics, "topic model")
        with gr.Tab("About", id="about"):
            gr.Markdown(about_markdown(models))
    return demo


def classifier_tab(loaded: LoadedModel) -> None:
    task = loaded.card.task if loaded.ok else ""
    with gr.Tab(f"{task.capitalize()} classifier" if task else "Text classifier", id="classifier"):
        if not loaded.ok:
            gr.Markdown(load_problem(loaded, "classifier"), elem_id="classifier-error")
        with gr.Column(visible=loaded.ok):
            if loaded.ok:
                labels = ", ".join(f"`{label}`" for label in loaded.model.labels)
                gr.Markdown(
                    f"**{loaded.card.title or loaded.source.name}**: labels {labels}; "
                    f"reads up to {loaded.model.max_length} tokens."
                )
            with gr.Row():
                with gr.Column():
                    message = gr.Textbox(
                        label="Message", lines=4, placeholder="Type or paste a message"
                    )
                    button = gr.Button("Classify", variant="primary")
                    if loaded.ok and loaded.card.examples():
                        gr.Examples([[text] for text in loaded.card.examples()], inputs=message)
                with gr.Column():
                    prediction = gr.Label(label="Prediction")
                    note = gr.Markdown(label="Note")
                    influence = gr.HighlightedText(label="Word influence", show_legend=True)
                    gr.Markdown(
                        "Word influence by occlusion: each word is removed in turn and the "
                        "change in the predicted label's probability is its score, scaled so "
                        "the strongest word is ±1 (positive: it pushed towards the label)."
                    )
            with gr.Accordion(f"Classify a file (up to {MAX_ROWS:,} messages)", open=False):
                with gr.Row():
                    upload = gr.File(
                        label="CSV, TSV or TXT file",
                        type="filepath",
                        file_types=[".csv", ".tsv", ".txt"],
                    )
                    column = gr.Textbox(
                        label="Text column (optional)", placeholder="found by name when empty"
                    )
                file_button = gr.Button("Classify file")
                summary = gr.Markdown(label="Summary")
                table = gr.Dataframe(label="Results", max_height=400, wrap=True)
                results = gr.File(label="Results as CSV")

    def classify(message: list[str]) -> tuple[list[dict | None], list[str]]:
        return classify_texts(loaded, message)

    def explain(message: str) -> list[tuple[str, float | None]]:
        return explain_text(loaded, message)

    def classify_batch(file: str | None, column: str, progress: gr.Progress = FILE_PROGRESS):
        return classify_file(loaded, file, column, progress)

    button.click(
        classify,
        message,
        [prediction, note],
        api_name="classify",
        batch=True,
        max_batch_size=MAX_BATCH_SIZE,
        concurrency_limit=1,
        concurrency_id="classifier",
    ).then(explain, message, influence, api_name="explain", concurrency_id="classifier")
    file_button.click(
        classify_batch,
        [upload, column],
        [summary, table, results],
        api_name="classify_batch",
        concurrency_id="classifier_file",
    )


def topics_tab(loaded: LoadedModel) -> None:
    with gr.Tab("Topics", id="topics"):
        if not loaded.ok:
            gr.Markdown(load_problem(loaded, "topic model"), elem_id="topics-error")
        with gr.Column(visible=loaded.ok):
            with gr.Row():
                with gr.Column():
                    text = gr.Textbox(
                        label="Text", lines=4, placeholder="Type or paste a news title or text"
                    )
                    button = gr.Button("Find topics", variant="primary")
                    if loaded.ok:
                        examples = loaded.card.examples() or [
                            " ".join(words) for words in loaded.model.topics(6)[:3]
                        ]
                        gr.Examples([[example] for example in examples], inputs=text)
                with gr.Column():
                    chart = gr.BarPlot(
                        x="name",
                        y="probability",
                        sort="-y",
                        y_lim=[0, 1],
                        label="Topic distribution",
                        x_title="topic: top words",
                        x_label_angle=-30,
                    )
                    dominant = gr.Markdown(label="Dominant topic")
            with gr.Accordion("Topic distribution as JSON", open=False):
                distribution = gr.JSON(label="Topics")
            gr.Markdown("### Topic explorer")
            with gr.Row():
                gr.Dataframe(
                    topics_table(loaded.model) if loaded.ok else None,
                    label="Every topic and its top words",
                    max_height=400,
                    wrap=True,
                    interactive=False,
                    column_widths=["16%", "84%"],
                )
                with gr.Column():
                    names = topic_names(loaded.model) if loaded.ok else []
                    choices = [(name, i) for i, name in enumerate(names)]
                    topic = gr.Dropdown(choices, value=0 if loaded.ok else None, label="Topic")
                    words = gr.BarPlot(
                        topic_words(loaded.model, 0) if loaded.ok else None,
                        x="word",
                        y="weight",
                        sort="-y",
                        y_lim=[0, None],
                        label="Top words of the topic",
                        x_label_angle=-45,
                    )

    def find(text: str) -> tuple[pd.DataFrame, str, dict]:
        return find_topics(loaded, text)

    def top_words(topic: int) -> pd.DataFrame:
        return topic_word_chart(loaded, topic)

    button.click(
        find, text, [chart, dominant, distribution], api_name="topics", concurrency_id="topics"
    )
    topic.change(top_words, topic, words, api_name="topic_words")


def curves_section(loaded: LoadedModel, what: str) -> None:
    gr.Markdown(curves_intro(loaded, what))
    if not loaded.ok or loaded.scalars.empty:
        return
    choices = metrics(loaded.scalars)
    metric = gr.Dropdown(choices, value=choices[0], label=f"{what.capitalize()} metric")
    plot = gr.LinePlot(
        metric_curves(loaded.scalars, choices[0]),
        x="step",
        y="value",
        color="series",
        color_map=SPLIT_COLORS,
        label=f"{what.capitalize()} curves",
    )

    def curves(metric: str) -> pd.DataFrame:
        return metric_curves(loaded.scalars, metric)

    metric.change(curves, metric, plot, api_visibility="private")


def serve(demo: gr.Blocks, **launch_kwargs: Any) -> tuple[Any, str, Any]:
    """Queue and launch: one batched forward pass at a time per model, files up to 20 MB."""
    # By default Gradio rebuilds its /monitoring summary, a table of up to 10,000 past events,
    # after every event: under load that cost grows with every request served.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(default_concurrency_limit=1, max_size=256)
    return demo.launch(
        max_file_size=MAX_FILE_SIZE,
        state_session_capacity=SESSIONS_KEPT,
        theme=gr.themes.Soft(),
        **launch_kwargs,
    )


def main() -> None:
    return_large_frees_to_the_system()
    serve(build_demo(load_models()))


if __name__ == "__main__":
    main()
