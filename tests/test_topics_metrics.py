"""Topic quality measures on cases whose answer is known by hand."""

from __future__ import annotations

import pytest

from train import topics_metrics

TEXTS = [["goal", "match"], ["goal", "match"], ["bank", "stock"], ["bank", "stock"]]


def test_npmi_is_one_for_words_that_always_co_occur_and_near_minus_one_for_never() -> None:
    always = topics_metrics.npmi([["goal", "match"]], TEXTS, top_n=2)
    never = topics_metrics.npmi([["goal", "bank"]], TEXTS, top_n=2)
    assert always == pytest.approx(1.0, abs=1e-6)
    assert -1.0 <= never < -0.9  # gensim smooths a zero count with a tiny epsilon
    both = topics_metrics.npmi([["goal", "match"], ["goal", "bank"]], TEXTS, top_n=2)
    assert both == pytest.approx((always + never) / 2)  # the mean over topics


def test_topic_diversity_counts_distinct_top_words() -> None:
    assert topics_metrics.topic_diversity([["a", "b"], ["c", "d"]], top_n=2) == 1.0
    assert topics_metrics.topic_diversity([["a", "b"], ["a", "b"]], top_n=2) == 0.5
    assert topics_metrics.topic_diversity([["a", "b", "x"], ["a", "c", "y"]], top_n=2) == 0.75


def test_inverted_rbo_is_zero_for_identical_topics_and_one_for_disjoint() -> None:
    same = [["a", "b", "c"], ["a", "b", "c"]]
    disjoint = [["a", "b", "c"], ["d", "e", "f"]]
    assert topics_metrics.inverted_rbo(same, top_n=3) == pytest.approx(0.0, abs=1e-9)
    assert topics_metrics.inverted_rbo(disjoint, top_n=3) == pytest.approx(1.0)
    # Agreement at the top weighs more than agreement at the bottom.
    top_shared = topics_metrics.inverted_rbo([["a", "b", "c"], ["a", "e", "f"]], top_n=3)
    bottom_shared = topics_metrics.inverted_rbo([["a", "b", "c"], ["e", "f", "c"]], top_n=3)
    assert 0 < top_shared < bottom_shared < 1


def test_nmi_and_purity_of_perfect_random_and_merged_assignments() -> None:
    labels = ["sport", "sport", "finance", "finance"]
    assert topics_metrics.nmi(labels, [3, 3, 7, 7]) == pytest.approx(1.0)
    assert topics_metrics.purity(labels, [3, 3, 7, 7]) == 1.0
    assert topics_metrics.nmi(labels, [0, 1, 0, 1]) == pytest.approx(0.0, abs=1e-9)
    assert topics_metrics.purity(labels, [0, 0, 0, 0]) == 0.5  # one topic for both labels
    assert topics_metrics.purity(["a", "a", "b", "c"], [0, 0, 0, 1]) == 0.75


def test_measures_reject_inputs_they_cannot_score() -> None:
    with pytest.raises(ValueError, match="2 labels but 3"):
        topics_metrics.purity(["a", "b"], [0, 1, 2])
    with pytest.raises(ValueError, match="fewer than the 25"):
        topics_metrics.topic_diversity([["a", "b"]])
    with pytest.raises(ValueError, match="no topics"):
        topics_metrics.inverted_rbo([])
