"""``python -m train topics`` end to end: the saved folder, its logs, metrics and card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors import safe_open
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hub_utils.models.topic_map import jensen_shannon_distances
from hub_utils.models.topic_model import TopicModel
from hub_utils.models.topic_words import softmax
from tests.fixtures_topics import THEMES, TopicCorpus

PICKLE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy"}


def test_folder_holds_safe_files_only(trained_topic_model: Path) -> None:
    names = {p.name for p in trained_topic_model.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "vocab.json",
        "topics.json",
        "README.md",
        "eval_results.json",
        "training_config.json",
        "runs",
        "onnx",
    } <= names
    assert {p.name for p in (trained_topic_model / "onnx").iterdir()} == {
        "topic_model.onnx",
        "tokenizer.json",
    }
    for path in trained_topic_model.rglob("*"):
        if path.is_file():
            assert path.suffix not in PICKLE_SUFFIXES, path
            # Every pickle protocol since 2 starts with the PROTO opcode 0x80.
            assert path.read_bytes()[:1] != b"\x80", path
    with safe_open(str(trained_topic_model / "model.safetensors"), framework="pt") as weights:
        assert "beta" in weights.keys()
    assert not list(trained_topic_model.parent.glob(".topics.*")), "temporary folders left"


def test_config_vocab_and_topics_describe_the_model(trained_topic_model: Path) -> None:
    config = json.loads((trained_topic_model / "config.json").read_text())
    vocab = json.loads((trained_topic_model / "vocab.json").read_text())
    topics = json.loads((trained_topic_model / "topics.json").read_text())
    assert config["encoder"] == "sentence-transformers/all-MiniLM-L6-v2"  # the Hub id, not a path
    assert config["model_type"] == "zeroshot" and config["n_topics"] == 5  # the CLI default
    assert config["vocab_size"] == len(vocab) == len(set(vocab))
    assert len(topics) == 5 and all(set(words) <= set(vocab) for words in topics)
    # Stop words and numbers of the fixture corpus never reach the vocabulary.
    assert not {"the", "and", "2024", "12"} & set(vocab)
    assert "cafe" in vocab  # accents folded


def test_topics_recover_the_themes_of_the_corpus(trained_topic_model: Path) -> None:
    """Five themes, five topics: the training has to find them, not just run."""
    results = json.loads((trained_topic_model / "eval_results.json").read_text())
    assert results["purity"] > 0.6  # chance is about 0.2
    assert results["nmi"] > 0.4
    assert results["round_trip_max_abs_diff"] <= 1e-5
    assert results["onnx_max_abs_diff"] <= 1e-4
    # Five clean themes: their top words co-occur far above chance (NPMI near 0 for random words).
    assert results["npmi"] > 0.2
    # Diversity is the share of distinct words among the saved top words (topics.json).
    topics = json.loads((trained_topic_model / "topics.json").read_text())
    distinct = len({word for words in topics for word in words})
    assert results["topic_diversity"] == distinct / (len(topics) * len(topics[0]))
    model = TopicModel.from_pretrained(trained_topic_model)
    top_words = model.topics(3)
    themes_hit = {
        theme
        for words in top_words
        for theme, vocab in THEMES.items()
        if len(set(words) & set(vocab.replace("é", "e").split())) >= 2
    }
    assert len(themes_hit) >= 3


def test_training_config_counts_documents_and_epochs(
    trained_topic_model: Path, topic_corpus: TopicCorpus
) -> None:
    training = json.loads((trained_topic_model / "training_config.json").read_text())
    assert training["documents_total"] == len(topic_corpus.texts)
    assert training["documents_dropped"] == 2  # the blank and the stop-words-only lines
    assert training["documents_used"] == len(topic_corpus.texts) - 2
    assert training["epochs_run"] == len(training["history"]) == 30
    assert "best_epoch" not in training  # every epoch is trained and the last kept


def test_tensorboard_holds_per_epoch_losses_final_metrics_and_topics(
    trained_topic_model: Path,
) -> None:
    events = EventAccumulator(str(trained_topic_model / "runs" / "fixture-run"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    for tag in (
        "train/loss",
        "validation/loss",
        "train/npmi",
        "validation/npmi",
        "topic_diversity",
    ):
        steps = [event.step for event in events.Scalars(tag)]
        assert steps == list(range(1, 31)), tag
    # The last epoch is the model: its logged NPMI over the training documents is the NPMI the
    # evaluation reports (gensim, over all documents: the validation ones move it a little).
    results = json.loads((trained_topic_model / "eval_results.json").read_text())
    last = events.Scalars("train/npmi")[-1].value
    assert abs(last - results["npmi"]) < 0.1
    assert events.Scalars("topic_diversity")[-1].value == pytest.approx(
        results["topic_diversity"], abs=1e-6
    )
    assert {
        "eval/npmi",
        "eval/topic_diversity",
        "eval/inverted_rbo",
        "eval/nmi",
        "eval/purity",
    } <= set(scalars)
    topics_text = events.Tensors("topics/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| topic | top words |" in topics_text
    train_losses = [event.value for event in events.Scalars("train/loss")]
    assert train_losses[-1] < train_losses[0]


def test_card_has_hub_metadata_topics_and_loading_code(trained_topic_model: Path) -> None:
    text = (trained_topic_model / "README.md").read_text()
    front_matter = yaml.safe_load(text.split("---")[1])
    assert front_matter["library_name"] == "contextualized-topic-models"
    assert {"topic-modeling", "contextualized-topic-models"} <= set(front_matter["tags"])
    metrics = front_matter["model-index"][0]["results"][0]["metrics"]
    assert {m["type"] for m in metrics} == {
        "npmi",
        "topic_diversity",
        "inverted_rbo",
        "nmi",
        "purity",
    }
    results = json.loads((trained_topic_model / "eval_results.json").read_text())
    assert {m["type"]: m["value"] for m in metrics}["npmi"] == round(results["npmi"], 4)
    assert "TopicModel.from_pretrained(" in text
    assert f"within {results['onnx_max_abs_diff']:.0e} of" in text and "topic_model.onnx" in text
    assert "| 4 |" in text  # a row per topic


def test_reloaded_model_predicts_deterministic_distributions(trained_topic_model: Path) -> None:
    model = TopicModel.from_pretrained(trained_topic_model)
    texts = ["The striker scored a late goal for the team", "Bank shares fell as markets slid"]
    first, second = model.predict(texts), model.predict(texts)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (2, 5)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-5)
    assert first[0].argmax() != first[1].argmax()  # different themes, different topics


def test_the_topic_map_is_saved_with_prevalences(trained_topic_model: Path) -> None:
    """What the app's intertopic distance map needs, so it needs no training corpus: a 2-D
    position per topic, placed by the distances between the topics' word distributions, and
    each topic's share of the training documents."""
    saved = json.loads((trained_topic_model / "topic_map.json").read_text())
    assert len(saved["x"]) == len(saved["y"]) == len(saved["prevalence"]) == 5
    assert sum(saved["prevalence"]) == pytest.approx(1, abs=1e-3)
    model = TopicModel.from_pretrained(trained_topic_model)
    distances = jensen_shannon_distances(softmax(model.topic_word_logits()))
    placed = np.hypot(
        np.subtract.outer(saved["x"], saved["x"]), np.subtract.outer(saved["y"], saved["y"])
    )
    # Two dimensions keep the distances' order: the closest pair on the map is the closest pair.
    upper = np.triu_indices(5, k=1)
    assert np.argmin(placed[upper]) == np.argmin(distances[upper])
