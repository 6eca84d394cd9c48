"""Serve a classifier written by ``python -m train classify``: probabilities, truncation notes and
word attributions.

Works for any label set (spam/ham, sentiment, intents): the labels come from ``config.json``.
Runs the int8 ONNX export (``onnx/model_quantized.onnx``) with ONNX Runtime when the folder has
it, about twice as fast on CPU, else the PyTorch weights. The export quantizes activations with
one scale per run, so a text batched with others got an answer that depended on them (1.25 % of
SMS labels changed between chunks of 128 and 4,096): each text runs alone, unpadded, on one
thread per core, which is as fast as padded batches here. Texts are tokenized with the
``tokenizers`` library from ``tokenizer.json``, so serving the ONNX file imports neither torch
nor transformers (they take most of an app's start-up time).

    >>> classifier = TextClassifier.from_folder("models/spam")
    >>> classifier.predict(["WINNER! Claim your free prize now"])[0].probabilities
    {'ham': 0.02, 'spam': 0.98}
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from hub_utils.errors import NotAModelFolderError, no_export_error
from hub_utils.models.files import (
    CLASSIFIER_ONNX_FILE,
    CLASSIFIER_TOKENIZER_FILE,
    CONFIG_FILE,
    TRAINING_CONFIG_FILE,
)
from hub_utils.models.json_files import read_json
from hub_utils.models.protocols import Prediction, ServedClassifier
from hub_utils.models.texts import clean_text
from hub_utils.models.token_inputs import TOKEN_INPUTS, token_arrays

BATCH_SIZE = 64
ONNX_BACKEND = "ONNX Runtime, int8 weights"
# Tokenized inputs (int64 arrays by name) -> logits (batch x labels).
Logits = Callable[[dict[str, np.ndarray]], np.ndarray]
_WORD = re.compile(r"\S+")


def load_classifier(
    folder: str | Path, prefer_onnx: bool = True, threads: int | None = None
) -> ServedClassifier:
    """The classifier saved in ``folder``: its int8 ONNX export when there (and ``prefer_onnx``),
    else its PyTorch weights (torch and transformers are imported only then). ``threads``: how
    many texts ONNX Runtime runs at once, one thread each (default: one per core)."""
    return TextClassifier.from_folder(folder, prefer_onnx=prefer_onnx, threads=threads)


class TextClassifier:
    """A classifier's forward pass (PyTorch or ONNX Runtime) and its tokenizer, ready for
    batched CPU inference."""

    def __init__(
        self,
        logits: Logits,
        tokenizer: Tokenizer,
        input_names: list[str],
        labels: list[str],
        backend: str,
    ) -> None:
        self.logits = logits
        self.tokenizer = tokenizer  # truncates to the model's maximum length, pads to the longest
        self.input_names = input_names  # what ``logits`` takes, e.g. input_ids, attention_mask
        self.labels = labels
        self.backend = backend  # said in the app's About tab

    @property
    def max_length(self) -> int:
        return int((self.tokenizer.truncation or {})["max_length"])  # set in from_folder

    @classmethod
    def from_folder(
        cls, folder: str | Path, prefer_onnx: bool = True, threads: int | None = None
    ) -> TextClassifier:
        """Load a ``train classify`` output folder (or any transformers classifier folder with
        a ``tokenizer.json``).

        Uses ``onnx/model_quantized.onnx`` when present and ``prefer_onnx``. The maximum
        length is the one the model was trained with (``training_config.json``), else the
        smaller of the tokenizer's and the position embeddings' limits.
        """
        folder = Path(folder)
        for name in (CONFIG_FILE, CLASSIFIER_TOKENIZER_FILE):
            if not (folder / name).is_file():
                raise NotAModelFolderError(
                    f"{folder} is not a saved classifier: {name} is missing (a folder written "
                    "by `python -m train classify`, or a transformers classifier re-saved with "
                    "a fast tokenizer)"
                )
        config = read_json(folder / CONFIG_FILE)
        id2label = config.get("id2label") or {}
        labels = [str(id2label[str(i)]) for i in range(len(id2label))]
        if len(labels) < 2:
            raise NotAModelFolderError(
                f"{folder}/{CONFIG_FILE} names no labels (id2label): not a classifier"
            )
        tokenizer_file = folder / "tokenizer_config.json"
        tokenizer_config = read_json(tokenizer_file) if tokenizer_file.is_file() else {}
        limits = [tokenizer_config.get("model_max_length"), config.get("max_position_embeddings")]
        if (folder / TRAINING_CONFIG_FILE).is_file():
            trained = read_json(folder / TRAINING_CONFIG_FILE).get("args", {})
            limits.append(trained.get("max_length"))
        max_length = int(min(limit for limit in limits if limit) if any(limits) else 512)
        tokenizer = _batch_tokenizer(folder, tokenizer_config, max_length)
        if prefer_onnx and (folder / CLASSIFIER_ONNX_FILE).is_file():
            session = onnxruntime.InferenceSession(
                str(folder / CLASSIFIER_ONNX_FILE),
                session_options(1),
                providers=["CPUExecutionProvider"],
            )
            return cls(
                _one_text_per_run(session, threads or len(os.sched_getaffinity(0))),
                tokenizer,
                [node.name for node in session.get_inputs()],
                labels,
                ONNX_BACKEND,
            )
        logits, input_names = _pytorch_logits(folder)
        return cls(logits, tokenizer, input_names, labels, "PyTorch, float32")

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
        encodings = self.tokenizer.encode_batch(texts)
        logits = self.logits(token_arrays(encodings, self.input_names))
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities = (exp / exp.sum(axis=-1, keepdims=True)).tolist()
        return [
            Prediction(
                dict(zip(self.labels, probs, strict=True)),
                truncated=bool(encoding.overflowing),  # the tokens cut off, if any
                chars_read=max((end for _, end in encoding.offsets), default=0),
            )
            for probs, encoding in zip(probabilities, encodings, strict=True)
        ]


def _one_text_per_run(session: onnxruntime.InferenceSession, threads: int) -> Logits:
    """Logits of a padded batch, each row run alone without its padding, ``threads`` rows at
    a time (ONNX Runtime runs one session from several threads), so that no text's answer
    depends on the others in its batch."""
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="onnx-classifier")

    def run_row(row: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(["logits"], row)[0]

    def logits(inputs: dict[str, np.ndarray]) -> np.ndarray:
        kept = inputs["attention_mask"].astype(bool)  # the export always takes the mask
        rows = [{name: array[i : i + 1, kept[i]] for name, array in inputs.items()}
                for i in range(len(kept))]  # fmt: skip
        return np.concatenate(list(pool.map(run_row, rows)))

    return logits


def session_options(threads: int | None) -> onnxruntime.SessionOptions:
    """ONNX Runtime's defaults, with at most ``threads`` threads for one operator when given:
    processes sharing the cores (``--shard``) would otherwise each start one per core."""
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return options


def _batch_tokenizer(folder: Path, tokenizer_config: dict, max_length: int) -> Tokenizer:
    """The folder's ``tokenizer.json``, set to truncate at ``max_length`` and to pad a batch
    to its longest text, as the transformers tokenizer did in training."""
    tokenizer = Tokenizer.from_file(str(folder / CLASSIFIER_TOKENIZER_FILE))
    tokenizer.enable_truncation(max_length)
    pad_token = tokenizer_config.get("pad_token")
    if isinstance(pad_token, dict):  # older transformers saved special tokens as objects
        pad_token = pad_token.get("content")
    pad_id = tokenizer.token_to_id(pad_token) if pad_token else None
    if pad_id is None:
        raise ValueError(f"{folder}: the tokenizer has no padding token, so texts cannot batch")
    tokenizer.enable_padding(
        direction="left" if tokenizer_config.get("padding_side") == "left" else "right",
        pad_id=pad_id,
        pad_type_id=int(tokenizer_config.get("pad_token_type_id") or 0),
        pad_token=pad_token,
    )
    return tokenizer


def _pytorch_logits(folder: Path) -> tuple[Logits, list[str]]:
    """The folder's PyTorch weights as a logits function, and the inputs its model takes.
    Imported here: serving the ONNX export needs neither torch nor transformers, and the
    serving set (a Space) has neither, so their absence is a message, not a traceback."""
    try:
        import torch
        from transformers import AutoModelForSequenceClassification
    except ImportError as err:
        raise no_export_error(folder, CLASSIFIER_ONNX_FILE, err.name, "classify") from err

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    accepted = inspect.signature(model.forward).parameters
    input_names = [name for name in TOKEN_INPUTS if name in accepted]

    def logits(inputs: dict[str, np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            tensors = {name: torch.from_numpy(array) for name, array in inputs.items()}
            return model(**tensors).logits.float().numpy()

    return logits, input_names
