"""The classifier's model card: Hub YAML metadata (with ``model-index``) and a readable body."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from hub_utils.hub.defaults import INSTALL_LINE
from hub_utils.models.files import CLASSIFIER_ONNX_RESULTS
from hub_utils.models.metadata import (
    local_dataset_type,
    local_model_name,
    public_model_id,
    public_source,
)
from train.classify_data import LabelledTexts
from train.tables import looks_like_local_path

_METRIC_NAMES = {
    "accuracy": "Accuracy",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
}


def widget_examples(test: LabelledTexts, max_words: int = 30) -> list[dict[str, str]]:
    """One test text per label, for the Hub's widget and the app's examples.

    The first text of each label with 4 to ``max_words`` words (else its first text), so the
    examples are real, readable inputs of the task and not hard-coded to one data set.
    """
    examples = []
    for label, name in enumerate(test.label_names):
        texts = [text for text, y in zip(test.texts, test.labels, strict=True) if y == label]
        readable = [text for text in texts if 4 <= len(text.split()) <= max_words]
        if texts:
            examples.append(
                {"text": " ".join((readable or texts)[0].split()), "example_title": name}
            )
    return examples


def classifier_metadata(
    args: argparse.Namespace, results: dict, examples: list[dict[str, str]]
) -> dict:
    """The card's YAML front matter as a dict."""
    test = results["test"]
    metrics = [
        {"type": key.split("_")[0], "name": label, "value": round(test[key], 4)}
        for key, label in _METRIC_NAMES.items()
    ]
    if results["selection_metric"] != "f1_macro":
        positive = results["label_names"][1]
        metrics.append(
            {
                "type": "f1",
                "name": f"F1 ({positive})",
                "value": round(test[results["selection_metric"]], 4),
            }
        )
    base_model = public_model_id(args.base_model)
    metadata: dict = {
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        # Only a Hub id: the Hub rejects a path, and a local folder of unknown origin has none.
        **({"base_model": base_model} if base_model else {}),
        "license": args.license,
        "language": [args.language],
        "tags": ["text-classification", "bert", args.task]
        + (["distillation"] if "distillation" in results else []),
        "metrics": ["accuracy", "precision", "recall", "f1"],
        "model-index": [
            {
                "name": args.task,
                "results": [
                    {
                        "task": {"type": "text-classification", "name": "Text Classification"},
                        "dataset": {**dataset_entry(args.dataset), "split": "test"},
                        "metrics": metrics,
                    }
                ],
            }
        ],
    }
    # `datasets` links Hub data sets: a local file has no entry.
    if not looks_like_local_path(args.dataset):
        metadata["datasets"] = [args.dataset]
    if examples:
        metadata["widget"] = examples
    return metadata


def dataset_entry(dataset: str) -> dict[str, str]:
    """model-index ``dataset``: a Hub data set by its id; a local file by its name, with the
    🤗 datasets builder that reads it as ``type`` (``type`` is a Hub dataset id, so a made-up
    one would link nowhere)."""
    if not looks_like_local_path(dataset):
        return {"name": dataset, "type": dataset}
    name = public_source(dataset) or dataset
    return {"name": name, "type": local_dataset_type(name)}


def distillation_section(results: dict) -> str:
    """The card's account of a distilled student: its teacher (by Hub id, never a local path),
    the loss settings and both models' scores on the same test split; empty otherwise."""
    info = results.get("distillation")
    if not info:
        return ""
    teacher = f"`{info['teacher']}`" if info["teacher"] else "a local teacher model"
    names = results["label_names"]
    # Binary tasks: the positive class's scores too, as the card's metadata gives them.
    positive = [f"{m}_{names[1]}" for m in ("precision", "recall", "f1")] if len(names) == 2 else []
    keys = ["accuracy", "f1_macro", *positive]
    rows = "\n".join(
        f"| {key} | {results['test'][key]:.4f} | {info['teacher_test'][key]:.4f} |" for key in keys
    )
    unlabelled = (
        f" plus {info['unlabelled_texts']} unlabelled texts (soft loss only)"
        if info.get("unlabelled_texts")
        else ""
    )
    return f"""
## Distillation

A smaller student distilled from {teacher}, starting from {info["student_init"]}. It
learned from the training split{unlabelled}, with loss alpha · T² · KL(teacher ‖ student at
temperature T) + (1 − alpha) · cross-entropy with the label, alpha = {info["alpha"]}, T =
{info["temperature"]}. Both models on the same test split:

| metric | this model | teacher |
|---|---|---|
{rows}
"""


def write_classifier_card(
    path: Path, *, args: argparse.Namespace, results: dict, run_info: dict, test: LabelledTexts
) -> None:
    """Write README.md: metadata, then task, data, settings, results, confusion matrix, usage."""
    names = results["label_names"]
    examples = widget_examples(test)
    sample = examples[0]["text"] if examples else "a text to classify"
    test_scores, validation = results["test"], results["validation"]
    rows = ["accuracy", "precision_macro", "recall_macro", "f1_macro"] + [
        f"{metric}_{name}" for name in names for metric in ("precision", "recall", "f1")
    ]
    results_table = "\n".join(
        f"| {key} | {validation[key]:.4f} | {test_scores[key]:.4f} |" for key in rows
    )
    matrix = results["test_confusion_matrix"]
    confusion_table = "\n".join(
        [f"| true \\ predicted | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]
        + [
            f"| **{name}** | {' | '.join(str(n) for n in row)} |"
            for name, row in zip(names, matrix, strict=True)
        ]
    )
    served = results.get(CLASSIFIER_ONNX_RESULTS)
    key = results["selection_metric"]
    onnx_note = (
        f"\n`onnx/model_quantized.onnx` is the same model with int8 weights for ONNX "
        f"Runtime, about twice as fast on CPU (the demo app serves it): test accuracy "
        f"{served['accuracy']:.4f}, {key} {served[key]:.4f}.\n"
        if served
        else ""
    )
    scope = "with its word embeddings kept fixed" if args.freeze_embeddings else "end to end"
    if args.num_layers is not None:
        scope += (
            f", keeping only its first {args.num_layers} layers"
            if args.num_layers > 1
            else ", keeping only its first layer"
        )
    sizes = run_info["split_sizes"]
    settings = {
        key: getattr(args, key)
        for key in (
            "base_model",
            "num_layers",
            "epochs",
            "batch_size",
            "lr",
            "weight_decay",
            "warmup_ratio",
            "grad_accum",
            "freeze_embeddings",
            "max_length",
            "max_grad_norm",
            "class_weights",
            "mixed_precision",
            "seed",
        )
    }
    base_model = public_model_id(args.base_model)
    local = Path(args.base_model).expanduser().is_dir()
    # Without a Hub id: a local folder by its own name, a bare legacy name as given.
    shown = base_model or (local_model_name(args.base_model) if local else args.base_model)
    base = f"local `{shown}`" if local and not base_model else f"`{shown}`"
    settings["base_model"] = shown + (" (local folder)" if local and not base_model else "")
    settings["num_layers"] = args.num_layers or "all"
    # batch_size is per process: each optimiser step averaged effective_batch_size examples.
    for key in ("num_processes", "distributed_type", "effective_batch_size"):
        settings[key] = run_info.get(key)
    origin_note = (
        ""
        if base_model
        else (
            "\nThe base encoder was a local folder whose Hub id is not known"
            if local
            else "\nThe base encoder was named without its owner (Hub ids are owner/name)"
        )
        + ", so this card names no `base_model`.\n"
    )
    settings_table = "\n".join(f"| {key} | `{value}` |" for key, value in settings.items())
    body = f"""
# {args.task} classifier ({"local encoder" if local and not base_model else shown} fine-tuned)

A {base} encoder fine-tuned {scope} for **{args.task}** text
classification with labels {", ".join(f"`{n}`" for n in names)}.
{origin_note}
## Data

Trained on `{public_source(args.dataset)}`:
{sizes["train"]} training, {sizes["validation"]} validation and {sizes["test"]} test examples
(stratified split with seed {args.seed} unless the data set has its own splits;
{run_info["dropped_empty_texts"]} rows with an empty text dropped).

## Training

| setting | value |
|---|---|
{settings_table}

Best epoch by validation `{results["selection_metric"]}`: {results["best_epoch"]}.
Training took {run_info["train_seconds"]:.0f} s ({run_info["train_samples_per_second"]:.1f}
samples/s). TensorBoard logs are in `runs/` (the Hub shows them in its *Training metrics* tab).

## Results

| metric | validation | test |
|---|---|---|
{results_table}

Test confusion matrix:

{confusion_table}
{onnx_note}{distillation_section(results)}
## How to use

With 🤗 transformers (`pip install transformers torch`):

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="<this repo id or folder>")
classifier({sample!r})
```

The int8 ONNX export, without torch, through this project's loader
(`{INSTALL_LINE}`):

```python
from hub_utils import load_classifier, pull

model = load_classifier(pull("<this repo id or folder>"))  # pull: download once, then cached
model.predict([{sample!r}])
```

## Limits

Trained on one data set: expect lower accuracy on text from other sources, languages or times.
Inputs longer than {args.max_length} tokens are truncated. The scores are a model's estimate,
not a guarantee: do not use it alone for decisions with consequences for people.
"""
    front_matter = yaml.safe_dump(
        classifier_metadata(args, results, examples), sort_keys=False, allow_unicode=True
    )
    path.write_text(f"---\n{front_matter}---\n{body}", encoding="utf-8")
