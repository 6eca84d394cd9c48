"""The topics tab's requests and tables: a text's topic distribution with its dominant topic,
every topic's top words, one topic's word weights. Plain pandas, so the app plots them and the
tests check them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hub_utils.errors import BadRequestError
from hub_utils.models.bag_of_words import word_counts
from hub_utils.models.protocols import ServedTopicModel
from hub_utils.models.texts import clean_text
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
    """One topic's most probable words: columns ``word`` and ``weight`` (the word's probability
    in the topic, the softmax of the decoder's ``beta`` row), heaviest first."""
    if not 0 <= topic < model.n_topics:
        raise ValueError(f"topic must be between 0 and {model.n_topics - 1}, not {topic}")
    weights = model.topic_word_weights()[topic]
    heaviest = np.argsort(-weights, kind="stable")[: min(n_words, len(model.vocab))]
    return pd.DataFrame(
        {"word": [model.vocab[i] for i in heaviest], "weight": weights[heaviest].astype(float)}
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
    result = {
        "known_words": known,
        "topics": [
            {"topic": int(topic), "probability": round(float(p), 4), "words": words[topic]}
            for topic, p in zip(table["topic"], table["probability"], strict=True)
        ],
    }
    return table, summary, result


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
