"""The app's tab functions and serving helpers, called directly on the fixture models."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import app
from hub_utils.errors import BadRequestError
from hub_utils.models.classifier import load_classifier
from hub_utils.models.topic_onnx import load_topic_model
from hub_utils.serving.about import about_markdown, curves_intro, metrics_table
from hub_utils.serving.batch_classify import RESULTS_KEPT, classify_file, results_dir
from hub_utils.serving.batch_files import MAX_ROWS, neutralize_formula
from hub_utils.serving.classifier_views import classify_texts, explain_text
from hub_utils.serving.json_api import text_classification
from hub_utils.serving.json_api import topics as json_topics
from hub_utils.serving.loading import (
    Card,
    LoadedModel,
    Models,
    ModelSource,
    load_model,
    load_problem,
    model_source,
)
from hub_utils.serving.runtime import MicroBatcher, run_model
from hub_utils.serving.topic_views import (
    find_topics,
    saved_topic_map,
    topic_map_svg,
    topic_map_table,
    topic_word_chart,
)
from hub_utils.serving.training_curves import metric_curves, metrics
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE
from tests.fixtures_hub import REPO_ROOT

MIXED_SCRIPTS = "WINNER!\x00\x07 Claim your free cash prize 🎉🎁 日本語 привет مرحبا now"


def long_text(n_words: int = 200) -> str:
    return " ".join(f"word{i}" for i in range(n_words))


# --- Classifier -------------------------------------------------------------------------------


def test_classify_gives_every_label_a_probability_summing_to_one(app_models):
    labels, notes = classify_texts(app_models.classifier, [SPAM_EXAMPLE, HAM_EXAMPLE])
    for probabilities in labels:
        assert set(probabilities) == {"ham", "spam"}
        assert math.isclose(sum(probabilities.values()), 1, abs_tol=1e-5)
    assert max(labels[0], key=labels[0].get) == "spam"
    assert max(labels[1], key=labels[1].get) == "ham"
    assert notes == ["", ""]


@pytest.mark.parametrize("text", ["", "   \n\t  ", None])
def test_empty_text_gets_no_label_and_a_note_without_failing_its_batch(app_models, text):
    labels, notes = classify_texts(app_models.classifier, [SPAM_EXAMPLE, text])
    assert labels[0] is not None and labels[1] is None
    assert notes[0] == "" and "empty" in notes[1]


def test_long_text_is_truncated_and_the_note_says_how_much_was_read(app_models):
    text = long_text()
    labels, notes = classify_texts(app_models.classifier, [text])
    assert labels[0] is not None
    max_length = app_models.classifier.model.max_length
    assert f"limit of {max_length} tokens" in notes[0]
    read = int(re.search(r"read the first ([\d,]+) of", notes[0]).group(1).replace(",", ""))
    assert 0 < read < len(text)


def test_control_characters_emoji_and_other_scripts_are_classified(app_models):
    labels, notes = classify_texts(app_models.classifier, [MIXED_SCRIPTS, "日本語 🎉"])
    assert all(math.isclose(sum(p.values()), 1, abs_tol=1e-5) for p in labels)
    assert "2 control characters replaced by spaces" in notes[0]
    assert notes[1] == ""


def test_huge_text_is_cut_before_tokenizing(app_models):
    labels, notes = classify_texts(app_models.classifier, ["spam " * 10_000])
    assert labels[0] is not None
    assert "text cut from 50,000 to 20,000 characters" in notes[0]


def test_explain_scores_every_word_and_keeps_the_text(app_models):
    segments = explain_text(app_models.classifier, MIXED_SCRIPTS)
    cleaned = MIXED_SCRIPTS.replace("\x00", " ").replace("\x07", " ")
    assert "".join(segment for segment, _ in segments) == cleaned
    words = [(segment, score) for segment, score in segments if segment.strip()]
    assert [word for word, _ in words] == cleaned.split()
    assert all(score is not None and -1 <= score <= 1 for _, score in words)
    assert max(abs(score) for _, score in words) == pytest.approx(1)


def test_explain_leaves_unread_words_unscored(app_models):
    segments = explain_text(app_models.classifier, long_text())
    scored = [segment for segment, score in segments if score is not None]
    assert 0 < len(scored) < 200
    assert segments[-1][1] is None and "word199" in segments[-1][0]


@pytest.mark.parametrize("text", ["", "  \n"])
def test_explain_refuses_an_empty_text(app_models, text):
    with pytest.raises(BadRequestError, match="Nothing to explain"):
        explain_text(app_models.classifier, text)


def test_any_label_set_is_served_by_name(tmp_path):
    """A three-class model (as ``train classify --task sentiment`` writes) needs no spam words."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from hub_utils.models.encoder import packaged_encoder_path

    labels = ["negative", "neutral", "positive"]
    tokenizer = AutoTokenizer.from_pretrained(packaged_encoder_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    (tmp_path / "README.md").write_text(
        "---\nmodel-index:\n- name: sentiment\nwidget:\n- text: I loved every minute of it\n"
        "---\n\n# sentiment classifier\n",
        encoding="utf-8",
    )

    loaded = load_model(ModelSource("SPAM_MODEL", str(tmp_path)), load_classifier)
    assert loaded.ok, loaded.error
    assert loaded.model.labels == labels
    assert loaded.model.max_length == 64  # the position embeddings' limit
    probabilities = classify_texts(loaded, ["what a film"])[0][0]
    assert list(probabilities) == labels
    assert math.isclose(sum(probabilities.values()), 1, abs_tol=1e-5)
    assert loaded.card.task == "sentiment"
    assert loaded.card.examples() == ["I loved every minute of it"]
    demo = app.build_demo(Models(loaded, app_models_missing_topics()))
    assert "Sentiment classifier" in json.dumps(demo.get_config_file())


def app_models_missing_topics() -> LoadedModel:
    return LoadedModel(ModelSource("TOPIC_MODEL", "bert-hub-kit/none"), error="not found")


# --- Batch files ------------------------------------------------------------------------------


def test_csv_round_trip_keeps_every_row_in_order(app_models, tmp_path):
    rows = [
        SPAM_EXAMPLE,
        "",
        'Quoted, with a comma and "quotes"\nand a line break',
        HAM_EXAMPLE,
        MIXED_SCRIPTS.replace("\x00", ""),
    ]
    path = tmp_path / "messages.csv"
    pd.DataFrame({"id": range(len(rows)), "Message": rows}).to_csv(path, index=False)
    updates = []

    summary, table, csv_path = classify_file(
        app_models.classifier, str(path), "", lambda fraction, desc: updates.append(fraction)
    )

    result = pd.read_csv(csv_path, keep_default_na=False)
    assert list(result.columns) == ["row", "text", "label", "probability", "note"]
    assert result["text"].tolist() == rows
    assert result["label"].tolist()[:2] == ["spam", ""]
    assert result["label"][3] == "ham"
    assert result["note"][1] == "empty text" and result["probability"][1] == ""
    filled = result[result["label"] != ""]
    assert filled["probability"].astype(float).between(0.5, 1).all()
    assert len(table) == len(rows)
    assert "Classified 4 of 5 messages (from the file's column `Message`)" in summary
    assert "1 empty row was skipped" in summary
    assert updates and updates[-1] == 1


def test_text_file_has_one_message_per_line(app_models, tmp_path):
    path = tmp_path / "messages.txt"
    path.write_text(f"{SPAM_EXAMPLE}\n{HAM_EXAMPLE}\n", encoding="utf-8")
    summary, table, _ = classify_file(app_models.classifier, str(path))
    assert table["label"].tolist() == ["spam", "ham"]
    assert "from the file's lines" in summary


def test_chosen_column_is_used(app_models, tmp_path):
    path = tmp_path / "two.tsv"
    path.write_text(f"subject\tbody\n{HAM_EXAMPLE}\t{SPAM_EXAMPLE}\n", encoding="utf-8")
    assert classify_file(app_models.classifier, str(path))[1]["text"][0] == SPAM_EXAMPLE
    table = classify_file(app_models.classifier, str(path), "subject")[1]
    assert table["text"][0] == HAM_EXAMPLE


BAD_FILES = {
    "image.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a text file"),
    "latin1.csv": ("text\ncafé crème\n".encode("latin-1"), "is not UTF-8 text"),
    "numbers.csv": (b"id,score\n1,0.5\n", "has no text column: its columns are 'id', 'score'"),
    "broken.csv": (b'text\n"never closed\n', "is not a readable table (line 2"),
    "unquoted.csv": (b"sms\nWin cash, call now\nhi\n", "has 2 fields but the header has 1"),
    "header-only.csv": (b"text\n", "has no messages"),
    "empty.txt": (b"", "has no messages"),
    "sheet.xlsx": (b"PK\x03\x04", "unsupported file type '.xlsx'"),
    "big.txt": (("hello\n" * (MAX_ROWS + 1)).encode(), "10,001 rows, more than the limit"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_are_refused_with_the_reason(app_models, tmp_path, name):
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadRequestError, match=re.escape(message)):
        classify_file(app_models.classifier, str(path))


def test_missing_file_or_column_is_explained(app_models, tmp_path):
    with pytest.raises(BadRequestError, match="upload a .csv"):
        classify_file(app_models.classifier, None)
    path = tmp_path / "m.csv"
    path.write_text("id,text\n1,hi\n", encoding="utf-8")
    with pytest.raises(BadRequestError, match="no column 'body'; its columns are 'id', 'text'"):
        classify_file(app_models.classifier, str(path), "body")


def test_formula_cells_are_neutralised_in_the_downloaded_csv(app_models, tmp_path):
    """CSV injection (OWASP): a message that a spreadsheet would run as a formula is written
    with a leading single quote; every other message is written as it came."""
    risky = [
        '=HYPERLINK("http://x.example","win")',
        "+44 7700 900123",
        "-50% today",
        "@channel free prize",
        "\tcmd|' /C calc'!A0",
    ]
    path = tmp_path / "risky.csv"
    pd.DataFrame({"text": [*risky, HAM_EXAMPLE]}).to_csv(path, index=False)
    csv_path = classify_file(app_models.classifier, str(path))[2]
    written = pd.read_csv(csv_path, keep_default_na=False)["text"].tolist()
    assert written == [f"'{text}" for text in risky] + [HAM_EXAMPLE]
    assert neutralize_formula("\rtext") == "'\rtext" and neutralize_formula(1.5) == 1.5


def test_many_batch_requests_leave_a_bounded_number_of_files(app_models, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text(HAM_EXAMPLE, encoding="utf-8")
    outputs = [classify_file(app_models.classifier, str(path))[2] for _ in range(1_000)]
    kept = [p for p in results_dir().rglob("*") if p.is_file()]
    assert len(kept) == RESULTS_KEPT
    assert set(map(str, kept)) == set(outputs[-RESULTS_KEPT:])  # the newest ones stay
    assert len(list(results_dir().iterdir())) == RESULTS_KEPT  # no empty folders either


# --- Topics -----------------------------------------------------------------------------------


def test_topic_chart_lists_top_topics_by_probability(app_models):
    table, summary, result = find_topics(app_models.topics, "football match goal team")
    model = app_models.topics.model
    assert list(table.columns) == ["topic", "name", "probability"]
    assert len(table) == min(10, model.n_topics) and table["name"].is_unique
    assert table["probability"].is_monotonic_decreasing
    assert table["probability"].between(0, 1).all() and table["probability"].sum() <= 1 + 1e-5
    top = int(table["topic"][0])
    assert table["name"][0].startswith(f"{top}: ")
    assert f"Dominant topic: {top}" in summary and ", ".join(model.topics(10)[top]) in summary
    assert result["known_words"] == 4
    assert [item["topic"] for item in result["topics"]] == table["topic"].tolist()


def test_topics_of_unknown_words_and_long_texts_say_so(app_models):
    summary = find_topics(app_models.topics, "zzyzx qwxv 🎉 日本語")[1]
    assert "none of its words are in the model's vocabulary" in summary
    summary = find_topics(app_models.topics, long_text(400))[1]
    assert "the sentence encoder read its first" in summary


@pytest.mark.parametrize("text", ["", " \t "])
def test_topics_refuse_an_empty_text(app_models, text):
    with pytest.raises(BadRequestError, match="Nothing to analyse"):
        find_topics(app_models.topics, text)


def test_topic_explorer_tables(app_models):
    model = app_models.topics.model
    words = topic_word_chart(app_models.topics, 1)
    assert list(words.columns) == ["word", "logit", "probability"]
    assert len(words) == min(15, len(model.vocab)) and words["logit"].is_monotonic_decreasing
    logits = model.topic_word_logits()[1]
    assert words["word"].tolist() == [model.vocab[i] for i in np.argsort(-logits)[:15]]
    # The decoder's distribution for a text of topic 1 alone: the words stand out from the
    # flat 1/vocabulary that the softmax of beta alone gives.
    assert words["probability"].iloc[0] > 3 / len(model.vocab)
    np.testing.assert_allclose(
        np.exp(words["logit"] - words["logit"].iloc[0]),
        words["probability"] / words["probability"].iloc[0],
        rtol=1e-4,
    )
    with pytest.raises(BadRequestError, match=f"from 0 to {model.n_topics - 1}"):
        topic_word_chart(app_models.topics, model.n_topics)
    with pytest.raises(BadRequestError, match="pick a whole number"):
        topic_word_chart(app_models.topics, 1.5)


def test_topic_map_draws_a_circle_per_topic_sized_by_prevalence(app_models):
    model = app_models.topics.model
    table = topic_map_table(model, saved_topic_map(app_models.topics))
    assert list(table["topic"]) == list(range(model.n_topics))
    assert table["prevalence"].sum() == pytest.approx(1, abs=1e-3)
    svg = topic_map_svg(table, selected=1)
    radii = {
        int(topic): float(radius)
        for topic, radius in re.findall(r'data-topic="(\d+)">.*?r="([\d.]+)"', svg)
    }
    assert sorted(radii) == list(range(model.n_topics))
    # Area follows prevalence: the most prevalent topic has the largest circle.
    assert max(radii, key=radii.get) == int(table["prevalence"].idxmax())
    assert svg.count('fill="#f58518"') == 1 and 'data-topic="1"><title>topic 1: ' in svg
    # A folder saved before topic_map.json: positions computed here, circles all alike.
    unsized = topic_map_table(model, None)
    assert unsized["prevalence"].isna().all() and "prevalence not saved" in topic_map_svg(unsized)


# --- Training curves, loading, About ----------------------------------------------------------


def test_training_curves_come_from_the_model_runs(app_models):
    classifier = app_models.classifier
    assert {"loss", "learning_rate", "f1_spam"} <= set(classifier.scalars["metric"])
    loss = metric_curves(classifier.scalars, "loss")
    assert set(loss["series"]) == {"train", "validation", "test"}
    train = loss[loss["series"] == "train"]
    assert train["step"].is_monotonic_increasing and len(train) >= 5
    topic_loss = metric_curves(app_models.topics.scalars, "loss")
    assert {"train", "validation"} <= set(topic_loss["series"])
    assert metrics(classifier.scalars)[0] == "loss"
    intro = curves_intro(classifier, "classifier")
    assert f"{len(classifier.scalars):,} values logged in `runs/` (test-run)" in intro
    assert "TensorBoard tab" not in intro  # a local folder has no Hub page to link


def test_model_calls_share_one_long_lived_thread():
    names = {run_model(lambda: threading.current_thread().name) for _ in range(3)}
    assert len(names) == 1 and names.pop().startswith("model")
    with pytest.raises(ZeroDivisionError):
        run_model(lambda: 1 / 0)


def test_micro_batcher_joins_concurrent_calls_and_answers_each_its_own():
    batches: list[list[int]] = []
    gate = threading.Event()

    def square(items: list[int]) -> list[int]:
        gate.wait(5)  # the first batch waits until the other calls have queued behind it
        batches.append(items)
        return [item * item for item in items]

    batcher = MicroBatcher(square, max_batch=8)
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(batcher, [i]) for i in range(20)]
        time.sleep(0.2)
        gate.set()
        results = [future.result(timeout=10) for future in futures]
    assert results == [[i * i] for i in range(20)]
    assert sorted(item for batch in batches for item in batch) == list(range(20))
    assert max(len(batch) for batch in batches) == 8 and len(batches) < 20
    assert batcher([]) == []


def test_micro_batcher_gives_a_failing_batch_error_to_each_caller_then_recovers():
    def fail_on_negative(items: list[int]) -> list[int]:
        if min(items) < 0:
            raise ValueError("negative")
        return items

    batcher = MicroBatcher(fail_on_negative, max_batch=4)
    with pytest.raises(ValueError, match="negative"):
        batcher([1, -1])
    assert batcher([2, 3]) == [2, 3]


def test_json_text_classification_in_the_inference_api_shape(app_models):
    single = text_classification(app_models.classifier, {"inputs": SPAM_EXAMPLE})
    assert [item["label"] for item in single[0]] == ["spam", "ham"]
    assert math.isclose(sum(item["score"] for item in single[0]), 1, abs_tol=1e-5)
    both = text_classification(
        app_models.classifier,
        {"inputs": [SPAM_EXAMPLE, HAM_EXAMPLE], "parameters": {"top_k": 1}},
        app_models.classify,  # the app's batcher gives the same answers
    )
    assert [[item["label"] for item in ranked] for ranked in both] == [["spam"], ["ham"]]


BAD_PAYLOADS = {
    "no object": (["a text"], "send a JSON object"),
    "no inputs": ({"text": "a text"}, "send a JSON object"),
    "empty list": ({"inputs": []}, "non-empty list of texts"),
    "number": ({"inputs": [SPAM_EXAMPLE, 3]}, "inputs[1] is a int, not a text"),
    "blank": ({"inputs": ["  "]}, "inputs[0] is empty"),
    "bad top_k": ({"inputs": "hi", "parameters": {"top_k": 0}}, 'top_k" must be a whole number'),
    "too many": ({"inputs": ["hi"] * 257}, "holds 257 texts; send at most 256"),
}


@pytest.mark.parametrize("name", sorted(BAD_PAYLOADS))
def test_json_routes_refuse_bad_payloads_with_the_reason(app_models, name):
    payload, message = BAD_PAYLOADS[name]
    for route in (
        lambda: text_classification(app_models.classifier, payload),
        lambda: json_topics(app_models.topics, payload),
    ):
        with pytest.raises(BadRequestError, match=re.escape(message)):
            route()


def test_json_topics_match_the_topics_tab(app_models):
    text = "football match goal team"
    [result] = json_topics(app_models.topics, {"inputs": [text], "parameters": {"top_k": 3}})
    tab = find_topics(app_models.topics, text)[2]
    assert result["known_words"] == tab["known_words"] == 4
    assert result["topics"] == tab["topics"][:3]


def test_model_source_prefers_the_environment_then_the_local_folder(tmp_path):
    folder = tmp_path / "spam"
    assert model_source("SPAM_MODEL", folder, "org/repo", {}) == ModelSource(
        "SPAM_MODEL", "org/repo"
    )
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert model_source("SPAM_MODEL", folder, "org/repo", {}).name == str(folder)
    environ = {"SPAM_MODEL": "me/mine", "SPAM_MODEL_REVISION": "v2"}
    assert model_source("SPAM_MODEL", folder, "org/repo", environ) == ModelSource(
        "SPAM_MODEL", "me/mine", "v2"
    )


def test_a_model_that_cannot_load_explains_what_and_how_to_fix(tmp_path, trained_topic_model):
    missing = load_model(ModelSource("SPAM_MODEL", str(tmp_path / "nowhere")), load_classifier)
    assert not missing.ok and "nowhere" in missing.error
    problem = load_problem(missing, "classifier")
    assert "python -m train classify" in problem and "SPAM_MODEL" in problem
    wrong_kind = load_model(ModelSource("SPAM_MODEL", str(trained_topic_model)), load_classifier)
    assert not wrong_kind.ok and wrong_kind.error
    not_topics = load_model(ModelSource("TOPIC_MODEL", str(tmp_path)), load_topic_model)
    assert "no config.json" in not_topics.error
    labels, notes = classify_texts(missing, ["hello"])
    assert labels == [None] and "SPAM_MODEL" in notes[0]
    for call in (
        lambda: explain_text(missing, "hi"),
        lambda: find_topics(not_topics, "hi"),
        lambda: topic_word_chart(not_topics, 0),
    ):
        with pytest.raises(BadRequestError, match="could not be loaded"):
            call()


def test_card_examples_come_from_the_widget_or_the_usage_snippet(
    trained_classifier, spam_csv, tmp_path
):
    card = Card.read(trained_classifier / "README.md")
    assert card.task == "spam" and card.title.startswith("spam classifier")
    # The model-index (shown when a model has no eval_results.json) reports the test scores.
    results = json.loads((trained_classifier / "eval_results.json").read_text())
    assert card.metrics["F1 (spam)"] == round(results["test"]["f1_spam"], 4)
    widget = card.metadata["widget"]
    assert [example["example_title"] for example in widget] == ["ham", "spam"]
    data = pd.read_csv(spam_csv)
    for label, example in enumerate(widget):  # a real message of that label (1 = spam)
        assert example["text"] in set(data.loc[data["label"] == label, "text"])
    assert card.examples() == [example["text"] for example in widget]
    assert f"classifier({widget[0]['text']!r})" in card.body

    snippet_only = tmp_path / "snippet" / "README.md"
    snippet_only.parent.mkdir()
    snippet_only.write_text(
        '# A card\n\n```python\nmodel = Model.from_pretrained("<this repo id or folder>")\n'
        'classifier("I loved every minute")\n```\n'
    )
    # The loading line's placeholder is no example; the call on a sentence is.
    assert Card.read(snippet_only).examples() == ["I loved every minute"]
    assert Card.read(tmp_path / "README.md") == Card()


def test_about_lists_sources_metrics_and_api(app_models, trained_classifier):
    about = about_markdown(app_models)
    assert f"`{trained_classifier}` (local folder)" in about
    assert " f1_spam |" in about and " npmi |" in about and "round_trip" not in about
    # The classifier is served from its int8 ONNX export, so its table shows that one's scores.
    assert "served with ONNX Runtime, int8 weights" in about
    served = json.loads((trained_classifier / "eval_results.json").read_text())["test_onnx_int8"]
    assert "(the int8 ONNX export, as served)" in about
    assert "| " + " | ".join(f"{value:.4f}" for value in served.values()) + " |" in about
    for endpoint in ("/classify", "/explain", "/classify_batch", "/topics", "/topic_words"):
        assert f'api_name="{endpoint}"' in about
    assert "No metrics" in "\n".join(metrics_table("Classifier", {"loss": 0.1}))


# Loads both models as ``python app.py`` does and reports what that imported.
SERVE_AND_LIST_MODULES = """
import json, sys
import app
models = app.load_models(app.PROJECT_DIR)
app.build_demo(models)
heavy = ["torch", "transformers", "sentence_transformers", "contextualized_topic_models",
         "scipy"]
print(json.dumps({"backends": [models.classifier.model.backend, models.topics.model.backend],
                  "imported": [name for name in heavy if name in sys.modules]}))
"""


def test_the_app_serves_both_exports_without_torch(trained_classifier, trained_topic_model):
    """Both training commands write ONNX exports, and the app serves them with ONNX Runtime
    alone: torch, transformers and sentence-transformers (most of the start-up time, and
    memory) are never imported."""
    env = {
        **os.environ,
        "SPAM_MODEL": str(trained_classifier),
        "TOPIC_MODEL": str(trained_topic_model),
    }
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LIST_MODULES],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(backend.startswith("ONNX Runtime") for backend in report["backends"])
    assert report["imported"] == []
