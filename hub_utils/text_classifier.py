"""Serve a classifier written by ``python -m train classify``: probabilities, truncation notes and
word attributions.

Works for any label set (spam/ham, sentiment, intents): the labels come from ``config.json``.
Runs the int8 ONNX export (``onnx/model_quantized.onnx``) with ONNX Runtime when the folder has
it, about twice as fast on CPU, else the PyTorch weights.

    >>> classifier = TextClassifier.from_folder("models/spam")
    >>> classifier.predict(["WINNER! Claim your free prize now"])[0].probabilities
    {'ham': 0.02, 'spam': 0.98}
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

# Texts are cut to this many characters before tokenizing: far more than any model here reads
# (128 tokens is under 1,000 characters), and it bounds the work a huge paste can cause.
MAX_CHARS = 20_000
BATCH_SIZE = 64
ONNX_FILE = "onnx/model_quantized.onnx"
ONNX_BACKEND = "ONNX Runtime, int8 weights"
ONNX_RESULTS = "test_onnx_int8"  # eval_results.json key: the ONNX export's own test metrics
_WORD = re.compile(r"\S+")
# Unicode's control characters (category Cc) except tab, line feed and carriage return.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


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


def clean_text(text: str) -> tuple[str, list[str]]:
    """Cut huge texts and replace control characters by spaces; return the text and notes on
    what changed. Tabs and line breaks are kept; emoji, accents and any script pass unchanged.
    """
    notes = []
    if len(text) > MAX_CHARS:
        notes.append(f"text cut from {len(text):,} to {MAX_CHARS:,} characters")
        text = text[:MAX_CHARS]
    text, controls = _CONTROLS.subn(" ", text)
    if controls:
        notes.append(f"{controls} control character{'s' * (controls > 1)} replaced by spaces")
    return text, notes


class TextClassifier:
    """A classifier's forward pass (PyTorch or ONNX Runtime) and its tokenizer, ready for
    batched CPU inference."""

    def __init__(
        self,
        logits: Callable[[dict[str, np.ndarray]], np.ndarray],
        tokenizer,
        labels: list[str],
        max_length: int,
        backend: str,
    ) -> None:
        self.logits = logits  # tokenized inputs (int64 arrays) -> logits (batch x labels)
        self.tokenizer = tokenizer
        self.labels = labels
        self.max_length = max_length
        self.backend = backend  # said in the app's About tab

    @classmethod
    def from_folder(cls, folder: str | Path, prefer_onnx: bool = True) -> TextClassifier:
        """Load a ``train classify`` output folder (or any transformers classifier folder).

        Uses ``onnx/model_quantized.onnx`` when present and ``prefer_onnx``. The maximum
        length is the one the model was trained with (``training_config.json``), else the
        smaller of the tokenizer's and the position embeddings' limits.
        """
        folder = Path(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if not tokenizer.is_fast:
            raise ValueError(
                f"{folder} has no fast tokenizer (tokenizer.json): re-save it with "
                "a recent transformers"
            )
        config = AutoConfig.from_pretrained(folder)
        labels = [str(config.id2label[i]) for i in range(len(config.id2label))]
        limits = [
            tokenizer.model_max_length,
            getattr(config, "max_position_embeddings", tokenizer.model_max_length),
        ]
        training_config = folder / "training_config.json"
        if training_config.is_file():
            trained = json.loads(training_config.read_text(encoding="utf-8"))
            limits.append(trained.get("args", {}).get("max_length") or limits[0])
        max_length = int(min(limits))
        if prefer_onnx and (folder / ONNX_FILE).is_file():
            session = onnxruntime.InferenceSession(
                str(folder / ONNX_FILE), providers=["CPUExecutionProvider"]
            )
            return cls(
                lambda inputs: session.run(["logits"], inputs)[0],
                tokenizer,
                labels,
                max_length,
                ONNX_BACKEND,
            )
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()

        def logits(inputs: dict[str, np.ndarray]) -> np.ndarray:
            with torch.inference_mode():
                tensors = {name: torch.from_numpy(array) for name, array in inputs.items()}
                return model(**tensors).logits.float().numpy()

        return cls(logits, tokenizer, labels, max_length, "PyTorch, float32")

    def predict(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> list[Prediction]:
        """Probabilities of every label for each text (cleaned with ``clean_text`` first).

        Texts are batched by length so that short ones are not padded to long ones. An empty
        text gets probabilities too (from the special tokens alone): callers decide about it.
        """
        cleaned = [clean_text(text) for text in texts]
        order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i][0]))
        results: list[Prediction | None] = [None] * len(cleaned)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = [cleaned[i][0] for i in rows]
            for i, prediction in zip(rows, self._forward(batch), strict=True):
                prediction.notes = cleaned[i][1]
                results[i] = prediction
        return results  # type: ignore[return-value]

    def explain(self, text: str) -> list[tuple[str, float | None]]:
        """Occlusion attribution: how much each word raises the predicted label's probability.

        Each word the model reads is removed in turn; its score is the predicted label's
        probability with the whole text minus that probability without the word (positive:
        the word pushed towards the decision). Returns ``(segment, score)`` pairs that
        concatenate back to the cleaned text; spaces and words beyond the model's maximum
        length get ``None``.
        """
        text = clean_text(text)[0]
        full = self.predict([text])[0]
        label = full.label
        spans = [
            m.span()
            for m in _WORD.finditer(text)
            if not full.truncated or m.start() < full.chars_read
        ]
        variants = [text[:start] + text[end:] for start, end in spans]
        without = self.predict(variants)
        scores = [full.probabilities[label] - p.probabilities[label] for p in without]
        segments: list[tuple[str, float | None]] = []
        position = 0
        for (start, end), score in zip(spans, scores, strict=True):
            if start > position:
                segments.append((text[position:start], None))
            segments.append((text[start:end], round(score, 4)))
            position = end
        if position < len(text):
            segments.append((text[position:], None))
        return segments

    def _forward(self, texts: list[str]) -> list[Prediction]:
        # Overflow rows tell which texts were cut; only each text's first row is classified.
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        samples = encoded["overflow_to_sample_mapping"]
        rows_per_text = Counter(samples)
        first = [samples.index(i) for i in range(len(texts))]
        names = [name for name in self.tokenizer.model_input_names if name in encoded]
        inputs = self.tokenizer.pad(
            {name: [encoded[name][row] for row in first] for name in names}, return_tensors="np"
        )
        logits = self.logits({name: array.astype(np.int64) for name, array in inputs.items()})
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = (exp / exp.sum(axis=-1, keepdims=True)).tolist()
        return [
            Prediction(
                dict(zip(self.labels, probs, strict=True)),
                truncated=rows_per_text[i] > 1,
                chars_read=max(end for _, end in encoded["offset_mapping"][row]),
            )
            for i, (probs, row) in enumerate(zip(probabilities, first, strict=True))
        ]
