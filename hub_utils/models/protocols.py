"""What a loaded model offers, whichever backend runs it (ONNX Runtime or PyTorch).

``load_classifier`` and ``load_topic_model`` return these; the app and its helpers use nothing
else, so either backend serves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass
class Prediction:
    """One text's class probabilities, and how much of the text the model read."""

    probabilities: dict[str, float]
    truncated: bool  # the text has more tokens than the model reads
    chars_read: int  # the model read the cleaned text up to this character
    notes: list[str] = field(default_factory=list)  # what ``clean_text`` changed

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)


class ServedClassifier(Protocol):
    """A text classifier: label probabilities and word attributions for raw texts."""

    labels: list[str]
    backend: str  # what runs it, said in the app's About tab

    @property
    def max_length(self) -> int: ...

    def predict(self, texts: Sequence[str], batch_size: int = ...) -> list[Prediction]: ...

    def explain(self, text: str) -> list[tuple[str, float | None]]: ...


class ServedTopicModel(Protocol):
    """A topic model: topic distributions of raw texts, and the topics' words."""

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

    def topic_word_logits(self) -> np.ndarray: ...

    def predict(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray: ...
