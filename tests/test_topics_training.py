"""``python -m train topics`` end to end: the saved folder, its logs, metrics and card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from safetensors import safe_open
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hub_utils.models.topic_model import TopicModel
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
    assert 1 <= training["best_epoch"] <= training["epochs_run"]


def test_tensorboard_holds_per_epoch_losses_final_metrics_and_topics(
    trained_topic_model: Path,
) -> None:
    events = EventAccumulator(str(trained_topic_model / "runs" / "fixture-run"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    for tag in ("train/loss", "validation/loss"):
        steps = [event.step for event in events.Scalars(tag)]
        assert steps == list(range(1, 31)), tag
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
