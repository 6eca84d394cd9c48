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
from scipy import sparse
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


_EPSILON = 1e-12  # gensim's, in its log_ratio_measure


def document_npmi(top_word_ids: np.ndarray, counts: sparse.spmatrix) -> float:
    """Mean NPMI of each topic's top words over the documents of ``counts`` (documents x
    vocabulary), two words counting as co-occurring when they are in the same document.

    Gensim's ``c_npmi`` slides a window of 10 words instead; on short texts such as news titles
    the two agree, and this takes milliseconds where gensim takes seconds, so training can score
    every epoch. ``top_word_ids`` is topics x top_n vocabulary indices. Probabilities are
    smoothed by gensim's epsilon (1e-12), so a pair that never co-occurs scores as there, not -1.
    """
    present = (sparse.csr_matrix(counts)[:, top_word_ids.ravel()] > 0).astype(np.float64)
    n_documents = present.shape[0]
    together = (present.T @ present).toarray() / n_documents
    alone = np.diag(together)
    top_n = top_word_ids.shape[1]
    scores = []
    for topic in range(top_word_ids.shape[0]):
        block = slice(topic * top_n, (topic + 1) * top_n)
        joint, single = together[block, block], alone[block]
        i, j = np.triu_indices(top_n, k=1)
        p_ij = joint[i, j] + _EPSILON
        with np.errstate(divide="ignore", invalid="ignore"):
            npmi_ij = np.log(p_ij / (single[i] * single[j])) / -np.log(p_ij)
        scores.append(float(np.mean(np.nan_to_num(npmi_ij, nan=0.0, posinf=0.0, neginf=-1.0))))
    return float(np.mean(scores))


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
