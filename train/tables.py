"""Read tables of text from local files (CSV, TSV, JSON/JSONL, Parquet) or from the Hub, for
both ``train classify`` and ``train topics``.

Every problem with the user's data raises ``UserError`` with a message that names the file or
the column at fault.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from train.errors import UserError

_READERS = {
    ".csv": lambda p: pd.read_csv(p, encoding="utf-8"),
    ".tsv": lambda p: pd.read_csv(p, sep="\t", encoding="utf-8"),
    ".json": lambda p: pd.read_json(p, encoding="utf-8"),
    ".jsonl": lambda p: pd.read_json(p, lines=True, encoding="utf-8"),
    ".parquet": pd.read_parquet,
}


def looks_like_local_path(source: str) -> bool:
    """True when ``source`` names a local file or folder rather than a Hub dataset id."""
    return (
        Path(source).suffix.lower() in _READERS
        or Path(source).expanduser().exists()
        or source.startswith((".", "/", "~"))
    )


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


def pick_column(
    table: pd.DataFrame, wanted: str | None, guesses: tuple[str, ...], role: str, source: str
) -> str:
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
    raise UserError(
        f"{source}: cannot tell which column holds the {role}; pass {flag} (columns are {columns})"
    )
