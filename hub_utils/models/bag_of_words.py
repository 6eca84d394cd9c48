"""Turn texts into word counts over a topic model's vocabulary, as its training data was.

No torch, so the app's ONNX serving path uses it too: ``word_counts`` (dense, for the few
texts of a request) there, ``bag_of_words`` (sparse, for a whole corpus) in training.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

_SEPARATORS = str.maketrans(
    string.punctuation + string.digits, " " * (len(string.punctuation) + len(string.digits))
)


def normalize(text: str) -> str:
    """Lower-case, strip accents, and turn punctuation and digits into spaces.

    The same steps, in the same order, as the package's ``WhiteSpacePreprocessingStopwords``
    before it splits on white space, so new texts meet the vocabulary as the training data did.
    """
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped).translate(_SEPARATORS)


def word_positions(texts: Sequence[str], vocab: Sequence[str]) -> tuple[list[int], list[int]]:
    """(row, column) of every vocabulary word of ``texts``, once per occurrence; unknown words
    are skipped."""
    index = {word: i for i, word in enumerate(vocab)}
    rows, cols = [], []
    for row, text in enumerate(texts):
        for word in normalize(text).split():
            column = index.get(word)
            if column is not None:
                rows.append(row)
                cols.append(column)
    return rows, cols


def word_counts(texts: Sequence[str], vocab: Sequence[str]) -> np.ndarray:
    """Word counts of ``texts`` over ``vocab`` as a dense float32 array (one row per text)."""
    counts = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    np.add.at(counts, word_positions(texts, vocab), 1)
    return counts


def bag_of_words(texts: Sequence[str], vocab: Sequence[str]) -> sparse.csr_matrix:
    """Word counts of ``texts`` over ``vocab`` as a sparse matrix (one row per text)."""
    # Imported here: serving never needs it, and it adds a fifth of a second to start-up.
    from scipy import sparse

    rows, cols = word_positions(texts, vocab)
    counts = np.ones(len(rows), dtype=np.float32)
    # Duplicate (row, col) pairs are summed, which is what counting means.
    return sparse.csr_matrix((counts, (rows, cols)), shape=(len(texts), len(vocab)))
