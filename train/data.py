"""Load labelled text from local files or the Hub, validate it, and split it.

Every problem with the user's data raises ``UserError`` with a message that names the file,
the column or the class at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from hub_utils.models.texts import TEXT_COLUMNS
from train.errors import UserError

LABEL_COLUMN_GUESSES = ("label", "labels", "class", "category", "target", "intent", "sentiment")
_READERS = {
    ".csv": lambda p: pd.read_csv(p, encoding="utf-8"),
    ".tsv": lambda p: pd.read_csv(p, sep="\t", encoding="utf-8"),
    ".json": lambda p: pd.read_json(p, encoding="utf-8"),
    ".jsonl": lambda p: pd.read_json(p, lines=True, encoding="utf-8"),
    ".parquet": pd.read_parquet,
}


@dataclass
class LabelledTexts:
    """Texts with integer labels ``0..len(label_names)-1``."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]


def looks_like_local_path(source: str) -> bool:
    """True when ``source`` names a local file or folder rather than a Hub dataset id."""
    return (Path(source).suffix.lower() in _READERS or Path(source).expanduser().exists()
            or source.startswith((".", "/", "~")))


def dataset_name(source: str) -> str:
    """How cards name a data set: the file or folder name if local, else the Hub id."""
    return Path(source).name if looks_like_local_path(source) else source


def is_single_file(source: str) -> bool:
    """True for one table file (read with pandas), False for a Hub id or a dataset folder."""
    return looks_like_local_path(source) and not Path(source).expanduser().is_dir()


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON, JSONL or Parquet file into a DataFrame."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"data file not found: {path}")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(
            f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(_READERS)}"
        )
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    try:
        table = reader(path)
    except UnicodeDecodeError as err:
        raise UserError(f"{path}: not valid UTF-8 text ({err.reason} at byte {err.start})") from err
    except (ValueError, pd.errors.ParserError, OSError) as err:
        raise UserError(f"{path}: cannot be parsed as {path.suffix[1:].upper()}: {err}") from err
    if table.empty:
        raise UserError(f"{path}: the file has no data rows")
    return table


def load_table(source: str) -> pd.DataFrame:
    """One table from a local file or from all splits of a Hub dataset, concatenated."""
    return pd.concat(load_splits(source).values(), ignore_index=True)


def load_splits(source: str) -> dict[str, pd.DataFrame]:
    """Named splits of ``source``: ``{"all": table}`` for a local file, the dataset's own splits
    (train, validation, test, ...) for a Hub dataset id or a folder of split files."""
    if is_single_file(source):
        return {"all": read_table(source)}
    import datasets

    try:
        dataset_dict = datasets.load_dataset(source)
    except Exception as err:  # datasets raises many types: not found, offline, bad config
        raise UserError(f"cannot load Hub dataset {source!r}: {err}") from err
    return {name: _with_class_names(split) for name, split in dataset_dict.items()}


def _with_class_names(split) -> pd.DataFrame:
    """DataFrame of a Hub split; ``ClassLabel`` columns become their names, so labels read
    ``spam`` rather than ``1``."""
    import datasets

    table = split.to_pandas()
    for column, feature in split.features.items():
        if isinstance(feature, datasets.ClassLabel):
            table[column] = [feature.int2str(int(value)) for value in table[column]]
    return table


def pick_column(table: pd.DataFrame, wanted: str | None, guesses: tuple[str, ...], role: str,
                source: str) -> str:
    """The column named ``wanted``, or the first of ``guesses`` present (case-insensitive)."""
    columns = [str(c) for c in table.columns]
    if wanted is not None:
        if wanted not in columns:
            raise UserError(f"{source}: no {role} column {wanted!r}; columns are {columns}")
        return wanted
    by_lower = {c.lower(): c for c in columns}
    for guess in guesses:
        if guess in by_lower:
            return by_lower[guess]
    flag = f"--{role}-column"
    raise UserError(f"{source}: cannot tell which column holds the {role}; pass {flag} "
                    f"(columns are {columns})")


def drop_empty_texts(table: pd.DataFrame, text_column: str, source: str
                     ) -> tuple[pd.DataFrame, int]:
    """The rows whose text is present and not blank, and how many were dropped."""
    texts = table[text_column]
    keep = texts.notna() & texts.astype(str).str.strip().ne("")
    if not keep.any():
        raise UserError(f"{source}: every row has an empty text in column {text_column!r}")
    return table[keep], int((~keep).sum())


def to_labelled_texts(table: pd.DataFrame, text_column: str, label_column: str,
                      label_names: list[str] | None, source: str) -> LabelledTexts:
    """Map labels to ``0..k-1`` and check there are at least 2 classes.

    Integer labels keep their values (``label_names[i]`` names label ``i``); string labels are
    numbered in ``label_names`` order when given, else alphabetically.
    """
    missing = table[label_column].isna()
    if missing.any():
        raise UserError(f"{source}: {int(missing.sum())} rows have no value in label column "
                        f"{label_column!r} (first at row {missing.idxmax()})")
    names, labels = _encode_labels(table[label_column].tolist(), label_names, label_column, source)
    if len(set(labels)) < 2:
        raise UserError(f"{source}: column {label_column!r} holds a single class "
                        f"({names[labels[0]]!r}); a classifier needs at least 2")
    return LabelledTexts(table[text_column].astype(str).tolist(), labels, names)


def _encode_labels(raw: list, label_names: list[str] | None, column: str,
                   source: str) -> tuple[list[str], list[int]]:
    if all(_is_integral(value) for value in raw):
        ids = [int(value) for value in raw]
        if min(ids) < 0:
            raise UserError(f"{source}: column {column!r} has negative label {min(ids)}")
        count = max(ids) + 1
        if label_names is None:
            return [str(i) for i in range(count)], ids
        if len(label_names) < count:
            raise UserError(f"{source}: --label-names gives {len(label_names)} names but column "
                            f"{column!r} has labels up to {count - 1}")
        return list(label_names), ids
    values = [str(value) for value in raw]
    names = list(label_names) if label_names else sorted(set(values))
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UserError(f"{source}: labels {unknown} in column {column!r} are not in "
                        f"--label-names {names}")
    index = {name: i for i, name in enumerate(names)}
    return names, [index[value] for value in values]


def _is_integral(value) -> bool:
    try:
        return float(value) == int(float(value))
    except (TypeError, ValueError):
        return False


def stratified_split(labels: list[int], label_names: list[str], *, validation_size: float,
                     test_size: float, seed: int) -> dict[str, list[int]]:
    """Row indices for train, validation and test, each keeping the class proportions."""
    counts = pd.Series(labels).value_counts()
    rare = counts[counts < 3]
    if not rare.empty:
        detail = ", ".join(f"{label_names[i]!r} has {n}" for i, n in rare.items())
        raise UserError(f"too few examples to stratify into train/validation/test ({detail}; "
                        "each class needs at least 3)")
    indices = list(range(len(labels)))
    try:
        train, held_out = train_test_split(indices, test_size=validation_size + test_size,
                                           stratify=labels, random_state=seed)
        validation, test = train_test_split(
            held_out, test_size=test_size / (validation_size + test_size),
            stratify=[labels[i] for i in held_out], random_state=seed)
    except ValueError as err:  # a split too small to hold every class
        raise UserError(f"cannot stratify {len(labels)} examples of {len(counts)} classes: "
                        f"{err}") from err
    return {"train": train, "validation": validation, "test": test}


def load_classification_data(source: str, *, text_column: str | None, label_column: str | None,
                             label_names: list[str] | None, validation_size: float,
                             test_size: float, seed: int) -> tuple[dict[str, LabelledTexts], int]:
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
        rows = {name: [i for i, s in enumerate(split_of) if _SPLIT_ALIASES.get(s, s) == name]
                for name in ("train", "validation", "test")}
        if not rows["validation"]:
            rows["train"], rows["validation"] = _carve(rows["train"], data, validation_size, seed)
    else:
        rows = stratified_split(data.labels, data.label_names, validation_size=validation_size,
                                test_size=test_size, seed=seed)
    subsets = {
        name: LabelledTexts([data.texts[i] for i in index], [data.labels[i] for i in index],
                            data.label_names)
        for name, index in rows.items()
    }
    return subsets, dropped


_SPLIT_ALIASES = {"valid": "validation", "dev": "validation", "val": "validation"}


def _carve(rows: list[int], data: LabelledTexts, size: float, seed: int) -> list[list[int]]:
    """Split ``rows`` in two, stratified, the second part holding ``size`` of them."""
    try:
        return train_test_split(rows, test_size=size, stratify=[data.labels[i] for i in rows],
                                random_state=seed)
    except ValueError as err:
        raise UserError(f"cannot carve a stratified validation set from the train split: "
                        f"{err}") from err
