"""The topics tab's requests and tables: a text's topic distribution with its dominant topic,
every topic's top words, one topic's word weights. Plain pandas, so the app plots them and the
tests check them."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from hub_utils.errors import BadRequestError
from hub_utils.models.bag_of_words import word_counts
from hub_utils.models.files import TOPIC_MAP_FILE
from hub_utils.models.json_files import read_json
from hub_utils.models.protocols import ServedTopicModel
from hub_utils.models.texts import clean_text
from hub_utils.models.topic_map import topic_map
from hub_utils.models.topic_words import softmax
from hub_utils.serving.loading import LoadedModel, require
from hub_utils.serving.runtime import run_model


def topic_names(model: ServedTopicModel, n_words: int = 3) -> list[str]:
    """Short unique names such as ``"4: stock, market, shares"`` (id, then top words)."""
    return [
        f"{i}: {', '.join(words)}"
        for i, words in enumerate(model.topics(min(n_words, len(model.vocab))))
    ]


def distribution_table(
    model: ServedTopicModel, distribution: np.ndarray, top: int = 10
) -> pd.DataFrame:
    """The ``top`` most probable topics of one document, most probable first.

    Columns: ``topic`` (id), ``name`` (``topic_names``), ``probability``.
    """
    names = topic_names(model)
    order = np.argsort(-distribution, kind="stable")[:top]
    return pd.DataFrame(
        {
            "topic": order.astype(int),
            "name": [names[i] for i in order],
            "probability": distribution[order].astype(float),
        }
    )


def topics_table(model: ServedTopicModel, n_words: int = 10) -> pd.DataFrame:
    """Every topic with its top words: columns ``topic`` and ``top words``."""
    topics = model.topics(min(n_words, len(model.vocab)))
    return pd.DataFrame(
        {"topic": range(len(topics)), "top words": [", ".join(words) for words in topics]}
    )


def topic_words(model: ServedTopicModel, topic: int, n_words: int = 15) -> pd.DataFrame:
    """The words the decoder makes most probable for a text of this topic alone, most probable
    first: columns ``word``, ``logit`` (the decoder's score before its softmax: one unit more
    is e, about 2.7, times as probable) and ``probability`` (after the softmax).

    The softmax of ``beta`` alone, plotted before, gave every word about 1/vocabulary (0.0009
    to 0.0008 for a topic's top 15 words): it hid the decoder's batch norm, which is what makes
    words stand out (``hub_utils.models.topic_words.word_logits``).
    """
    if not 0 <= topic < model.n_topics:
        raise ValueError(f"topic must be between 0 and {model.n_topics - 1}, not {topic}")
    logits = model.topic_word_logits()
    probabilities = softmax(logits)[topic]
    top = np.argsort(-logits[topic], kind="stable")[: min(n_words, len(model.vocab))]
    return pd.DataFrame(
        {
            "word": [model.vocab[i] for i in top],
            "logit": logits[topic][top].astype(float),
            "probability": probabilities[top].astype(float),
        }
    )


def known_words(model: ServedTopicModel, text: str) -> int:
    """How many of the text's words are in the model's vocabulary (the bag of words it sees)."""
    return int(word_counts([text], model.vocab).sum())


def find_topics(
    loaded: LoadedModel[ServedTopicModel], text: str | None
) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    """``/topics``: the text's most probable topics (chart table), a description of the
    dominant one, and the same as JSON for programs."""
    model = require(loaded, "topic model")
    if not text or not text.strip():
        raise BadRequestError("Nothing to analyse: the text is empty. Type or paste a text.")
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
    top = int(table["topic"].iloc[0])
    summary = (
        f"**Dominant topic: {top}** ({table['probability'].iloc[0]:.0%}) — {', '.join(words[top])}"
    )
    if notes:
        summary += "\n\nNote: " + "; ".join(notes) + "."
    return table, summary, topics_result(distribution, words, known)


def topics_result(
    distribution: np.ndarray, words: list[list[str]], known: int, top: int = 10
) -> dict[str, Any]:
    """One text's topics as JSON: its ``top`` most probable topics with their probability and
    words, most probable first, and how many of its words the vocabulary knows."""
    order = np.argsort(-distribution, kind="stable")[:top]
    return {
        "known_words": known,
        "topics": [
            {"topic": int(i), "probability": round(float(distribution[i]), 4), "words": words[i]}
            for i in order
        ],
    }


def topic_word_chart(
    loaded: LoadedModel[ServedTopicModel], topic: float | int | None
) -> pd.DataFrame:
    """``/topic_words``: a topic's 15 most probable words and their weights."""
    model = require(loaded, "topic model")
    if topic is None or not float(topic).is_integer() or not 0 <= topic < model.n_topics:
        raise BadRequestError(
            f"No topic {topic}: pick a whole number from 0 to {model.n_topics - 1}."
        )
    return topic_words(model, int(topic))


def saved_topic_map(loaded: LoadedModel[ServedTopicModel]) -> dict[str, Any] | None:
    """The map saved with the model (``topic_map.json``), or None for a folder without one."""
    if loaded.folder is None or not (loaded.folder / TOPIC_MAP_FILE).is_file():
        return None
    return read_json(loaded.folder / TOPIC_MAP_FILE)


def topic_map_table(model: ServedTopicModel, saved: dict[str, Any] | None) -> pd.DataFrame:
    """One row per topic for the intertopic distance map: ``topic``, ``x``, ``y``,
    ``prevalence`` (its share of the training corpus; NaN when the folder predates
    ``topic_map.json``, whose positions are then computed here) and ``words``."""
    if saved is None:
        saved = topic_map(softmax(model.topic_word_logits()), prevalence=None)
    prevalence = saved["prevalence"] or [float("nan")] * model.n_topics
    words = model.topics(min(8, len(model.vocab)))
    return pd.DataFrame(
        {
            "topic": range(model.n_topics),
            "x": saved["x"],
            "y": saved["y"],
            "prevalence": prevalence,
            "words": [", ".join(topic) for topic in words],
        }
    )


def topic_map_svg(table: pd.DataFrame, selected: int | None = None, size: int = 520) -> str:
    """The map as an SVG drawing: a circle per topic, its area proportional to its prevalence
    (all alike when unknown), its id as label, and its words and share as hover text; the
    ``selected`` topic is filled in the accent colour."""
    margin = 44  # the largest circle's radius (36) and some air
    span = max(float(np.ptp(table["x"])), float(np.ptp(table["y"])), 1e-9)
    # The middle of the extremes, not the mean, so that every circle stays inside the frame.
    centre_x = (table["x"].min() + table["x"].max()) / 2
    centre_y = (table["y"].min() + table["y"].max()) / 2
    known = table["prevalence"].notna().all()
    share = table["prevalence"] / table["prevalence"].max() if known else table["x"] * 0 + 0.3
    circles = []
    # Largest first, so that small topics stay visible on top of the large ones they overlap.
    for row in table.assign(share=share).sort_values("share", ascending=False).itertuples():
        cx = size / 2 + (row.x - centre_x) / span * (size - 2 * margin)
        cy = size / 2 - (row.y - centre_y) / span * (size - 2 * margin)
        radius = 6 + 30 * float(np.sqrt(row.share))
        fill = "#f58518" if row.topic == selected else "#4c78a8"
        hover = f"topic {row.topic}: {row.words}" + (
            f" ({row.prevalence:.1%} of the corpus)" if known else ""
        )
        circles.append(
            f'<g class="topic" data-topic="{row.topic}"><title>{html.escape(hover)}</title>'
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{fill}" '
            'fill-opacity="0.55" stroke="#1f2937" stroke-width="0.8"/>'
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#111827">{row.topic}</text></g>'
        )
    note = "circle area: share of the training corpus" if known else "prevalence not saved"
    return (
        f'<svg class="topic-map" viewBox="0 0 {size} {size}" width="100%" '
        f'style="max-width:{size}px" role="img" aria-label="Intertopic distance map">'
        f'<rect width="{size}" height="{size}" fill="white" stroke="#d1d5db"/>'
        + "".join(circles)
        + f'<text x="8" y="{size - 8}" font-size="11" fill="#6b7280">{note}; '
        "distance: Jensen-Shannon, placed by classical MDS</text></svg>"
    )
