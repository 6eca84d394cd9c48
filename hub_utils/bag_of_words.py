"""Turn texts into word counts over a topic model's vocabulary, as its training data was.

Plain numpy and scipy (no torch), so the app's ONNX serving path can use it too.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence

import numpy as np
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


def bag_of_words(texts: Sequence[str], vocab: Sequence[str]) -> sparse.csr_matrix:
    """Word counts of ``texts`` over ``vocab`` (one row per text); unknown words are ignored."""
    index = {word: i for i, word in enumerate(vocab)}
    rows, cols = [], []
    for row, text in enumerate(texts):
        for word in normalize(text).split():
            column = index.get(word)
            if column is not None:
                rows.append(row)
                cols.append(column)
    counts = np.ones(len(rows), dtype=np.float32)
    # Duplicate (row, col) pairs are summed, which is what counting means.
    return sparse.csr_matrix((counts, (rows, cols)), shape=(len(texts), len(vocab)))
