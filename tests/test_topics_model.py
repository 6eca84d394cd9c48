"""``TopicModel``: the save/load round trip and ``predict`` on new, odd and empty texts; its
ONNX export, served without torch, predicts the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hub_utils.models.bag_of_words import bag_of_words
from hub_utils.models.json_files import read_json
from hub_utils.models.topic_model import TopicModel
from hub_utils.models.topic_onnx import OnnxTopicModel, load_topic_model
from tests.fixtures_topics import TopicCorpus
from train.__main__ import main
from train.onnx_export import export_topic_onnx

UNSEEN = [
    "The goalkeeper saved a penalty and the fans cheered",
    "Interest rates and bond prices moved after the bank's statement",
    "A new laptop chip doubles battery life",
    "Café owners share their favourite bread recipe",
    "Zyxqv plorth wibble",  # no vocabulary word at all
]
# Past the encoder's 256 tokens, in other scripts, with emoji and control characters.
ODD = [
    "goal " * 400,
    "Футбол: команда выиграла матч 🎉⚽",
    "株式市場が下落した",
    "tab\there, new\nline and a bell\x07",
]


@pytest.fixture(scope="module")
def model(trained_topic_model: Path) -> TopicModel:
    return TopicModel.from_pretrained(trained_topic_model)


def test_saved_folder_reloads_to_the_trained_model(
    tmp_path: Path, topic_corpus: TopicCorpus, trained_topic_model: Path
) -> None:
    """Round trip guarantee: the run checks the model right after training against its saved
    copy (1e-5), and a saved copy saves and reloads to the same model."""
    output_dir = tmp_path / "combined"
    # The embeddings the fixture run cached: this run trains without encoding again.
    cache = trained_topic_model.parent / ".cache" / "embeddings"
    # CombinedTM: the fixture run covers ZeroShotTM.
    assert (
        main(
            [
                "topics",
                "--dataset",
                str(topic_corpus.corpus_file),
                "--output-dir",
                str(output_dir),
                "--cache-dir",
                str(cache),
                "--model",
                "combined",
                "--n-topics",
                "5",
                "--epochs",
                "3",
                "--batch-size",
                "16",
                "--lr",
                "0.005",
                "--no-onnx",
            ]
        )
        == 0
    )
    assert read_json(output_dir / "eval_results.json")["round_trip_max_abs_diff"] <= 1e-5
    in_memory = TopicModel.from_pretrained(output_dir)
    in_memory.save_pretrained(tmp_path / "saved")
    reloaded = TopicModel.from_pretrained(tmp_path / "saved")

    assert reloaded.config == in_memory.config and reloaded.vocab == in_memory.vocab
    assert reloaded.topics(10) == in_memory.topics(10)
    np.testing.assert_allclose(reloaded.predict(UNSEEN), in_memory.predict(UNSEEN), atol=1e-5)

    # CombinedTM's export takes the bag of words as well as the tokens.
    export_topic_onnx(in_memory, tmp_path / "saved")
    served = OnnxTopicModel.from_folder(tmp_path / "saved")
    assert "bow" in served._inputs
    np.testing.assert_allclose(served.predict(UNSEEN), in_memory.predict(UNSEEN), atol=1e-5)


def test_predict_returns_one_distribution_per_new_text(model: TopicModel) -> None:
    distributions = model.predict(UNSEEN)
    assert distributions.shape == (len(UNSEEN), model.n_topics)
    assert (distributions > 0).all()
    np.testing.assert_allclose(distributions.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(model.predict(UNSEEN), distributions)  # no sampling noise
    # A batch does not change a text's answer.
    np.testing.assert_allclose(model.predict(UNSEEN[:1])[0], distributions[0], atol=1e-5)


def test_a_text_without_vocabulary_words_still_gets_a_distribution(model: TopicModel) -> None:
    text = UNSEEN[-1]
    assert bag_of_words([text], model.vocab).nnz == 0
    distribution = model.predict([text])[0]
    assert distribution.sum() == pytest.approx(1.0, abs=1e-5)
    # It comes from the embedding, so different unknown texts get different distributions.
    assert not np.allclose(distribution, model.predict(["Qwokka flimbert zarn"])[0])


def test_empty_and_malformed_inputs_raise_clear_errors(model: TopicModel) -> None:
    with pytest.raises(ValueError, match="text 1 is empty"):
        model.predict(["a fine text", ""])
    with pytest.raises(ValueError, match="text 0 is empty"):
        model.predict(["   \n"])
    with pytest.raises(ValueError, match="a list of texts, not a single string"):
        model.predict("goal")
    with pytest.raises(ValueError, match="text 0 is a int"):
        model.predict([3])  # type: ignore[list-item]
    assert model.predict([]).shape == (0, model.n_topics)


def test_encoder_is_loaded_lazily_once_and_never_saved(model: TopicModel, tmp_path: Path) -> None:
    fresh = TopicModel(vocab=["goal", "bank"], embedding_dim=384, n_topics=2)
    assert "_encoder" not in fresh.__dict__
    assert model.sentence_encoder is model.sentence_encoder
    assert not any(key.startswith("_encoder") for key in model.state_dict())
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size < 2_000_000  # no encoder weights


def test_topics_come_from_the_saved_vocabulary(model: TopicModel) -> None:
    topics = model.topics(4)
    assert len(topics) == model.n_topics and all(len(words) == 4 for words in topics)
    assert all(word in model.vocab for words in topics for word in words)
    with pytest.raises(ValueError, match="between 1 and the vocabulary size"):
        model.topics(0)


def test_a_folder_without_weights_is_a_clear_error(
    trained_topic_model: Path, tmp_path: Path
) -> None:
    from hub_utils.errors import HubError

    for name in ("config.json", "vocab.json"):
        (tmp_path / name).write_bytes((trained_topic_model / name).read_bytes())
    with pytest.raises(HubError, match="model.safetensors is missing"):
        TopicModel.from_pretrained(tmp_path)


def test_the_onnx_export_serves_what_the_pytorch_model_predicts(
    model: TopicModel, trained_topic_model: Path
) -> None:
    """The training command exported the fixture model; served by ONNX Runtime it agrees with
    PyTorch on text in (its own tokenizer and bag of words), long and odd texts included."""
    served = load_topic_model(trained_topic_model)
    assert isinstance(served, OnnxTopicModel) and served.backend.startswith("ONNX")
    texts = UNSEEN + ODD
    np.testing.assert_allclose(served.predict(texts), model.predict(texts), atol=1e-5)
    # Batches of two: sorting by length and padding per batch change nothing.
    np.testing.assert_allclose(
        served.predict(texts, batch_size=2), served.predict(texts), atol=1e-5
    )
    assert served.topics(10) == model.topics(10)
    assert served.config == model.config and served.n_topics == model.n_topics
    np.testing.assert_allclose(served.topic_word_logits(), model.topic_word_logits(), atol=1e-5)
    assert served.encoder_max_tokens == model.encoder_max_tokens == 256
    for text in ODD:
        assert served.encoder_token_count(text) == model.encoder_token_count(text)
    assert served.encoder_token_count(ODD[0]) == 402  # 400 words, [CLS] and [SEP]
    with pytest.raises(ValueError, match="text 1 is empty"):
        served.predict(["a fine text", " "])
    assert served.predict([]).shape == (0, model.n_topics)


def test_without_the_export_the_pytorch_model_serves(
    trained_topic_model: Path, tmp_path: Path
) -> None:
    for name in ("config.json", "vocab.json", "model.safetensors"):
        (tmp_path / name).write_bytes((trained_topic_model / name).read_bytes())
    assert isinstance(load_topic_model(tmp_path), TopicModel)
    assert isinstance(load_topic_model(trained_topic_model, prefer_onnx=False), TopicModel)


def test_top_words_orders_each_topic_by_weight() -> None:
    from hub_utils.models.topic_words import softmax, top_words, word_logits

    beta = np.array([[0.1, 3.0, -1.0, 2.0], [5.0, 0.0, 4.0, 1.0]])
    vocab = ["a", "b", "c", "d"]
    assert top_words(beta, vocab, 2) == [["b", "d"], ["a", "c"]]
    assert top_words(beta, vocab, 4) == [["b", "d", "a", "c"], ["a", "c", "d", "b"]]
    np.testing.assert_allclose(softmax(beta).sum(axis=1), 1.0)
    assert (np.argsort(-softmax(beta), axis=1) == np.argsort(-beta, axis=1)).all()
    # The decoder's batch norm: each word centred and scaled by its own running statistics.
    logits = word_logits(beta, np.array([0.0, 1.0, -1.0, 2.0]), np.array([1.0, 4.0, 1.0, 1.0]))
    np.testing.assert_allclose(logits[0], [0.1, 1.0, 0.0, 0.0], atol=1e-5)
