"""Topic model quality: NPMI coherence, topic diversity, inverted RBO, NMI and purity.

Topics are lists of words, most weighted first. The definitions follow the CTM papers (and the
``contextualized-topic-models`` evaluation module) so the numbers compare with theirs.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np
from contextualized_topic_models.evaluation.rbo import rbo
from gensim.corpora.dictionary import Dictionary
from gensim.models.coherencemodel import CoherenceModel
from sklearn.metrics import normalized_mutual_info_score


def _check_topics(topics: Sequence[Sequence[str]], top_n: int) -> None:
    if not topics:
        raise ValueError("no topics given")
    short = min(len(topic) for topic in topics)
    if short < top_n:
        raise ValueError(f"a topic has {short} words, fewer than the {top_n} the measure needs")


def npmi(topics: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], top_n: int = 10) -> float:
    """Mean NPMI coherence of the ``top_n`` words of each topic over tokenised ``texts``.

    Gensim's ``c_npmi`` (sliding window of 10 words), as the package's ``CoherenceNPMI`` uses;
    in [-1, 1], higher means the top words co-occur more than chance.
    """
    _check_topics(topics, top_n)
    dictionary = Dictionary(texts)
    model = CoherenceModel(
        topics=[list(topic[:top_n]) for topic in topics],
        texts=[list(t) for t in texts],
        dictionary=dictionary,
        coherence="c_npmi",
        topn=top_n,
        processes=1,
    )
    return float(model.get_coherence())


def topic_diversity(topics: Sequence[Sequence[str]], top_n: int = 25) -> float:
    """Share of distinct words among the ``top_n`` words of all topics: 1 means no overlap."""
    _check_topics(topics, top_n)
    distinct = {word for topic in topics for word in topic[:top_n]}
    return len(distinct) / (top_n * len(topics))


def inverted_rbo(topics: Sequence[Sequence[str]], top_n: int = 10, p: float = 0.9) -> float:
    """1 minus the mean rank-biased overlap of every pair of topics: 1 means all differ.

    RBO weighs agreement near the top of the two lists more (by ``p`` per rank).
    """
    _check_topics(topics, top_n)
    if len(topics) < 2:
        return 1.0
    overlaps = [
        rbo.rbo(list(a[:top_n]), list(b[:top_n]), p=p).ext
        for a, b in itertools.combinations(topics, 2)
    ]
    return float(1.0 - np.mean(overlaps))


def nmi(labels: Sequence, assignments: Sequence[int]) -> float:
    """Normalised mutual information between known labels and assigned topics, in [0, 1]."""
    _check_aligned(labels, assignments)
    return float(normalized_mutual_info_score(labels, assignments))


def purity(labels: Sequence, assignments: Sequence[int]) -> float:
    """Share of documents whose label is the most common label of their topic, in (0, 1]."""
    _check_aligned(labels, assignments)
    by_topic: dict[int, Counter] = {}
    for label, topic in zip(labels, assignments, strict=True):
        by_topic.setdefault(topic, Counter())[label] += 1
    majority = sum(counts.most_common(1)[0][1] for counts in by_topic.values())
    return majority / len(labels)


def _check_aligned(labels: Sequence, assignments: Sequence[int]) -> None:
    if len(labels) != len(assignments):
        raise ValueError(f"{len(labels)} labels but {len(assignments)} topic assignments")
    if len(labels) == 0:
        raise ValueError("no documents to score")
