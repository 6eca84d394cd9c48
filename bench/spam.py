"""Benchmark ``train classify`` on the SMS spam file: quality over seeds, served speed of the
default model and its faster variants, and baselines.

1. Quality over seeds (``--seeds N``, default 5: seeds 42, 1, 2, 3, 4). Each seed is its own
   stratified 70/15/15 split *and* its own initialisation and batch order. For every seed:
   the default model (6 layers, the teacher), ``--num-layers 3`` and ``--num-layers 2`` trained
   on labels alone, the 2- and 3-layer students distilled from that seed's teacher
   (``--distill-from``), and TF-IDF + linear SVM on the same split. Test accuracy and spam
   precision, recall and F1 as mean ± standard deviation (n-1) and min over the seeds; the
   differences to the teacher are paired (same split) and quoted with their spread.
2. Speed, in one run on one machine: the served int8 ONNX model of each (first seed's) on its
   test split, as the app serves it (each text alone, one thread per core); the models take
   turns and each reports its median, with the ratio to the teacher; and each model's
   training wall time against the teacher's. The CPU model and flags are recorded beside it.
3. Baselines (``--no-baselines`` skips them): the teacher's inference the notebook's way and in
   PyTorch; the transformers ``Trainer`` and a plain loop padding to 64 tokens (training
   samples/s), run before and after the first teacher (this machine's speed drifts by tens of
   percent within minutes, so their mean is compared).

Each training run is a ``python -m train classify`` subprocess writing into ``--work-dir``; a
run whose folder is complete is reused, so an interrupted benchmark continues where it stopped.
``--variant NAME='FLAGS'`` adds a model (``{teacher}`` stands for the seed's teacher folder,
``{work}`` for ``--work-dir`` and ``{seed}`` for the seed), e.g. ``--variant
spaced2='--distill-from {teacher} --num-layers 2 --student-layers spaced'``; variants train in
the order given, after the models above.

Writes bench/results/NAME.json and NAME.md (``--name``, default spam). Usage:
``python bench/spam.py``. The training levers (bench/results/training_levers.md):
``python bench/spam.py --name training_levers --no-baselines --only teacher --work-dir
/tmp/bench-levers --variant freeze2='--freeze-layers 2' --variant ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
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

from bench.machine import cpu_description, cpu_line  # noqa: E402
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


SEEDS = (42, 1, 2, 3, 4)
# name: (what the tables call it, the flags on top of the defaults); {teacher} is the same
# seed's teacher folder.
MODELS: dict[str, tuple[str, str]] = {
    "teacher": ("default model, 6 layers (the teacher)", ""),
    "layers3": ("--num-layers 3, labels only", "--num-layers 3"),
    "layers2": ("--num-layers 2, labels only", "--num-layers 2"),
    "student3": ("distilled student, 3 layers", "--distill-from {teacher} --num-layers 3"),
    "student2": ("distilled student, 2 layers", "--distill-from {teacher} --num-layers 2"),
    "student2e4": (
        "distilled student, 2 layers, 4 epochs",
        "--distill-from {teacher} --num-layers 2 --epochs 4",
    ),
}
METRICS = ("accuracy", "spam_precision", "spam_recall", "spam_f1")


def train_run(output_dir: Path, seed: int, flags: list[str], data: Path = DATA) -> dict:
    """One ``train classify`` run with the defaults plus ``flags``; a complete folder from an
    earlier benchmark run is reused (its own timings are kept in bench_run.json)."""
    record = output_dir / "bench_run.json"
    if record.is_file():  # folder names only, also in records an older bench wrote
        cached = json.loads(record.read_text())
        return cached | {"flags": public_flags(cached["flags"])}
    command = [
        sys.executable,
        "-m",
        "train",
        "classify",
        "--dataset",
        str(data),
        "--label-names",
        "ham,spam",
        "--task",
        "spam",
        "--seed",
        str(seed),
        "--output-dir",
        str(output_dir),
        "--run-name",
        "bench",
        *flags,
    ]
    print("$", shlex.join(command[1:]), flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    # This child's own peak RSS (RUSAGE_CHILDREN would be the largest of all runs so far).
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"training failed ({process.returncode}): {shlex.join(command)}")
    wall = time.perf_counter() - started
    config = json.loads((output_dir / "training_config.json").read_text())
    results = json.loads((output_dir / "eval_results.json").read_text())
    run = {
        "seed": seed,
        "flags": public_flags(flags),
        "wall_seconds": round(wall, 1),
        "train_seconds": config["train_seconds"],
        "train_samples_per_second": config["train_samples_per_second"],
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "epochs": config["args"]["epochs"],
        "test": spam_scores(results["test"]),
        "served_test": spam_scores(results[ONNX_RESULTS]),
        "cpu": cpu_description()["model"],
    }
    if "distillation" in results:
        run["teacher_test"] = spam_scores(results["distillation"]["teacher_test"])
        run["teacher_labelling_seconds"] = results["distillation"]["teacher_labelling_seconds"]
    record.write_text(json.dumps(run, indent=2) + "\n")
    return run


def public_flags(flags: list[str]) -> list[str]:
    """Folder names only: results are committed, and the work folder is a local path."""
    return [Path(flag).name if os.path.isabs(flag) else flag for flag in flags]


def spread(values: list[float]) -> dict[str, float | int | None]:
    """Mean, standard deviation (n-1; None for one value), min and count."""
    return {
        "mean": statistics.mean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else None,
        "min": min(values),
        "n": len(values),
    }


def served_speeds(folders: dict[str, Path], texts: list[str], rounds: int = 5) -> dict[str, float]:
    """Messages/s of each model as the app serves it (int8 ONNX, each text run alone on one
    thread, a thread per core; given 32 texts at a time) on ``texts``; the models take turns,
    ``rounds`` times after a warm-up, medians."""
    served = {name: TextClassifier.from_folder(folder) for name, folder in folders.items()}
    timings: dict[str, list[float]] = {name: [] for name in served}
    for _ in range(rounds + 1):
        for name, classifier in served.items():
            started = time.perf_counter()
            classifier.predict(texts, batch_size=32)
            timings[name].append(len(texts) / (time.perf_counter() - started))
    return {name: round(statistics.median(values[1:]), 1) for name, values in timings.items()}


def spam_scores(test: dict[str, float]) -> dict[str, float]:
    """The quality table's columns from an ``eval_results.json`` block of test metrics."""
    return {
        "accuracy": test["accuracy"],
        "spam_precision": test["precision_spam"],
        "spam_recall": test["recall_spam"],
        "spam_f1": test["f1_spam"],
    }


def inference_speed(model_dir: Path, texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Messages/s on the test split: through the app's own classifier with the int8 ONNX export
    given 1 and 32 texts a call (each runs alone either way) and the PyTorch weights at batch
    32 sorted by length,
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


def _pm(stats: dict) -> str:
    sd = "" if stats["sd"] is None else f" ± {stats['sd']:.4f}"
    return f"{stats['mean']:.4f}{sd} (min {stats['min']:.4f})"


def _accuracy_f1_table(result: dict, key: str, title: str) -> list[str]:
    """Accuracy and spam F1 (mean ± sd) of each model's ``key`` block, after a blank line and
    ``title``."""
    lines = ["", title, "", "| model | test accuracy | spam F1 |", "|---|---|---|"]
    for model in result["models"].values():
        if key in model:
            q = model[key]
            lines.append(f"| {model['label']} | {_pm(q['accuracy'])} | {_pm(q['spam_f1'])} |")
    return lines


def write_markdown(result: dict) -> str:
    seeds = result["seeds"]
    lines = [
        "# SMS spam benchmark" + ("" if result["name"] == "spam" else f": {result['name']}"),
        "",
        f"Seeds {', '.join(map(str, seeds))}: each seed is its own stratified 70/15/15 split "
        f"(sizes {result['split_sizes']}) and its own initialisation and batch order. Test "
        "scores of the PyTorch weights as mean ± standard deviation (n-1) over the seeds, "
        "with the min; one spam message moves spam F1 by about 0.005.",
        "",
        "| model | seeds | test accuracy | spam precision | spam recall | spam F1 |",
        "|---|---|---|---|---|---|",
    ]
    for model in result["models"].values():
        q = model["quality"]
        lines.append(
            f"| {model['label']} | {q['accuracy']['n']} | "
            + " | ".join(_pm(q[metric]) for metric in METRICS)
            + " |"
        )
    lines += _accuracy_f1_table(
        result, "served_quality", "The same, served (int8 ONNX export), mean ± sd:"
    )
    lines += _accuracy_f1_table(
        result,
        "vs_teacher",
        "Paired differences to the teacher (same seed, same split), mean ± sd over the seeds:",
    )
    lines += [
        "",
        f"Speed, one run on one machine ({result['machine']}; load average at start "
        f"{result['load_average']}). {cpu_line(result['cpu'])}",
        "",
        "| model (seed 42) | served int8 ONNX, one text per core at a time (messages/s) "
        "| ratio to the teacher | training wall time, whole command (mean, s) | vs the teacher |",
        "|---|---|---|---|---|",
    ]
    for name, model in result["models"].items():
        if name in result["served_messages_per_second"]:
            speed = result["served_messages_per_second"][name]
            wall = model["wall_seconds"]["mean"]
            lines.append(
                f"| {model['label']} | {speed:.0f} | "
                f"{speed / result['served_messages_per_second']['teacher']:.2f}x | "
                f"{wall:.0f} | {wall / result['models']['teacher']['wall_seconds']['mean']:.2f}x |"
            )
    if "baselines" in result:
        b = result["baselines"]
        speed = b["teacher_inference_messages_per_second"]
        teacher = result["models"]["teacher"]
        lines += [
            "",
            f"Baselines (teacher, seed {seeds[0]}). {cpu_line(result['cpu'])}",
            "",
            "| speed | value |",
            "|---|---|",
            f"| training samples/s (this project, first teacher) | "
            f"{teacher['first_run']['train_samples_per_second']:.1f} |",
            f"| training samples/s (transformers Trainer; before / after) | "
            f"{b['trainer']['train_samples_per_second']:.1f} ({b['trainer']['before']:.1f} / "
            f"{b['trainer']['after']:.1f}; ratio {b['ratios']['vs_trainer']:.2f}x) |",
            f"| training samples/s (fixed padding to 64, plain loop; before / after) | "
            f"{b['fixed_padding']['train_samples_per_second']:.1f} "
            f"({b['fixed_padding']['before']:.1f} / {b['fixed_padding']['after']:.1f}; "
            f"ratio {b['ratios']['vs_fixed_padding']:.2f}x) |",
            f"| inference messages/s, int8 ONNX (served), one text a call | "
            f"{speed['onnx_int8_batch_1']:.0f} |",
            f"| inference messages/s, int8 ONNX (served), 32 texts a call | "
            f"{speed['onnx_int8_batch_32']:.0f} (ratio to the plain baseline "
            f"{b['ratios']['inference_served_vs_plain']:.2f}x) |",
            f"| inference messages/s, PyTorch float32, batch 32 sorted by length | "
            f"{speed['pytorch_batch_32']:.0f} |",
            f"| inference messages/s, PyTorch, padding to 64, batch 32 (plain baseline) | "
            f"{speed['plain_fixed_padding_batch_32']:.0f} |",
            f"| peak RSS of the training command | {teacher['first_run']['peak_rss_mb']} MB |",
        ]
    return "\n".join(lines) + "\n"


def baselines_run(splits, work: Path, settings: dict) -> dict[str, dict]:
    return {
        "trainer": trainer_baseline(splits, work / "baselines", settings),
        "fixed_padding": fixed_padding_baseline(splits, settings),
    }


def _parse_variant(text: str) -> tuple[str, tuple[str, str]]:
    name, _, flags = text.partition("=")
    if not name or not flags:
        raise argparse.ArgumentTypeError("expected NAME='FLAGS'")
    label = flags.replace("{teacher}", "TEACHER").replace("{work}/", "").replace("{seed}", "N")
    return name, (f"{name}: {label}", flags)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=5, help="how many of 42, 1, 2, 3, 4")
    parser.add_argument(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="skip the Trainer, fixed-padding and notebook-inference baselines",
    )
    parser.add_argument(
        "--only", help="comma-separated models of " + ", ".join(MODELS) + " (default: all)"
    )
    parser.add_argument("--variant", type=_parse_variant, action="append", default=[])
    parser.add_argument(
        "--train-args",
        default="",
        help="flags added to every training run, e.g. '--lr 2e-4' to measure a lever",
    )
    parser.add_argument("--dataset", type=Path, default=DATA, help="the SMS spam file")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--name", default="spam", help="results file names, e.g. training_levers for a lever run"
    )
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench-spam")
    args = parser.parse_args()
    if not 1 <= args.seeds <= len(SEEDS):
        parser.error(f"--seeds must be between 1 and {len(SEEDS)}")
    models = dict(MODELS) if args.only is None else {n: MODELS[n] for n in args.only.split(",")}
    models.update(dict(args.variant))
    if any("{teacher}" in flags for _, flags in models.values()):
        models = {"teacher": MODELS["teacher"], **models}  # students need it
    seeds = SEEDS[: args.seeds]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    load_average = os.getloadavg()[0]
    settings = vars(build_parser().parse_args(["classify", "--dataset", str(args.dataset)]))
    runs: dict[str, list[dict]] = {name: [] for name in models}
    svm: list[dict[str, float]] = []
    before: dict[str, dict] = {}
    after: dict[str, dict] = {}
    first_splits = None
    for seed in seeds:
        splits, _ = load_classification_data(
            str(args.dataset),
            text_column="text",
            label_column="label",
            label_names=["ham", "spam"],
            validation_size=0.15,
            test_size=0.15,
            seed=seed,
        )
        first_splits = first_splits or splits
        svm.append(tfidf_svm(splits))
        # The baselines get the training command's default settings and run before and after
        # the first teacher: their mean matches the machine's speed over that run.
        if args.baselines and seed == seeds[0]:
            baseline_splits = splits
            before = baselines_run(splits, args.work_dir, settings)
        teacher = args.work_dir / f"teacher-seed{seed}"
        for name, (_, flags) in models.items():
            folder = args.work_dir / f"{name}-seed{seed}"
            filled = flags.format(teacher=teacher, work=args.work_dir, seed=seed)
            command = shlex.split(filled) + shlex.split(args.train_args)
            runs[name].append(train_run(folder, seed, command, args.dataset))
            if name == "teacher" and before and not after:
                after = baselines_run(baseline_splits, args.work_dir, settings)
    assert first_splits is not None
    test_texts = first_splits["test"].texts
    folders = {name: args.work_dir / f"{name}-seed{seeds[0]}" for name in models}
    result: dict[str, Any] = {
        "name": args.name,
        "train_args": args.train_args,
        "machine": f"{os.cpu_count()} CPU cores, torch {torch.__version__}",
        "cpu": cpu_description(),
        "load_average": round(load_average, 2),
        "seeds": list(seeds),
        "split_sizes": {name: len(s.texts) for name, s in first_splits.items()},
        "served_messages_per_second": served_speeds(folders, test_texts),
        "models": {},
    }
    teacher_runs = runs.get("teacher")
    for name, (label, flags) in models.items():
        model: dict[str, Any] = {
            "label": label,
            "flags": flags,
            "quality": {m: spread([r["test"][m] for r in runs[name]]) for m in METRICS},
            "served_quality": {
                m: spread([r["served_test"][m] for r in runs[name]]) for m in METRICS
            },
            "wall_seconds": spread([r["wall_seconds"] for r in runs[name]]),
            "train_seconds": spread([r["train_seconds"] for r in runs[name]]),
            "first_run": runs[name][0],
            "runs": runs[name],
        }
        if teacher_runs and name != "teacher":
            model["vs_teacher"] = {
                m: spread(
                    [
                        r["test"][m] - t["test"][m]
                        for r, t in zip(runs[name], teacher_runs, strict=True)
                    ]
                )
                for m in METRICS
            }
        result["models"][name] = model
    result["models"]["tfidf_svm"] = {
        "label": "TF-IDF + linear SVM",
        "quality": {m: spread([r[m] for r in svm]) for m in METRICS},
        "runs": svm,
    }
    if teacher_runs:
        result["models"]["tfidf_svm"]["vs_teacher"] = {
            m: spread([r[m] - t["test"][m] for r, t in zip(svm, teacher_runs, strict=True)])
            for m in METRICS
        }
    if args.baselines:
        inference = inference_speed(folders["teacher"], test_texts)
        baselines: dict[str, Any] = {
            name: {
                "before": before[name]["train_samples_per_second"],
                "after": after[name]["train_samples_per_second"],
                "train_samples_per_second": round(
                    (
                        before[name]["train_samples_per_second"]
                        + after[name]["train_samples_per_second"]
                    )
                    / 2,
                    2,
                ),
            }
            for name in before
        }
        speed = runs["teacher"][0]["train_samples_per_second"]
        baselines["teacher_inference_messages_per_second"] = inference
        baselines["ratios"] = {
            "vs_trainer": round(speed / baselines["trainer"]["train_samples_per_second"], 2),
            "vs_fixed_padding": round(
                speed / baselines["fixed_padding"]["train_samples_per_second"], 2
            ),
            "inference_served_vs_plain": round(
                inference["onnx_int8_batch_32"] / inference["plain_fixed_padding_batch_32"], 2
            ),
        }
        result["baselines"] = baselines
    (args.results_dir / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results_dir / f"{args.name}.md").write_text(write_markdown(result))
    print(write_markdown(result))


if __name__ == "__main__":
    main()
