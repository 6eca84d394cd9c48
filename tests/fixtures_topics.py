"""Fixtures for the topic model: a small themed corpus built here and one short training run.

``trained_topic_model`` is session-scoped and shared with the Hub and app tests: the Path of a
folder written by ``python -m train topics`` (5 topics, a few hundred short documents).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

THEMES = {
    "sport": "football match goal team player league coach season score stadium fans striker",
    "finance": "stock market shares investors bank price trading profit economy interest bonds",
    "tech": "software computer phone internet app data users device chip smartphone laptop",
    "health": "doctors hospital patients disease vaccine health cancer treatment virus nurses",
    "food": "recipe cooking chef restaurant dinner kitchen bread cheese wine sauce café",
}
# Stop words, digits and punctuation that preprocessing must strip.
FILLER = ["the", "and", "of", "was", "it", "this", "on", "in", "2024", "12", "-", "!", ","]
N_DOCUMENTS = 300
FIXTURE_ARGS = [
    "--n-topics",
    "5",
    "--epochs",
    "30",
    "--batch-size",
    "16",
    "--lr",
    "0.005",
    "--run-name",
    "fixture-run",
]


@dataclass
class TopicCorpus:
    """The fixture corpus: one document a line, with its theme as the label."""

    texts: list[str]
    labels: list[str]
    corpus_file: Path
    labels_file: Path


def make_corpus(n_documents: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short themed documents with filler, plus a blank line and a stop-words-only line."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n_documents):
        theme = rng.choice(sorted(THEMES))
        words = rng.sample(THEMES[theme].split(), 5) + rng.sample(FILLER, 3)
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
        labels.append(theme)
    # Documents that preprocessing empties: they must be dropped and counted, not crash.
    texts[10], texts[20] = "", "The and of it was, 2024!"
    return texts, labels


@pytest.fixture(scope="session")
def topic_corpus(tmp_path_factory: pytest.TempPathFactory) -> TopicCorpus:
    texts, labels = make_corpus(N_DOCUMENTS)
    folder = tmp_path_factory.mktemp("topic-corpus")
    corpus_file, labels_file = folder / "corpus.txt", folder / "labels.txt"
    corpus_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    labels_file.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return TopicCorpus(texts, labels, corpus_file, labels_file)


@pytest.fixture(scope="session")
def trained_topic_model(
    tmp_path_factory: pytest.TempPathFactory, topic_corpus: TopicCorpus
) -> Path:
    """A topic model folder trained by the CLI on the fixture corpus (about 10 s)."""
    from train.__main__ import main

    output_dir = tmp_path_factory.mktemp("topic-run") / "topics"
    code = main(
        [
            "topics",
            "--dataset",
            str(topic_corpus.corpus_file),
            "--labels-file",
            str(topic_corpus.labels_file),
            "--output-dir",
            str(output_dir),
            *FIXTURE_ARGS,
        ]
    )
    assert code == 0
    return output_dir
