"""Serve a saved topic model with ONNX Runtime: no torch, no sentence-transformers.

``train topics`` exports the sentence encoder and the topic network as one graph
(``onnx/topic_model.onnx``: token ids and bag of words in, topic distribution out). Serving it
needs only ``onnxruntime`` and ``tokenizers``, which import in well under a second where torch
and sentence-transformers take several: that is most of the app's start-up time.

    >>> model = load_topic_model("models/topics")  # ONNX when the folder has it, else PyTorch
    >>> model.predict(["stocks fall as oil prices climb"])  # (1, n_topics), rows sum to 1
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from safetensors import safe_open
from tokenizers import Tokenizer

from hub_utils.errors import NotAModelFolderError, no_export_error
from hub_utils.models.bag_of_words import word_counts
from hub_utils.models.classifier import session_options
from hub_utils.models.files import (
    BETA_KEY,
    BETA_NORM_MEAN_KEY,
    BETA_NORM_VAR_KEY,
    CONFIG_FILE,
    TOPIC_ONNX_FILE,
    TOPIC_ONNX_TOKENIZER_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
)
from hub_utils.models.json_files import read_json
from hub_utils.models.protocols import ServedTopicModel
from hub_utils.models.texts import check_texts
from hub_utils.models.token_inputs import token_arrays
from hub_utils.models.topic_words import top_words, word_logits

ONNX_BACKEND = "ONNX Runtime, float32"


class OnnxTopicModel:
    """The prediction side of ``TopicModel`` (same ``predict``, ``topics``, ``vocab``,
    ``config``), run from the folder's ONNX export."""

    backend = ONNX_BACKEND

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        vocab: list[str],
        config: dict[str, Any],
        beta: np.ndarray,
        word_logits: np.ndarray,
    ) -> None:
        self.session = session
        self.tokenizer = tokenizer  # truncates and pads as the encoder did in training
        self.vocab = vocab
        self.config = config
        self.beta = beta  # topic-word matrix, n_topics x vocabulary: ranks the top words
        self.word_logits = word_logits  # the same through the decoder's batch norm
        self._inputs = [node.name for node in session.get_inputs()]
        self._counter = Tokenizer.from_str(tokenizer.to_str())  # counts tokens, cuts nothing
        self._counter.no_truncation()
        self._counter.no_padding()

    @classmethod
    def from_folder(cls, folder: str | Path, threads: int | None = None) -> OnnxTopicModel:
        folder = Path(folder)
        needed = (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE, TOPIC_ONNX_FILE, TOPIC_ONNX_TOKENIZER_FILE)
        for name in needed:
            if not (folder / name).is_file():
                raise NotAModelFolderError(
                    f"{folder} is not an exported topic model: {name} is missing"
                )
        with safe_open(folder / WEIGHTS_FILE, framework="numpy") as weights:
            beta = weights.get_tensor(BETA_KEY).astype(np.float32)
            logits = word_logits(
                beta, weights.get_tensor(BETA_NORM_MEAN_KEY), weights.get_tensor(BETA_NORM_VAR_KEY)
            )
        session = onnxruntime.InferenceSession(
            str(folder / TOPIC_ONNX_FILE),
            session_options(threads),
            providers=["CPUExecutionProvider"],
        )
        return cls(
            session,
            Tokenizer.from_file(str(folder / TOPIC_ONNX_TOKENIZER_FILE)),
            read_json(folder / VOCAB_FILE),
            read_json(folder / CONFIG_FILE),
            beta,
            logits,
        )

    @property
    def n_topics(self) -> int:
        return int(self.beta.shape[0])

    @property
    def encoder_max_tokens(self) -> int:
        """How many tokens of a text the sentence encoder reads."""
        return int((self.tokenizer.truncation or {})["max_length"])  # set by the export

    def encoder_token_count(self, text: str) -> int:
        """How many tokens ``text`` has for the sentence encoder, special tokens included."""
        return len(self._counter.encode(text).ids)

    def topics(self, k: int = 10) -> list[list[str]]:
        """The ``k`` most weighted words of each topic, most weighted first."""
        return top_words(self.beta, self.vocab, k)

    def topic_word_logits(self) -> np.ndarray:
        """Each topic's word logits for a text of that topic alone, ``(n_topics, vocab size)``
        (``hub_utils.models.topic_words.word_logits``)."""
        return self.word_logits

    def predict(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Topic distribution of each raw text, shape ``(len(texts), n_topics)``; empty or blank
        texts raise ``ValueError``. Texts are batched by length, so few pad tokens are run."""
        texts = check_texts(texts)
        result = np.zeros((len(texts), self.n_topics), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            result[rows] = self._forward([texts[i] for i in rows])
        return result

    def _forward(self, texts: list[str]) -> np.ndarray:
        feeds = token_arrays(self.tokenizer.encode_batch(texts), self._inputs)
        if "bow" in self._inputs:  # CombinedTM reads the bag of words too; ZeroShotTM does not
            feeds["bow"] = word_counts(texts, self.vocab)
        return self.session.run(None, feeds)[0]


def load_topic_model(
    folder: str | Path, prefer_onnx: bool = True, threads: int | None = None
) -> ServedTopicModel:
    """The topic model saved in ``folder``: served by ONNX Runtime when the folder holds the
    export (and ``prefer_onnx``), else the PyTorch ``TopicModel`` (imported only then).
    ``threads`` caps ONNX Runtime's threads (default: one per core)."""
    folder = Path(folder)
    if prefer_onnx and (folder / TOPIC_ONNX_FILE).is_file():
        return OnnxTopicModel.from_folder(folder, threads)
    try:
        from hub_utils.models.topic_model import TopicModel
    except ImportError as err:  # no torch (the serving set): say what to do instead
        for name in (CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise NotAModelFolderError(
                    f"{folder} is not a saved topic model: {name} is missing"
                ) from err
        raise no_export_error(folder, TOPIC_ONNX_FILE, err.name, "topics") from err

    return TopicModel.from_pretrained(folder)
