"""Load the models an app serves, once, with what it shows about them: card, metrics, curves.

A model is named by an environment variable (a Hub repo id or a local folder, plus an optional
``*_REVISION``); by default the folder the training command writes, else the published repo.
Loading never raises: a model that cannot be loaded keeps the reason, for the app to show.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import pandas as pd
import yaml
from huggingface_hub import constants

from hub_utils.errors import BadRequestError, HubError
from hub_utils.hub import pull
from hub_utils.hub.defaults import SPAM_MODEL_REPO, TOPIC_MODEL_REPO
from hub_utils.models.classifier import load_classifier
from hub_utils.models.protocols import Prediction, ServedClassifier, ServedTopicModel
from hub_utils.models.topic_onnx import load_topic_model
from hub_utils.serving.runtime import MicroBatcher, run_model
from hub_utils.serving.training_curves import COLUMNS, read_scalars

HOW_TO_FIX = {
    "SPAM_MODEL": "train one with `python -m train classify --dataset "
    "../shared/data/sms_spam/spamdata_v2.csv --label-names ham,spam` (it writes "
    "`models/spam`, which the app loads by default), or set `SPAM_MODEL` to a "
    "classifier folder or Hub repo id (`SPAM_MODEL_REVISION` pins a revision)",
    "TOPIC_MODEL": "train one with `python -m train topics --dataset "
    "../shared/data/gnews/GoogleNews.txt` (it writes `models/topics`, which the "
    "app loads by default), or set `TOPIC_MODEL` to a topic model folder or Hub "
    "repo id (`TOPIC_MODEL_REVISION` pins a revision)",
}
M = TypeVar("M")  # the model class a LoadedModel holds
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
_FIRST_ARGUMENT = re.compile(r"\(\[?\"([^\"\n]+)\"")


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``name`` is a Hub repo id or a local folder."""

    env_var: str
    name: str
    revision: str | None = None

    @property
    def is_local(self) -> bool:
        return Path(self.name).expanduser().is_dir()


def model_source(
    env_var: str, default_folder: Path, default_repo: str, environ: Mapping[str, str] = os.environ
) -> ModelSource:
    """``$ENV_VAR`` (and ``$ENV_VAR_REVISION``) if set, else ``default_folder`` if it holds a
    model, else ``default_repo``."""
    revision = environ.get(f"{env_var}_REVISION") or None
    if environ.get(env_var):
        return ModelSource(env_var, environ[env_var], revision)
    if (default_folder / "config.json").is_file():
        return ModelSource(env_var, str(default_folder), revision)
    return ModelSource(env_var, default_repo, revision)


@dataclass
class Card:
    """A model card: its YAML metadata, its first heading and its body."""

    metadata: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    body: str = ""

    @classmethod
    def read(cls, path: Path) -> Card:
        if not path.is_file():
            return cls()
        text = path.read_text(encoding="utf-8")
        metadata: dict[str, Any] = {}
        match = _FRONT_MATTER.match(text)
        if match:
            loaded = yaml.safe_load(match.group(1))
            metadata = loaded if isinstance(loaded, dict) else {}
            text = text[match.end() :]
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
        return cls(metadata, title, text)

    def examples(self) -> list[str]:
        """Example inputs: the ``widget`` texts of the metadata (what the Hub's widget offers),
        else the sentences (three words or more) passed as first argument to a call in the
        card's Python snippets, such as ``classifier("...")`` or ``model.predict(["..."])``."""
        widget = self.metadata.get("widget") or []
        texts = [item["text"] for item in widget if isinstance(item, dict) and item.get("text")]
        if texts:
            return texts
        quoted = (
            text
            for block in _PYTHON_BLOCK.findall(self.body)
            for text in _FIRST_ARGUMENT.findall(block)
        )
        # A placeholder such as "<this repo id or folder>" is no example text.
        sentences = (t for t in quoted if len(t.split()) >= 3 and not t.startswith("<"))
        return list(dict.fromkeys(sentences))

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics the card's model-index reports, by name (the Hub shows them too)."""
        index = self.metadata.get("model-index") or [{}]
        results = index[0].get("results") or [{}]
        return {
            metric["name"]: metric["value"]
            for metric in results[0].get("metrics") or []
            if isinstance(metric, dict) and "name" in metric and "value" in metric
        }

    @property
    def task(self) -> str:
        """The model-index name (``train classify`` writes its ``--task`` there), or ''."""
        index = self.metadata.get("model-index") or [{}]
        return str(index[0].get("name") or "")


@dataclass
class LoadedModel(Generic[M]):
    """A served model, or why it could not be loaded (``error``)."""

    source: ModelSource
    model: M | None = None
    folder: Path | None = None
    error: str | None = None
    card: Card = field(default_factory=Card)
    metrics: dict[str, Any] = field(default_factory=dict)
    scalars: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COLUMNS))
    load_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def commit(self) -> str | None:
        """The Hub commit loaded: the snapshot folder a repo id resolves to in the cache."""
        if self.source.is_local or self.folder is None or self.folder.parent.name != "snapshots":
            return None
        return self.folder.name

    @property
    def hub_url(self) -> str | None:
        return None if self.source.is_local else f"{constants.ENDPOINT}/{self.source.name}"

    @property
    def tensorboard_url(self) -> str | None:
        """The Hub's *Training metrics* tab, which reads the repo's ``runs/``."""
        return f"{self.hub_url}/tensorboard" if self.hub_url else None


def load_model(
    source: ModelSource, loader: Callable[[Path], M], warm_up: Callable[[M], Any] | None = None
) -> LoadedModel[M]:
    """Pull ``source`` and build the model with ``loader(folder)``; ``warm_up(model)`` runs once
    so that the first request pays no lazy initialisation. Never raises."""
    started = time.perf_counter()
    loaded: LoadedModel[M] = LoadedModel(source)
    try:
        loaded.folder = pull(source.name, revision=source.revision)
        loaded.model = loader(loaded.folder)
        if warm_up is not None:
            run_model(warm_up, loaded.model)  # its per-thread buffers are where they will be used
        loaded.card = Card.read(loaded.folder / "README.md")
        results = loaded.folder / "eval_results.json"
        if results.is_file():
            loaded.metrics = json.loads(results.read_text(encoding="utf-8"))
        loaded.scalars = read_scalars(loaded.folder)
    # Whatever breaks (Hub down, missing files, a folder of another kind), the app must start
    # and say why; the other model's tabs keep working.
    except Exception as err:
        loaded.model = None
        message = str(err).strip().splitlines()[0] if str(err).strip() else "no details"
        # A HubError already says what to fix; for others the exception type helps.
        loaded.error = message if isinstance(err, HubError) else f"{type(err).__name__}: {message}"
    loaded.load_seconds = time.perf_counter() - started
    return loaded


@dataclass
class Models:
    """The two served models (either may hold a load error instead), and the classifier's
    ``predict`` shared by every endpoint that classifies: concurrent requests, from the page,
    ``gradio_client`` or the JSON route, run as one ``predict`` call of up to ``MAX_BATCH``,
    which keeps every core busy (the ONNX classifier runs one text per core at a time)."""

    MAX_BATCH: ClassVar[int] = 64
    # For a classifier served from its PyTorch weights (no export), each joined batch is sorted
    # by length and run 16 texts at a time: few pad tokens. The ONNX one runs texts alone.
    SUB_BATCH: ClassVar[int] = 16

    classifier: LoadedModel[ServedClassifier]
    topics: LoadedModel[ServedTopicModel]
    classify: MicroBatcher[str, Prediction] = field(init=False)

    def __post_init__(self) -> None:
        self.classify = MicroBatcher(self._predict, self.MAX_BATCH)

    def _predict(self, texts: list[str]) -> list[Prediction]:
        return require(self.classifier, "classifier").predict(texts, batch_size=self.SUB_BATCH)


def load_models(project_dir: Path, environ: Mapping[str, str] = os.environ) -> Models:
    """Load both models once: ``SPAM_MODEL`` / ``TOPIC_MODEL`` (and their ``*_REVISION``) when
    set, else ``project_dir/models/{spam,topics}`` when trained, else the published repos."""
    spam = model_source("SPAM_MODEL", project_dir / "models" / "spam", SPAM_MODEL_REPO, environ)
    topics = model_source(
        "TOPIC_MODEL", project_dir / "models" / "topics", TOPIC_MODEL_REPO, environ
    )
    # One prediction at start-up, so that the first request pays no lazy initialisation.
    return Models(
        classifier=load_model(spam, load_classifier, warm_up=lambda m: m.predict(["warm up"])),
        topics=load_model(topics, load_topic_model, warm_up=lambda m: m.predict(["warm up"])),
    )


def load_problem(loaded: LoadedModel, what: str) -> str:
    """Markdown saying which model is missing, why, and how to fix it."""
    return (
        f"**The {what} is not available.** It could not be loaded from "
        f"`{loaded.source.name}`: {loaded.error}.\n\nTo fix: "
        f"{HOW_TO_FIX.get(loaded.source.env_var, 'check the model source')}, then restart "
        "the app."
    )


def require(loaded: LoadedModel[M], what: str) -> M:
    """The loaded model, or ``BadRequestError`` saying why it is missing and how to fix it."""
    if loaded.model is None:
        raise BadRequestError(load_problem(loaded, what).replace("**", "").replace("`", ""))
    return loaded.model
