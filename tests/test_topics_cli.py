"""``python -m train topics``: bad inputs end with one clear line and exit 2; crashes resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import train.topics
from hub_utils.models.json_files import read_json, write_json
from tests.fixtures_topics import TopicCorpus
from tests.tensorboard_events import steps_in_write_order
from train.__main__ import main


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main(["topics", *argv])
    return code, capsys.readouterr().err


@pytest.fixture
def corpus(topic_corpus: TopicCorpus) -> list[str]:
    return ["--dataset", str(topic_corpus.corpus_file)]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n-topics", "0"], "--n-topics must be at least 1"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--validation-size", "0.7"], "--validation-size must be above 0 and below 0.5"),
        (["--lr", "-1"], "--lr must be positive"),
        (["--hidden-sizes", "100,x"], "--hidden-sizes must be positive integers"),
        (["--n-topics", "5000"], "exceeds the vocabulary size"),
        (["--vocab-size", "1"], "--vocab-size must be at least 2"),
    ],
)
def test_bad_flag_values_are_named(
    capsys: pytest.CaptureFixture, tmp_path: Path, corpus: list[str], flags: list[str], message: str
) -> None:
    code, err = run_cli(capsys, *corpus, "--output-dir", str(tmp_path / "out"), *flags)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bad_data_is_named(
    capsys: pytest.CaptureFixture, tmp_path: Path, topic_corpus: TopicCorpus
) -> None:
    out = ["--output-dir", str(tmp_path / "out")]
    code, err = run_cli(capsys, "--dataset", str(tmp_path / "missing.txt"), *out)
    assert code == 2 and "data file not found" in err

    stop_words = tmp_path / "stop.txt"
    stop_words.write_text("the and of\nit was to be\n", encoding="utf-8")
    code, err = run_cli(capsys, "--dataset", str(stop_words), *out)
    assert code == 2 and "no vocabulary left" in err

    short_labels = tmp_path / "labels.txt"
    short_labels.write_text("sport\nfood\n", encoding="utf-8")
    code, err = run_cli(
        capsys, "--dataset", str(topic_corpus.corpus_file), "--labels-file", str(short_labels), *out
    )
    assert code == 2 and "2 labels for 300 documents" in err

    code, err = run_cli(
        capsys, "--dataset", str(topic_corpus.corpus_file), "--bow-dataset", str(short_labels), *out
    )
    assert code == 2 and "must align line by line" in err

    table = tmp_path / "docs.csv"
    table.write_text("body\nfirst text\n", encoding="utf-8")
    code, err = run_cli(capsys, "--dataset", str(table), "--text-column", "text", *out)
    assert code == 2 and "no text column 'text'" in err
    assert not (tmp_path / "out").exists()


def test_an_unloadable_encoder_is_named(
    capsys: pytest.CaptureFixture, tmp_path: Path, corpus: list[str]
) -> None:
    code, err = run_cli(
        capsys,
        *corpus,
        "--output-dir",
        str(tmp_path / "out"),
        "--encoder",
        str(tmp_path / "no-encoder"),
    )
    assert code == 2 and "cannot load the sentence encoder" in err


def test_unknown_model_type_is_rejected_by_the_parser(
    capsys: pytest.CaptureFixture, corpus: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["topics", *corpus, "--model", "lda"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'lda'" in capsys.readouterr().err


def test_an_interrupted_run_leaves_no_output_and_resumes(
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    corpus: list[str],
    trained_topic_model: Path,
) -> None:
    output_dir = tmp_path / "topics"
    work_dir = tmp_path / ".topics.work"
    flags = [
        *corpus,
        "--output-dir",
        str(output_dir),
        "--n-topics",
        "3",
        "--batch-size",
        "32",
        "--no-onnx",
        "--cache-dir",
        str(trained_topic_model.parent / ".cache" / "embeddings"),
    ]

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while writing the output")

    monkeypatch.setattr(train.topics, "write_topic_card", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(["topics", *flags, "--epochs", "2", "--run-name", "resumed"])
    monkeypatch.undo()
    assert not output_dir.exists()
    assert not list(tmp_path.glob(".topics.tmp-*"))  # the half-written folder is gone
    assert read_json(work_dir / "state.json")["epoch"] == 2
    assert [p.name for p in work_dir.glob("checkpoint-*")] == ["checkpoint-2"]

    code, err = run_cli(capsys, *flags, "--epochs", "2")
    assert code == 2 and "an interrupted run is in" in err
    code, err = run_cli(capsys, *flags, "--epochs", "4", "--resume", "--lr", "0.1")
    assert code == 2 and "differ from the interrupted run: --lr" in err
    code, err = run_cli(capsys, *flags, "--resume", "--run-name", "other")
    assert code == 2 and "--run-name 'other' differs from the interrupted run's 'resumed'" in err

    # A run saved before --dropout existed trained without dropout: its default.
    state = read_json(work_dir / "state.json")
    del state["args"]["dropout"]
    write_json(work_dir / "state.json", state)
    code, err = run_cli(capsys, *flags, "--epochs", "4", "--resume", "--dropout", "0.2")
    assert code == 2 and "differ from the interrupted run: --dropout" in err

    # More epochs train on; the run name, left out, continues.
    code, _ = run_cli(capsys, *flags, "--epochs", "4", "--resume")
    assert code == 0
    training = json.loads((output_dir / "training_config.json").read_text())
    assert [entry["epoch"] for entry in training["history"]] == [1, 2, 3, 4]
    assert training["run_name"] == "resumed" and training["epochs"] == 4
    assert steps_in_write_order(output_dir / "runs" / "resumed", "train/loss") == [1, 2, 3, 4]
    assert not work_dir.exists()
    assert not (output_dir / "onnx").exists()  # --no-onnx


def test_a_run_that_fails_before_its_first_epoch_leaves_nothing_to_resume(
    capsys: pytest.CaptureFixture, tmp_path: Path, corpus: list[str]
) -> None:
    out = ["--output-dir", str(tmp_path / "out")]
    code, err = run_cli(capsys, *corpus, *out, "--n-topics", "5000")
    assert code == 2 and "exceeds the vocabulary size" in err
    assert not (tmp_path / ".out.work").exists()
    code, err = run_cli(capsys, *corpus, *out, "--resume")
    assert code == 2 and "--resume: no interrupted run to continue" in err
