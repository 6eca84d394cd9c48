"""Benchmark ``train classify`` on the SMS spam file against three baselines in the same run.

1. ``python -m train classify`` with its defaults (a subprocess, so its peak RSS is its own);
   then inference speed of the saved model at batch 1 and 32 on the test split, through the
   app's ``TextClassifier``.
2. TF-IDF + linear SVM (scikit-learn) on the same split.
3. The same model and settings with the transformers ``Trainer`` (training samples/s).
4. A plain PyTorch loop padding every message to 64 tokens, like the original notebook
   (training samples/s).

Writes bench/results/spam.json and bench/results/spam.md. Usage: ``python bench/spam.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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

from hub_utils.encoder import resolve_encoder  # noqa: E402
from hub_utils.text_classifier import TextClassifier  # noqa: E402
from train.data import load_classification_data  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "sms_spam" / "spamdata_v2.csv"
RESULTS = ROOT / "bench" / "results"


def scores(predictions: list[int], references: list[int]) -> dict[str, float]:
    return {"accuracy": accuracy_score(references, predictions),
            "spam_precision": precision_score(references, predictions),
            "spam_recall": recall_score(references, predictions),
            "spam_f1": f1_score(references, predictions)}


def train_ours(output_dir: Path) -> dict:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "train", "classify", "--dataset", str(DATA),
                    "--label-names", "ham,spam", "--output-dir", str(output_dir),
                    "--run-name", "bench"], cwd=ROOT, check=True)
    wall = time.perf_counter() - started
    config = json.loads((output_dir / "training_config.json").read_text())
    test = json.loads((output_dir / "eval_results.json").read_text())["test"]
    return {"wall_seconds": round(wall, 1), "train_seconds": config["train_seconds"],
            "train_samples_per_second": config["train_samples_per_second"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            "accuracy": test["accuracy"], "spam_precision": test["precision_spam"],
            "spam_recall": test["recall_spam"], "spam_f1": test["f1_spam"],
            "epochs": config["args"]["epochs"]}


def inference_speed(model_dir: Path, texts: list[str]) -> dict[str, float]:
    """Messages/s through the app's own classifier (length-sorted batches, as served)."""
    classifier = TextClassifier.from_folder(model_dir)
    classifier.predict(texts[:32])  # warm-up: first calls allocate
    speeds = {}
    for batch_size in (1, 32):
        sample = texts if batch_size > 1 else texts[:300]
        started = time.perf_counter()
        classifier.predict(sample, batch_size=batch_size)
        speeds[f"messages_per_second_batch_{batch_size}"] = round(
            len(sample) / (time.perf_counter() - started), 1)
    return speeds


def tfidf_svm(splits) -> dict[str, float]:
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    features = vectorizer.fit_transform(splits["train"].texts)
    svm = LinearSVC(C=1.0).fit(features, splits["train"].labels)
    return scores(svm.predict(vectorizer.transform(splits["test"].texts)).tolist(),
                  splits["test"].labels)


def trainer_baseline(splits, work: Path, settings: dict) -> dict[str, float]:
    """transformers' Trainer, same model and settings, its default dynamic padding; one epoch
    is enough to measure its training speed."""
    base = resolve_encoder(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    encoded = tokenizer(splits["train"].texts, truncation=True, max_length=128)
    features = [{"input_ids": ids, "attention_mask": mask, "labels": label} for ids, mask, label
                in zip(encoded["input_ids"], encoded["attention_mask"], splits["train"].labels,
                       strict=True)]
    trainer = Trainer(model=model, train_dataset=features,
                      data_collator=DataCollatorWithPadding(tokenizer),
                      args=TrainingArguments(
                          output_dir=str(work / "trainer"), num_train_epochs=1,
                          per_device_train_batch_size=settings["batch_size"],
                          learning_rate=settings["lr"], warmup_steps=settings["warmup_ratio"],
                          weight_decay=settings["weight_decay"], logging_steps=50,
                          save_strategy="no", report_to=[], use_cpu=True, seed=42))
    metrics = trainer.train().metrics
    return {"train_samples_per_second": round(metrics["train_samples_per_second"], 2)}


def fixed_padding_baseline(splits, settings: dict, steps: int = 40) -> dict[str, float]:
    """The original notebook's approach: every message padded to 64 tokens, plain loop."""
    base = resolve_encoder(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["lr"])
    encoded = tokenizer(splits["train"].texts, truncation=True, max_length=64,
                        padding="max_length", return_tensors="pt")
    labels = torch.tensor(splits["train"].labels)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(42))
    batch_size, seen = settings["batch_size"], 0
    started = time.perf_counter()
    for step in range(steps):
        index = order[step * batch_size:(step + 1) * batch_size]
        loss = model(input_ids=encoded["input_ids"][index],
                     attention_mask=encoded["attention_mask"][index], labels=labels[index]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seen += len(index)
    return {"train_samples_per_second": round(seen / (time.perf_counter() - started), 2),
            "steps": steps}


def write_markdown(result: dict) -> str:
    ours, svm = result["ours"], result["tfidf_svm"]
    lines = [
        "# SMS spam benchmark", "",
        f"{result['machine']}; split {result['split_sizes']} (stratified 70/15/15, seed 42); "
        f"load average at start {result['load_average']}.", "",
        "| model | test accuracy | spam precision | spam recall | spam F1 |",
        "|---|---|---|---|---|",
        f"| this project ({ours['epochs']} epochs, defaults) | {ours['accuracy']:.4f} | "
        f"{ours['spam_precision']:.4f} | {ours['spam_recall']:.4f} | {ours['spam_f1']:.4f} |",
        f"| TF-IDF + linear SVM | {svm['accuracy']:.4f} | {svm['spam_precision']:.4f} | "
        f"{svm['spam_recall']:.4f} | {svm['spam_f1']:.4f} |", "",
        "| speed | value |", "|---|---|",
        f"| training wall time (whole command) | {ours['wall_seconds']:.0f} s |",
        f"| training samples/s (this project) | {ours['train_samples_per_second']:.1f} |",
        f"| training samples/s (transformers Trainer) | "
        f"{result['trainer']['train_samples_per_second']:.1f} "
        f"(ratio {result['ratios']['vs_trainer']:.2f}x) |",
        f"| training samples/s (fixed padding to 64, plain loop) | "
        f"{result['fixed_padding']['train_samples_per_second']:.1f} "
        f"(ratio {result['ratios']['vs_fixed_padding']:.2f}x) |",
        f"| inference messages/s, batch 1 | {ours['messages_per_second_batch_1']:.0f} |",
        f"| inference messages/s, batch 32 | {ours['messages_per_second_batch_32']:.0f} |",
        f"| peak RSS of the training command | {ours['peak_rss_mb']} MB |",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    splits, _ = load_classification_data(str(DATA), text_column="text", label_column="label",
                                         label_names=["ham", "spam"], validation_size=0.15,
                                         test_size=0.15, seed=42)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = train_ours(work / "spam")
        ours.update(inference_speed(work / "spam", splits["test"].texts))
        settings = json.loads((work / "spam" / "training_config.json").read_text())["args"]
        result = {
            "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}",
            "load_average": round(load_average, 2),
            "split_sizes": {name: len(s.texts) for name, s in splits.items()},
            "ours": ours,
            "tfidf_svm": tfidf_svm(splits),
            "trainer": trainer_baseline(splits, work, settings),
            "fixed_padding": fixed_padding_baseline(splits, settings),
        }
    speed = ours["train_samples_per_second"]
    result["ratios"] = {
        "vs_trainer": round(speed / result["trainer"]["train_samples_per_second"], 2),
        "vs_fixed_padding": round(speed / result["fixed_padding"]["train_samples_per_second"], 2),
    }
    (RESULTS / "spam.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "spam.md").write_text(write_markdown(result))
    print(write_markdown(result))


if __name__ == "__main__":
    main()
