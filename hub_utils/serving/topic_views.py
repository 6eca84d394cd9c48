"""Tables for showing a topic model: a document's topic distribution, every topic's top words,
one topic's word weights. Plain pandas, so the app plots them and the tests check them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hub_utils.models.bag_of_words import word_counts
from hub_utils.models.protocols import ServedTopicModel


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
