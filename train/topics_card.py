"""The topic model's card: Hub YAML metadata (with ``model-index``) and a readable body."""

from __future__ import annotations

from pathlib import Path

import yaml

from train.tables import dataset_name, looks_like_local_path

METRIC_NAMES = {
    "npmi": "NPMI coherence (top 10 words)",
    "topic_diversity": "Topic diversity (top 25 words)",
    "inverted_rbo": "Inverted RBO (top 10 words)",
    "nmi": "NMI against labels",
    "purity": "Purity against labels",
}
_MODEL_NAMES = {"combined": "CombinedTM", "zeroshot": "ZeroShotTM"}


def topic_metadata(*, config: dict, metrics: dict[str, float], dataset: str) -> dict:
    """The card's YAML front matter as a dict."""
    local = looks_like_local_path(dataset)
    name = dataset_name(dataset)
    scored = [key for key in METRIC_NAMES if key in metrics]
    metadata = {
        "library_name": "contextualized-topic-models",
        "tags": [
            "topic-modeling",
            "contextualized-topic-models",
            _MODEL_NAMES[config["model_type"]],
        ],
        "base_model": config["encoder"],
        "metrics": scored,
        "model-index": [
            {
                "name": f"{_MODEL_NAMES[config['model_type']]}-{config['n_topics']}-topics",
                "results": [
                    {
                        "task": {"type": "topic-modeling", "name": "Topic Modeling"},
                        "dataset": {"name": name, "type": name, "split": "train"},
                        "metrics": [
                            {
                                "type": key,
                                "name": METRIC_NAMES[key],
                                "value": round(metrics[key], 4),
                            }
                            for key in scored
                        ],
                    }
                ],
            }
        ],
    }
    # The Hub links `datasets` entries to Hub data sets; a local file has none.
    if not local:
        metadata["datasets"] = [dataset]
    return metadata


def write_topic_card(
    path: Path,
    *,
    config: dict,
    topics: list[list[str]],
    metrics: dict[str, float],
    training: dict,
    load_from: str,
    onnx_max_abs_diff: float | None = None,
) -> None:
    """Write README.md: metadata, then model, topics, evaluation, training and usage.

    ``training`` is the content of ``training_config.json``; ``load_from`` is the repo id or
    folder shown in the loading example; ``onnx_max_abs_diff``, when the folder has the ONNX
    export, how far its distributions were from the PyTorch model's on held-out documents.
    """
    name = _MODEL_NAMES[config["model_type"]]
    onnx_note = (
        ""
        if onnx_max_abs_diff is None
        else (
            "\n`onnx/topic_model.onnx` is the sentence encoder and the topic network in one "
            "float32 graph, with its tokenizer in `onnx/tokenizer.json`. "
            "`hub_utils.load_topic_model` serves it with ONNX Runtime, without torch or "
            "sentence-transformers (the demo app does); on held-out documents its distributions "
            f"were within {onnx_max_abs_diff:.0e} of `predict`'s.\n"
        )
    )
    reads_words = (
        ", counts its words in the saved vocabulary (unknown words are ignored; a text with none "
        "still gets a distribution from its embedding)"
        if config["model_type"] == "combined"
        else " (ZeroShotTM reads only the embedding, so unknown words cost nothing)"
    )
    dataset = training["dataset"]
    topics_table = "\n".join(f"| {i} | {', '.join(words[:10])} |" for i, words in enumerate(topics))
    metrics_table = "\n".join(
        f"| {METRIC_NAMES[key]} | {metrics[key]:.4f} |" for key in METRIC_NAMES if key in metrics
    )
    settings = {
        key: training[key]
        for key in (
            "model",
            "n_topics",
            "vocab_size",
            "encoder",
            "epochs",
            "batch_size",
            "lr",
            "validation_size",
            "min_epochs",
            "patience",
            "hidden_sizes",
            "dropout",
            "seed",
        )
        if key in training
    }
    settings_table = "\n".join(f"| {key} | `{value}` |" for key, value in settings.items())
    body = f"""
# {name} with {config["n_topics"]} topics

A Contextualized Topic Model ({name}, from the
[contextualized-topic-models](https://github.com/MilaNLProc/contextualized-topic-models)
package): a ProdLDA neural topic model whose encoder reads
{"the bag of words and " if config["model_type"] == "combined" else ""}the sentence embedding
of `{config["encoder"]}`. Vocabulary: {config["vocab_size"]} words.

## Data

Trained on `{dataset_name(dataset)}`:
{training["documents_used"]} documents ({training["documents_dropped"]} dropped as empty after
removing stop words, numbers and punctuation), of which {training["validation_documents"]}
were held out for early stopping.

## Topics

| topic | top 10 words |
|---|---|
{topics_table}

## Evaluation

Computed on the training corpus. NPMI uses gensim's `c_npmi`; topic diversity is the share
of distinct words among all topics' top 25; inverted RBO is 1 minus the mean rank-biased
overlap of every pair of topics (1 = no overlap); NMI and purity compare each document's most
probable topic with its known label.

| metric | value |
|---|---|
{metrics_table}

## Training

| setting | value |
|---|---|
{settings_table}

Ran {training["epochs_run"]} epochs in {training["train_seconds"]:.0f} s and kept epoch
{training["best_epoch"]} (lowest validation loss). TensorBoard logs are in `runs/`.

## How to use

The model class is `TopicModel` in this project's `hub_utils/topic_model.py`; it reads
`config.json`, `model.safetensors`, `vocab.json` and `topics.json` (no pickle anywhere).

```python
from hub_utils.models.topic_model import TopicModel

model = TopicModel.from_pretrained("{load_from}")
print(model.topics(10)[0])          # top words of topic 0
model.predict(["stocks fall as oil prices climb"])  # (1, {config["n_topics"]}) topic distribution
```

`predict` embeds each text with `{config["encoder"]}`{reads_words} and returns the mean of the
posterior, so the same text always gets the same distribution.
{onnx_note}
## Limits

Topics reflect one corpus: words outside its {config["vocab_size"]}-word vocabulary never appear
in a topic, and texts unlike the training documents get less meaningful distributions.
"""
    front_matter = yaml.safe_dump(
        topic_metadata(config=config, metrics=metrics, dataset=dataset),
        sort_keys=False,
        allow_unicode=True,
    )
    path.write_text(f"---\n{front_matter}---\n{body}", encoding="utf-8")
