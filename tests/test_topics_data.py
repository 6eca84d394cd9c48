"""Corpus loading, preprocessing into a bag of words, and the embedding cache."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hub_utils.models.bag_of_words import bag_of_words, normalize, word_counts
from hub_utils.models.encoder import DEFAULT_ENCODER
from train.errors import UserError
from train.topics_data import build_bag_of_words, cached_embeddings, load_corpus, load_labels

DOCS = [
    "Café prices in Zürich rose 12% in 2024!",
    "",
    "   ",
    "The and of it was, to be or not to be.",  # only stop words
    "Naïve investors bought Zürich café shares",
    "東京 market shares rose",  # non-ASCII words are words too
    "prices, prices and more prices",
]


def test_empty_and_stop_word_only_documents_are_dropped_and_counted() -> None:
    bow = build_bag_of_words(DOCS, vocab_size=100)
    assert bow.kept == [0, 4, 5, 6]
    assert bow.dropped == 3
    assert bow.counts.shape == (4, len(bow.vocab))


def test_preprocessing_folds_accents_and_strips_stop_words_numbers_and_punctuation() -> None:
    bow = build_bag_of_words(DOCS, vocab_size=100)
    assert {"cafe", "zurich", "naive", "東京", "prices"} <= set(bow.vocab)
    assert not {"the", "and", "12", "2024", "in"} & set(bow.vocab)
    assert bow.vocab == sorted(bow.vocab)


def test_counts_match_the_packages_preprocessed_documents() -> None:
    """The counts come from the function predict uses; they must equal the package's output."""
    bow = build_bag_of_words(DOCS, vocab_size=100)
    for row, tokens in enumerate(bow.tokens):
        counted = {
            bow.vocab[col]: int(n)
            for col, n in zip(bow.counts[row].indices, bow.counts[row].data, strict=True)
        }
        assert counted == Counter(tokens)
    assert bow.counts[bow.kept.index(6)].sum() == 3  # "prices" three times


def test_vocab_size_keeps_the_most_frequent_words() -> None:
    bow = build_bag_of_words(DOCS, vocab_size=1)
    assert bow.vocab == ["prices"]  # 4 times; no other word is in more than 2 documents
    assert bow.kept == [0, 6]  # documents without it are dropped


def test_new_text_goes_through_the_training_tokenisation() -> None:
    assert normalize("CAFÉ-Zürich, 2024!").split() == ["cafe", "zurich"]
    counts = bag_of_words(["Café café unknownword", ""], ["cafe", "zurich"]).toarray()
    np.testing.assert_array_equal(counts, [[2, 0], [0, 0]])
    # The dense counts that serving uses are the same.
    np.testing.assert_array_equal(
        word_counts(["Café café unknownword", ""], ["cafe", "zurich"]), counts
    )


def test_a_corpus_of_stop_words_only_is_a_user_error() -> None:
    with pytest.raises(UserError, match="no vocabulary"):
        build_bag_of_words(["the and of", "it was to be"], vocab_size=100)
    with pytest.raises(UserError, match="no text"):
        build_bag_of_words(["", "  "], vocab_size=100)


def test_text_files_keep_blank_lines_so_twins_and_labels_stay_aligned(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("first doc\n\nthird doc\n", encoding="utf-8")
    assert load_corpus(str(corpus)) == ["first doc", "", "third doc"]
    labels = tmp_path / "labels.txt"
    labels.write_text("1\n2\n3\n", encoding="utf-8")
    assert load_labels(str(labels), 3) == ["1", "2", "3"]
    with pytest.raises(UserError, match="3 labels for 4 documents"):
        load_labels(str(labels), 4)


def test_tables_need_a_text_column(tmp_path: Path) -> None:
    table = tmp_path / "docs.csv"
    pd.DataFrame({"notes": ["a doc", None], "id": [1, 2]}).to_csv(table, index=False)
    assert load_corpus(str(table), "notes") == ["a doc", ""]
    with pytest.raises(UserError, match="cannot tell which column"):
        load_corpus(str(table))
    with pytest.raises(UserError, match="no text column 'text'"):
        load_corpus(str(table), "text")


def test_unreadable_corpora_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        load_corpus(str(tmp_path / "missing.txt"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UserError, match="not valid UTF-8"):
        load_corpus(str(binary))


def test_embeddings_are_cached_by_encoder_and_corpus(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    texts = ["stocks fall", "team wins the cup"]
    first = cached_embeddings(texts, DEFAULT_ENCODER, tmp_path)
    assert first.shape == (2, 384) and first.dtype == np.float32
    assert len(list(tmp_path.glob("*.npy"))) == 1
    capsys.readouterr()
    again = cached_embeddings(texts, DEFAULT_ENCODER, tmp_path)
    assert "read from the cache" in capsys.readouterr().out
    np.testing.assert_array_equal(first, again)
    cached_embeddings([*texts, "a third text"], DEFAULT_ENCODER, tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 2  # another corpus, another entry


def test_an_encoder_that_cannot_be_loaded_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot load the sentence encoder"):
        cached_embeddings(["a text"], str(tmp_path / "no-such-encoder"), tmp_path)
