"""The token arrays a BERT-family model takes, built from ``tokenizers`` encodings.

Shared by the classifier and the topic model's ONNX graph, which both read a padded batch of
``tokenizers`` encodings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from tokenizers import Encoding

# Each model input, and the Encoding attribute that holds it.
TOKEN_INPUTS = {
    "input_ids": "ids",
    "attention_mask": "attention_mask",
    "token_type_ids": "type_ids",
}


def token_arrays(encodings: Sequence[Encoding], names: Iterable[str]) -> dict[str, np.ndarray]:
    """An int64 array (batch x tokens) for each of ``names`` that is a token input; other
    names (a topic model's bag of words) are left to the caller."""
    return {
        name: np.asarray([getattr(e, TOKEN_INPUTS[name]) for e in encodings], dtype=np.int64)
        for name in names
        if name in TOKEN_INPUTS
    }
