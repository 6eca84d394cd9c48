"""The topic model's card: Hub YAML metadata (with ``model-index`` once trained) and a body.

``train topics`` and ``TopicModel.save_pretrained`` / ``push_to_hub`` both write it, so a model
saved either way has the same card. Without training details (a model built in code) the card
is minimal but valid: license, language, library, tags, usage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hub_utils.hub.defaults import INSTALL_LINE, PROJECT_URL
from hub_utils.models.encoder import DEFAULT_ENCODER
from hub_utils.models.metadata import (
    DEFAULT_LANGUAGE,
    DEFAULT_LICENSE,
    is_local_source,
    local_dataset_type,
    public_source,
)

METRIC_NAMES = {
    "npmi": "NPMI coherence (top 10 words)",
    "topic_diversity": "Topic diversity (top 25 words)",
    "inverted_rbo": "Inverted RBO (top 10 words)",
    "nmi": "NMI against labels",
    "purity": "Purity against labels",
}
MODEL_NAMES = {"combined": "CombinedTM", "zeroshot": "ZeroShotTM"}
LIBRARY_NAME = "contextualized-topic-models"
TAGS = ("topic-modeling", "contextualized-topic-models")
PLACEHOLDER_REPO = "<this repo id or folder>"


def topic_metadata(
    config: dict[str, Any], training: dict[str, Any] | None, results: dict[str, Any] | None
) -> dict[str, Any]:
    """The card's YAML front matter as a dict.

    ``training`` is ``training_config.json``'s content and ``results`` ``eval_results.json``'s;
    without them the card has no metrics and the default license and language (the latter only
    with the default, English, encoder).
    """
    training = training or {}
    name = MODEL_NAMES[config["model_type"]]
    language = training.get("language") or (
        DEFAULT_LANGUAGE if config.get("encoder") == DEFAULT_ENCODER else None
    )
    metadata: dict[str, Any] = {
        "library_name": LIBRARY_NAME,
        # No pipeline_tag: none of the Hub's pipelines is topic modelling (feature-extraction
        # would promise embeddings), so the widget stays off rather than misleading.
        "license": training.get("license") or DEFAULT_LICENSE,
        **({"language": [language]} if language else {}),
        "tags": [*TAGS, name],
    }
    # Only a Hub id: the Hub rejects a path, and a local encoder of unknown origin has none.
    if config.get("encoder"):
        metadata["base_model"] = config["encoder"]
    dataset = training.get("dataset")
    on_hub = dataset is not None and training.get("dataset_on_hub", not is_local_source(dataset))
    scored = [key for key in METRIC_NAMES if key in (results or {})]
    if scored and dataset is not None and results is not None:
        metadata["metrics"] = scored
        metadata["model-index"] = [
            {
                "name": f"{name}-{config['n_topics']}-topics",
                "results": [
                    {
                        "task": {"type": "topic-modeling", "name": "Topic Modeling"},
                        "dataset": {**_dataset_entry(dataset, on_hub), "split": "train"},
                        "metrics": [
                            {
                                "type": key,
                                "name": METRIC_NAMES[key],
                                "value": round(results[key], 4),
                            }
                            for key in scored
                        ],
                    }
                ],
            }
        ]
    # `datasets` links Hub data sets; a local file has none.
    if on_hub:
        metadata["datasets"] = [dataset]
    return metadata


def _dataset_entry(dataset: str, on_hub: bool) -> dict[str, str]:
    """model-index ``dataset``: a Hub data set by its id; a local file by its name, with the
    🤗 datasets builder that reads it as ``type`` (a made-up dataset id would link nowhere)."""
    if on_hub:
        return {"name": dataset, "type": dataset}
    name = public_source(dataset) or dataset
    return {"name": name, "type": local_dataset_type(name)}


def topic_card(
    *,
    config: dict[str, Any],
    topics: list[list[str]],
    training: dict[str, Any] | None = None,
    results: dict[str, Any] | None = None,
    load_from: str = PLACEHOLDER_REPO,
    onnx_max_abs_diff: float | None = None,
) -> str:
    """README.md's text: metadata, then model, topics, evaluation, training and usage.

    ``load_from`` is the repo id or folder shown in the loading example; ``onnx_max_abs_diff``,
    when the folder has the ONNX export, how far its distributions were from the PyTorch
    model's on held-out documents.
    """
    name = MODEL_NAMES[config["model_type"]]
    encoder = config.get("encoder")
    encoder_text = (
        f"`{encoder}`"
        if encoder
        else "a local encoder whose Hub id is not known (so this card names no `base_model`)"
    )
    topics_table = "\n".join(f"| {i} | {', '.join(words[:10])} |" for i, words in enumerate(topics))
    sections = [
        f"""
# {name} with {config["n_topics"]} topics

A Contextualized Topic Model ({name}, from the
[contextualized-topic-models](https://github.com/MilaNLProc/contextualized-topic-models)
package): a ProdLDA neural topic model whose encoder reads
{"the bag of words and " if config["model_type"] == "combined" else ""}the sentence embedding
of {encoder_text}. Vocabulary: {config["vocab_size"]} words. Saved by
[bert-hub-kit]({PROJECT_URL}), whose `TopicModel` loads it.
"""
    ]
    if training:
        sections.append(_data_section(training))
    sections.append(
        f"""
## Topics

| topic | top 10 words |
|---|---|
{topics_table}
"""
    )
    if training and results:
        sections.append(_evaluation_and_training(training, results))
    sections.append(_usage(config, load_from, onnx_max_abs_diff))
    front_matter = yaml.safe_dump(
        topic_metadata(config, training, results), sort_keys=False, allow_unicode=True
    )
    return f"---\n{front_matter}---\n" + "".join(sections)


def write_topic_card(path: Path, **kwargs: Any) -> None:
    """Write ``topic_card(**kwargs)`` to ``path`` (README.md)."""
    path.write_text(topic_card(**kwargs), encoding="utf-8")


def _data_section(training: dict[str, Any]) -> str:
    return f"""
## Data

Trained on `{public_source(training["dataset"])}`:
{training["documents_used"]} documents ({training["documents_dropped"]} dropped as empty after
removing stop words, numbers and punctuation), of which {training["validation_documents"]}
were held out to score the validation loss and NPMI each epoch.
"""


def _evaluation_and_training(training: dict[str, Any], results: dict[str, Any]) -> str:
    metrics_table = "\n".join(
        f"| {METRIC_NAMES[key]} | {results[key]:.4f} |" for key in METRIC_NAMES if key in results
    )
    keys = (
        "model",
        "n_topics",
        "vocab_size",
        "encoder",
        "epochs",
        "batch_size",
        # How the run was spread (absent from configs saved before they were recorded).
        "num_processes",
        "distributed_type",
        "effective_batch_size",
        "lr",
        "validation_size",
        "hidden_sizes",
        "dropout",
        "seed",
    )
    settings = {key: training[key] for key in keys if key in training}
    if settings.get("encoder") is None and "encoder" in settings:
        settings["encoder"] = "local folder (not published)"
    settings_table = "\n".join(f"| {key} | `{value}` |" for key, value in settings.items())
    return f"""
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

Ran {training["epochs_run"]} epochs in {training["train_seconds"]:.0f} s and kept the last one
(validation loss misleads on short texts; the topics' NPMI and diversity, logged every epoch,
kept rising). TensorBoard logs are in `runs/`.
"""


def _usage(config: dict[str, Any], load_from: str, onnx_max_abs_diff: float | None) -> str:
    encoder = config.get("encoder")
    reads_words = (
        ", counts its words in the saved vocabulary (unknown words are ignored; a text with none "
        "still gets a distribution from its embedding)"
        if config["model_type"] == "combined"
        else " (ZeroShotTM reads only the embedding, so unknown words cost nothing)"
    )
    load_args = f'"{load_from}"' + ("" if encoder else ', encoder="<the encoder used>"')
    encoder_note = (
        ""
        if encoder
        else "\nThe encoder was a local folder and is not published: pass it (a Hub id or a "
        "folder) as `encoder=` to `from_pretrained` before `predict`.\n"
    )
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
    return f"""
## How to use

The model class is `TopicModel` from this project's `hub_utils` package; it reads
`config.json`, `model.safetensors`, `vocab.json` and `topics.json` (no pickle anywhere).

```bash
{INSTALL_LINE}
```

```python
from hub_utils import TopicModel

model = TopicModel.from_pretrained({load_args})
print(model.topics(10)[0])          # top words of topic 0
model.predict(["stocks fall as oil prices climb"])  # (1, {config["n_topics"]}) topic distribution
```

`predict` embeds each text with {f"`{encoder}`" if encoder else "the encoder"}{reads_words} and
returns the mean of the posterior, so the same text always gets the same distribution.
{encoder_note}{onnx_note}
## Limits

Topics reflect one corpus: words outside its {config["vocab_size"]}-word vocabulary never appear
in a topic, and texts unlike the training documents get less meaningful distributions.
"""
