"""Check a model folder before it is published: no private paths, no pickles, Hub-valid card
metadata, every file its kind needs. ``push`` runs it; so does ``python -m hub_utils check``.

What counts as a private path (see ``path_problems``):

- a POSIX absolute path: ``/x/y`` (two or more parts) or one part under a usual root of user or
  temporary files (``/home``, ``/root``, ``/tmp``, ``/Users``, ...), not inside a URL;
- a Windows path (``C:\\...``, ``C:/...``), a UNC path (``\\\\server\\share``), a ``file://`` URL;
- ``~/...`` or ``~user/...``, and the current ``$HOME`` wherever it appears.

Text files (JSON, YAML, Markdown, ...) are scanned whole and the strings inside TensorBoard event
files one by one. Binary files (weights, ONNX graphs, whose node names look like
``/model/bert/Gather``) and vocabularies (tokens such as ``/en/`` are words, not paths) are
scanned only for the home folder and the user and temporary roots (``/home/``, ``/Users/``,
``/root/``, ``/tmp/``), which random bytes and real tokens practically never spell.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from hub_utils.errors import HubError
from hub_utils.models.files import (
    CARD_FILE,
    CLASSIFIER_TOKENIZER_FILE,
    CONFIG_FILE,
    TOPICS_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
)
from hub_utils.models.metadata import HUB_LICENSES, is_hub_id

CLASSIFIER_FILES = (CONFIG_FILE, WEIGHTS_FILE, CLASSIFIER_TOKENIZER_FILE, CARD_FILE)
TOPIC_MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE, TOPICS_FILE, CARD_FILE)
# Formats that can run code when loaded (pickle and what wraps it).
UNSAFE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy", ".npz")
PICKLE_PROTO = b"\x80"  # the first opcode of every pickle since protocol 2
VOCABULARY_FILES = frozenset(
    {"tokenizer.json", "vocab.json", "vocab.txt", "merges.txt", TOPICS_FILE}
)
TEXT_SUFFIXES = (".json", ".jsonl", ".yml", ".yaml", ".md", ".txt", ".csv", ".tsv", ".cfg", ".ini")

_ROOTS = (
    "home|root|tmp|Users|var|private|mnt|media|opt|srv|scratch|workspace|content|data|work|"
    "gpfs|lustre|nfs|net|Volumes|run|usr|etc"
)
_POSIX = re.compile(
    # Not inside a URL or a relative path: no word character, dot, slash, colon or ~ before.
    r"(?<![\w.~:/\\-])"
    rf"(?:/[\w.@+-]+(?:/[\w.@+-]*)+|/(?:{_ROOTS})\b)"
)
_WINDOWS = re.compile(r"(?<![\w])[A-Za-z]:(?:\\\\|\\|/)(?=[\w.$ ~-])|(?<![\w\\])\\\\\\?\w+\\")
_FILE_URL = re.compile(r"\bfile:/", re.IGNORECASE)
_TILDE = re.compile(r"(?<![\w~/])~[\w.-]*/")
# Binary files: only what random bytes practically never spell.
_BINARY = re.compile(rb"/(?:home|Users|root|tmp)/[\w.-]|[A-Za-z]:\\Users\\")


class PublishCheckError(HubError):
    """A folder that must not be published as it is; the message lists every reason."""

    def __init__(self, folder: Path, kind: str | None, problems: list[str]) -> None:
        self.problems = problems
        what = f"{kind} folder" if kind else "folder"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"{folder} ({what}) is not ready to publish, {len(problems)} "
            f"problem{'s' if len(problems) > 1 else ''}:\n{lines}"
        )


def check_folder(folder: str | Path) -> str:
    """Return the model kind (``classifier`` or ``topic model``) when ``folder`` may be published,
    else raise ``PublishCheckError`` with every problem found."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise HubError(f"model folder not found: {path}")
    kind, problems = audit(path)
    if problems:
        raise PublishCheckError(path, kind, problems)
    assert kind is not None
    return kind


def audit(folder: Path) -> tuple[str | None, list[str]]:
    """The model kind detected (None if unknown) and one line per problem."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)
    problems: list[str] = []
    config = _read_json(folder / CONFIG_FILE)
    kind = detect_kind(folder, config)
    if kind is None:
        problems.append(
            f"cannot tell the model kind: {CONFIG_FILE} "
            + ("is missing" if config is None else "has neither id2label nor n_topics")
        )
    else:
        required = CLASSIFIER_FILES if kind == "classifier" else TOPIC_MODEL_FILES
        missing = [name for name in required if not (folder / name).is_file()]
        if missing:
            problems.append(f"{kind}: missing {', '.join(missing)}")
        if kind == "classifier" and config is not None and not config.get("id2label"):
            problems.append(f"classifier: {CONFIG_FILE} has no id2label (the label names)")
    for file in files:
        name = file.relative_to(folder).as_posix()
        problems += [f"{name}: {problem}" for problem in file_problems(file)]
    if (folder / CARD_FILE).is_file():
        problems += [f"{CARD_FILE}: {p}" for p in card_problems(folder / CARD_FILE)]
    return kind, problems


def detect_kind(folder: Path, config: dict | None) -> str | None:
    if config is None:
        return None
    if "n_topics" in config or (folder / TOPICS_FILE).is_file():
        return "topic model"
    if "id2label" in config or "architectures" in config or "model_type" in config:
        return "classifier"
    return None


def file_problems(path: Path) -> list[str]:
    """Unsafe format, then private paths, for one file."""
    problems = []
    if path.suffix.lower() in UNSAFE_SUFFIXES:
        problems.append(f"unsafe format {path.suffix} (pickle-based): publish safetensors")
    else:
        with path.open("rb") as stream:
            if stream.read(1) == PICKLE_PROTO:
                problems.append("a pickle (starts with the PROTO opcode): publish safetensors")
    if ".tfevents." in path.name:
        found = {hit for text in tfevents_strings(path) for hit in path_problems(text)}
    elif path.name in VOCABULARY_FILES:
        found = set(_binary_paths(path))
    elif path.suffix.lower() in TEXT_SUFFIXES or _is_text(path):
        found = set(path_problems(path.read_text(encoding="utf-8", errors="replace")))
    else:
        found = set(_binary_paths(path))
    problems += [f"private path '{hit}'" for hit in sorted(found)]
    return problems


def path_problems(text: str) -> list[str]:
    """The absolute, home-relative and home-folder paths in ``text`` (see the module doc)."""
    hits = [
        m.group(0)
        for pattern in (_POSIX, _WINDOWS, _FILE_URL, _TILDE)
        for m in pattern.finditer(text)
    ]
    home = os.environ.get("HOME", "")
    if len(home.strip("/\\")) > 1 and home in text:
        hits.append(home)
    return [_shorten(text, hit) for hit in hits]


def tfevents_strings(path: Path) -> Iterator[str]:
    """Every string inside a TensorBoard event file: tags, text summaries, and the hparams
    plugin's data (flag values), which is itself a serialized message."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    for event in EventFileLoader(str(path)).Load():
        yield from _message_strings(event)
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                data = plugin_data_pb2.HParamsPluginData()
                data.ParseFromString(value.metadata.plugin_data.content)
                yield from _message_strings(data)


def _message_strings(message: Any) -> Iterator[str]:
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            # A map field: its keys are strings too (hparams: flag name -> value).
            yield from (str(key) for key in value)
            values = [item for item in value.values() if hasattr(item, "ListFields")]
            yield from (text for item in values for text in _message_strings(item))
            yield from (item for item in value.values() if isinstance(item, str))
            continue
        values = value if field.is_repeated else [value]
        for item in values:
            if field.type == field.TYPE_MESSAGE:
                yield from _message_strings(item)
            elif field.type == field.TYPE_STRING:
                yield item
            elif field.type == field.TYPE_BYTES and field.name == "string_val":
                yield item.decode("utf-8", errors="replace")


def card_problems(card: Path) -> list[str]:
    """Card metadata the Hub would reject or mislink."""
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return ["no YAML metadata block (--- ... ---) at the top"]
    try:
        metadata = yaml.safe_load(text.split("---", 2)[1]) or {}
    except (yaml.YAMLError, IndexError) as err:
        return [f"metadata is not valid YAML ({type(err).__name__})"]
    if not isinstance(metadata, dict):
        return ["metadata is not a mapping"]
    problems = []
    base = metadata.get("base_model")
    for model in base if isinstance(base, list) else [] if base is None else [base]:
        if not (isinstance(model, str) and is_hub_id(model)):
            problems.append(f"base_model {model!r} is not a Hub model id (owner/name)")
    for dataset in metadata.get("datasets") or []:
        if not (isinstance(dataset, str) and is_hub_id(dataset, namespaced=False)):
            problems.append(f"datasets entry {dataset!r} is not a Hub dataset id")
    license_id = metadata.get("license")
    if license_id is None:
        problems.append("no license")
    elif license_id not in HUB_LICENSES:
        problems.append(f"license {license_id!r} is not one of the Hub's license ids")
    elif license_id == "other" and not metadata.get("license_name"):
        problems.append("license 'other' needs a license_name")
    if "model-index" in metadata:
        problems += _model_index_problems(metadata["model-index"])
    return problems


def _model_index_problems(index: Any) -> list[str]:
    if not isinstance(index, list) or not index:
        return ["model-index must be a non-empty list"]
    problems = []
    for i, entry in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(entry, dict) or not entry.get("name"):
            problems.append(f"{where}: no name")
            entry = entry if isinstance(entry, dict) else {}
        results = entry.get("results")
        if not isinstance(results, list) or not results:
            problems.append(f"{where}: no results")
            continue
        for j, result in enumerate(results):
            at = f"{where}.results[{j}]"
            result = result if isinstance(result, dict) else {}
            if not (result.get("task") or {}).get("type"):
                problems.append(f"{at}: no task.type")
            dataset = result.get("dataset") or {}
            problems += [
                f"{at}: no dataset.{key}" for key in ("name", "type") if not dataset.get(key)
            ]
            metrics = result.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                problems.append(f"{at}: no metrics")
                continue
            for k, metric in enumerate(metrics):
                metric = metric if isinstance(metric, dict) else {}
                problems += [
                    f"{at}.metrics[{k}]: no {key}"
                    for key in ("type", "value")
                    if metric.get(key) is None or metric.get(key) == ""
                ]
    return problems


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_text(path: Path) -> bool:
    """A small file of UTF-8 text without NUL bytes (a file with another suffix, e.g. LICENSE)."""
    if path.stat().st_size > 10_000_000:
        return False
    data = path.read_bytes()
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _binary_paths(path: Path) -> Iterator[str]:
    if path.stat().st_size == 0:
        return
    home = os.environ.get("HOME", "").encode()
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for match in _BINARY.finditer(data):
            yield match.group(0).decode("utf-8", errors="replace") + "..."
        if len(home.strip(b"/\\")) > 1 and data.find(home) >= 0:
            yield home.decode("utf-8", errors="replace")


def _shorten(text: str, hit: str, width: int = 80) -> str:
    """The path as found, cut to ``width`` characters (a whole long path adds nothing)."""
    end = text.find(hit) + len(hit)
    # Extend a root-only hit (``/home``) to the rest of its path for a readable message.
    rest = re.match(r"[^\s\"'`,;)\]}]*", text[end:])
    full = hit + (rest.group(0) if rest else "")
    return full if len(full) <= width else full[: width - 3] + "..."
