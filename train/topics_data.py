"""Corpus, labels, bag of words, cached sentence embeddings and the training ``Documents`` for
``python -m train topics``."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list, gather_object
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from torch.utils.data import Dataset

from hub_utils.models.bag_of_words import bag_of_words
from hub_utils.models.texts import TEXT_COLUMNS
from hub_utils.models.topic_model import embed, load_encoder
from train.errors import UserError
from train.tables import load_table, pick_column

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

TEXT_SUFFIXES = (".txt", ".text")


def load_corpus(source: str, text_column: str | None = None) -> list[str]:
    """Documents from a text file (one a line), a table file or a Hub dataset id.

    Rows are kept as they are, blank ones included, so that line ``i`` of a ``--bow-dataset``
    twin or a ``--labels-file`` still belongs to document ``i``.
    """
    path = Path(source).expanduser()
    if path.suffix.lower() in TEXT_SUFFIXES:
        if text_column is not None:
            raise UserError(f"{source}: --text-column applies to tables, not to a text file")
        return _read_lines(path)
    table = load_table(source)
    column = pick_column(table, text_column, TEXT_COLUMNS, "text", source)
    return ["" if value is None or value != value else str(value) for value in table[column]]


def load_labels(path: str, n_documents: int) -> list[str]:
    """One label a line, aligned with the corpus (used to score topics with NMI and purity)."""
    labels = [line.strip() for line in _read_lines(Path(path).expanduser())]
    if len(labels) != n_documents:
        raise UserError(
            f"{path}: {len(labels)} labels for {n_documents} documents; the labels "
            "file needs one line per document"
        )
    blank = [i + 1 for i, label in enumerate(labels) if not label]
    if blank:
        raise UserError(f"{path}: line {blank[0]} has no label")
    return labels


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not valid UTF-8 text ({err.reason} at byte {err.start})") from err
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise UserError(f"{path}: the file has no text")
    return lines


@dataclass
class BagOfWords:
    """The vocabulary (column order) and counts of the documents that kept at least one word."""

    vocab: list[str]
    counts: sparse.csr_matrix
    kept: list[int]  # corpus index of each row
    tokens: list[list[str]]  # each kept document's vocabulary words, for coherence
    n_documents: int  # documents before dropping the empty ones

    @property
    def dropped(self) -> int:
        return self.n_documents - len(self.kept)


def build_bag_of_words(texts: list[str], vocab_size: int, max_df: float = 1.0) -> BagOfWords:
    """Vocabulary of the ``vocab_size`` most frequent words, stop words removed.

    The package's ``WhiteSpacePreprocessingStopwords`` picks the vocabulary and drops documents
    left empty, with scikit-learn's English stop words (NLTK's list would need a download). The
    counts come from ``hub_utils.models.bag_of_words.bag_of_words``, the function ``predict``
    uses, so training and new texts go through the same tokenisation.
    """
    from contextualized_topic_models.utils.preprocessing import WhiteSpacePreprocessingStopwords

    if not any(text.strip() for text in texts):
        raise UserError("the corpus has no text")
    preprocessing = WhiteSpacePreprocessingStopwords(
        texts,
        stopwords_list=sorted(ENGLISH_STOP_WORDS),
        vocabulary_size=vocab_size,
        max_df=max_df,
    )
    try:
        docs, _, vocab, kept = preprocessing.preprocess()
    except ValueError as err:  # scikit-learn: "empty vocabulary; perhaps ... only stop words"
        raise UserError(f"no vocabulary left after preprocessing: {err}") from err
    if not kept:
        raise UserError(
            "every document is empty after removing stop words, numbers and punctuation"
        )
    vocab = sorted(vocab)
    return BagOfWords(
        vocab=vocab,
        counts=bag_of_words([texts[i] for i in kept], vocab),
        kept=list(kept),
        tokens=[doc.split() for doc in docs],
        n_documents=len(texts),
    )


def corpus_hash(texts: list[str]) -> str:
    """A digest of the documents and their order."""
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode("utf-8")).hexdigest()


def cached_embeddings(
    texts: list[str],
    encoder: str,
    cache_dir: Path,
    batch_size: int = 64,
    accelerator: Accelerator | None = None,
) -> np.ndarray:
    """Sentence embeddings of ``texts``, read from ``cache_dir`` when this encoder already
    encoded this exact corpus (re-runs with other topic settings skip the slow encoding).

    With an ``accelerator`` of several processes (call it on all of them), the main process
    decides whether the cache holds the corpus: if so it reads it and sends it to the others;
    if not, each process encodes its contiguous share of the corpus, the shares are gathered in
    order, and the main process writes the cache.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder).strip("_")[-60:]
    path = cache_dir / f"{slug}-{corpus_hash(texts)[:20]}.npy"
    if accelerator is not None and accelerator.num_processes > 1:
        return _shared_embeddings(texts, encoder, path, batch_size, accelerator)
    cached = _read_cache(path, len(texts))
    if cached is not None:
        print(f"embeddings read from the cache {path}")
        return cached
    model = _encoder(encoder)
    print(f"encoding {len(texts)} documents with {encoder}")
    vectors = embed(model, texts, batch_size=batch_size, show_progress_bar=True)
    _write_cache(path, vectors)
    return vectors


def _shared_embeddings(
    texts: list[str], encoder: str, path: Path, batch_size: int, accelerator: Accelerator
) -> np.ndarray:
    """``cached_embeddings`` on several processes. The main process alone touches the cache,
    so the others need not share its storage, and no process reads a half-written file."""
    main = accelerator.is_main_process
    found = [_read_cache(path, len(texts)) if main else None]
    broadcast_object_list(found)  # the main process's verdict (and array) for everyone
    if found[0] is not None:
        accelerator.print(f"embeddings read from the cache {path}")
        return found[0]
    model = _encoder(encoder).to(accelerator.device)
    accelerator.print(
        f"encoding {len(texts)} documents with {encoder} on {accelerator.num_processes} processes"
    )
    with accelerator.split_between_processes(texts) as share:
        part = embed(model, share, batch_size=batch_size, show_progress_bar=main)
    # One array per process, in process order: the shares are contiguous, so this is the corpus
    # order.
    parts = gather_object([part])
    vectors = np.concatenate(parts, axis=0)
    if main:
        _write_cache(path, vectors)
    return vectors


def _encoder(name: str) -> SentenceTransformer:
    try:
        return load_encoder(name)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot load the sentence encoder {name!r}: {err}") from err


def _read_cache(path: Path, n_texts: int) -> np.ndarray | None:
    if path.is_file():
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == n_texts:
            return vectors
    return None


def _write_cache(path: Path, vectors: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}.npy")
    np.save(tmp, vectors, allow_pickle=False)
    os.replace(tmp, path)  # a crash mid-write never leaves a truncated cache entry


class Documents(Dataset):
    """Bag-of-words rows and sentence embeddings; a batch is sliced in one go (sparse rows are
    slow to densify one at a time)."""

    def __init__(self, counts: sparse.csr_matrix, embeddings: np.ndarray) -> None:
        self.counts = sparse.csr_matrix(counts, dtype=np.float32)
        self.embeddings = np.asarray(embeddings, dtype=np.float32)

    def __len__(self) -> int:
        return self.counts.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        bows = torch.from_numpy(self.counts[indices].toarray())
        embeddings = torch.from_numpy(self.embeddings[indices])
        return list(zip(bows, embeddings, strict=True))
