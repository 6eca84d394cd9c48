"""End to end: ``train classify`` on small data: outputs, logs, resume, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import AutoModel, AutoModelForSequenceClassification

import train.classify
from hub_utils.models.classifier import TextClassifier
from hub_utils.models.json_files import read_json, write_json
from tests.conftest import REPO_ROOT
from tests.fixtures_classify import HAM_EXAMPLE, SPAM_EXAMPLE, classify_args
from tests.hub_server import HubHTTPError
from tests.tensorboard_events import steps_in_write_order
from train.__main__ import main
from train.classify import LengthGroupedBatches
from train.outputs import atomic_output_dir

METRIC_TAGS = [
    "loss",
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "f1_spam",
    "f1_ham",
    "precision_spam",
    "recall_spam",
]


def scalars(run_dir: Path) -> dict[str, list]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


def _has_plugin(events: EventAccumulator, plugin: str) -> bool:
    try:
        return bool(events.PluginTagToContent(plugin))
    except KeyError:
        return False


def test_output_folder_has_every_file(trained_classifier):
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
        "eval_results.json",
        "training_config.json",
        "onnx/model_quantized.onnx",
    ):
        assert (trained_classifier / name).is_file(), name
    assert list((trained_classifier / "runs" / "test-run").glob("events.out.tfevents.*"))
    assert not list(trained_classifier.parent.glob(".spam*")), "work or temp folders left"


def test_pipeline_loads_the_folder_and_names_labels(trained_classifier):
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(trained_classifier))
    spam, ham = classifier([SPAM_EXAMPLE, HAM_EXAMPLE])
    assert spam["label"] == "spam" and spam["score"] > 0.5
    assert ham["label"] == "ham" and ham["score"] > 0.5


def test_int8_onnx_export_predicts_like_the_pytorch_weights(trained_classifier):
    served = TextClassifier.from_folder(trained_classifier)
    reference = TextClassifier.from_folder(trained_classifier, prefer_onnx=False)
    assert served.backend.startswith("ONNX") and reference.backend.startswith("PyTorch")
    # One batch of very different lengths: the export must honour the padding mask.
    texts = [SPAM_EXAMPLE, HAM_EXAMPLE, "ok", " ".join([HAM_EXAMPLE] * 6), "Cash prize 🎉 now"]
    for ours, theirs in zip(served.predict(texts), reference.predict(texts), strict=True):
        assert ours.label == theirs.label
        for label in served.labels:
            assert ours.probabilities[label] == pytest.approx(theirs.probabilities[label], abs=0.05)
    # Dynamic quantization scales activations per batch, so a text's scores move a little
    # with its batch companions; the padding itself must not matter.
    alone = served.predict(["ok"])[0].probabilities
    assert alone == pytest.approx(served.predict(texts)[2].probabilities, abs=0.01)

    results = json.loads((trained_classifier / "eval_results.json").read_text())
    assert set(results["test_onnx_int8"]) == set(results["test"]) - {"loss"}
    assert results["test_onnx_int8"]["accuracy"] == pytest.approx(
        results["test"]["accuracy"], abs=0.05
    )
    card = (trained_classifier / "README.md").read_text()
    assert f"test accuracy {results['test_onnx_int8']['accuracy']:.4f}" in card


def test_serving_tokenizes_as_the_transformers_tokenizer(trained_classifier):
    """Serving reads tokenizer.json with ``tokenizers`` alone (no transformers import): the ids,
    the truncation and the padding must be what training's tokenizer gives."""
    from transformers import AutoTokenizer

    served = TextClassifier.from_folder(trained_classifier)
    reference = AutoTokenizer.from_pretrained(trained_classifier)
    texts = [
        SPAM_EXAMPLE,
        "Cash prize 🎉 now",
        "日本語 привет مرحبا",
        "tab\there\x07",
        " ".join([HAM_EXAMPLE] * 20),
    ]
    ours = served.tokenizer.encode_batch(texts)
    theirs = reference(texts, truncation=True, max_length=served.max_length, padding=True)
    assert [e.ids for e in ours] == theirs["input_ids"]
    assert [e.attention_mask for e in ours] == theirs["attention_mask"]
    assert [e.type_ids for e in ours] == theirs["token_type_ids"]
    assert len(ours[-1].ids) == served.max_length and ours[-1].overflowing


def test_tensorboard_has_curves_per_step_epoch_and_test(trained_classifier):
    curves = scalars(trained_classifier / "runs" / "test-run")
    losses = [event.value for event in curves["train/loss"]]
    assert len(losses) >= 5
    assert losses[-1] < 0.5 * losses[0], f"training loss did not go down: {losses}"
    assert len(curves["train/learning_rate"]) == len(losses)
    for tag in METRIC_TAGS:
        assert len(curves[f"validation/{tag}"]) == 8, tag  # one point per epoch
        assert len(curves[f"test/{tag}"]) == 1, tag
    results = json.loads((trained_classifier / "eval_results.json").read_text())
    assert curves["test/accuracy"][0].value == pytest.approx(results["test"]["accuracy"])


def test_hyperparameters_are_logged(trained_classifier):
    run_dir = trained_classifier / "runs" / "test-run"
    # Accelerate's tracker writes hparams into a timestamped folder inside the run.
    (hparams_file,) = run_dir.glob("*/hparams.yml")
    logged = yaml.safe_load(hparams_file.read_text())
    assert logged["lr"] == 2e-3 and logged["epochs"] == 8 and logged["task"] == "spam"
    plugins = set()
    for events_file in run_dir.glob("*/events.out.tfevents.*"):
        events = EventAccumulator(str(events_file))
        events.Reload()
        plugins |= {plugin for plugin in ("hparams", "scalars") if _has_plugin(events, plugin)}
    assert "hparams" in plugins, "no TensorBoard hparams summary"


def test_model_card_metadata_parses_and_matches_results(trained_classifier):
    text = (trained_classifier / "README.md").read_text()
    assert text.startswith("---\n")
    metadata = yaml.safe_load(text.split("---\n")[1])
    assert metadata["library_name"] == "transformers"
    assert metadata["pipeline_tag"] == "text-classification"
    # The tiny BERT is a local folder of unknown origin: no base_model (the Hub wants an id).
    assert "base_model" not in metadata and "local encoder" in text
    results = json.loads((trained_classifier / "eval_results.json").read_text())
    reported = {m["name"]: m["value"] for m in metadata["model-index"][0]["results"][0]["metrics"]}
    assert reported["Accuracy"] == round(results["test"]["accuracy"], 4)
    assert reported["F1 (spam)"] == round(results["test"]["f1_spam"], 4)
    assert "| true \\ predicted | ham | spam |" in text
    config = json.loads((trained_classifier / "training_config.json").read_text())
    assert sum(config["split_sizes"].values()) == 135
    assert config["args"]["dataset"] == "spam.csv"  # the file name only, never its folder
    assert "output_dir" not in config["args"] and config["base_model"] is None


def test_resume_continues_an_interrupted_run(tmp_path, spam_csv, tiny_bert, capsys):
    output = tmp_path / "spam"
    work = tmp_path / ".spam.work"
    args = classify_args(
        spam_csv, tiny_bert, output, "--epochs", "12", "--freeze-embeddings", "--no-onnx"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "train", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            state_file = work / "state.json"
            if state_file.is_file() and json.loads(state_file.read_text())["epoch"] >= 2:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(signal.SIGKILL)  # a crash: no cleanup code runs
        process.wait()
    finally:
        process.kill()
    killed_at = json.loads((work / "state.json").read_text())
    assert not output.exists(), "an interrupted run left an output folder"
    assert not list(tmp_path.glob(".spam.tmp-*"))

    assert main(args) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main([*args, "--lr", "1e-3", "--resume"]) == 2
    assert "--lr" in capsys.readouterr().err

    assert main([*args, "--resume"]) == 0
    assert f"resumed after epoch {killed_at['epoch']}" in capsys.readouterr().out
    assert (output / "model.safetensors").is_file() and not work.exists()
    assert not (output / "onnx").exists()  # --no-onnx
    epochs_logged = steps_in_write_order(output / "runs" / "test-run", "validation/accuracy")
    assert len(epochs_logged) >= 12  # the killed run's epochs plus the resumed ones
    assert epochs_logged[-1] == 12 * 6  # 6 steps an epoch: the step count carried on

    base = AutoModel.from_pretrained(tiny_bert)
    trained = AutoModelForSequenceClassification.from_pretrained(output).bert
    assert torch.equal(trained.get_input_embeddings().weight, base.get_input_embeddings().weight)
    assert not torch.equal(trained.pooler.dense.weight, base.pooler.dense.weight)


def test_resume_rules_for_run_name_epochs_and_flags_added_since(
    tmp_path, spam_csv, tiny_bert, monkeypatch, capsys
):
    output = tmp_path / "spam"
    work = tmp_path / ".spam.work"
    args = classify_args(spam_csv, tiny_bert, output, "--epochs", "1", "--no-onnx")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash while writing the output")

    monkeypatch.setattr(train.classify, "write_classifier_card", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(args)
    monkeypatch.undo()
    assert read_json(work / "state.json")["epoch"] == 1
    capsys.readouterr()

    # The warm-up and decay span all the epochs: a new total would make the rate jump.
    assert main([*args, "--epochs", "2", "--resume"]) == 2
    assert "differ from the interrupted run: --epochs" in capsys.readouterr().err
    assert main([*args, "--resume", "--run-name", "other"]) == 2
    assert (
        "--run-name 'other' differs from the interrupted run's 'test-run'"
        in capsys.readouterr().err
    )

    # Flags that the saved run predates: accepted at their defaults, refused otherwise.
    state = read_json(work / "state.json")
    del state["args"]["class_weights"], state["args"]["warmup_ratio"]
    write_json(work / "state.json", state)
    assert main([*args, "--resume", "--class-weights"]) == 2
    assert "differ from the interrupted run: --class-weights" in capsys.readouterr().err

    name_at = args.index("--run-name")
    assert main([*args[:name_at], *args[name_at + 2 :], "--resume"]) == 0
    assert "resumed after epoch 1" in capsys.readouterr().out
    config = read_json(output / "training_config.json")
    assert config["run_name"] == config["args"]["run_name"] == "test-run"
    assert list((output / "runs" / "test-run").glob("events.out.tfevents.*"))
    assert not work.exists()


def test_resume_without_an_interrupted_run(tmp_path, spam_csv, tiny_bert, capsys):
    args = classify_args(spam_csv, tiny_bert, tmp_path / "spam", "--resume")
    assert main(args) == 2
    assert "no interrupted run to continue" in capsys.readouterr().err


def test_num_layers_keeps_the_first_layers_of_the_encoder(tmp_path, spam_csv, tiny_bert, capsys):
    output_dir = tmp_path / "spam"
    # A learning rate of 0 leaves the weights as loaded, so they can be compared with the base.
    args = classify_args(
        spam_csv,
        tiny_bert,
        output_dir,
        "--num-layers",
        "1",
        "--epochs",
        "1",
        "--lr",
        "0",
        "--no-onnx",
    )
    assert main(args) == 0
    model = AutoModelForSequenceClassification.from_pretrained(output_dir)
    base = AutoModel.from_pretrained(tiny_bert)
    assert model.config.num_hidden_layers == 1 and len(model.bert.encoder.layer) == 1
    torch.testing.assert_close(
        model.bert.encoder.layer[0].state_dict(), base.encoder.layer[0].state_dict()
    )
    card = (output_dir / "README.md").read_text()
    assert "keeping only its first layer" in card and "| num_layers | `1` |" in card
    for bad in ("0", "3"):
        assert main(classify_args(spam_csv, tiny_bert, tmp_path / "bad", "--num-layers", bad)) == 2
        assert "--num-layers must be between 1 and 2" in capsys.readouterr().err
    missing = str(tmp_path / "no-such-model")
    assert main(classify_args(spam_csv, missing, tmp_path / "bad")) == 2
    assert f"cannot load --base-model '{missing}'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() and not (tmp_path / ".bad.work").exists()


def test_atomic_output_keeps_the_old_folder_when_writing_fails(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "config.json").write_text("old")
    with pytest.raises(RuntimeError), atomic_output_dir(target) as tmp:
        (tmp / "config.json").write_text("new, half written")
        raise RuntimeError("crash while writing")
    assert (target / "config.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    with atomic_output_dir(target) as tmp:
        (tmp / "config.json").write_text("new")
    assert (target / "config.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_length_grouped_batches_cover_every_row_once_and_group_lengths():
    lengths = [(i * 37) % 100 + 1 for i in range(1000)]
    batches = LengthGroupedBatches(lengths, batch_size=16, seed=3)
    first = list(batches)
    assert sorted(i for batch in first for i in batch) == list(range(1000))
    assert len(first) == len(batches) == 63
    assert first == list(batches)  # same epoch, same order
    batches.set_epoch(1)
    assert first != list(batches)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first)
    assert spread / len(first) < 10  # random batches of 16 would spread about 90


def test_push_to_hub_uploads_the_finished_run(tmp_path, spam_csv, tiny_bert, hub_env, hub_server):
    """``--push-to-hub`` through the local Hub server, in a process of its own (as a user runs
    it); a failed run pushes nothing."""
    output = tmp_path / "spam"
    args = classify_args(
        spam_csv, tiny_bert, output, "--epochs", "1", "--push-to-hub", "tests/pushed-by-train"
    )
    result = subprocess.run(
        [sys.executable, "-m", "train", *args],
        cwd=REPO_ROOT,
        env=hub_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"pushed: {hub_env['HF_ENDPOINT']}/tests/pushed-by-train/commit/" in result.stdout
    remote = set(hub_server.repo("tests/pushed-by-train").resolve("main").files)
    local = {str(p.relative_to(output)) for p in output.rglob("*") if p.is_file()}
    assert remote == local

    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "train",
            *classify_args(
                tmp_path / "missing.csv",
                tiny_bert,
                tmp_path / "x",
                "--push-to-hub",
                "tests/never-pushed",
            ),
        ],
        cwd=REPO_ROOT,
        env=hub_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "data file not found" in bad.stderr
    with pytest.raises(HubHTTPError):
        hub_server.repo("tests/never-pushed")


def test_freeze_layers_keeps_the_embeddings_and_lowest_layers_fixed(
    tmp_path, spam_csv, tiny_bert, capsys
):
    output = tmp_path / "frozen"
    args = classify_args(spam_csv, tiny_bert, output, "--epochs", "1", "--no-onnx")
    assert main([*args, "--freeze-layers", "2"]) == 2  # the tiny BERT has 2 layers
    assert "--freeze-layers must be between 0 and 1" in capsys.readouterr().err
    assert main([*args, "--freeze-layers", "1"]) == 0
    base = AutoModel.from_pretrained(tiny_bert)
    trained = AutoModelForSequenceClassification.from_pretrained(output).bert
    layers = zip(base.state_dict().items(), trained.state_dict().items(), strict=True)
    changed = {name for (name, before), (_, after) in layers if not torch.equal(before, after)}
    assert changed, "the upper layer and the pooler train"
    assert all(name.startswith(("encoder.layer.1.", "pooler.")) for name in changed), changed
