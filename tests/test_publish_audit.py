"""Publishing safely: trained folders hold no local path, ``python -m hub_utils check`` (and
``push``) refuses what the Hub would reject or what leaks, names come from the data, and
``TopicModel.save_pretrained`` writes the CLI's card."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hub_utils.__main__ import main as hub_main
from hub_utils.hub.audit import PublishCheckError, check_folder, path_problems
from hub_utils.hub.defaults import INSTALL_LINE, PROJECT_URL
from hub_utils.models.encoder import DEFAULT_ENCODER, packaged_encoder_path
from hub_utils.models.json_files import read_json
from hub_utils.models.metadata import public_model_id
from hub_utils.models.topic_model import TopicModel
from tests.fixtures_topics import FIXTURE_ARGS, make_corpus
from train.classify_data import default_task

MARKER = "private-marker-8f3a"


def front_matter(card: Path) -> dict:
    return yaml.safe_load(card.read_text(encoding="utf-8").split("---\n")[1])


def sentiment_table(n: int = 90, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    good = ["I loved {x}, truly wonderful", "What a great {x}, would recommend", "Lovely {x}"]
    bad = ["I hated {x}, a waste of money", "Terrible {x}, never again", "Awful {x} overall"]
    things = ["the film", "this book", "the hotel", "the service", "the meal"]
    rows = [
        (label, rng.choice(templates).format(x=rng.choice(things)))
        for _ in range(n)
        for label, templates in (("positive", good), ("negative", bad))
    ]
    return pd.DataFrame(rows, columns=["label", "text"])


@pytest.fixture(scope="module")
def private_runs(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> dict[str, Path]:
    """Both commands trained with data, base model, encoder and output under a folder whose
    name is a marker: no published byte may hold it."""
    from train.__main__ import main

    root = tmp_path_factory.mktemp("runs") / MARKER
    data, out = root / "data", root / "out"
    data.mkdir(parents=True)
    sentiment_table().to_csv(data / "reviews.csv", index=False)
    base = shutil.copytree(tiny_bert, root / "encoders" / "tiny-bert")
    classify = [
        "classify", "--dataset", str(data / "reviews.csv"), "--base-model", str(base),
        "--output-dir", str(out / "reviews"), "--epochs", "2", "--batch-size", "16",
        "--max-length", "32", "--no-freeze-embeddings", "--run-name", "private",
    ]  # fmt: skip
    assert main(classify) == 0
    texts, _ = make_corpus(200)
    (data / "corpus.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    packaged = packaged_encoder_path()
    assert packaged is not None
    # A copy of the packaged MiniLM elsewhere: a local sentence-transformers folder whose Hub id
    # is not known (its config.json names the model it was trained from, not itself).
    encoder = shutil.copytree(packaged, root / "encoders" / "my-minilm")
    topics = [
        "topics", "--dataset", str(data / "corpus.txt"), "--encoder", str(encoder),
        "--output-dir", str(out / "topics"), *FIXTURE_ARGS, "--epochs", "3",
    ]  # fmt: skip
    assert main(topics) == 0
    return {"classifier": out / "reviews", "topics": out / "topics", "encoder": encoder}


def test_no_published_byte_holds_a_local_path(private_runs: dict[str, Path]) -> None:
    for kind in ("classifier", "topics"):
        files = [p for p in private_runs[kind].rglob("*") if p.is_file()]
        assert any(".tfevents." in p.name for p in files) and any(
            p.name == "hparams.yml" for p in files
        )
        leaking = [p for p in files if MARKER.encode() in p.read_bytes()]
        assert not leaking, leaking
        check_folder(private_runs[kind])


def test_local_models_are_not_named_by_path(private_runs: dict[str, Path]) -> None:
    classifier = private_runs["classifier"]
    assert "base_model" not in front_matter(classifier / "README.md")
    assert read_json(classifier / "training_config.json")["args"]["base_model"] is None

    topics = private_runs["topics"]
    assert read_json(topics / "config.json")["encoder"] is None
    assert "base_model" not in front_matter(topics / "README.md")
    model = TopicModel.from_pretrained(topics)
    with pytest.raises(ValueError, match="encoder="):
        model.predict(["stocks fall"])
    # Locally, the encoder is passed again.
    reloaded = TopicModel.from_pretrained(topics, encoder=str(private_runs["encoder"]))
    assert reloaded.predict(["stocks fall as oil prices climb"]).shape == (1, 5)


def test_task_name_and_card_come_from_the_data(private_runs: dict[str, Path]) -> None:
    card = private_runs["classifier"] / "README.md"
    metadata = front_matter(card)
    assert metadata["model-index"][0]["name"] == "reviews"
    assert "reviews" in metadata["tags"]
    assert card.read_text().split("---\n", 2)[2].lstrip().startswith("# reviews classifier")
    assert "spam" not in card.read_text().lower()
    # Local data: its file name and the builder that reads it, no `datasets` link.
    dataset = metadata["model-index"][0]["results"][0]["dataset"]
    assert dataset["name"] == "reviews.csv" and dataset["type"] == "csv"
    assert "datasets" not in metadata
    assert metadata["license"] == "apache-2.0" and metadata["language"] == ["en"]
    assert INSTALL_LINE in card.read_text()


@pytest.mark.parametrize(
    ("dataset", "labels", "task"),
    [
        ("ucirvine/sms_spam", None, "sms_spam"),
        ("imdb", None, "imdb"),
        ("data/reviews.csv", None, "reviews"),
        ("/x/train.csv", ["negative", "positive"], "negative-positive"),
        ("data/train-00000-of-00001.parquet", ["a", "b", "c"], "a-b-c"),
        ("data.csv", None, None),  # the labels must be read from the data
        ("dataset.jsonl", [str(i) for i in range(7)], "7-class"),
    ],
)
def test_default_task(dataset: str, labels: list[str] | None, task: str | None) -> None:
    assert default_task(dataset, labels) == task


def test_encoder_ids(tiny_bert: Path) -> None:
    packaged = packaged_encoder_path()
    assert public_model_id(str(packaged)) == DEFAULT_ENCODER
    assert public_model_id("all-MiniLM-L6-v2") == DEFAULT_ENCODER
    assert public_model_id("bert-base-uncased") is None  # not owner/name: the Hub wants both
    assert public_model_id("google-bert/bert-base-uncased") == "google-bert/bert-base-uncased"
    assert public_model_id(str(tiny_bert)) is None
    assert public_model_id("./missing/folder") is None


@pytest.mark.parametrize(
    "text",
    [
        "/home/alice/data.csv",
        '"dataset": "/tmp/run/spam.csv"',
        "output_dir: /root",
        "C:\\Users\\bob\\data.csv",
        '"C:\\\\Users\\\\bob\\\\x.csv"',
        "D:/corpora/news.txt",
        "~/data/x.csv",
        "file:///srv/models/x",
        "see /var/lib/x",
    ],
)
def test_paths_are_found(text: str) -> None:
    assert path_problems(text), text


@pytest.mark.parametrize(
    "text",
    [
        "https://huggingface.co/docs/hub/model-cards",
        "onnx/model_quantized.onnx and runs/ and hub_utils/topic_model.py",
        "38.5 samples/s, and/or 1/2",
        "| true \\ predicted | ham | spam |",
        "sentence-transformers/all-MiniLM-L6-v2",
        "within ~1e-7 of it",
        "validation/f1_macro",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert not path_problems(text), path_problems(text)


def test_check_cli_passes_on_the_fixture_models(
    trained_classifier: Path, trained_topic_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hub_main(["check", str(trained_classifier)]) == 0
    assert hub_main(["check", str(trained_topic_model)]) == 0
    out = capsys.readouterr().out
    assert "ready to publish (classifier)" in out and "ready to publish (topic model)" in out


def test_check_lists_every_reason(
    trained_topic_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = shutil.copytree(trained_topic_model, tmp_path / "doctored")
    training = folder / "training_config.json"
    training.write_text(training.read_text().replace('"corpus.txt"', '"/home/alice/corpus.txt"'))
    (folder / "model.pkl").write_bytes(b"\x80\x04N.")
    (folder / "weights").write_bytes(b"\x80\x05N.")  # a pickle by content, whatever its name
    (folder / "vocab.json").unlink()
    card = folder / "README.md"
    text = card.read_text()
    text = text.replace(f"base_model: {DEFAULT_ENCODER}", "base_model: ./x")
    card.write_text(text.replace("license: apache-2.0", "license: my-own-license"))

    assert hub_main(["check", str(folder)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("error: ") and "topic model" in lines[0]
    reasons = "\n".join(lines[1:])
    for expected in (
        "training_config.json: private path '/home/alice/corpus.txt'",
        "model.pkl: unsafe format .pkl",
        "weights: a pickle",
        "topic model: missing vocab.json",
        "base_model './x' is not a Hub model id",
        "license 'my-own-license' is not one of the Hub's license ids",
    ):
        assert expected in reasons, reasons
    assert len(lines) == 1 + 6


def test_paths_in_tensorboard_events_are_found(trained_classifier: Path, tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    folder = shutil.copytree(trained_classifier, tmp_path / "events")
    with SummaryWriter(str(folder / "runs" / "extra")) as writer:
        writer.add_hparams({"dataset": "/home/alice/secret.csv", "lr": 0.1}, {"hp/acc": 1.0})
        writer.add_text("notes", "trained from C:\\Users\\bob\\data")
    with pytest.raises(PublishCheckError) as caught:
        check_folder(folder)
    found = "\n".join(caught.value.problems)
    assert "/home/alice/secret.csv" in found and "C:\\Users\\bob" in found
    assert all(".tfevents." in problem for problem in caught.value.problems)


def test_push_refuses_before_any_upload(trained_classifier: Path, tmp_path: Path) -> None:
    from hub_utils.hub import push

    folder = shutil.copytree(trained_classifier, tmp_path / "bad")
    (folder / "optimizer.pt").write_bytes(b"\x80\x02}q.")
    with pytest.raises(PublishCheckError, match="optimizer.pt: unsafe format"):
        push(folder, "bert-hub-kit/never-uploaded", token="hf_unused")


def test_save_pretrained_writes_the_cli_card_and_files(
    trained_topic_model: Path, tmp_path: Path
) -> None:
    model = TopicModel.from_pretrained(trained_topic_model)
    target = tmp_path / "saved"
    shutil.copytree(trained_topic_model / "onnx", target / "onnx")  # so the card names it too
    model.save_pretrained(target)
    for name in ("README.md", "config.json", "eval_results.json", "training_config.json"):
        assert (target / name).read_text() == (trained_topic_model / name).read_text(), name
    check_folder(target)


def test_a_model_built_in_code_gets_a_minimal_valid_card(tmp_path: Path) -> None:
    model = TopicModel(vocab=["goal", "team", "bank", "shares"], embedding_dim=8, n_topics=2)
    model.save_pretrained(tmp_path / "fresh")
    card = (tmp_path / "fresh" / "README.md").read_text()
    metadata = front_matter(tmp_path / "fresh" / "README.md")
    assert metadata["license"] == "apache-2.0" and metadata["language"] == ["en"]
    assert metadata["library_name"] == "contextualized-topic-models"
    assert metadata["base_model"] == DEFAULT_ENCODER and "model-index" not in metadata
    assert INSTALL_LINE in card and "from hub_utils import TopicModel" in card
    assert "MilaNLProc/contextualized-topic-models\n" not in card
    assert TopicModel._hub_mixin_info.repo_url == PROJECT_URL
    assert str(model.generate_model_card()) == card
    assert check_folder(tmp_path / "fresh") == "topic model"


def test_vocabulary_tokens_are_not_paths(tmp_path: Path) -> None:
    from hub_utils.hub.audit import file_problems

    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text('{"model": {"vocab": {"/en/": 1, "/s/": 2, "//": 3}}}')
    assert file_problems(tokenizer) == []
    tokenizer.write_text('{"name_or_path": "/home/alice/tokenizer"}')
    assert file_problems(tokenizer) == ["private path '/home/a...'"]
