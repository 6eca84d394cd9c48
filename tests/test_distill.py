"""``train classify --distill-from``: a 1-layer student of the tiny 2-layer fixture classifier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoModelForSequenceClassification

from hub_utils import hub
from hub_utils.models.json_files import read_json
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE, classify_args, synthetic_spam_table
from train.__main__ import main
from train.distill import NO_LABEL, DistillationLoss, teacher_hub_id

EPOCHS = 3


@pytest.fixture(scope="module")
def student(tmp_path_factory, spam_csv, tiny_bert, trained_classifier) -> Path:
    """A student distilled from the trained fixture, with 40 extra unlabelled texts."""
    folder = tmp_path_factory.mktemp("student")
    unlabelled = folder / "extra.txt"
    # Numbered, so none is also a validation or test text (those would be dropped).
    texts = [f"{t} ({i})" for i, t in enumerate(synthetic_spam_table(30, 10, seed=7)["text"])]
    unlabelled.write_text("\n".join(texts) + "\n\n")
    output = folder / "spam-student"
    args = classify_args(spam_csv, tiny_bert, output, "--epochs", str(EPOCHS))
    assert (
        main([*args, "--distill-from", str(trained_classifier), "--unlabelled", str(unlabelled)])
        == 0
    )
    return output


def test_student_has_fewer_layers_and_loads_in_a_pipeline(student, trained_classifier):
    from transformers import pipeline

    teacher = AutoModelForSequenceClassification.from_pretrained(trained_classifier)
    model = AutoModelForSequenceClassification.from_pretrained(student)
    assert teacher.config.num_hidden_layers == 2
    assert model.config.num_hidden_layers == 1 and len(model.bert.encoder.layer) == 1
    classifier = pipeline("text-classification", model=str(student))
    spam, ham = classifier([SPAM_EXAMPLE, HAM_EXAMPLE])
    assert (spam["label"], ham["label"]) == ("spam", "ham")


def test_card_and_results_name_the_teacher_and_both_scores(student):
    card = (student / "README.md").read_text()
    assert "distilled from a local teacher model" in card
    assert str(student.parent.parent) not in card  # no local path, here or anywhere published
    assert hub.check_folder(student) == "classifier"  # what `python -m hub_utils check` runs
    metadata = yaml.safe_load(card.split("---\n")[1])
    assert "distillation" in metadata["tags"]
    results = read_json(student / "eval_results.json")
    distillation = results["distillation"]
    assert distillation["teacher"] is None and distillation["unlabelled_texts"] == 40
    assert distillation["unlabelled_dropped_as_held_out"] == 0
    for scores in (results["test"], distillation["teacher_test"]):
        assert 0 <= scores["f1_spam"] <= 1
        assert f"| f1_spam | {results['test']['f1_spam']:.4f} | " in card
    assert f"| {distillation['teacher_test']['f1_spam']:.4f} |" in card


def test_unlabelled_texts_join_the_training_set(student):
    config = read_json(student / "training_config.json")
    train = config["split_sizes"]["train"]
    assert config["train_samples_seen"] == EPOCHS * (train + 40)
    assert config["distillation"]["unlabelled_texts"] == 40
    assert config["args"]["distill_from"] is None  # a local folder: no Hub id, no path
    assert config["args"]["unlabelled"] == "extra.txt"


def test_teacher_with_other_labels_is_refused(
    tmp_path, spam_csv, tiny_bert, trained_classifier, capsys
):
    args = classify_args(spam_csv, tiny_bert, tmp_path / "s", "--label-names", "spam,ham")
    assert main([*args, "--distill-from", str(trained_classifier)]) == 2
    # One line, the last (above it: transformers' report on loading the base model).
    err = capsys.readouterr().err.strip().splitlines()
    (line,) = [line for line in err if line.startswith("error")]
    assert line == err[-1]
    assert "teacher's labels ['ham', 'spam'] differ from the data's ['spam', 'ham']" in line
    assert not (tmp_path / "s").exists() and not (tmp_path / ".s.work").exists()


def test_flag_checks(tmp_path, spam_csv, tiny_bert, trained_classifier, capsys):
    base = classify_args(spam_csv, tiny_bert, tmp_path / "s")
    teacher = ["--distill-from", str(trained_classifier)]
    cases = {
        ("--unlabelled", str(spam_csv)): "--unlabelled needs --distill-from",
        (*teacher, "--alpha", "1.5"): "--alpha must be between 0 and 1",
        (*teacher, "--num-layers", "3"): "cannot have more layers than the teacher's 2",
        ("--distill-from", str(tmp_path / "none")): "cannot load --distill-from",
    }
    for extra, message in cases.items():
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err


def test_distillation_loss():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.3], [-1.0, 1.0]])
    teacher = torch.tensor([[3.0, -2.0], [0.0, 1.0], [-2.0, 2.0]])
    labels = torch.tensor([0.0, 1.0, 1.0])
    target = torch.cat([labels[:, None], teacher], dim=1)
    ce = torch.nn.functional.cross_entropy(logits, labels.long())
    assert DistillationLoss(2.0, 0.0)(logits, target) == pytest.approx(ce.item())
    kl = torch.nn.functional.kl_div(
        torch.log_softmax(logits / 2, -1), torch.softmax(teacher / 2, -1), reduction="batchmean"
    )
    assert DistillationLoss(2.0, 1.0)(logits, target) == pytest.approx(4 * kl.item())
    unlabelled = target.clone()
    unlabelled[:, 0] = NO_LABEL  # soft term only, never NaN
    assert DistillationLoss(2.0, 0.5)(logits, unlabelled) == pytest.approx(0.5 * 4 * kl.item())


def test_teacher_hub_id(tmp_path):
    assert teacher_hub_id("owner/spam-model") == "owner/spam-model"
    assert teacher_hub_id(str(tmp_path)) is None
    snapshot = tmp_path / "models--owner--spam" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    assert teacher_hub_id(str(snapshot)) == "owner/spam"
    assert json.dumps(teacher_hub_id(str(tmp_path / "missing"))) == "null"
