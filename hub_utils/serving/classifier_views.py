"""The classifier tab's requests: label probabilities with a note on each input, and word
influence by occlusion. Model calls run on the model thread (``run_model``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from hub_utils.errors import BadRequestError
from hub_utils.models.protocols import Prediction, ServedClassifier
from hub_utils.serving.loading import LoadedModel, load_problem, require
from hub_utils.serving.runtime import run_model

EMPTY_MESSAGE_NOTE = "Nothing to classify: the message is empty. Type or paste a message."
Predict = Callable[[list[str]], list[Prediction]]


def classify_texts(
    loaded: LoadedModel[ServedClassifier],
    texts: list[str | None],
    predict: Predict | None = None,
) -> tuple[list[dict[str, float] | None], list[str]]:
    """``/classify``: each text's label probabilities and a note on its input.

    ``predict`` runs the model (the app passes its batcher, ``Models.classify``; by default
    the model's own ``predict`` on the model thread). Never raises, since one bad text must not
    fail the others: an empty text, or a missing model, gets no probabilities and a note
    saying why.
    """
    if loaded.model is None:
        return [None] * len(texts), [load_problem(loaded, "classifier")] * len(texts)
    classifier = loaded.model
    predict = predict or partial(run_model, classifier.predict)
    cleaned = ["" if text is None else str(text) for text in texts]
    filled = [i for i, text in enumerate(cleaned) if text.strip()]
    predictions = dict(zip(filled, predict([cleaned[i] for i in filled]), strict=True))
    labels: list[dict[str, float] | None] = []
    notes = []
    for i, text in enumerate(cleaned):
        if i not in predictions:
            labels.append(None)
            notes.append(EMPTY_MESSAGE_NOTE)
            continue
        labels.append(predictions[i].probabilities)
        notes.append(input_note(text, predictions[i], classifier.max_length))
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


def explain_text(
    loaded: LoadedModel[ServedClassifier], text: str | None
) -> list[tuple[str, float | None]]:
    """``/explain``: the text split into words, each scored by occlusion and scaled so that the
    strongest word is ±1 (positive: it pushed towards the predicted label)."""
    classifier = require(loaded, "classifier")
    if not text or not text.strip():
        raise BadRequestError("Nothing to explain: the message is empty. Type or paste a message.")
    segments = run_model(classifier.explain, text)
    strongest = max((abs(score) for _, score in segments if score is not None), default=0.0)
    scale = 1 / strongest if strongest > 0 else 0.0
    return [
        (segment, None if score is None else round(score * scale, 3)) for segment, score in segments
    ]
