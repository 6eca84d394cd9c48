"""Score a message file of any size: ``python -m hub_utils classify-file | topics-file`` and
``merge-scores``.

The file is read and written chunk by chunk (``CHUNK_SIZE`` messages), so memory stays bounded
whatever its size. Each chunk goes to the model in one ``predict`` call. A text's scores do not
depend on the chunk size or on its neighbours (the classifier runs each text alone), so the
result rows are the app's (``hub_utils.serving.batch_scores``): one per input row, in input
order, numbered.

Resume: after each chunk is written and flushed, ``OUTPUT.progress.json`` records how many
chunks are done and the output's length. ``--resume`` checks that it is the same run (input,
model, chunk size, shard), cuts the output back to that length, skips the chunks done and goes
on, so the output is byte for byte that of an uninterrupted run. Parquet results are written a
file per chunk in ``OUTPUT.parts/`` and joined into ``OUTPUT`` at the end (one row group per
chunk). The progress file goes when the output is complete.

Shards: ``--shard i/n`` scores chunks i, i+n, i+2n, ... only; ``merge-scores`` joins the parts
by row number into what one run writes.
"""

from __future__ import annotations

import heapq
import io
import itertools
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from hub_utils.errors import HubError
from hub_utils.models.classifier import BATCH_SIZE
from hub_utils.models.protocols import ServedClassifier, ServedTopicModel
from hub_utils.serving.batch_files import (
    Message,
    import_pyarrow_parquet,
    open_messages,
    write_csv_rows,
)
from hub_utils.serving.batch_scores import (
    classifier_columns,
    classify_rows,
    topic_columns,
    topic_rows,
)

CHUNK_SIZE = 4_096  # messages per model call, and per resume point
OUTPUT_SUFFIXES = (".csv", ".parquet")
PROGRESS_VERSION = 1
# Columns that are not float64 in Parquet results.
INTEGER_COLUMNS = {"row", "topic"}
TEXT_COLUMNS = {"text", "label", "note", "words"}
# The settings of a run that its shards must share (with the input's size and the shard count).
RUN_KEYS = ("version", "command", "column", "chunk_size", "columns", "batch_size", "input_rows")
# Score a chunk: messages and the number of the first one in, result rows out.
Scorer = Callable[[Sequence[Message], int], list[list[Any]]]


class ScoringError(HubError):
    """A scoring run that cannot start or go on as asked (an output in the way, a progress file
    of another run, parts that do not fit together); the message says what to do."""


@dataclass
class ScoreOptions:
    column: str | None = None
    chunk_size: int = CHUNK_SIZE
    shard: tuple[int, int] = (0, 1)
    resume: bool = False
    overwrite: bool = False
    progress: bool = True


@dataclass
class ScoreSummary:
    output: Path
    rows: int  # rows this output holds when complete (a shard's part of the file)
    scored_now: int  # rows scored by this call (fewer after --resume)
    seconds: float
    counts: Counter[str] = field(default_factory=Counter)  # labels/topics, and notes of skips

    def line(self) -> str:
        shown = ", ".join(f"{count:,} {name}" for name, count in self.counts.most_common())
        rate = self.scored_now / self.seconds if self.seconds else 0.0
        return (
            f"{self.output}: {self.rows:,} rows ({shown}); {self.scored_now:,} scored in "
            f"{self.seconds:,.1f} s, {rate:,.0f} messages/s"
        )


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` as ``(i, n)`` with ``0 <= i < n``."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        index = count = -1
    if not 0 <= index < count:
        raise ScoringError(f"--shard {text!r}: write i/n with 0 <= i < n, e.g. 0/2 and 1/2")
    return index, count


def score_file(
    input_path: str | Path,
    output: str | Path,
    scorer: Scorer,
    columns: list[str],
    counted: Callable[[list[Any]], str],
    run: dict[str, Any],
    options: ScoreOptions,
) -> ScoreSummary:
    """Score every row of ``input_path`` into ``output`` (``.csv`` or ``.parquet``).

    ``scorer`` makes the result rows (``columns``) of a chunk; ``counted`` names what a row
    counts as in the summary (its label, or the note of a row that was not scored); ``run``
    identifies the model and settings for ``--resume`` (with the input, chunk size and shard).
    """
    output = Path(output)
    sink_type = _sink_type(output)
    messages = open_messages(input_path, options.column)
    total = messages.count_rows()  # finds any error in the file before the model runs
    if total == 0:
        raise ScoringError(f"{messages.name} has no messages: add one message per row or line")
    size, (shard, shards) = options.chunk_size, options.shard
    if size < 1:
        raise ScoringError(f"--chunk-size must be at least 1, not {size}")
    identity = {
        "version": PROGRESS_VERSION,
        "input": _file_identity(messages.path),
        "column": messages.column,
        "chunk_size": size,
        "shard": [shard, shards],
        "columns": columns,
        **run,
    }
    progress = Progress(output, identity)
    state = progress.start(options.resume, options.overwrite)
    sink = sink_type(output, columns)
    sink.open(state)
    mine = [k for k in range(-(-total // size)) if k % shards == shard]
    rows_total = sum(min(size, total - k * size) for k in mine)
    counts = Counter(state["counts"])
    bar = ProgressLine(rows_total, state["rows_written"], enabled=options.progress)
    started, scored = time.perf_counter(), 0
    for k, chunk in enumerate(messages.chunks(size)):
        if k < state["chunks_done"] or k % shards != shard:
            continue
        rows = scorer(chunk, k * size + 1)
        counts.update(counted(row) for row in rows)
        state["output_bytes"] = sink.write(k, rows)
        state.update(chunks_done=k + 1, rows_written=state["rows_written"] + len(rows))
        state["counts"] = dict(counts)
        progress.save(state)
        scored += len(rows)
        bar.update(len(rows))
    sink.finish()
    if shards == 1:
        progress.remove()
    else:  # kept, marked complete: merge-scores checks the shards against it
        progress.save({**state, "complete": True, "input_rows": total})
    bar.close()
    return ScoreSummary(output, rows_total, scored, time.perf_counter() - started, counts)


def _file_identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


class Progress:
    """``OUTPUT.progress.json``: what a run has written, saved atomically after each chunk."""

    def __init__(self, output: Path, identity: dict[str, Any]) -> None:
        self.output, self.identity = output, identity
        self.path = progress_path(output)

    def start(self, resume: bool, overwrite: bool) -> dict[str, Any]:
        """The state to go on from: a fresh one, or the saved one with ``resume``."""
        parts = _parts_dir(self.output)
        exists = [p for p in (self.output, self.path, parts) if p.exists()]
        if exists and overwrite:
            for path in exists:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        elif resume and self.path.is_file():
            saved = read_progress(self.path)
            if saved.get("complete"):
                raise ScoringError(f"{self.output} is complete: nothing to resume")
            changed = [key for key, value in self.identity.items() if saved.get(key) != value]
            if changed:
                raise ScoringError(
                    f"{self.path} is the progress of another run ({', '.join(changed)} "
                    "differ): resume with the same input, model and options, or pass "
                    "--overwrite to start again"
                )
            return saved
        elif resume and self.output.exists():
            raise ScoringError(
                f"{self.output} exists without a progress file, so it is complete (or not "
                "written by this command): nothing to resume; pass --overwrite to score again"
            )
        elif exists and not resume:
            raise ScoringError(
                f"{exists[0]} exists: pass --resume to continue an interrupted run, or "
                "--overwrite to replace it"
            )
        state = {**self.identity, "chunks_done": 0, "rows_written": 0, "output_bytes": 0}
        state["counts"] = {}
        self.save(state)
        return state

    def save(self, state: dict[str, Any]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)  # a kill leaves the old file or the new one, whole

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def progress_path(output: Path) -> Path:
    return output.with_name(output.name + ".progress.json")


def read_progress(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ScoringError(
            f"{path} cannot be read ({err}): pass --overwrite to start again"
        ) from err
    if not isinstance(state, dict) or state.get("version") != PROGRESS_VERSION:
        raise ScoringError(f"{path} is not a progress file of this version: pass --overwrite")
    return state


def _parts_dir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


class CsvSink:
    """Results appended to a CSV file; on resume, cut back to the last complete chunk."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns = path, columns
        self.file: IO[bytes] | None = None

    def open(self, state: dict[str, Any]) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        if size < state["output_bytes"]:
            raise ScoringError(
                f"{self.path} is shorter than its progress file says: it was changed since; "
                "pass --overwrite to score again"
            )
        self.file = self.path.open("r+b" if self.path.exists() else "wb")
        self.file.truncate(state["output_bytes"])
        self.file.seek(state["output_bytes"])
        if state["output_bytes"] == 0:
            self._append([self.columns])

    def write(self, chunk: int, rows: list[list[Any]]) -> int:
        return self._append(rows)

    def _append(self, rows: Iterable[Sequence[object]]) -> int:
        assert self.file is not None
        text = io.StringIO(newline="")
        write_csv_rows(text, rows)
        self.file.write(text.getvalue().encode("utf-8"))
        self.file.flush()
        os.fsync(self.file.fileno())  # on disk before the progress file says so
        return self.file.tell()

    def finish(self) -> None:
        assert self.file is not None
        self.file.close()


class ParquetSink:
    """Results as one Parquet file per chunk in ``OUTPUT.parts/``, joined into ``OUTPUT`` (a
    row group per chunk) when all are there. A Parquet file is readable only once closed, so
    an interrupted run keeps its finished chunks this way."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path, self.columns = path, columns
        self.parts = _parts_dir(path)
        self.schema = parquet_schema(columns)

    def open(self, state: dict[str, Any]) -> None:
        self.parts.mkdir(exist_ok=True)
        for part in self.parts.iterdir():  # chunks written after the last saved progress
            if not part.name.endswith(".parquet") or int(part.stem) >= state["chunks_done"]:
                part.unlink()

    def write(self, chunk: int, rows: list[list[Any]]) -> int:
        pq = import_pyarrow_parquet()
        table = rows_table(rows, self.schema)
        temporary = self.parts / f"{chunk:09d}.tmp"
        pq.write_table(table, temporary)
        os.replace(temporary, self.parts / f"{chunk:09d}.parquet")
        return 0

    def finish(self) -> None:
        pq = import_pyarrow_parquet()
        parts = sorted(self.parts.glob("*.parquet"))
        write_parquet((pq.read_table(part, schema=self.schema) for part in parts), self.path)
        shutil.rmtree(self.parts)


def _sink_type(output: Path) -> type[CsvSink] | type[ParquetSink]:
    suffix = output.suffix.lower()
    if suffix == ".csv":
        return CsvSink
    if suffix == ".parquet":
        import_pyarrow_parquet()  # before any work, if pyarrow is missing
        return ParquetSink
    raise ScoringError(
        f"{output.name}: write the results to a .csv or .parquet file, not {suffix or 'no suffix'}"
    )


def parquet_schema(columns: list[str]) -> Any:
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in INTEGER_COLUMNS:
            return pa.int64()
        return pa.string() if name in TEXT_COLUMNS else pa.float64()

    return pa.schema([(name, kind(name)) for name in columns])


def rows_table(rows: list[list[Any]], schema: Any) -> Any:
    import pyarrow as pa

    return pa.table(
        [pa.array([row[i] for row in rows], f.type) for i, f in enumerate(schema)], schema=schema
    )


def write_parquet(tables: Iterable[Any], path: Path) -> None:
    """``tables`` as one Parquet file, a row group each, written to a temporary name first: a
    single run and ``merge-scores`` write their results through this, so they match byte for
    byte."""
    pq = import_pyarrow_parquet()
    temporary = path.with_name(path.name + ".tmp")
    writer = None
    for table in tables:
        writer = writer or pq.ParquetWriter(temporary, table.schema)
        writer.write_table(table, row_group_size=max(table.num_rows, 1))
    if writer is None:
        raise ScoringError(f"{path}: nothing to write")
    writer.close()
    os.replace(temporary, path)


class ProgressLine:
    """A progress line on stderr: rows done, messages per second and the time left. Redrawn
    in place on a terminal; elsewhere (a log) a line every ``log_every`` seconds."""

    def __init__(
        self, total: int, done: int = 0, enabled: bool = True, log_every: float = 10.0
    ) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.log_every = 0.5 if self.tty else log_every
        self.started = self.shown = time.perf_counter()
        self.scored = 0

    def update(self, rows: int) -> None:
        self.done, self.scored = self.done + rows, self.scored + rows
        now = time.perf_counter()
        if self.enabled and (now - self.shown >= self.log_every or self.done >= self.total):
            self.shown = now
            print(self.text(now), end="\r" if self.tty else "\n", file=sys.stderr, flush=True)

    def text(self, now: float) -> str:
        rate = self.scored / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0.0
        minutes, seconds = divmod(int(left), 60)
        return (
            f"{self.done:,}/{self.total:,} rows ({self.done / max(self.total, 1):.0%}), "
            f"{rate:,.0f} messages/s, {minutes}:{seconds:02d} left"
        )

    def close(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def merge_scores(output: str | Path, parts: Sequence[str | Path], overwrite: bool = False) -> int:
    """Join the outputs of ``--shard i/n`` runs (all CSV or all Parquet) by row number into
    ``output``, byte for byte what one run writes; returns the number of rows. Each part's
    progress file (kept, marked complete, by a shard run) says which shard of which run it is:
    parts that are unfinished, of different runs, missing or given twice are refused."""
    output, paths = Path(output), [Path(part) for part in parts]
    if not paths:
        raise ScoringError("merge-scores needs the part files of the shards")
    suffixes = {path.suffix.lower() for path in [output, *paths]}
    if len(suffixes) != 1 or suffixes & set(OUTPUT_SUFFIXES) != suffixes:
        raise ScoringError("merge-scores joins .csv parts into a .csv or .parquet into .parquet")
    expected = _check_parts(paths)
    if output.exists() and not overwrite:
        raise ScoringError(f"{output} exists: pass --overwrite to replace it")
    merge = _merge_csv if suffixes == {".csv"} else _merge_parquet
    count = merge(output, paths)
    if count != expected:  # the last rows' shard left out cannot show as a gap
        output.unlink()
        raise ScoringError(
            f"the parts hold {count:,} rows of {expected:,}: pass every shard's output"
        )
    return count


def _check_parts(paths: list[Path]) -> int:
    """The number of input rows, once every part is known to be a finished shard of one run
    and every shard is there once."""
    states = []
    for path in paths:
        sidecar = progress_path(path)
        if not path.is_file():
            raise ScoringError(f"{path}: no such file")
        if not sidecar.is_file():
            raise ScoringError(
                f"{path} has no {sidecar.name}: merge the outputs of --shard i/n runs"
            )
        state = read_progress(sidecar)
        if not state.get("complete"):
            raise ScoringError(f"{path} is unfinished: finish its shard with --resume first")
        states.append(state)
    # What must agree; paths and times may differ, since shards may run on other machines.
    same = {
        json.dumps(
            [state["input"]["size"], state["shard"][1]] + [state.get(key) for key in RUN_KEYS]
        )
        for state in states
    }
    if len(same) != 1:
        raise ScoringError("the parts come from different runs (input, model or options)")
    shards = sorted(state["shard"][0] for state in states)
    count = states[0]["shard"][1]
    if shards != list(range(count)):
        raise ScoringError(
            f"the run had {count} shards; pass each one's output once (got shards "
            f"{', '.join(map(str, shards))})"
        )
    return int(states[0]["input_rows"])


def _merge_csv(output: Path, paths: list[Path]) -> int:
    import csv

    files = [path.open(encoding="utf-8", newline="") for path in paths]
    try:
        readers = [csv.reader(file, strict=True) for file in files]
        headers = [next(reader, None) for reader in readers]
        if any(header != headers[0] for header in headers) or not headers[0]:
            raise ScoringError("the parts have different columns: merge parts of one run")
        keyed = [((int(row[0]), row) for row in reader) for reader in readers]
        rows = _checked(heapq.merge(*keyed))
        temporary = output.with_name(output.name + ".tmp")
        count = 0

        def counted(rows: Iterator[list[str]]) -> Iterator[list[str]]:
            nonlocal count
            for row in rows:
                count += 1
                yield row

        with temporary.open("w", encoding="utf-8", newline="") as file:
            # The cells were neutralised when scored: written again as they are.
            write_csv_rows(file, itertools.chain([headers[0]], counted(rows)), neutralize=False)
        os.replace(temporary, output)
        return count
    finally:
        for file in files:
            file.close()


def _merge_parquet(output: Path, paths: list[Path]) -> int:
    pq = import_pyarrow_parquet()
    files = [pq.ParquetFile(path) for path in paths]
    schemas = {str(file.schema_arrow) for file in files}
    if len(schemas) != 1:
        raise ScoringError("the parts have different columns: merge parts of one run")
    schema = files[0].schema_arrow

    def groups(index: int) -> Iterator[tuple[int, int, Any]]:
        for group in range(files[index].num_row_groups):
            table = files[index].read_row_group(group).cast(schema)
            yield int(table.column("row")[0].as_py()), index, table

    count = 0

    def tables() -> Iterator[Any]:
        nonlocal count
        merged = heapq.merge(*(groups(i) for i in range(len(files))), key=lambda g: g[:2])
        for _, _, table in merged:
            numbers = table.column("row").to_pylist()
            if numbers != list(range(count + 1, count + 1 + len(numbers))):
                raise ScoringError(_gap_message(count + 1, numbers[0]))
            count += len(numbers)
            yield table

    write_parquet(tables(), output)
    return count


def _checked(rows: Iterator[tuple[int, Any]]) -> Iterator[Any]:
    """The rows, checked to be numbered 1, 2, 3, ... with none twice and none missing."""
    expected = 1
    for number, row in rows:
        if number != expected:
            raise ScoringError(_gap_message(expected, number))
        expected += 1
        yield row


def _gap_message(expected: int, found: int) -> str:
    problem = (
        f"row {found:,} is there twice" if found < expected else f"row {expected:,} is missing"
    )
    return f"the parts do not fit together: {problem}; pass every shard's output, once each"


def score_classifier_file(
    input_path: str | Path,
    output: str | Path,
    classifier: ServedClassifier,
    options: ScoreOptions,
    model_id: str = "",
    batch_size: int = BATCH_SIZE,
) -> ScoreSummary:
    """``classify-file``: every row's label, its probability and each label's probability
    (``classifier_columns``), as the app's batch tab computes them."""
    predict = partial(classifier.predict, batch_size=batch_size)

    def scorer(messages: Sequence[Message], first_row: int) -> list[list[Any]]:
        return classify_rows(classifier, messages, first_row, predict)

    def counted(row: list[Any]) -> str:
        return str(row[2]) if row[2] else _note_kind(row[4])

    run = {"command": "classify-file", "model": model_id, "batch_size": batch_size}
    columns = classifier_columns(classifier)
    return score_file(input_path, output, scorer, columns, counted, run, options)


def score_topic_file(
    input_path: str | Path,
    output: str | Path,
    model: ServedTopicModel,
    options: ScoreOptions,
    model_id: str = "",
    batch_size: int = BATCH_SIZE,
) -> ScoreSummary:
    """``topics-file``: every row's dominant topic, its probability and words, and every
    topic's probability (``topic_columns``)."""
    words = model.topics(3)

    def scorer(messages: Sequence[Message], first_row: int) -> list[list[Any]]:
        return topic_rows(model, messages, first_row, words, batch_size)

    def counted(row: list[Any]) -> str:
        return f"topic {row[2]}" if row[2] is not None else _note_kind(row[5])

    run = {"command": "topics-file", "model": model_id, "batch_size": batch_size}
    return score_file(input_path, output, scorer, topic_columns(model), counted, run, options)


def _note_kind(note: str) -> str:
    """A skipped row's note without its details, for the summary's counts."""
    return note.split(" (")[0].split(":")[0]
