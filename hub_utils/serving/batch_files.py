"""Read message files for batch scoring, chunk by chunk, and write results that are safe to open
in a spreadsheet. The app's batch tab (CSV, TSV, TXT, up to ``MAX_ROWS``) and the file scorer
(``python -m hub_utils classify-file``: also JSONL and Parquet, any size) share this code.

Every problem a user can fix raises ``BatchFileError`` with a message saying what is wrong and
what to do: a binary file, a file that is not UTF-8 (with the byte's position and line), no
usable text column (naming the columns there are), a malformed row, too many rows. A row
without a text (a null, a short CSV row, a cut-off last JSONL line) is not dropped: it comes
as a ``Problem`` so that the results keep one row per input row.

pandas is not needed here (the core install has none); pyarrow only for Parquet.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from hub_utils.errors import BadRequestError
from hub_utils.models.texts import TEXT_COLUMNS, guess_text_column

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 10_000
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
TEXT_SUFFIXES = {".txt", ""}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
PARQUET_SUFFIXES = {".parquet"}
APP_SUFFIXES = {*TABLE_SUFFIXES, *TEXT_SUFFIXES}  # what the app's upload accepts
ALL_SUFFIXES = {*APP_SUFFIXES, *JSONL_SUFFIXES, *PARQUET_SUFFIXES}
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Bytes decoded at a time; blocks end at a line break, which is never inside a UTF-8 sequence.
BLOCK_BYTES = 1 << 20
MISSING_TEXT = "missing text"
_QUOTED = (",", '"', "\n", "\r")  # a CSV cell holding one of these is put in double quotes
PYARROW_NEEDED = "Parquet files need pyarrow, which is not installed: pip install pyarrow"


class BatchFileError(BadRequestError):
    """An uploaded file that cannot be classified, with what to change."""


class Problem(NamedTuple):
    """A row that has no text to score; ``note`` says why. It still gets its result row."""

    note: str


Message = str | Problem


class MessageFile:
    """An open message file: its text column (None for a text file) and its rows in chunks.

    The header and the text column are read on opening, so a file without a usable column
    fails at once; the rows are read only as ``chunks`` is iterated, so memory stays bounded.
    """

    def __init__(self, path: Path, column: str | None, columns: list[str]) -> None:
        self.path, self.name, self.column, self.columns = path, path.name, column, columns

    def rows(self) -> Iterator[Message]:
        raise NotImplementedError

    def chunks(self, size: int) -> Iterator[list[Message]]:
        """The rows in lists of ``size`` (the last one shorter), in file order."""
        rows = self.rows()
        while chunk := list(itertools.islice(rows, size)):
            yield chunk

    def count_rows(self) -> int:
        """Read the whole file once: every row is counted and every error found, quickly and
        before any model time is spent."""
        return sum(1 for _ in self.rows())


def open_messages(
    path: str | Path, column: str | None = None, suffixes: Iterable[str] = ALL_SUFFIXES
) -> MessageFile:
    """Open a CSV/TSV (with a header), TXT (one message a line), JSONL (one object a line) or
    Parquet file. The text column is ``column`` when given, else the first whose name is in
    ``TEXT_COLUMNS``, else the only column."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in set(suffixes):
        shown = sorted(s for s in suffixes if s)
        raise BatchFileError(
            f"{path.name}: unsupported file type {suffix!r}; upload a "
            f"{', '.join(shown[:-1])} or {shown[-1]} file (one message per row or line)"
        )
    if not path.is_file():
        raise BatchFileError(f"{path}: no such file")
    if suffix in PARQUET_SUFFIXES:
        return _ParquetFile.open(path, column)
    if suffix in TEXT_SUFFIXES:
        return _TextFile(path, None, [])
    if suffix in JSONL_SUFFIXES:
        return _JsonlFile.open(path, column)
    return _TableFile.open(path, column, TABLE_SUFFIXES[suffix])


def read_messages(
    path: str | Path, column: str | None = None, max_rows: int = MAX_ROWS
) -> tuple[list[str], str | None]:
    """The app's batch tab: the messages in a CSV/TSV/TXT ``path`` and the name of their column
    (None for a text file). A ``.txt`` file holds one message per line (blank lines are kept
    as empty messages, so row numbers match lines); a row without the text column is an
    empty message."""
    messages = open_messages(path, column, APP_SUFFIXES)
    rows = messages.rows()
    texts = [row if isinstance(row, str) else "" for row in itertools.islice(rows, max_rows)]
    _check_rows(messages.name, len(texts) + sum(1 for _ in rows), max_rows)
    return texts, messages.column


class _TextFile(MessageFile):
    def rows(self) -> Iterator[Message]:
        for line in _text_lines(self.path):
            yield _strip_line_end(line)


class _TableFile(MessageFile):
    separator = ","

    @classmethod
    def open(cls, path: Path, column: str | None, separator: str) -> _TableFile:
        reader = _table_reader(path, separator)
        header = _next_record(path.name, reader)
        if not header:
            raise BatchFileError(
                f"{path.name} is empty: add a header row, then one message per row"
            )
        table = cls(path, _text_column(path.name, header, column), header)
        table.separator = separator
        return table

    def rows(self) -> Iterator[Message]:
        reader = _table_reader(self.path, self.separator)
        header = self.columns
        _next_record(self.name, reader)  # the header, read on opening
        index = header.index(self.column or "")
        shown = "tab" if self.separator == "\t" else repr(self.separator)
        while (row := _next_record(self.name, reader)) is not None:
            if len(row) > len(header):
                raise BatchFileError(
                    f"{self.name}: a row (near line {reader.line_num}) has {len(row)} fields but "
                    f"the header has {len(header)}: put messages containing a {shown} in double "
                    "quotes, or upload a .txt file with one message per line"
                )
            if index < len(row):
                yield row[index]
            else:  # a blank line is an empty message; a short row has no text at all
                note = f"{MISSING_TEXT} (the row has {len(row)} of {len(header)} fields)"
                yield Problem(note) if row else ""


def _table_reader(path: Path, separator: str) -> Any:
    return csv.reader(_text_lines(path), delimiter=separator, strict=True)


def _next_record(file_name: str, reader: Any) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as err:
        raise BatchFileError(
            f"{file_name} is not a readable table (line {reader.line_num}: {err}): put each "
            "message containing quotes, separators or line breaks in double quotes"
        ) from err


class _JsonlFile(MessageFile):
    @classmethod
    def open(cls, path: Path, column: str | None) -> _JsonlFile:
        first = next((line for line in _text_lines(path) if line.strip()), None)
        if first is None:
            raise BatchFileError(f"{path.name} has no messages: add one JSON object per line")
        record = _json_record(path.name, first, 1, last=False)
        keys = list(record) if isinstance(record, dict) else []
        return cls(path, _text_column(path.name, keys, column), keys)

    def rows(self) -> Iterator[Message]:
        for number, line in enumerate(_text_lines(self.path), start=1):
            if not line.strip():
                yield ""
                continue
            last = not line.endswith(("\n", "\r"))  # only a file's last line lacks a line end
            record = _json_record(self.name, line, number, last)
            if isinstance(record, Problem):
                yield record
            elif (value := record.get(self.column or "")) is None:
                yield Problem(MISSING_TEXT)
            else:
                yield value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _json_record(file_name: str, line: str, number: int, last: bool) -> dict[str, Any] | Problem:
    """One JSONL line as an object; a last line cut off mid-object (a copy or a writer that
    was interrupted) becomes a ``Problem``, any other bad line an error."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        if last:
            return Problem("cut-off last line: not valid JSON")
        raise BatchFileError(
            f"{file_name}: line {number:,} is not valid JSON ({err.msg}): write one JSON "
            "object per line"
        ) from err
    if not isinstance(record, dict):
        raise BatchFileError(
            f"{file_name}: line {number:,} is a JSON {type(record).__name__}, not an object: "
            'write one object per line, e.g. {"text": "..."}'
        )
    return record


class _ParquetFile(MessageFile):
    @classmethod
    def open(cls, path: Path, column: str | None) -> _ParquetFile:
        pq = import_pyarrow_parquet()
        try:
            schema = pq.ParquetFile(path).schema_arrow
        except Exception as err:  # pyarrow raises several types for a file that is not Parquet
            raise BatchFileError(f"{path.name} is not a readable Parquet file: {err}") from err
        return cls(path, _text_column(path.name, list(schema.names), column), list(schema.names))

    def rows(self) -> Iterator[Message]:
        import pyarrow as pa

        pq = import_pyarrow_parquet()
        batches = pq.ParquetFile(self.path).iter_batches(batch_size=4096, columns=[self.column])
        for batch in batches:
            values = batch.column(0)
            if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
                try:  # numbers and the like have a text form; nested values do not
                    values = values.cast(pa.string())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                    raise BatchFileError(
                        f"{self.name}: column {self.column!r} holds {values.type}, not text"
                    ) from err
            for value in values.to_pylist():
                yield Problem(MISSING_TEXT) if value is None else value

    def count_rows(self) -> int:
        next(self.chunks(1), None)  # checks the column's type
        return int(import_pyarrow_parquet().ParquetFile(self.path).metadata.num_rows)


def import_pyarrow_parquet() -> Any:
    """``pyarrow.parquet``, or a ``BatchFileError`` saying how to install it: the serving set
    (the Space) and the core install have no pyarrow."""
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise BatchFileError(PYARROW_NEEDED) from err
    return pq


def _text_lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 file (BOM dropped), with their line ends (``\\n``, ``\\r\\n`` or
    ``\\r``: not the other breaks ``str.splitlines`` knows, which can sit inside a message)."""
    offset = lines = 0  # bytes and line breaks before the current block
    pending = b""
    with path.open("rb") as file:
        while True:
            data = file.read(BLOCK_BYTES)
            if offset == 0 and not pending:
                # Binary formats (spreadsheets, PDFs, images) contain NUL bytes; text does not.
                if b"\0" in data[:65536]:
                    raise BatchFileError(
                        f"{path.name} is not a text file (it looks binary): export it as CSV "
                        "(UTF-8) or upload a .txt file with one message per line"
                    )
                if data.startswith(codecs.BOM_UTF8):
                    data, offset = data[3:], 3
            block = pending + data
            # Blocks end after a line break: never inside a UTF-8 sequence, so each decodes
            # alone and an error's position is exact.
            cut = block.rfind(b"\n") + 1 if data else len(block)
            if data and cut == 0:
                pending = block
                continue
            block, pending = block[:cut], block[cut:]
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError as err:
                line = lines + block.count(b"\n", 0, err.start) + 1
                raise BatchFileError(
                    f"{path.name} is not UTF-8 text (invalid byte at position "
                    f"{offset + err.start:,}, line {line:,}): save it with UTF-8 encoding"
                ) from err
            offset, lines = offset + len(block), lines + block.count(b"\n")
            yield from io.StringIO(text, newline="")
            if not data:
                return


def _strip_line_end(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(("\n", "\r")) else line


def _text_column(file_name: str, columns: list[str], wanted: str | None) -> str:
    shown = ", ".join(repr(c) for c in columns) or "none"
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


def csv_cell(cell: object) -> object:
    """A result cell as CSV writes it: None and NaN empty (as pandas writes them), text
    neutralised (``neutralize_formula``)."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    return neutralize_formula(cell)


def write_csv_rows(
    file: IO[str], rows: Iterable[Sequence[object]], neutralize: bool = True
) -> None:
    """``rows`` as CSV lines with every cell through ``csv_cell`` (unless not ``neutralize``:
    cells read back from such a file, written again as they are): ``\\n`` line ends and
    minimal quoting, as pandas writes them, except that a cell with a carriage return is
    quoted too (Python 3.11's ``csv`` leaves it bare, which splits the row when read back)."""
    for row in rows:
        cells = (csv_cell(cell) for cell in row) if neutralize else row
        file.write(",".join(_csv_field(cell) for cell in cells) + "\n")


def _csv_field(cell: object) -> str:
    text = cell if isinstance(cell, str) else str(cell)
    if any(mark in text for mark in _QUOTED):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_results_csv(table: pd.DataFrame, path: str | Path) -> None:
    """``table`` as UTF-8 CSV with every text cell neutralised (``neutralize_formula``)."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        write_csv_rows(file, itertools.chain([list(table.columns)], table.itertuples(index=False)))
