"""A topic model's topic-word matrix (``beta``) turned into words and weights. No torch, so the
PyTorch model and the ONNX server name topics by the same words."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_words(beta: np.ndarray, vocab: Sequence[str], k: int) -> list[list[str]]:
    """The ``k`` most weighted words of each row of the topic-word matrix, most weighted first."""
    if not 1 <= k <= len(vocab):
        raise ValueError(f"k must be between 1 and the vocabulary size {len(vocab)}")
    # Partition, then sort only the k found: a full sort of every row took milliseconds a call.
    top = np.argpartition(-beta, k - 1, axis=1)[:, :k]
    weights = np.take_along_axis(beta, top, axis=1)
    order = np.take_along_axis(top, np.lexsort((top, -weights), axis=1), axis=1)
    return [[vocab[i] for i in row] for row in order.tolist()]


def word_logits(beta: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray) -> np.ndarray:
    """Each topic's word logits as ProdLDA's decoder computes them for a text of that topic
    alone: ``beta``'s row through the decoder's batch norm (its running statistics, no affine
    part, epsilon 1e-5 as in ``torch.nn.BatchNorm1d``), before the softmax over the vocabulary.

    The softmax of ``beta`` itself is nearly flat (every word about 1/vocabulary): the batch
    norm, not ``beta``, sets how much a word stands out, so these are what to show or compare.
    """
    return (beta - running_mean) / np.sqrt(running_var + 1e-5)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax: logits to probability distributions."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
