"""Data loading and validation for ``train classify``: every bad input gets a clear error."""

from __future__ import annotations

import pandas as pd
import pytest

from train.__main__ import main
from train.classify_data import load_classification_data, stratified_split
from train.classify_metrics import classification_metrics, selection_metric
from train.errors import UserError


def load(source, **overrides):
    options = dict(
        text_column=None,
        label_column=None,
        label_names=None,
        validation_size=0.15,
        test_size=0.15,
        seed=42,
    )
    return load_classification_data(str(source), **{**options, **overrides})


def write_csv(path, rows, columns=("label", "text")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def put(path, content: bytes):
    path.write_bytes(content)
    return path


def balanced_rows(n=20):
    return [(i % 2, f"message number {i}") for i in range(n)]


def test_splits_are_stratified_disjoint_and_complete(spam_csv):
    splits, dropped = load(spam_csv, label_names=["ham", "spam"])
    assert dropped == 0
    sizes = {name: len(s.texts) for name, s in splits.items()}
    assert sum(sizes.values()) == 135 and sizes["validation"] >= 20 and sizes["test"] >= 20
    all_texts = [t for s in splits.values() for t in s.texts]
    assert len(all_texts) == 135
    for subset in splits.values():
        assert subset.label_names == ["ham", "spam"]
        assert 0.25 < sum(subset.labels) / len(subset.labels) < 0.42  # 1/3 spam everywhere


def test_split_is_reproducible_with_the_seed(spam_csv):
    first, _ = load(spam_csv, seed=7)
    again, _ = load(spam_csv, seed=7)
    other, _ = load(spam_csv, seed=8)
    assert first["test"].texts == again["test"].texts
    assert first["test"].texts != other["test"].texts


def test_columns_are_detected_by_name(tmp_path):
    path = write_csv(
        tmp_path / "d.csv",
        [(f"msg {i}", "pos" if i % 2 else "neg", i) for i in range(20)],
        ("Message", "Sentiment", "id"),
    )
    splits, _ = load(path)
    assert splits["train"].label_names == ["neg", "pos"]
    assert all(t.startswith("msg") for t in splits["train"].texts)


def test_string_labels_follow_label_names_order(tmp_path):
    rows = [(["joy", "anger", "fear"][i % 3], f"text {i}") for i in range(30)]
    path = write_csv(tmp_path / "e.csv", rows)
    splits, _ = load(path, label_names=["fear", "joy", "anger"])
    subset = splits["train"]
    for text, label in zip(subset.texts, subset.labels, strict=True):
        assert ["joy", "anger", "fear"][int(text.split()[1]) % 3] == subset.label_names[label]


@pytest.mark.parametrize("suffix", ["tsv", "jsonl", "json", "parquet"])
def test_other_file_types(tmp_path, suffix):
    table = pd.DataFrame(balanced_rows(), columns=["label", "text"])
    path = tmp_path / f"d.{suffix}"
    {
        "tsv": lambda: table.to_csv(path, sep="\t", index=False),
        "jsonl": lambda: table.to_json(path, orient="records", lines=True),
        "json": lambda: table.to_json(path, orient="records"),
        "parquet": lambda: table.to_parquet(path),
    }[suffix]()
    splits, _ = load(path)
    assert sum(len(s.texts) for s in splits.values()) == 20


def test_a_folder_with_its_own_splits_keeps_them(tmp_path):
    write_csv(tmp_path / "train.csv", balanced_rows(40))
    write_csv(tmp_path / "test.csv", [(i % 2, f"held out {i}") for i in range(10)])
    splits, _ = load(tmp_path)
    assert sorted(splits["test"].texts) == sorted(f"held out {i}" for i in range(10))
    assert len(splits["train"].texts) + len(splits["validation"].texts) == 40
    assert not any(t.startswith("held out") for t in splits["validation"].texts)


def test_empty_and_missing_texts_are_dropped_and_counted(tmp_path):
    rows = balanced_rows() + [(0, ""), (1, "   "), (0, None)]
    splits, dropped = load(write_csv(tmp_path / "d.csv", rows))
    assert dropped == 3
    assert sum(len(s.texts) for s in splits.values()) == 20


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.csv", "data file not found"),
        (lambda p: put(p / "empty.csv", b""), "the file is empty"),
        (lambda p: put(p / "head.csv", b"label,text\n"), "no data rows"),
        (lambda p: put(p / "bad.csv", b"label,text\n0,caf\xe9 \xff\n"), "not valid UTF-8"),
        (lambda p: put(p / "d.xlsx", b"x"), "unsupported file type"),
        (lambda p: write_csv(p / "one.csv", [(1, f"t{i}") for i in range(9)]), "single class"),
        (
            lambda p: write_csv(p / "rare.csv", balanced_rows() + [(2, "lonely")]),
            "'2' has 1; each class needs at least 3",
        ),
        (lambda p: write_csv(p / "blank.csv", [(0, ""), (1, " ")]), "every row has an empty text"),
        (
            lambda p: write_csv(p / "nolabel.csv", balanced_rows() + [(None, "no label")]),
            "rows have no value in label column 'label'",
        ),
        (
            lambda p: write_csv(p / "cols.csv", balanced_rows(), ("y", "notes")),
            "cannot tell which column holds the text",
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(tmp_path, make, message):
    with pytest.raises(UserError, match=message):
        load(make(tmp_path))


def test_named_column_that_does_not_exist(tmp_path):
    path = write_csv(tmp_path / "d.csv", balanced_rows())
    with pytest.raises(UserError, match=r"no text column 'body'; columns are \['label', 'text'\]"):
        load(path, text_column="body")


def test_too_few_label_names(tmp_path):
    path = write_csv(tmp_path / "d.csv", [(i % 3, f"t {i}") for i in range(30)])
    with pytest.raises(UserError, match="gives 2 names but column 'label' has labels up to 2"):
        load(path, label_names=["a", "b"])


def test_stratified_split_keeps_every_class_in_every_part():
    labels = [0] * 50 + [1] * 10 + [2] * 5
    parts = stratified_split(labels, ["a", "b", "c"], validation_size=0.2, test_size=0.2, seed=0)
    assert sorted(i for part in parts.values() for i in part) == list(range(65))
    for part in parts.values():
        assert {labels[i] for i in part} == {0, 1, 2}


def test_cli_reports_user_errors_without_traceback(tmp_path, capsys):
    output = tmp_path / "out"
    assert (
        main(["classify", "--dataset", str(tmp_path / "nope.csv"), "--output-dir", str(output)])
        == 2
    )
    err = capsys.readouterr().err
    assert "error: data file not found" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written for a run that never started


def test_cli_rejects_bad_flag_values(spam_csv, tmp_path, capsys):
    assert (
        main(
            [
                "classify",
                "--dataset",
                str(spam_csv),
                "--epochs",
                "0",
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "--epochs must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--validation-size", "0"], "--validation-size must be above 0 and below 1"),
        (["--validation-size", "-0.1"], "--validation-size must be above 0 and below 1"),
        (["--test-size", "1"], "--test-size must be above 0 and below 1"),
        (["--test-size", "-0.5", "--validation-size", "0.5"], "--test-size must be above 0"),
        (
            ["--validation-size", "0.5", "--test-size", "0.5"],
            "--validation-size and --test-size must sum below 1",
        ),
    ],
)
def test_cli_rejects_split_sizes_outside_0_and_1(spam_csv, tmp_path, capsys, flags, message):
    assert (
        main(
            ["classify", "--dataset", str(spam_csv), "--output-dir", str(tmp_path / "out"), *flags]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1  # one line
    assert list(tmp_path.iterdir()) == []


def test_metrics_match_hand_counts():
    # true:      ham ham ham spam spam
    # predicted: ham spam ham spam ham
    scores = classification_metrics([0, 1, 0, 1, 0], [0, 0, 0, 1, 1], ["ham", "spam"])
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["precision_spam"] == pytest.approx(1 / 2)
    assert scores["recall_spam"] == pytest.approx(1 / 2)
    assert scores["recall_ham"] == pytest.approx(2 / 3)
    assert scores["f1_macro"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert selection_metric(["ham", "spam"]) == "f1_spam"
    assert selection_metric(["a", "b", "c"]) == "f1_macro"
