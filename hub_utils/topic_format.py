"""What a saved topic model folder holds, and what every topic model built from one shares.

Both the PyTorch class (``hub_utils.topic_model``, for training and ``from_pretrained``) and
the ONNX Runtime server (``hub_utils.topic_onnx``, for the app) read these files, check texts
the same way and name topics by the same words. No torch here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.json"
TOPICS_FILE = "topics.json"
# The sentence encoder and the topic network in one graph, and the encoder's tokenizer set up
# to truncate and pad as sentence-transformers does (written by ``train topics``).
ONNX_FILE = "onnx/topic_model.onnx"
ONNX_TOKENIZER_FILE = "onnx/tokenizer.json"
BETA_KEY = "beta"  # the topic-word matrix in model.safetensors


class ServedTopicModel(Protocol):
    """What the app and ``hub_utils.topic_views`` use of a topic model, PyTorch or ONNX."""

    vocab: list[str]
    backend: str

    @property
    def n_topics(self) -> int: ...

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def encoder_max_tokens(self) -> int: ...

    def encoder_token_count(self, text: str) -> int: ...

    def topics(self, k: int = 10) -> list[list[str]]: ...

    def topic_word_weights(self) -> np.ndarray: ...

    def predict(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray: ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or ``ValueError`` naming the first one that is not a usable text."""
    if isinstance(texts, str):
        raise ValueError("predict takes a list of texts, not a single string")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"text {i} is empty: there is nothing to find topics in")
    return texts


def top_words(beta: np.ndarray, vocab: Sequence[str], k: int) -> list[list[str]]:
    """The ``k`` most weighted words of each row of the topic-word matrix, most weighted first."""
    if not 1 <= k <= len(vocab):
        raise ValueError(f"k must be between 1 and the vocabulary size {len(vocab)}")
    # Partition, then sort only the k found: a full sort of every row took milliseconds a call.
    top = np.argpartition(-beta, k - 1, axis=1)[:, :k]
    weights = np.take_along_axis(beta, top, axis=1)
    order = np.take_along_axis(top, np.lexsort((top, -weights), axis=1), axis=1)
    return [[vocab[i] for i in row] for row in order.tolist()]


def word_weights(beta: np.ndarray) -> np.ndarray:
    """Each topic's distribution over the vocabulary: the softmax of its row of ``beta``."""
    shifted = np.exp(beta - beta.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
