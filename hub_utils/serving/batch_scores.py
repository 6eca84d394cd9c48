"""One chunk of messages in, one result row per message out: the rows the app's batch tab and
the file scorer write, computed by the same code so that both give the same answers.

A message that cannot be scored (empty, or a ``Problem`` such as a missing text) keeps its row,
with an empty label and a note saying why. pandas-free, for the core install.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hub_utils.models.bag_of_words import word_counts
from hub_utils.models.protocols import Prediction, ServedClassifier, ServedTopicModel
from hub_utils.models.texts import clean_text
from hub_utils.serving.batch_files import Message

EMPTY_TEXT = "empty text"
# The app's batch table and CSV: the probability is that of the label, rounded for reading.
RESULT_COLUMNS = ["row", "text", "label", "probability", "note"]
TOPIC_COLUMNS = ["row", "text", "topic", "probability", "words", "note"]
ROUNDING = 4
# The per-label and per-topic columns: float32 models are exact to about 7 digits, and the
# shorter numbers keep a million-row CSV small.
FULL_ROUNDING = 7


def texts_of(messages: Sequence[Message]) -> list[str]:
    """The text of each message, ``""`` for a ``Problem``."""
    return [message if isinstance(message, str) else "" for message in messages]


def classifier_columns(classifier: ServedClassifier) -> list[str]:
    """``RESULT_COLUMNS`` and each label's probability to 7 decimals (``p_<label>``)."""
    return [*RESULT_COLUMNS, *(f"p_{label}" for label in classifier.labels)]


def classify_rows(
    classifier: ServedClassifier,
    messages: Sequence[Message],
    first_row: int = 1,
    predict: Callable[[list[str]], list[Prediction]] | None = None,
) -> list[list[Any]]:
    """One row per message, columns ``classifier_columns``.

    Every message of the chunk goes to the model in one ``predict`` call (empty ones too), as
    the app's batch tab always did: the int8 model's answers depend slightly on which texts
    share a batch (its activations are quantised per batch), so the same chunks give the same
    answers.
    """
    texts = texts_of(messages)
    predictions = (predict or classifier.predict)(texts)
    rows: list[list[Any]] = []
    for number, (message, prediction) in enumerate(
        zip(messages, predictions, strict=True), start=first_row
    ):
        text = texts[number - first_row]
        if isinstance(message, str) and text.strip():
            probabilities = [
                round(prediction.probabilities[label], FULL_ROUNDING) for label in classifier.labels
            ]
            note = f"truncated to {classifier.max_length} tokens" if prediction.truncated else ""
            label = prediction.label
            rows.append(
                [number, text, label, round(prediction.probabilities[label], ROUNDING), note]
                + probabilities
            )
        else:
            note = message.note if not isinstance(message, str) else EMPTY_TEXT
            rows.append([number, text, "", None, note] + [None] * len(classifier.labels))
    return rows


def topic_columns(model: ServedTopicModel) -> list[str]:
    """``TOPIC_COLUMNS`` (the dominant topic, its probability and words) and every topic's
    probability to 7 decimals (``topic_<i>``)."""
    return [*TOPIC_COLUMNS, *(f"topic_{i}" for i in range(model.n_topics))]


def topic_rows(
    model: ServedTopicModel,
    messages: Sequence[Message],
    first_row: int = 1,
    words: list[list[str]] | None = None,
    batch_size: int = 64,
) -> list[list[Any]]:
    """One row per message, columns ``topic_columns``; the text is cleaned (``clean_text``) as
    the app's topics tab cleans it, and the notes say what it says (cut or replaced
    characters, an encoder that read only part of the text, no word the vocabulary knows)."""
    words = words if words is not None else model.topics(3)
    texts = texts_of(messages)
    filled = [i for i, text in enumerate(texts) if isinstance(messages[i], str) and text.strip()]
    cleaned = {i: clean_text(texts[i]) for i in filled}
    inputs = [cleaned[i][0] for i in filled]
    distributions = model.predict(inputs, batch_size=batch_size) if inputs else np.zeros((0, 0))
    known = word_counts(inputs, model.vocab).sum(axis=1) if inputs else np.zeros(0)
    results = {i: (distributions[k], int(known[k])) for k, i in enumerate(filled)}
    rows: list[list[Any]] = []
    for i, message in enumerate(messages):
        if i not in results:
            note = message.note if not isinstance(message, str) else EMPTY_TEXT
            rows.append([first_row + i, texts[i], None, None, "", note] + [None] * model.n_topics)
            continue
        distribution, n_known = results[i]
        text, notes = cleaned[i]
        n_tokens = model.encoder_token_count(text)
        if n_tokens > model.encoder_max_tokens:
            notes.append(f"the encoder read {model.encoder_max_tokens} of {n_tokens} tokens")
        if not n_known:
            notes.append("no word in the vocabulary")
        top = int(np.argmax(distribution))
        rows.append(
            [
                first_row + i,
                texts[i],
                top,
                round(float(distribution[top]), ROUNDING),
                ", ".join(words[top]),
                "; ".join(notes),
                *np.round(distribution.astype(np.float64), FULL_ROUNDING).tolist(),
            ]
        )
    return rows
