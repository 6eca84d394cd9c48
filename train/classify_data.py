"""The classifier's data: labelled texts read with ``train.tables``, labels encoded, split.

Every problem with the user's data raises ``UserError`` with a message that names the file,
the column or the class at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from hub_utils.models.texts import TEXT_COLUMNS
from train.errors import UserError
from train.tables import load_splits, looks_like_local_path, pick_column

LABEL_COLUMN_GUESSES = ("label", "labels", "class", "category", "target", "intent", "sentiment")


@dataclass
class LabelledTexts:
    """Texts with integer labels ``0..len(label_names)-1``."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]


def drop_empty_texts(
    table: pd.DataFrame, text_column: str, source: str
) -> tuple[pd.DataFrame, int]:
    """The rows whose text is present and not blank, and how many were dropped."""
    texts = table[text_column]
    keep = texts.notna() & texts.astype(str).str.strip().ne("")
    if not keep.any():
        raise UserError(f"{source}: every row has an empty text in column {text_column!r}")
    return table[keep], int((~keep).sum())


def to_labelled_texts(
    table: pd.DataFrame,
    text_column: str,
    label_column: str,
    label_names: list[str] | None,
    source: str,
) -> LabelledTexts:
    """Map labels to ``0..k-1`` and check there are at least 2 classes.

    Integer labels keep their values (``label_names[i]`` names label ``i``); string labels are
    numbered in ``label_names`` order when given, else alphabetically.
    """
    missing = table[label_column].isna()
    if missing.any():
        raise UserError(
            f"{source}: {int(missing.sum())} rows have no value in label column "
            f"{label_column!r} (first at row {missing.idxmax()})"
        )
    names, labels = _encode_labels(table[label_column].tolist(), label_names, label_column, source)
    if len(set(labels)) < 2:
        raise UserError(
            f"{source}: column {label_column!r} holds a single class "
            f"({names[labels[0]]!r}); a classifier needs at least 2"
        )
    return LabelledTexts(table[text_column].astype(str).tolist(), labels, names)


def _encode_labels(
    raw: list, label_names: list[str] | None, column: str, source: str
) -> tuple[list[str], list[int]]:
    if all(_is_integral(value) for value in raw):
        ids = [int(value) for value in raw]
        if min(ids) < 0:
            raise UserError(f"{source}: column {column!r} has negative label {min(ids)}")
        count = max(ids) + 1
        if label_names is None:
            return [str(i) for i in range(count)], ids
        if len(label_names) < count:
            raise UserError(
                f"{source}: --label-names gives {len(label_names)} names but column "
                f"{column!r} has labels up to {count - 1}"
            )
        return list(label_names), ids
    values = [str(value) for value in raw]
    names = list(label_names) if label_names else sorted(set(values))
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UserError(
            f"{source}: labels {unknown} in column {column!r} are not in --label-names {names}"
        )
    index = {name: i for i, name in enumerate(names)}
    return names, [index[value] for value in values]


def _is_integral(value) -> bool:
    try:
        return float(value) == int(float(value))
    except (TypeError, ValueError):
        return False


def stratified_split(
    labels: list[int],
    label_names: list[str],
    *,
    validation_size: float,
    test_size: float,
    seed: int,
) -> dict[str, list[int]]:
    """Row indices for train, validation and test, each keeping the class proportions."""
    counts = pd.Series(labels).value_counts()
    rare = counts[counts < 3]
    if not rare.empty:
        detail = ", ".join(f"{label_names[i]!r} has {n}" for i, n in rare.items())
        raise UserError(
            f"too few examples to stratify into train/validation/test ({detail}; "
            "each class needs at least 3)"
        )
    indices = list(range(len(labels)))
    try:
        train, held_out = train_test_split(
            indices, test_size=validation_size + test_size, stratify=labels, random_state=seed
        )
        validation, test = train_test_split(
            held_out,
            test_size=test_size / (validation_size + test_size),
            stratify=[labels[i] for i in held_out],
            random_state=seed,
        )
    except ValueError as err:  # a split too small to hold every class
        raise UserError(
            f"cannot stratify {len(labels)} examples of {len(counts)} classes: {err}"
        ) from err
    return {"train": train, "validation": validation, "test": test}


def load_classification_data(
    source: str,
    *,
    text_column: str | None,
    label_column: str | None,
    label_names: list[str] | None,
    validation_size: float,
    test_size: float,
    seed: int,
) -> tuple[dict[str, LabelledTexts], int]:
    """Train, validation and test sets from ``source``, plus the number of rows dropped.

    A data set's own train/test splits are kept (validation is carved from train when missing);
    a single table is split with ``stratified_split``.
    """
    splits = load_splits(source)
    first = next(iter(splits.values()))
    text_column = pick_column(first, text_column, TEXT_COLUMNS, "text", source)
    label_column = pick_column(first, label_column, LABEL_COLUMN_GUESSES, "label", source)
    table = pd.concat(splits.values(), keys=list(splits), names=["_split", None]).reset_index(0)
    table, dropped = drop_empty_texts(table, text_column, source)
    data = to_labelled_texts(table, text_column, label_column, label_names, source)
    split_of = table["_split"].tolist()
    own = {_SPLIT_ALIASES.get(name, name) for name in split_of}
    if {"train", "test"} <= own:
        rows = {
            name: [i for i, s in enumerate(split_of) if _SPLIT_ALIASES.get(s, s) == name]
            for name in ("train", "validation", "test")
        }
        if not rows["validation"]:
            rows["train"], rows["validation"] = _carve(rows["train"], data, validation_size, seed)
    else:
        rows = stratified_split(
            data.labels,
            data.label_names,
            validation_size=validation_size,
            test_size=test_size,
            seed=seed,
        )
    subsets = {
        name: LabelledTexts(
            [data.texts[i] for i in index], [data.labels[i] for i in index], data.label_names
        )
        for name, index in rows.items()
    }
    return subsets, dropped


_SPLIT_ALIASES = {"valid": "validation", "dev": "validation", "val": "validation"}


def _carve(rows: list[int], data: LabelledTexts, size: float, seed: int) -> list[list[int]]:
    """Split ``rows`` in two, stratified, the second part holding ``size`` of them."""
    try:
        return train_test_split(
            rows, test_size=size, stratify=[data.labels[i] for i in rows], random_state=seed
        )
    except ValueError as err:
        raise UserError(
            f"cannot carve a stratified validation set from the train split: {err}"
        ) from err


# File stems that say nothing about the task (a split, a format, a placeholder); digits and
# version parts (``v2``, ``00000``) are ignored too, so ``train-00000-of-00001`` is generic.
GENERIC_STEMS = frozenset(
    """
    train training test testing valid validation val dev eval all data dataset datasets file
    files input inputs text texts corpus sample samples example examples export output raw clean
    full df table records rows labelled labeled my new final split of part
    """.split()
)
_MAX_LABELS_IN_NAME = 4


def default_task(dataset: str, label_names: list[str] | None) -> str | None:
    """The task name when --task is not given: the Hub id's name part (``ucirvine/sms_spam``:
    ``sms_spam``), else the file's stem when it is not generic (``reviews.csv``: ``reviews``),
    else the label names joined (``negative-positive``); None when the labels are still
    unknown."""
    if not looks_like_local_path(dataset):
        return _task_name(dataset.rsplit("/", 1)[-1])
    stem = Path(dataset.rstrip("/\\")).stem
    words = [word for word in re.split(r"[\W_]+", stem.lower()) if word]
    if any(word not in GENERIC_STEMS and not re.fullmatch(r"v?\d+", word) for word in words):
        return _task_name(stem)
    if not label_names:
        return None
    if len(label_names) > _MAX_LABELS_IN_NAME:
        return f"{len(label_names)}-class"
    return _task_name("-".join(label_names))


def _task_name(name: str) -> str:
    """A name that is safe as a folder name and a Hub tag: lower case, no spaces or slashes."""
    return re.sub(r"[^\w.-]+", "-", name.strip().lower()).strip("-.") or "classifier"
