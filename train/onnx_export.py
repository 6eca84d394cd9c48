"""Export a fine-tuned classifier to ONNX with int8 weights, for fast CPU serving.

On two CPU cores ONNX Runtime with dynamically quantized (int8) matrix products classifies
about twice as many messages a second as PyTorch in float32 (bench/results/spam.md). The
app serves this file when it is there; ``pipeline()`` and ``from_pretrained`` keep using
``model.safetensors``.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from hub_utils.text_classifier import ONNX_FILE


class _Logits(torch.nn.Module):
    """The classifier with positional inputs (the tokenizer's order) and logits as output."""

    def __init__(self, model: PreTrainedModel, input_names: list[str]) -> None:
        super().__init__()
        self.model, self.input_names = model, input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs, strict=True))).logits


def export_int8_onnx(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                     folder: Path) -> Path:
    """Write ``folder/onnx/model_quantized.onnx``: the model in ONNX, weights quantized to int8.

    Batch size and sequence length stay dynamic; the outputs are the logits.
    """
    # Texts of two lengths, so the sample is padded: traced without padding, the graph would
    # drop the attention mask that every padded batch needs.
    sample = tokenizer(["an example message", "a second, somewhat longer example message"],
                       padding=True, return_tensors="pt")
    input_names = [name for name in tokenizer.model_input_names if name in sample]
    target = folder / ONNX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").float().eval()
    with tempfile.TemporaryDirectory() as tmp:
        float_file = Path(tmp) / "model.onnx"
        # The TorchScript exporter: about a second for a 6-layer BERT, and without the
        # onnxscript dependency of the dynamo exporter.
        with torch.no_grad(), warnings.catch_warnings():
            # Tracing notes that shape checks become constants; with a fixed mask and no
            # cache they are, and the test suite compares the export with PyTorch.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index")
            torch.onnx.export(
                _Logits(model, input_names), tuple(sample[name] for name in input_names),
                str(float_file), input_names=input_names, output_names=["logits"],
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in input_names}
                | {"logits": {0: "batch"}},
                opset_version=17, dynamo=False)
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
