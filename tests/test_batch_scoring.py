"""The file scorer (``python -m hub_utils classify-file | topics-file | merge-scores``): every
format, the app's answers, one row per input row, bad input, resume after a kill, shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hub_utils.__main__ import main
from hub_utils.serving import file_scoring
from hub_utils.serving.batch_classify import classify_messages
from hub_utils.serving.classifier_views import classify_texts
from hub_utils.serving.topic_views import find_topics
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE, synthetic_spam_table
from tests.fixtures_hub import REPO_ROOT


def messages(n: int = 60) -> list[str]:
    """Varied one-line messages (no tabs: the TSV and TXT files hold them as they are)."""
    return synthetic_spam_table(n_ham=n * 2 // 3, n_spam=n - n * 2 // 3, seed=1)["text"].tolist()


def write_input(path: Path, texts: list[Any]) -> Path:
    """``texts`` (None: a missing value) in the format of ``path``'s suffix, with an id column."""
    table = pd.DataFrame({"id": range(len(texts)), "message": texts})
    if path.suffix == ".txt":
        path.write_text("".join(f"{text or ''}\n" for text in texts), encoding="utf-8")
    elif path.suffix == ".jsonl":
        lines = [json.dumps({"id": i, "message": text}) for i, text in enumerate(texts)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


def score(kind: str, source: Path, output: Path, model: Path, *extra: str) -> int:
    return main([kind, str(source), "--model", str(model), "--output", str(output), *extra])


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"text": str})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".txt", ".jsonl", ".parquet"])
def test_every_input_format_gives_the_app_answers_in_order(
    tmp_path, trained_classifier, app_models, suffix
):
    texts = messages()
    source = write_input(tmp_path / f"in{suffix}", texts)
    assert score("classify-file", source, tmp_path / "out.csv", trained_classifier) == 0
    result = read(tmp_path / "out.csv")
    assert result["row"].tolist() == list(range(1, len(texts) + 1))
    assert result["text"].tolist() == texts
    # The app's /classify: the same texts in one call give the same probabilities.
    probabilities, _ = classify_texts(app_models.classifier, list(texts))
    labels = app_models.classifier.model.labels
    assert result["label"].tolist() == [max(p, key=p.__getitem__) for p in probabilities if p]
    for label in labels:
        expected = [p[label] for p in probabilities if p]
        np.testing.assert_allclose(result[f"p_{label}"], expected, rtol=0, atol=1e-6)


def test_any_chunk_size_gives_the_app_batch_tab_rows(tmp_path, trained_classifier, app_models):
    """The batch tab calls the model 128 rows at a time, the scorer 4,096 by default: each
    text runs alone, so the rows are the same, empty rows included."""
    texts = messages(300)
    texts[5] = ""
    texts[200] = "   "
    source = write_input(tmp_path / "in.csv", texts)
    assert score("classify-file", source, tmp_path / "out.csv", trained_classifier) == 0
    small_chunks = ("--chunk-size", "7")
    assert (
        score("classify-file", source, tmp_path / "out7.csv", trained_classifier, *small_chunks)
        == 0
    )
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "out7.csv").read_bytes()
    app = classify_messages(app_models.classifier.model, texts)
    result = read(tmp_path / "out.csv")
    assert result["label"].fillna("").tolist() == app["label"].tolist()
    assert result["note"].fillna("").tolist() == app["note"].tolist()
    np.testing.assert_array_equal(result["probability"], app["probability"])


def test_parquet_output_holds_the_csv_rows(tmp_path, trained_classifier):
    source = write_input(tmp_path / "in.jsonl", [*messages(), None, ""])
    assert score("classify-file", source, tmp_path / "out.csv", trained_classifier) == 0
    assert score("classify-file", source, tmp_path / "out.parquet", trained_classifier) == 0
    csv_rows, parquet_rows = read(tmp_path / "out.csv"), read(tmp_path / "out.parquet")
    assert list(parquet_rows.columns) == list(csv_rows.columns)
    pd.testing.assert_frame_equal(
        parquet_rows.fillna("").astype(str), csv_rows.fillna("").astype(str), check_dtype=False
    )
    assert not (tmp_path / "out.parquet.parts").exists()
    assert not (tmp_path / "out.parquet.progress.json").exists()


def test_empty_missing_and_cut_off_rows_keep_their_place(tmp_path, trained_classifier, capsys):
    lines = [
        json.dumps({"message": SPAM_EXAMPLE}),
        json.dumps({"message": ""}),
        json.dumps({"message": None}),
        "",
        json.dumps({"other": 1}),
        json.dumps({"message": HAM_EXAMPLE}),
        '{"message": "cut off in the mi',
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines), encoding="utf-8")  # no line end: the last line was cut
    assert score("classify-file", source, tmp_path / "out.csv", trained_classifier) == 0
    result = read(tmp_path / "out.csv").fillna("")
    assert result["row"].tolist() == list(range(1, 8))
    assert result["label"].tolist() == ["spam", "", "", "", "", "ham", ""]
    assert result["note"].tolist()[1:5] == [
        "empty text",
        "missing text",
        "empty text",
        "missing text",
    ]
    assert result["note"][6] == "cut-off last line: not valid JSON"
    summary = capsys.readouterr().out
    assert "7 rows" in summary and "2 missing text" in summary and "1 cut-off last line" in summary

    csv_source = tmp_path / "short.csv"  # a short row and a blank line in a CSV
    csv_source.write_text(f"id,text\n1,{HAM_EXAMPLE}\n2\n\n3,\n", encoding="utf-8")
    assert score("classify-file", csv_source, tmp_path / "short-out.csv", trained_classifier) == 0
    notes = read(tmp_path / "short-out.csv").fillna("")["note"].tolist()
    assert notes == ["", "missing text (the row has 1 of 2 fields)", "empty text", "empty text"]

    frame = pd.DataFrame({"text": [HAM_EXAMPLE, None, float("nan"), "NA"]})
    frame.to_parquet(tmp_path / "nan.parquet")
    assert (
        score("classify-file", tmp_path / "nan.parquet", tmp_path / "nan.csv", trained_classifier)
        == 0
    )
    result = read(tmp_path / "nan.csv").fillna("")
    assert result["note"].tolist()[1:3] == ["missing text", "missing text"]
    assert result["text"][3] == "NA" and result["label"][3] != ""  # a text, not a missing value


BAD_INPUTS = {
    "numbers.csv": (b"id,score\n1,0.5\n", "has no text column: its columns are 'id', 'score'"),
    "numbers.jsonl": (b'{"id": 1, "n": 2}\n', "has no text column: its columns are 'id', 'n'"),
    "latin1.csv": (
        "text\nfine\ncafé crème\n".encode("latin-1"),
        "is not UTF-8 text (invalid byte at position 13, line 3)",
    ),
    "image.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a text file"),
    "cut.csv": (b'text\nhello\n"cut off in a quot', "is not a readable table (line 3"),
    "bad.jsonl": (b'{"text": "a"}\n{"text": \n{"text": "b"}\n', "line 2 is not valid JSON"),
    "list.jsonl": (b'{"text": "a"}\n["b"]\n', "line 2 is a JSON list, not an object"),
    "sheet.xlsx": (b"PK\x03\x04", "unsupported file type '.xlsx'"),
    "header.csv": (b"text\n", "has no messages"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(tmp_path, trained_classifier, capsys, name):
    content, message = BAD_INPUTS[name]
    (tmp_path / name).write_bytes(content)
    assert score("classify-file", tmp_path / name, tmp_path / "out.csv", trained_classifier) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "out.csv").exists()


def test_formulas_are_neutralised_in_csv_only(tmp_path, trained_classifier):
    risky = ['=HYPERLINK("http://x.example","win")', "+44 7700 900123", "@channel", "a\rb"]
    source = write_input(tmp_path / "in.jsonl", risky)
    for output in ("out.csv", "out.parquet"):
        assert score("classify-file", source, tmp_path / output, trained_classifier) == 0
    assert read(tmp_path / "out.csv")["text"].tolist() == [f"'{t}" for t in risky[:3]] + ["a\rb"]
    assert read(tmp_path / "out.parquet")["text"].tolist() == risky


def test_an_existing_output_is_never_overwritten_unasked(tmp_path, trained_classifier, capsys):
    source = write_input(tmp_path / "in.csv", messages(10))
    output = tmp_path / "out.csv"
    output.write_text("precious\n")
    assert score("classify-file", source, output, trained_classifier) == 2
    assert "exists: pass --resume" in capsys.readouterr().err
    assert output.read_text() == "precious\n"
    assert score("classify-file", source, output, trained_classifier, "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert score("classify-file", source, output, trained_classifier, "--overwrite") == 0
    assert len(read(output)) == 10


class Killed(Exception):
    """Stands for a kill between a chunk's write and its progress record."""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_resume_after_a_kill_gives_the_uninterrupted_output(
    tmp_path, trained_classifier, monkeypatch, suffix
):
    source = write_input(tmp_path / "in.csv", messages(100))
    chunks = ("--chunk-size", "16")
    assert (
        score("classify-file", source, tmp_path / f"whole{suffix}", trained_classifier, *chunks)
        == 0
    )
    output = tmp_path / f"out{suffix}"
    save, calls = file_scoring.Progress.save, []

    def killed_on_the_fourth_save(self: Any, state: dict[str, Any]) -> None:
        calls.append(state["chunks_done"])
        if len(calls) == 4:  # the third chunk is written, its progress is not
            raise Killed
        save(self, state)

    monkeypatch.setattr(file_scoring.Progress, "save", killed_on_the_fourth_save)
    with pytest.raises(Killed):
        score("classify-file", source, output, trained_classifier, *chunks)
    monkeypatch.setattr(file_scoring.Progress, "save", save)
    state = json.loads((tmp_path / f"out{suffix}.progress.json").read_text())
    assert state["chunks_done"] == 2
    assert score("classify-file", source, output, trained_classifier, *chunks, "--resume") == 0
    assert output.read_bytes() == (tmp_path / f"whole{suffix}").read_bytes()
    assert not (tmp_path / f"out{suffix}.progress.json").exists()


def test_resume_after_sigkill_of_the_command(tmp_path, trained_classifier):
    """A real ``kill -9`` of ``python -m hub_utils classify-file`` once a chunk is recorded."""
    source = write_input(tmp_path / "in.txt", messages(200) * 10)
    args = ["--model", str(trained_classifier), "--chunk-size", "8", "--no-progress"]
    whole, output = tmp_path / "whole.csv", tmp_path / "out.csv"
    command = [sys.executable, "-m", "hub_utils", "classify-file", str(source), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen([*command, "--output", str(output)], cwd=REPO_ROOT, env=env)
    progress = tmp_path / "out.csv.progress.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if progress.is_file() and json.loads(progress.read_text() or "{}").get("chunks_done"):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "it finished before the kill: make the file longer"
    assert 0 < json.loads(progress.read_text())["chunks_done"] < 250
    subprocess.run([*command, "--output", str(output), "--resume"], env=env, check=True)
    subprocess.run([*command, "--output", str(whole)], env=env, check=True)
    assert output.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_shards_merged_equal_one_run(tmp_path, trained_classifier, capsys, suffix):
    source = write_input(tmp_path / "in.csv", messages(100))
    chunks = ("--chunk-size", "16")
    assert (
        score("classify-file", source, tmp_path / f"one{suffix}", trained_classifier, *chunks) == 0
    )
    parts = [tmp_path / f"part-{i}{suffix}" for i in range(3)]
    for i, part in enumerate(parts):
        shard = ("--shard", f"{i}/3")
        assert score("classify-file", source, part, trained_classifier, *chunks, *shard) == 0
    merged = tmp_path / f"merged{suffix}"
    assert main(["merge-scores", str(merged), *map(str, parts[:2])]) == 2
    assert "the run had 3 shards" in capsys.readouterr().err
    assert main(["merge-scores", str(merged), *map(str, reversed(parts))]) == 0
    assert merged.read_bytes() == (tmp_path / f"one{suffix}").read_bytes()
    assert read(parts[1])["row"].min() == 17  # shard 1 holds the second chunk


def test_topics_file_gives_the_topics_tab_distributions(
    tmp_path, trained_topic_model, app_models, topic_corpus
):
    documents = [text for text in topic_corpus.texts[:30] if text.strip()][:20]
    texts = [*documents, "", "zzz qqq"]
    source = write_input(tmp_path / "in.jsonl", texts)
    for output in ("out.csv", "out.parquet"):
        assert score("topics-file", source, tmp_path / output, trained_topic_model) == 0
    result = read(tmp_path / "out.csv")
    model = app_models.topics.model
    columns = [f"topic_{i}" for i in range(model.n_topics)]
    assert list(result.columns[6:]) == columns
    for i, text in enumerate(texts[:20]):
        distribution = find_topics(app_models.topics, text)[2]["topics"]
        best = distribution[0]["topic"]
        assert result["topic"][i] == best
        expected = model.predict([text])[0]
        np.testing.assert_allclose(result.loc[i, columns].astype(float), expected, atol=1e-6)
    assert result["note"][20] == "empty text" and pd.isna(result["topic"][20])
    assert "no word in the vocabulary" in result["note"][21]
    parquet = read(tmp_path / "out.parquet")
    np.testing.assert_allclose(parquet[columns], result[columns].astype(float), atol=0)
