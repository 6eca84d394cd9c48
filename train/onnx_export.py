"""Export the trained models to ONNX, for fast CPU serving without torch.

The classifier: int8 weights. On two CPU cores ONNX Runtime with dynamically quantized
matrix products classifies about twice as many messages a second as PyTorch in float32
(bench/results/spam.md). The topic model: the sentence encoder and the topic network in one
float32 graph, so that the topics of a text match the PyTorch model's. The app serves these
files when they are there (with ``onnxruntime`` and ``tokenizers`` only, which start in a
fraction of torch's import time); ``pipeline()`` and ``from_pretrained`` keep using
``model.safetensors``.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from hub_utils.models.files import (
    CLASSIFIER_ONNX_FILE,
    TOPIC_ONNX_FILE,
    TOPIC_ONNX_TOKENIZER_FILE,
)
from hub_utils.models.topic_model import TopicModel


class _Logits(torch.nn.Module):
    """The classifier with positional inputs (the tokenizer's order) and logits as output."""

    def __init__(self, model: PreTrainedModel, input_names: list[str]) -> None:
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs, strict=True))).logits


def export_int8_onnx(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path
) -> Path:
    """Write ``folder/onnx/model_quantized.onnx``: the model in ONNX, weights quantized to int8.

    Batch size and sequence length stay dynamic; the outputs are the logits.
    """
    # Texts of two lengths, so the sample is padded: traced without padding, the graph would
    # drop the attention mask that every padded batch needs.
    sample = tokenizer(
        ["an example message", "a second, somewhat longer example message"],
        padding=True,
        return_tensors="pt",
    )
    input_names = [name for name in tokenizer.model_input_names if name in sample]
    target = folder / CLASSIFIER_ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().float().eval()
    with tempfile.TemporaryDirectory() as tmp:
        float_file = Path(tmp) / "model.onnx"
        _export(
            _Logits(model, input_names),
            {name: sample[name] for name in input_names},
            "logits",
            float_file,
        )
        # Per-channel scales keep the logits closer to float32 at the same speed. The
        # quantizer's advice to pre-process the graph is silenced: it gained nothing here.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(float_file, target, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
    return target


class _TopicDistribution(torch.nn.Module):
    """Bag of words and token ids in, topic distribution out: encoder and network in one."""

    def __init__(self, model: TopicModel, input_names: list[str]) -> None:
        super().__init__()
        self.encoder, self.model, self.input_names = model.sentence_encoder, model, input_names

    def forward(self, bow: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
        features = dict(zip(self.input_names, inputs, strict=True))
        return self.model(bow, self.encoder(features)["sentence_embedding"])


def export_topic_onnx(model: TopicModel, folder: Path) -> Path:
    """Write ``folder/onnx/topic_model.onnx`` (float32) and the encoder's tokenizer beside it,
    set to truncate and pad as sentence-transformers does. ZeroShotTM ignores the bag of words,
    so its graph has token inputs only."""
    encoder = model.sentence_encoder.to("cpu").eval()
    model = model.to("cpu").eval()
    # Two lengths, so the sample is padded (see export_int8_onnx).
    texts = ["an example document", "a second, somewhat longer example document"]
    sample = encoder.tokenizer(
        texts, padding=True, truncation=True, max_length=encoder.max_seq_length, return_tensors="pt"
    )
    input_names = [name for name in encoder.tokenizer.model_input_names if name in sample]
    target = folder / TOPIC_ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    bow = torch.zeros(len(texts), len(model.vocab))
    _export(
        _TopicDistribution(model, input_names),
        {"bow": bow} | {name: sample[name] for name in input_names},
        "topic_distribution",
        target,
    )
    # A copy: the encoder's own tokenizer keeps its settings.
    tokenizer = Tokenizer.from_str(encoder.tokenizer.backend_tokenizer.to_str())
    tokenizer.enable_truncation(model.encoder_max_tokens)
    tokenizer.enable_padding(
        pad_id=encoder.tokenizer.pad_token_id, pad_token=encoder.tokenizer.pad_token
    )
    tokenizer.save(str(folder / TOPIC_ONNX_TOKENIZER_FILE))
    return target


def _export(
    module: torch.nn.Module, inputs: dict[str, torch.Tensor], output: str, target: Path
) -> None:
    """``module`` to ONNX at ``target``, batch size (and sequence length) left dynamic."""
    axes = {name: {0: "batch", 1: "sequence"} if name != "bow" else {0: "batch"} for name in inputs}
    # The TorchScript exporter: about a second for a 6-layer BERT, and without the
    # onnxscript dependency of the dynamo exporter.
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing notes that shape checks become constants; with a fixed mask and no
        # cache they are, and the test suite compares the exports with PyTorch.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index")
        torch.onnx.export(
            module.eval(),
            tuple(inputs.values()),
            str(target),
            input_names=list(inputs),
            output_names=[output],
            dynamic_axes=axes | {output: {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
