"""Read uploaded message files (CSV, TSV or plain text) for batch classification, and write
results that are safe to open in a spreadsheet.

Every problem a user can fix raises ``BatchFileError`` with a message saying what is wrong and
what to do: a binary file, a file that is not UTF-8, no usable text column, too many rows.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from hub_utils.errors import BadRequestError
from hub_utils.models.texts import TEXT_COLUMNS, guess_text_column

MAX_ROWS = 10_000
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
TEXT_SUFFIXES = {".txt", ""}
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class BatchFileError(BadRequestError):
    """An uploaded file that cannot be classified, with what to change."""


def read_messages(
    path: str | Path, column: str | None = None, max_rows: int = MAX_ROWS
) -> tuple[list[str], str | None]:
    """The messages in ``path`` and the name of their column (None for a text file).

    A ``.txt`` file holds one message per line (blank lines are kept as empty messages, so
    row numbers match lines). A ``.csv``/``.tsv`` file needs a header; the text column is
    ``column`` when given, else the first whose name is in ``TEXT_COLUMNS``, else the only
    column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES and suffix not in TEXT_SUFFIXES:
        raise BatchFileError(
            f"{path.name}: unsupported file type {suffix!r}; upload a .csv, "
            ".tsv or .txt file (one message per row or line)"
        )
    text = _decode(path)
    if suffix in TEXT_SUFFIXES:
        lines = text.splitlines()
        _check_rows(path.name, len(lines), max_rows)
        return lines, None
    header, rows = _read_table(path.name, text, TABLE_SUFFIXES[suffix])
    index = header.index(_text_column(path.name, header, column))
    _check_rows(path.name, len(rows), max_rows)
    return [row[index] if index < len(row) else "" for row in rows], header[index]


def _read_table(file_name: str, text: str, separator: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows; a blank line is an empty row. A row with more fields than the
    header is refused: it is almost always a message with an unquoted separator."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    shown = "tab" if separator == "\t" else repr(separator)
    try:
        header = next(reader, None)
        if not header:
            raise BatchFileError(
                f"{file_name} is empty: add a header row, then one message per row"
            )
        rows = list(reader)
    except csv.Error as err:
        raise BatchFileError(
            f"{file_name} is not a readable table (line {reader.line_num}: {err}): put each "
            "message containing quotes, separators or line breaks in double quotes"
        ) from err
    for line, row in enumerate(rows, start=2):
        if len(row) > len(header):
            raise BatchFileError(
                f"{file_name}: a row (near line {line}) has {len(row)} fields but the header has "
                f"{len(header)}: put messages containing a {shown} in double quotes, or upload a "
                ".txt file with one message per line"
            )
    return header, rows


def _decode(path: Path) -> str:
    data = path.read_bytes()
    # Binary formats (spreadsheets, PDFs, images) contain NUL bytes; text files do not.
    if b"\0" in data[:65536]:
        raise BatchFileError(
            f"{path.name} is not a text file (it looks binary): export it as "
            "CSV (UTF-8) or upload a .txt file with one message per line"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BatchFileError(
            f"{path.name} is not UTF-8 text (invalid byte at position "
            f"{err.start}): save it with UTF-8 encoding"
        ) from err


def _text_column(file_name: str, columns: list[str], wanted: str | None) -> str:
    shown = ", ".join(repr(c) for c in columns)
    if wanted:
        if wanted not in columns:
            raise BatchFileError(f"{file_name} has no column {wanted!r}; its columns are {shown}")
        return wanted
    guessed = guess_text_column(columns)
    if guessed is not None:
        return guessed
    if len(columns) == 1:
        return columns[0]
    raise BatchFileError(
        f"{file_name} has no text column: its columns are {shown}. Name the "
        f"message column one of {', '.join(TEXT_COLUMNS)}, or pick the column"
    )


def _check_rows(file_name: str, n_rows: int, max_rows: int) -> None:
    if n_rows == 0:
        raise BatchFileError(f"{file_name} has no messages: add one message per row")
    if n_rows > max_rows:
        raise BatchFileError(
            f"{file_name} has {n_rows:,} rows, more than the limit of "
            f"{max_rows:,}: split it into smaller files"
        )


def neutralize_formula(cell: object) -> object:
    """A text cell that a spreadsheet would run as a formula, prefixed with a single quote (as
    OWASP advises against CSV injection); other cells unchanged. Spam is adversarial text: a
    message such as ``=HYPERLINK(...)`` must stay a message when the results are opened."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def write_results_csv(table: pd.DataFrame, path: str | Path) -> None:
    """``table`` as UTF-8 CSV with every text cell neutralised (``neutralize_formula``)."""
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralize_formula)
    safe.to_csv(path, index=False)
