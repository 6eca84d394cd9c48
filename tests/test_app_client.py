"""The served app over HTTP with ``gradio_client``: every endpoint, its errors, a missing model,
and ``python app.py`` loading its classifier from the (local) Hub."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from tests.fixtures_app import HUB_MISSING_REPO, HUB_SPAM_REPO
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE
from tests.fixtures_hub import client_env, run_python

ENDPOINTS = {"/classify", "/explain", "/classify_batch", "/topics", "/topic_words"}


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def top_label(prediction: dict) -> tuple[str, float]:
    confidences = {c["label"]: c["confidence"] for c in prediction["confidences"]}
    assert math.isclose(sum(confidences.values()), 1, abs_tol=1e-5)
    return prediction["label"], confidences[prediction["label"]]


def test_endpoints_are_named_and_classify_runs_concurrently(client: Client, app_url: str):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == ENDPOINTS
    config = httpx.get(f"{app_url}config").json()
    classify = next(d for d in config["dependencies"] if d["api_name"] == "classify")
    # A plain endpoint (Gradio's batch=True lost a shared client's requests); the app's own
    # batcher joins the concurrent calls.
    assert not classify["batch"]


def test_one_client_shared_by_32_threads_loses_no_request(client: Client):
    """How a web backend calls a Space: one ``gradio_client.Client``, many threads. With
    Gradio's ``batch=True`` this lost 3 to 15 of 256 requests (CancelledError)."""
    messages = [SPAM_EXAMPLE, HAM_EXAMPLE] * 500
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda text: client.predict(text, api_name="/classify"), messages))
    assert [top_label(prediction)[0] for prediction, _ in results] == ["spam", "ham"] * 500


def test_classify_bad_input_explains_itself(client: Client, app_models):
    prediction, note = client.predict("   ", api_name="/classify")
    assert not prediction and "empty" in note
    model = app_models.classifier.model
    for text, noted in (
        ("free prize " * 200, "tokens"),
        ("WIN\x07NER 🎉 日本語 prize", "control character"),
    ):
        prediction, note = client.predict(text, api_name="/classify")
        # The label over HTTP is the model's own for that text, and the note says what changed.
        assert top_label(prediction)[0] == model.predict([text])[0].label and noted in note


def test_explain_returns_every_word_with_a_score(client: Client):
    segments = client.predict(SPAM_EXAMPLE, api_name="/explain")
    assert "".join(s["token"] for s in segments) == SPAM_EXAMPLE
    scores = [s["class_or_confidence"] for s in segments if s["token"].strip()]
    assert len(scores) == len(SPAM_EXAMPLE.split()) and max(map(abs, scores)) == 1
    with pytest.raises(AppError, match="Nothing to explain"):
        client.predict("", api_name="/explain")


def test_batch_csv_round_trip(client: Client, tmp_path):
    path = tmp_path / "inbox.csv"
    pd.DataFrame({"sms": [SPAM_EXAMPLE, HAM_EXAMPLE, ""]}).to_csv(path, index=False)
    summary, table, csv_file = client.predict(
        handle_file(str(path)), "", api_name="/classify_batch"
    )
    assert "Classified 2 of 3 messages" in summary
    assert [row[2] for row in table["data"]] == ["spam", "ham", ""]
    result = pd.read_csv(csv_file, keep_default_na=False)
    assert result["label"].tolist() == ["spam", "ham", ""]
    assert result["note"].tolist() == ["", "", "empty text"]


def test_batch_errors_are_explained(client: Client, tmp_path):
    no_text = tmp_path / "scores.csv"
    no_text.write_text("id,score\n1,2\n", encoding="utf-8")
    with pytest.raises(AppError, match="its columns are 'id', 'score'"):
        client.predict(handle_file(str(no_text)), "", api_name="/classify_batch")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(AppError, match="not a text file"):
        client.predict(handle_file(str(binary)), "", api_name="/classify_batch")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(AppError, match="Invalid file type"):
        client.predict(handle_file(str(image)), "", api_name="/classify_batch")


def test_topics_and_topic_words(client: Client):
    chart, summary, result = client.predict("football match goal team", api_name="/topics")
    assert chart["columns"] == ["topic", "name", "probability"]
    probabilities = [row[2] for row in chart["data"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    assert f"Dominant topic: {result['topics'][0]['topic']}" in summary
    words = client.predict(1, api_name="/topic_words")
    assert words["columns"] == ["word", "logit", "probability"] and len(words["data"]) > 5
    with pytest.raises(AppError, match="Nothing to analyse"):
        client.predict(" ", api_name="/topics")
    # The dropdown itself refuses a topic it does not offer, before the function runs.
    with pytest.raises(AppError, match=r"999 is not in the list of choices: \[0, 1, 2, 3, 4\]"):
        client.predict(999, api_name="/topic_words")


def test_python_app_py_serves_the_hub_model_and_explains_the_missing_one(hub_app):
    client = Client(hub_app.url, verbose=False)
    prediction, note = client.predict(SPAM_EXAMPLE, api_name="/classify")
    assert top_label(prediction)[0] == "spam" and note == ""
    with pytest.raises(AppError, match=f"(?s){HUB_MISSING_REPO}.*not found.*TOPIC_MODEL"):
        client.predict("stocks fall", api_name="/topics")
    page = httpx.get(f"{hub_app.url}config").text
    # The About tab names the pinned commit; the curves tab links the Hub's TensorBoard tab.
    assert f"commit `{hub_app.commit[:10]}`" in page
    assert f"{hub_app.hub_endpoint}/{HUB_SPAM_REPO}/tensorboard" in page
    assert "python -m train topics" in page  # how to fix the missing topic model


def test_json_route_answers_the_inference_client(app_url: str, tmp_path):
    """``huggingface_hub.InferenceClient`` pointed at the route, in a process of its own (this
    one is pinned offline), classifies as the Hub's Inference API would."""
    code = (
        "import json, sys\n"
        "from huggingface_hub import InferenceClient\n"
        "client = InferenceClient(model=sys.argv[1])\n"
        "result = client.text_classification(sys.argv[2])\n"
        "print(json.dumps([[r.label, r.score] for r in result]))\n"
    )
    env = client_env(app_url, tmp_path / "hf_home", token=None)
    ranked = run_python(env, code, f"{app_url}v1/text-classification", SPAM_EXAMPLE)
    assert [label for label, _ in ranked] == ["spam", "ham"]
    assert math.isclose(sum(score for _, score in ranked), 1, abs_tol=1e-5)


def test_json_routes_over_http(app_url: str, app_models):
    model = app_models.classifier.model
    response = httpx.post(
        f"{app_url}v1/text-classification",
        json={"inputs": [SPAM_EXAMPLE, HAM_EXAMPLE], "parameters": {"top_k": 1}},
    )
    assert response.status_code == 200
    expected = [p.label for p in model.predict([SPAM_EXAMPLE, HAM_EXAMPLE])]
    assert [[item["label"]] for [item] in response.json()] == [[label] for label in expected]
    bad = httpx.post(f"{app_url}v1/text-classification", json={"inputs": ["fine", " "]})
    assert bad.status_code == 400
    assert bad.json() == {"error": "inputs[1] is empty: there is nothing to classify"}

    topics = httpx.post(f"{app_url}v1/topics", json={"inputs": "football match goal team"})
    assert topics.status_code == 200
    [result] = topics.json()
    assert result["known_words"] == 4 and len(result["topics"]) == 5
    probabilities = [topic["probability"] for topic in result["topics"]]
    assert probabilities == sorted(probabilities, reverse=True)
    missing = httpx.post(f"{app_url}v1/topics", json={"text": "no inputs key"})
    assert missing.status_code == 400 and "inputs" in missing.json()["error"]
