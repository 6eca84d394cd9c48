"""Plain JSON routes beside Gradio's API, for programs: text classification in the Hugging
Face Inference API's shape, so ``huggingface_hub.InferenceClient(model=<route URL>)`` works
against the app and the Space, and topics in the same spirit.

    POST /v1/text-classification  {"inputs": str | [str, ...], "parameters": {"top_k": int}}
        -> [[{"label": str, "score": float}, ...], ...]   one list per input, best first
    POST /v1/topics               {"inputs": str | [str, ...], "parameters": {"top_k": int}}
        -> [{"known_words": int, "topics": [{"topic", "probability", "words"}, ...]}, ...]

Bad input raises ``BadRequestError``; the app answers it with 400 and ``{"error": message}``,
which ``InferenceClient`` raises as an HTTP error carrying that message.
"""

from __future__ import annotations

from typing import Any

from hub_utils.errors import BadRequestError
from hub_utils.models.protocols import ServedClassifier, ServedTopicModel
from hub_utils.models.texts import clean_text
from hub_utils.serving.classifier_views import Predict, classify_texts
from hub_utils.serving.loading import LoadedModel, require
from hub_utils.serving.runtime import run_model
from hub_utils.serving.topic_views import known_words, topics_result

CLASSIFICATION_ROUTE = "/v1/text-classification"
TOPICS_ROUTE = "/v1/topics"
MAX_INPUTS = 256  # texts in one request: a bound on the work one call can ask for
DEFAULT_TOP_TOPICS = 5


def text_classification(
    loaded: LoadedModel[ServedClassifier], payload: Any, predict: Predict | None = None
) -> list[list[dict[str, Any]]]:
    """Every label's score for each input, best first (``top_k`` of them when given)."""
    require(loaded, "classifier")
    texts = _inputs(payload)
    top_k = _top_k(payload, default=None)
    labels, _ = classify_texts(loaded, list(texts), predict)
    results = []
    for i, probabilities in enumerate(labels):
        if probabilities is None:
            raise BadRequestError(f"inputs[{i}] is empty: there is nothing to classify")
        ranked = sorted(probabilities.items(), key=lambda item: -item[1])[:top_k]
        results.append([{"label": label, "score": score} for label, score in ranked])
    return results


def topics(loaded: LoadedModel[ServedTopicModel], payload: Any) -> list[dict[str, Any]]:
    """Each input's most probable topics (``top_k``, default 5) with their words."""
    model = require(loaded, "topic model")
    texts = [clean_text(text)[0] for text in _inputs(payload)]
    top_k = _top_k(payload, default=DEFAULT_TOP_TOPICS) or DEFAULT_TOP_TOPICS
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise BadRequestError(f"inputs[{empty[0]}] is empty: there is nothing to find topics in")
    distributions = run_model(model.predict, texts)
    words = model.topics(10)
    return [
        topics_result(distribution, words, known_words(model, text), top=top_k)
        for text, distribution in zip(texts, distributions, strict=True)
    ]


def _inputs(payload: Any) -> list[str]:
    """The texts of ``{"inputs": str | list[str]}``, or ``BadRequestError`` saying what is off."""
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise BadRequestError('send a JSON object {"inputs": "a text"} or {"inputs": [texts]}')
    inputs = payload["inputs"]
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not texts:
        raise BadRequestError('"inputs" must be a text or a non-empty list of texts')
    if len(texts) > MAX_INPUTS:
        raise BadRequestError(f'"inputs" holds {len(texts)} texts; send at most {MAX_INPUTS}')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequestError(f"inputs[{i}] is a {type(text).__name__}, not a text")
    return texts


def _top_k(payload: dict[str, Any], default: int | None) -> int | None:
    parameters = payload.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequestError('"parameters" must be a JSON object')
    top_k = parameters.get("top_k", default)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise BadRequestError(
            f'"parameters.top_k" must be a whole number of at least 1, not {top_k!r}'
        )
    return top_k
