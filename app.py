"""BERT Hub Kit demo: one tabbed Gradio app for the text classifier and the topic model.

    python app.py          # http://127.0.0.1:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

Models (each a Hub repo id or a local folder, loaded once at start-up):
SPAM_MODEL / SPAM_MODEL_REVISION and TOPIC_MODEL / TOPIC_MODEL_REVISION. By default the
folders the training commands write (models/spam, models/topics) when they exist, else the
published repos. A model that fails to load leaves its tab saying why; the other tabs work.

This file is layout, events and start-up only: every request is a plain, tested function of
``hub_utils.serving``, and ``shown`` turns the ``BadRequestError`` they raise into a message.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import gradio as gr
import pandas as pd
from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from hub_utils.errors import BadRequestError
from hub_utils.models.protocols import ServedClassifier, ServedTopicModel
from hub_utils.serving.about import about_markdown, curves_intro
from hub_utils.serving.batch_classify import classify_file
from hub_utils.serving.batch_files import MAX_ROWS
from hub_utils.serving.classifier_views import Predict, classify_texts, explain_text
from hub_utils.serving.json_api import (
    CLASSIFICATION_ROUTE,
    TOPICS_ROUTE,
    text_classification,
    topics,
)
from hub_utils.serving.loading import LoadedModel, Models, load_models, load_problem
from hub_utils.serving.runtime import return_large_frees_to_the_system
from hub_utils.serving.topic_views import (
    find_topics,
    saved_topic_map,
    topic_map_svg,
    topic_map_table,
    topic_names,
    topic_word_chart,
    topic_words,
    topics_table,
)
from hub_utils.serving.training_curves import metric_curves, metrics

PROJECT_DIR = Path(__file__).resolve().parent
TITLE = "BERT Hub Kit demo"
# Gradio's worker threads: every /classify request in a batch (Models.MAX_BATCH) waits on one,
# beside the other endpoints and the JSON routes.
MAX_THREADS = 128
MAX_FILE_SIZE = "20mb"
# Gradio keeps ~100 KB of per-session state for this page, and an HTTP API call without a
# session makes a new one: its default of 10,000 sessions would let memory grow by ~1 GB.
# The app keeps no session state of its own, so evicting old sessions loses nothing.
SESSIONS_KEPT = 100
SPLIT_COLORS = {"train": "#4c78a8", "validation": "#f58518", "test": "#54a24b"}  # every chart
FILE_PROGRESS = gr.Progress()  # Gradio shows a progress bar for a parameter defaulting to this
F = TypeVar("F", bound=Callable[..., Any])


def shown(function: F) -> F:
    """``function`` with its ``BadRequestError`` raised as ``gr.Error``: the page shows it and
    ``gradio_client`` raises it as ``AppError``. It is the user's to fix, so the server log
    skips its traceback."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BadRequestError as err:
            raise gr.Error(str(err), print_exception=False) from err

    return wrapper  # type: ignore[return-value]


def build_demo(models: Models) -> gr.Blocks:
    """The Blocks app: a tab per concern; the UI only wires the functions above."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(
            f"# {TITLE}\nA fine-tuned BERT-family text classifier and a contextualized topic "
            "model, loaded from the Hugging Face Hub or local folders."
        )
        classifier_tab(models.classifier, models.classify)
        topics_tab(models.topics)
        with gr.Tab("Training curves", id="curves"):
            curves_section(models.classifier, "classifier")
            curves_section(models.topics, "topic model")
        with gr.Tab("About", id="about"):
            gr.Markdown(about_markdown(models))
    return demo


def classifier_tab(loaded: LoadedModel[ServedClassifier], predict: Predict) -> None:
    classifier = loaded.model
    task = loaded.card.task if classifier is not None else ""
    with gr.Tab(f"{task.capitalize()} classifier" if task else "Text classifier", id="classifier"):
        if not loaded.ok:
            gr.Markdown(load_problem(loaded, "classifier"), elem_id="classifier-error")
        with gr.Column(visible=loaded.ok):
            if classifier is not None:
                labels = ", ".join(f"`{label}`" for label in classifier.labels)
                gr.Markdown(
                    f"**{loaded.card.title or loaded.source.name}**: labels {labels}; "
                    f"reads up to {classifier.max_length} tokens."
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

    def classify(message: str | None) -> tuple[dict[str, float] | None, str]:
        labels, notes = classify_texts(loaded, [message], predict)
        return labels[0], notes[0]

    @shown
    def explain(message: str) -> list[tuple[str, float | None]]:
        return explain_text(loaded, message)

    @shown
    def classify_batch(
        file: str | None, column: str, progress: gr.Progress = FILE_PROGRESS
    ) -> tuple[str, pd.DataFrame, str]:
        return classify_file(loaded, file, column, progress)

    button.click(
        classify,
        message,
        [prediction, note],
        api_name="classify",
        # Concurrent requests meet in ``predict`` (Models.classify), which batches them.
        concurrency_limit=Models.MAX_BATCH,
        concurrency_id="classify",
    ).then(explain, message, influence, api_name="explain", concurrency_id="explain")
    file_button.click(
        classify_batch,
        [upload, column],
        [summary, table, results],
        api_name="classify_batch",
        concurrency_id="classifier_file",
    )


def topics_tab(loaded: LoadedModel[ServedTopicModel]) -> None:
    model = loaded.model
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
                    if model is not None:
                        examples = loaded.card.examples() or [
                            " ".join(words) for words in model.topics(6)[:3]
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
            gr.Markdown(
                "### Topic explorer\nEach circle is a topic: close circles have similar word "
                "distributions, and a circle's area is the topic's share of the training "
                "corpus. Hover a circle for its words; choose a topic to see its words below."
            )
            map_table = (
                topic_map_table(model, saved_topic_map(loaded)) if model is not None else None
            )
            with gr.Row():
                topic_map = gr.HTML(
                    topic_map_svg(map_table, 0) if map_table is not None else "",
                    label="Intertopic distance map",
                    elem_id="topic-map",
                )
                with gr.Column():
                    names = topic_names(model) if model is not None else []
                    choices = [(name, i) for i, name in enumerate(names)]
                    topic = gr.Dropdown(choices, value=0 if loaded.ok else None, label="Topic")
                    words = gr.BarPlot(
                        topic_words(model, 0) if model is not None else None,
                        x="word",
                        y="logit",
                        sort="-y",
                        label="Words the decoder favours for a text of this topic alone",
                        y_title="logit (one unit: 2.7 times as probable)",
                        x_label_angle=-45,
                    )
            gr.Dataframe(
                topics_table(model) if model is not None else None,
                label="Every topic and its top words",
                max_height=400,
                wrap=True,
                interactive=False,
                column_widths=["16%", "84%"],
            )

    @shown
    def find(text: str) -> tuple[pd.DataFrame, str, dict[str, Any]]:
        return find_topics(loaded, text)

    @shown
    def top_words(topic: int) -> pd.DataFrame:
        return topic_word_chart(loaded, topic)

    button.click(
        find, text, [chart, dominant, distribution], api_name="topics", concurrency_id="topics"
    )
    topic.change(top_words, topic, words, api_name="topic_words")
    if map_table is not None:
        topic.change(
            lambda chosen: topic_map_svg(map_table, chosen),
            topic,
            topic_map,
            api_visibility="private",
        )


def curves_section(loaded: LoadedModel[Any], what: str) -> None:
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


def serve(demo: gr.Blocks, models: Models, **launch_kwargs: Any) -> tuple[FastAPI, str, Any]:
    """Queue and launch without blocking, files up to 20 MB, then add the JSON routes; returns
    Gradio's FastAPI app, the local URL and the share URL."""
    # By default Gradio rebuilds its /monitoring summary, a table of up to 10,000 past events,
    # after every event: under load that cost grows with every request served.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(default_concurrency_limit=1, max_size=256)
    server, url, share_url = demo.launch(
        max_file_size=MAX_FILE_SIZE,
        state_session_capacity=SESSIONS_KEPT,
        max_threads=MAX_THREADS,
        theme=gr.themes.Soft(),
        prevent_thread_lock=True,
        **launch_kwargs,
    )
    add_json_routes(server, models)
    return server, url, share_url


def add_json_routes(server: FastAPI, models: Models) -> None:
    """POST routes in the Inference API's JSON (``hub_utils.serving.json_api``) beside Gradio's;
    ``/v1/text-classification`` shares the page's batcher."""
    handlers: dict[str, Callable[[Any], Any]] = {
        CLASSIFICATION_ROUTE: lambda payload: text_classification(
            models.classifier, payload, models.classify
        ),
        TOPICS_ROUTE: lambda payload: topics(models.topics, payload),
    }
    for path, handler in handlers.items():
        server.add_api_route(path, json_endpoint(handler), methods=["POST"])


def json_endpoint(handler: Callable[[Any], Any]) -> Callable[..., Any]:
    """``handler`` as a FastAPI endpoint: the JSON body in, its result out; a
    ``BadRequestError`` answers 400 with ``{"error": message}``, as the Inference API does."""

    def endpoint(payload: Annotated[Any, Body()]) -> Any:
        try:
            return handler(payload)
        except BadRequestError as err:
            return JSONResponse({"error": str(err)}, status_code=400)

    return endpoint


def main() -> None:
    return_large_frees_to_the_system()
    models = load_models(PROJECT_DIR)
    demo = build_demo(models)
    serve(demo, models)
    demo.block_thread()


if __name__ == "__main__":
    main()
