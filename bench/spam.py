"""Benchmark ``train classify`` on the SMS spam file against three baselines in the same run.

1. ``python -m train classify`` with its defaults (a subprocess, so its peak RSS is its own);
   then inference speed on the test split through the app's ``TextClassifier`` (int8 ONNX at
   batch 1 and 32, PyTorch at batch 32) and the notebook's way (padding to 64, batch 32).
2. TF-IDF + linear SVM (scikit-learn) on the same split.
3. The same model and settings with the transformers ``Trainer`` (training samples/s).
4. A plain PyTorch loop padding every message to 64 tokens, like the original notebook
   (training samples/s).

This machine's speed drifts by tens of percent within minutes, so 3 and 4 run both before and
after 1 (their mean is compared) and the inference ways take turns (medians).

Writes bench/results/spam.json and bench/results/spam.md. Usage: ``python bench/spam.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from hub_utils.models.classifier import TextClassifier  # noqa: E402
from hub_utils.models.encoder import resolve_encoder  # noqa: E402
from hub_utils.models.files import CLASSIFIER_ONNX_RESULTS as ONNX_RESULTS  # noqa: E402
from train.__main__ import build_parser  # noqa: E402
from train.classify_data import load_classification_data  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "sms_spam" / "spamdata_v2.csv"
RESULTS = ROOT / "bench" / "results"


def scores(predictions: list[int], references: list[int]) -> dict[str, float]:
    return {
        "accuracy": accuracy_score(references, predictions),
        "spam_precision": precision_score(references, predictions),
        "spam_recall": recall_score(references, predictions),
        "spam_f1": f1_score(references, predictions),
    }


def train_ours(output_dir: Path) -> dict:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "train",
            "classify",
            "--dataset",
            str(DATA),
            "--label-names",
            "ham,spam",
            "--output-dir",
            str(output_dir),
            "--run-name",
            "bench",
        ],
        cwd=ROOT,
        check=True,
    )
    wall = time.perf_counter() - started
    config = json.loads((output_dir / "training_config.json").read_text())
    test = json.loads((output_dir / "eval_results.json").read_text())["test"]
    return {
        "wall_seconds": round(wall, 1),
        "train_seconds": config["train_seconds"],
        "train_samples_per_second": config["train_samples_per_second"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        **spam_scores(test),
        "epochs": config["args"]["epochs"],
    }


def spam_scores(test: dict[str, float]) -> dict[str, float]:
    """The quality table's columns from an ``eval_results.json`` block of test metrics."""
    return {
        "accuracy": test["accuracy"],
        "spam_precision": test["precision_spam"],
        "spam_recall": test["recall_spam"],
        "spam_f1": test["f1_spam"],
    }


def inference_speed(model_dir: Path, texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Messages/s on the test split: through the app's own classifier (length-sorted batches,
    as served) with the int8 ONNX export at batch 1 and 32 and the PyTorch weights at batch 32,
    and the original notebook's way (PyTorch, every message padded to 64 tokens, batches of 32
    in file order). The ways take turns, ``rounds`` times, and each reports its median: this
    machine's speed drifts by tens of percent within minutes."""
    served = TextClassifier.from_folder(model_dir)
    pytorch = TextClassifier.from_folder(model_dir, prefer_onnx=False)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    plain = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()

    def notebook_way(batch: list[str]) -> Any:
        with torch.inference_mode():
            return plain(
                **tokenizer(
                    batch, truncation=True, max_length=64, padding="max_length", return_tensors="pt"
                )
            )

    ways = {
        "onnx_int8_batch_1": lambda: served.predict(texts[:300], batch_size=1),
        "onnx_int8_batch_32": lambda: served.predict(texts, batch_size=32),
        "pytorch_batch_32": lambda: pytorch.predict(texts, batch_size=32),
        "plain_fixed_padding_batch_32": lambda: [
            notebook_way(texts[i : i + 32]) for i in range(0, len(texts), 32)
        ],
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        for name, way in ways.items():
            started = time.perf_counter()
            way()
            n = 300 if name.endswith("_batch_1") else len(texts)
            timings[name].append(n / (time.perf_counter() - started))
    return {name: round(statistics.median(values[1:]), 1) for name, values in timings.items()}


def tfidf_svm(splits) -> dict[str, float]:
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    features = vectorizer.fit_transform(splits["train"].texts)
    svm = LinearSVC(C=1.0).fit(features, splits["train"].labels)
    return scores(
        svm.predict(vectorizer.transform(splits["test"].texts)).tolist(), splits["test"].labels
    )


def trainer_baseline(splits, work: Path, settings: dict, steps: int = 40) -> dict[str, float]:
    """transformers' Trainer, same model and settings (frozen word embeddings, fused AdamW),
    its default batching and dynamic padding; ``steps`` random batches measure its speed."""
    base = resolve_encoder(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    if settings["freeze_embeddings"]:
        model.get_input_embeddings().weight.requires_grad_(False)
    encoded = tokenizer(splits["train"].texts, truncation=True, max_length=128)
    features = [
        {"input_ids": ids, "attention_mask": mask, "labels": label}
        for ids, mask, label in zip(
            encoded["input_ids"], encoded["attention_mask"], splits["train"].labels, strict=True
        )
    ]
    trainer = Trainer(
        model=model,
        train_dataset=features,
        data_collator=DataCollatorWithPadding(tokenizer),
        args=TrainingArguments(
            output_dir=str(work / "trainer"),
            max_steps=steps,
            per_device_train_batch_size=settings["batch_size"],
            learning_rate=settings["lr"],
            warmup_steps=settings["warmup_ratio"],
            weight_decay=settings["weight_decay"],
            logging_steps=50,
            max_grad_norm=settings["max_grad_norm"],
            optim="adamw_torch_fused",
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=42,
        ),
    )
    metrics = trainer.train().metrics
    return {"train_samples_per_second": round(metrics["train_samples_per_second"], 2)}


def fixed_padding_baseline(splits, settings: dict, steps: int = 40) -> dict[str, float]:
    """The original notebook's approach: every message padded to 64 tokens, plain loop."""
    base = resolve_encoder(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"])
    encoded = tokenizer(
        splits["train"].texts,
        truncation=True,
        max_length=64,
        padding="max_length",
        return_tensors="pt",
    )
    labels = torch.tensor(splits["train"].labels)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(42))
    batch_size, seen = settings["batch_size"], 0
    started = time.perf_counter()
    for step in range(steps):
        index = order[step * batch_size : (step + 1) * batch_size]
        loss = model(
            input_ids=encoded["input_ids"][index],
            attention_mask=encoded["attention_mask"][index],
            labels=labels[index],
        ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seen += len(index)
    return {
        "train_samples_per_second": round(seen / (time.perf_counter() - started), 2),
        "steps": steps,
    }


def write_markdown(result: dict) -> str:
    ours, svm, served = result["ours"], result["tfidf_svm"], result["served_onnx_int8"]
    speed = result["inference_messages_per_second"]
    lines = [
        "# SMS spam benchmark",
        "",
        f"{result['machine']}; split {result['split_sizes']} (stratified 70/15/15, seed 42); "
        f"load average at start {result['load_average']}.",
        "",
        "| model | test accuracy | spam precision | spam recall | spam F1 |",
        "|---|---|---|---|---|",
        f"| this project ({ours['epochs']} epochs, defaults) | {ours['accuracy']:.4f} | "
        f"{ours['spam_precision']:.4f} | {ours['spam_recall']:.4f} | {ours['spam_f1']:.4f} |",
        f"| the same model, int8 ONNX export (what the app serves) | {served['accuracy']:.4f} | "
        f"{served['spam_precision']:.4f} | {served['spam_recall']:.4f} | "
        f"{served['spam_f1']:.4f} |",
        f"| TF-IDF + linear SVM | {svm['accuracy']:.4f} | {svm['spam_precision']:.4f} | "
        f"{svm['spam_recall']:.4f} | {svm['spam_f1']:.4f} |",
        "",
        "| speed | value |",
        "|---|---|",
        f"| training wall time (whole command) | {ours['wall_seconds']:.0f} s |",
        f"| training samples/s (this project) | {ours['train_samples_per_second']:.1f} |",
        f"| training samples/s (transformers Trainer; before / after) | "
        f"{result['trainer']['train_samples_per_second']:.1f} ({result['trainer']['before']:.1f} "
        f"/ {result['trainer']['after']:.1f}; ratio {result['ratios']['vs_trainer']:.2f}x) |",
        f"| training samples/s (fixed padding to 64, plain loop; before / after) | "
        f"{result['fixed_padding']['train_samples_per_second']:.1f} "
        f"({result['fixed_padding']['before']:.1f} / {result['fixed_padding']['after']:.1f}; "
        f"ratio {result['ratios']['vs_fixed_padding']:.2f}x) |",
        f"| inference messages/s, int8 ONNX (served), batch 1 | {speed['onnx_int8_batch_1']:.0f} |",
        f"| inference messages/s, int8 ONNX (served), batch 32 | "
        f"{speed['onnx_int8_batch_32']:.0f} "
        f"(ratio to the plain baseline {result['ratios']['inference_served_vs_plain']:.2f}x) |",
        f"| inference messages/s, PyTorch float32, batch 32 sorted by length | "
        f"{speed['pytorch_batch_32']:.0f} |",
        f"| inference messages/s, PyTorch, padding to 64, batch 32 (plain baseline) | "
        f"{speed['plain_fixed_padding_batch_32']:.0f} |",
        f"| peak RSS of the training command | {ours['peak_rss_mb']} MB |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    splits, _ = load_classification_data(
        str(DATA),
        text_column="text",
        label_column="label",
        label_names=["ham", "spam"],
        validation_size=0.15,
        test_size=0.15,
        seed=42,
    )
    # The baselines get the training command's default settings, and run before and after
    # it: their mean matches the machine's speed over the whole run.
    settings = vars(build_parser().parse_args(["classify", "--dataset", str(DATA)]))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        before = {
            "trainer": trainer_baseline(splits, work, settings),
            "fixed_padding": fixed_padding_baseline(splits, settings),
        }
        ours = train_ours(work / "spam")
        after = {
            "trainer": trainer_baseline(splits, work, settings),
            "fixed_padding": fixed_padding_baseline(splits, settings),
        }
        inference = inference_speed(work / "spam", splits["test"].texts)
        served = json.loads((work / "spam" / "eval_results.json").read_text())[ONNX_RESULTS]
    baselines = {
        name: {
            "before": before[name]["train_samples_per_second"],
            "after": after[name]["train_samples_per_second"],
            "train_samples_per_second": round(
                (before[name]["train_samples_per_second"] + after[name]["train_samples_per_second"])
                / 2,
                2,
            ),
        }
        for name in before
    }
    result: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}",
        "load_average": round(load_average, 2),
        "split_sizes": {name: len(s.texts) for name, s in splits.items()},
        "ours": ours,
        "served_onnx_int8": spam_scores(served),
        "inference_messages_per_second": inference,
        "tfidf_svm": tfidf_svm(splits),
        **baselines,
    }
    speed = ours["train_samples_per_second"]
    result["ratios"] = {
        "vs_trainer": round(speed / result["trainer"]["train_samples_per_second"], 2),
        "vs_fixed_padding": round(speed / result["fixed_padding"]["train_samples_per_second"], 2),
        "inference_served_vs_plain": round(
            inference["onnx_int8_batch_32"] / inference["plain_fixed_padding_batch_32"], 2
        ),
    }
    (RESULTS / "spam.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "spam.md").write_text(write_markdown(result))
    print(write_markdown(result))


if __name__ == "__main__":
    main()
